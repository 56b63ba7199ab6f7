"""Errors say what to do: one line, no raw git command line, no `[Errno N]`, usage errors exit 2 —
and counts and listings that leave nothing out."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import make_repo, run_cli

from repoctx.index.load import index_repository
from repoctx.tokens import OFFLINE, get_encoding

FILES = {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/a.py": "def f():\n    return 1\n",
         "pkg/b.py": "def f():\n    return 1\n", "pkg/c.py": "def g():\n    return 2\n"}


@pytest.fixture()
def repo(tmp_path):
    return make_repo(tmp_path / "repo", FILES)


def error_line(r) -> str:
    """The one `repoctx: error:` line of a failed run, checked to be alone and plain."""
    assert r.stdout == "" and "Traceback" not in r.stderr and "[Errno" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("repoctx: error: ")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_snapshot_show_of_an_unknown_commit_says_what_to_do(repo):
    r = run_cli("snapshot", "show", "nosuch", "-C", str(repo))
    line = error_line(r)
    assert r.returncode == 1 and "no such commit: 'nosuch'" in line and "repoctx snapshot list" in line
    assert "git rev-parse" not in r.stderr and "fatal:" not in r.stderr


def test_snapshots_and_hooks_outside_git_say_so_without_git_command_lines(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    for args in (["snapshot", "show"], ["snapshot", "list"], ["snapshot", "take", "--strict"], ["hook", "install"]):
        r = run_cli(*args, "-C", str(plain))
        line = error_line(r)
        assert r.returncode == 1 and f"not a git repository: {plain}" in line and "git init" in line, args
        assert "fatal:" not in r.stderr and "failed:" not in r.stderr


def test_snapshot_list_with_none_says_how_to_take_one(repo):
    r = run_cli("snapshot", "list", "-C", str(repo))
    assert r.returncode == 0 and r.stdout == ""
    assert "no snapshots in .repoctx/snapshots yet" in r.stderr and "repoctx hook install" in r.stderr


def test_an_unknown_encoding_lists_only_encodings_that_work_offline(repo):
    line = error_line(run_cli("pack", str(repo), "--encoding", "nosuch-enc"))
    assert "unknown encoding or model 'nosuch-enc'" in line
    listed = line.split("use one of ", 1)[1].split(" or a model", 1)[0].split(", ")
    assert listed == list(OFFLINE) and "r50k_base" not in line and "gpt2" not in line
    for name in listed:  # every one listed really loads, offline
        assert get_encoding(name).count("def f(): pass") > 0


def test_output_into_missing_folders_creates_them(repo, tmp_path):
    out = tmp_path / "missing" / "dir" / "x.xml"
    r = run_cli("pack", str(repo), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("<context>")


def test_an_unwritable_output_has_no_errno(repo, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("pack", str(repo), "-o", str(blocker / "sub" / "x.xml"))
    assert r.returncode == 1 and f"cannot write {blocker}/sub/x.xml: Not a directory" in error_line(r)
    r = run_cli("apply", str(tmp_path / "nosuch.diff"), "-C", str(repo))
    assert r.returncode == 1 and f"{tmp_path}/nosuch.diff: No such file or directory" in error_line(r)


def test_a_missing_query_file_is_a_usage_error_naming_the_flag(repo):
    r = run_cli("pack", str(repo), "--query-file", "/nonexist")
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert "argument --query-file: cannot read /nonexist: No such file or directory" in r.stderr


@pytest.mark.parametrize("cmd,flag", [("serve", "--tcp"), ("mcp", "--http")])
@pytest.mark.parametrize("value,message", [("localhost:abc", "expected [HOST:]PORT"), ("99999", "port must be 0-65535")])
def test_a_bad_port_is_a_usage_error(cmd, flag, value, message, tmp_path):
    r = run_cli(cmd, flag, value, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"argument {flag}: {message}" in r.stderr and r.stderr.startswith(f"usage: repoctx {cmd}")


def test_index_counts_add_up_when_blobs_repeat(repo, tmp_path):
    first = index_repository(str(repo))
    assert first.files == 5 and first.parsed + first.reused == first.files == 5  # two empty files, a.py == b.py
    r = run_cli("index", str(repo), "--index", str(tmp_path / "other.sqlite"))
    assert r.returncode == 0 and r.stdout.startswith("5 files, 5 parsed, 0 reused, 0 skipped"), r.stdout
    (repo / "pkg" / "d.py").write_text("def f():\n    return 1\n")  # a third copy: nothing new to parse
    again = index_repository(str(repo))
    assert (again.files, again.parsed, again.reused) == (6, 0, 6)
    other = index_repository(str(repo), encoding="cl100k_base")  # facts known, tokens counted anew
    assert (other.files, other.parsed, other.tokenized, other.reused) == (6, 0, 6, 0)
    assert other.summary().startswith("6 files, 0 parsed, 6 recounted, 0 reused, 0 skipped")


def _unprivileged() -> list[str]:
    """A command prefix that runs as an ordinary user (root reads any folder, whatever its mode)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a mode-000 folder cannot be made unreadable")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.parametrize("in_git", [True, False])
def test_a_folder_that_cannot_be_opened_is_listed_as_skipped(in_git):
    prefix = _unprivileged()
    base = Path(tempfile.mkdtemp(prefix="repoctx-mode000-"))  # outside pytest's root-only folders
    try:
        base.chmod(0o755)
        files = {"ok.py": "def ok():\n    return 1\n", "locked/inside.py": "def hidden():\n    return 2\n"}
        if in_git:
            root = make_repo(base / "repo", files)
            (root / "untracked").mkdir()
            (root / "untracked" / "u.py").write_text("x = 1\n")
            (root / "untracked").chmod(0)
        else:
            root = base / "repo"
            for rel, text in files.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(text)
        (root / "locked").chmod(0)
        if prefix:
            subprocess.run(["chown", "-R", "65534:65534", str(base)], check=True)
        env = {**os.environ, "HOME": str(base), "TIKTOKEN_CACHE_DIR": str(base / "tk")}
        r = subprocess.run([*prefix, sys.executable, "-m", "repoctx", "stats", str(root), "--json"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        s = json.loads(r.stdout)
        assert s["git"] is in_git and s["files"] == 1
        unreadable = s["skipped"]["unreadable"]["examples"]
        assert "locked/" in unreadable or "locked/inside.py" in unreadable
        if in_git:
            assert "untracked/" in unreadable
    finally:
        for p in (base / "repo" / "locked", base / "repo" / "untracked"):
            if p.exists():
                p.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_the_language_server_logs_invalid_params_as_one_line(tmp_path):
    from test_rpc_frames import RawServer
    root = make_repo(tmp_path / "repo", FILES)
    log = tmp_path / "server.log"
    s = RawServer(root, log=log)
    try:
        s.initialize(root)
        bad = s.call("repoctx/context", {"textDocument": {"uri": "file:///elsewhere/x.py"},
                                          "position": {"line": 0, "character": 0}}, timeout=60)
        assert bad["error"]["code"] == -32602
        assert s.call("repoctx/map", {"budget": 500}, timeout=60)["result"]["tokens"] > 0
    finally:
        s.close()
    deadline = time.monotonic() + 5
    while "answered" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    lines = [ln for ln in text.splitlines() if "InvalidParams" in ln]
    assert len(lines) == 1 and "outside the workspace folders" in lines[0], text
    assert "Traceback" not in text


def test_usage_mistakes_are_named_for_what_they_are(tmp_path):
    """A URL where a command takes a folder, and a folder where --diff takes a revision, are said to be
    that (not a mangled path, not a git error about the current folder)."""
    from conftest import make_repo
    repo = make_repo(tmp_path / "requests", {"a.py": "def f():\n    return 1\n"})
    r = run_cli("index", "file://" + str(repo), cwd=tmp_path)
    assert r.returncode == 2 and "is a repository URL" in r.stderr and "not a folder" not in r.stderr, r.stderr
    for cmd, hint in (("pack", "repoctx pack requests --diff"), ("impact", "repoctx impact requests")):
        r = run_cli(cmd, "--diff", "requests", cwd=tmp_path)
        assert r.returncode == 2 and "'requests' is a folder, not a revision" in r.stderr and hint in r.stderr, r.stderr
    (repo / "a.py").write_text("def f():\n    return 2\n")
    r = run_cli("pack", "requests", "--diff", cwd=tmp_path)
    assert r.returncode == 0 and "+    return 2" in r.stdout
