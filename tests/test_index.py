"""Index: incremental by blob SHA, safe under corruption and interruption, with exact token counts."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from conftest import git, interruptible, make_repo, run_cli, write_files

from repoctx.index.store import SCHEMA_VERSION, IndexStore
from repoctx.index.load import load_repository
from repoctx.tokens import EncodingUnavailable, count, get_encoding

FILES = {
    "app/main.py": "from app.util import helper\n\n\ndef main():\n    return helper()\n",
    "app/util.py": "def helper():\n    return 42\n",
    "web/index.js": "export function hello(name) {\n  return `hi ${name}`;\n}\n",
    "README.md": "# demo\n",
}


def test_second_run_parses_nothing_and_an_edit_reparses_one_file(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    first = load_repository(str(repo), workers=1).report
    assert (first.files, first.parsed, first.tokenized, first.reused) == (4, 4, 4, 0)
    second = load_repository(str(repo), workers=1).report
    assert (second.files, second.parsed, second.tokenized, second.reused) == (4, 0, 0, 4)
    (repo / "app/util.py").write_text("def helper():\n    return 43\n")
    third = load_repository(str(repo), workers=1).report
    assert (third.parsed, third.tokenized, third.reused) == (1, 1, 3)


def test_parallel_workers_give_the_same_facts_as_one_process(tmp_path):
    files = {f"pkg/m{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(60)}
    repo = make_repo(tmp_path / "r", files)
    par = load_repository(str(repo), workers=2, index_path=str(tmp_path / "a.sqlite"))
    seq = load_repository(str(repo), workers=1, index_path=str(tmp_path / "b.sqlite"))
    assert par.report.parsed == seq.report.parsed == 60
    assert par.facts == seq.facts and par.tokens == seq.tokens
    assert [s.name for s in par.facts["pkg/m7.py"].symbols] == ["f7"]


def test_same_content_on_two_branches_is_parsed_once(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    load_repository(str(repo), workers=1)
    git(repo, "checkout", "-q", "-b", "feature")
    git(repo, "mv", "app/util.py", "app/helpers.py")   # a rename keeps the blob
    report = load_repository(str(repo), workers=1).report
    assert report.parsed == 0


def test_token_counts_are_exact_and_the_encoding_is_reported(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    for name in ("cl100k_base", "o200k_base"):
        loaded = load_repository(str(repo), encoding=name, workers=1)
        enc = get_encoding(name)
        assert loaded.encoding == name
        assert loaded.tokens["app/util.py"] == len(enc.encode_ordinary(FILES["app/util.py"]))
    # switching encodings re-counts but does not re-parse
    again = load_repository(str(repo), encoding="cl100k_base", workers=1).report
    assert (again.parsed, again.tokenized) == (0, 0)
    assert get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert count("<|endoftext|>", get_encoding("o200k_base")) > 1  # counted as the text it is
    with pytest.raises(EncodingUnavailable, match="not available offline"):
        get_encoding("p50k_base")


def test_index_lives_in_dot_repoctx_and_ignores_itself(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    load_repository(str(repo), workers=1)
    assert (repo / ".repoctx" / "index.sqlite").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_index_location_from_option_and_environment(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "r", FILES)
    r = run_cli("index", str(repo), "--index", str(tmp_path / "opt.sqlite"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "opt.sqlite").exists()
    r = run_cli("index", str(repo), env={"REPOCTX_INDEX": str(tmp_path / "env.sqlite")})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "env.sqlite").exists()
    assert not (repo / ".repoctx").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "old-schema"])
def test_a_damaged_index_is_rebuilt_with_a_warning(tmp_path, damage):
    repo = make_repo(tmp_path / "r", FILES)
    assert run_cli("index", str(repo)).returncode == 0
    db = repo / ".repoctx" / "index.sqlite"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:1500])
    else:
        with sqlite3.connect(db) as c:
            c.execute("UPDATE meta SET value='0' WHERE key='schema'")
    r = run_cli("index", str(repo))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "warning: index" in r.stderr and "rebuilt" in r.stderr
    assert r.stdout.startswith("4 files, 4 parsed")
    assert IndexStore(str(db)).db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (SCHEMA_VERSION,)


def test_ctrl_c_mid_index_leaves_a_usable_index(tmp_path):
    files = {f"m/f{i}.py": "".join(f"def fn_{i}_{j}(a, b):\n    return a * b + {j}\n\n" for j in range(150))
             for i in range(800)}
    repo = make_repo(tmp_path / "r", files)
    # Ctrl-C right after the first commit (repoctx/files.py fault_point), not raced against the clock.
    proc = subprocess.Popen([sys.executable, "-m", "repoctx", "index", str(repo)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "REPOCTX_FAULT": "index-commit:1:INT"},
                            preexec_fn=interruptible)
    db = repo / ".repoctx" / "index.sqlite"
    out, err = proc.communicate(timeout=600)  # a hang guard only
    assert "Traceback" not in err
    assert proc.returncode == 130, err
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = c.execute("SELECT count(*) FROM blobs").fetchone()[0]
    assert 0 < stored < 800, stored
    r = run_cli("index", str(repo))
    assert r.returncode == 0, r.stderr
    parsed = int(r.stdout.split(",")[1].split()[0])
    assert parsed == 800 - stored
    assert "rebuilt" not in r.stderr


def test_bad_files_lose_nothing(tmp_path):
    repo = make_repo(tmp_path / "r", {
        "good.py": "def ok():\n    return 1\n",
        "latin1.py": b"# caf\xe9\ndef cafe():\n    return '\xe9'\n",
        "crlf.py": "def a():\r\n    return 1\r\n",
        "empty.py": "",
        "broken.py": "def before():\n    pass\n\ndef broken(:\n\ndef after():\n    pass\n",
        "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "notes.unknownext": "plain text survives\n",
    })
    loaded = load_repository(str(repo), workers=1)
    assert sorted(loaded.files) == ["broken.py", "crlf.py", "empty.py", "good.py", "latin1.py", "notes.unknownext"]
    assert {s.path: s.reason for s in loaded.skipped} == {"image.png": "binary"}
    assert [s.name for s in loaded.facts["latin1.py"].symbols] == ["cafe"]
    assert "\ufffd" in loaded.text("latin1.py")  # undecodable byte replaced, the rest kept
    assert [s.name for s in loaded.facts["crlf.py"].symbols] == ["a"]
    assert loaded.facts["empty.py"].lines == 0 and loaded.tokens["empty.py"] == 0
    assert {"before", "after"} <= {s.name for s in loaded.facts["broken.py"].symbols}
    assert loaded.facts["broken.py"].parse_errors
    assert loaded.facts["notes.unknownext"].language is None
    assert loaded.tokens["notes.unknownext"] == 4
    again = load_repository(str(repo), workers=1)  # the binary verdict is cached too
    assert again.report.parsed == 0 and again.report.skipped == 1


def test_file_vanishing_between_scan_and_read_is_reported(tmp_path, monkeypatch):
    import repoctx.index.load as repository
    repo = make_repo(tmp_path / "r", FILES)
    real_scan = repository.scan

    def scan_then_delete(root, options, *memo):
        result = real_scan(root, options, *memo)
        (repo / "app/util.py").unlink()
        return result

    monkeypatch.setattr(repository, "scan", scan_then_delete)
    loaded = load_repository(str(repo), workers=1)
    assert "app/util.py" not in loaded.files
    assert {s.path: s.reason for s in loaded.skipped}["app/util.py"] == "unreadable"


def test_cli_index_summary_and_stats(tmp_path):
    repo = make_repo(tmp_path / "r", {**FILES, "node_modules/x/i.js": "x", "yarn.lock": "", "blob.bin": b"\0\1"})
    r = run_cli("index", str(repo))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("4 files, 4 parsed, 0 reused, 3 skipped,")
    assert "(o200k_base)" in r.stdout
    assert r.stderr == ""  # no progress bar when not on a terminal
    r = run_cli("stats", str(repo), "--json", "--encoding", "cl100k_base")
    s = json.loads(r.stdout)
    assert s["encoding"] == "cl100k_base" and s["files"] == 4
    assert {x["language"]: x["files"] for x in s["languages"]} == {"python": 2, "javascript": 1, "text": 1}
    assert s["tokens"] == sum(x["tokens"] for x in s["languages"])
    assert {k: v["count"] for k, v in s["skipped"].items()} == {"binary": 1, "ignored-folder": 1, "lock-file": 1}
    assert [f["window"] for f in s["fits"]] == [8000, 32000, 128000, 200000, 1000000, 2000000, 10000000]
    assert all(f["fits"] for f in s["fits"])
    text = run_cli("stats", str(repo)).stdout
    assert "fits in" in text and "lock-file" in text and "python" in text


def test_cli_errors_are_clear(tmp_path):
    r = run_cli("stats", str(tmp_path / "missing"))
    assert r.returncode == 1 and "not a folder" in r.stderr and "Traceback" not in r.stderr
    write_files(tmp_path / "p", {"a.py": "x = 1\n"})
    r = run_cli("index", str(tmp_path / "p"), "--encoding", "nope")
    assert r.returncode == 1 and "unknown encoding" in r.stderr
    r = run_cli("index", str(tmp_path / "p"), "--max-file-size", "lots")
    assert r.returncode == 2 and "not a count" in r.stderr
