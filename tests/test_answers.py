"""Answers that tell the truth, through the real command line: a pack with nothing for what was asked
is an error (or a warning) saying why; small packs still open with the map; the map follows the query."""
from __future__ import annotations

import re

from conftest import git, make_repo, run_cli


def _repo(tmp_path, n=12):
    """A central module every file imports, and modules of their own."""
    files = {"app/consts.py": "".join(f"MIME_{i} = 'type/{i}'\n" for i in range(30))}
    for i in range(n):
        files[f"app/mod{i}.py"] = (f"from app.consts import MIME_{i}\n\n\n" + "".join(
            f"def work_{i}_{j}(x):\n    \"\"\"Work {j} of {i}.\"\"\"\n    y = x + {j}\n    return y * MIME_{i}.count('/')\n\n\n"
            for j in range(8)))
    files["app/router.py"] = ("def route_group(prefix, middleware):\n    \"\"\"Combine a route group's prefix with "
                              "its middleware chain.\"\"\"\n    return [prefix, *middleware]\n")
    return make_repo(tmp_path / "r", files)


def test_a_change_pack_with_no_change_is_an_error(tmp_path):
    repo = _repo(tmp_path)
    for args, words in ((["--staged"], "nothing is staged"), (["--diff"], "no change against HEAD"),
                        (["--diff", "HEAD"], "no change against HEAD")):
        r = run_cli("pack", str(repo), *args)
        assert r.returncode == 1 and words in r.stderr and not r.stdout, (args, r.stderr)
    (repo / "app/router.py").write_text("def route_group(prefix):\n    return [prefix]\n")
    git(repo, "add", "app/router.py")
    r = run_cli("pack", str(repo), "--staged", "--budget", "4k")
    assert r.returncode == 0 and "+def route_group(prefix):" in r.stdout


def test_a_focus_past_the_end_of_its_file_is_an_error(tmp_path):
    repo = _repo(tmp_path)
    r = run_cli("pack", str(repo), "--focus", "app/router.py:9999")
    assert r.returncode == 1 and "--focus app/router.py:9999: the file has 3 line(s)" in r.stderr and not r.stdout


def test_line_one_of_an_empty_file_is_a_focus(tmp_path):
    """An editor shows an empty file as one empty line and asks for context there (position 0)."""
    repo = make_repo(tmp_path / "r", {"pkg/__init__.py": "", "pkg/core.py": "def run():\n    return 1\n"})
    r = run_cli("pack", str(repo), "--focus", "pkg/__init__.py:1", "--budget", "2k")
    assert r.returncode == 0 and "pkg/__init__.py" in r.stdout, r.stderr
    r = run_cli("pack", str(repo), "--focus", "pkg/__init__.py:2")
    assert r.returncode == 1 and "the file has 0 line(s)" in r.stderr


def test_a_budget_too_small_names_the_least_that_holds_something(tmp_path):
    repo = _repo(tmp_path)
    r = run_cli("pack", str(repo), "--budget", "10")
    assert r.returncode == 3 and "holds nothing" in r.stderr and not r.stdout, r.stderr
    need = re.search(r"at least ([\d,]+)", r.stderr)[1].replace(",", "")
    r = run_cli("pack", str(repo), "--budget", need)
    assert r.returncode == 0 and "<file path=" in r.stdout


def test_a_small_pack_without_a_query_is_the_map_then_central_code(tmp_path):
    repo = _repo(tmp_path)
    r = run_cli("pack", str(repo), "--budget", "1k")
    assert r.returncode == 0, r.stderr
    assert r.stdout.index("<map>") < r.stdout.index("<file path=")
    assert "app/consts.py" in r.stdout.split("</map>")[0]


def test_the_map_at_the_top_of_a_query_pack_follows_the_query(tmp_path):
    repo = _repo(tmp_path)
    r = run_cli("pack", str(repo), "--budget", "4k", "--mode", "slice", "--query",
                "how is a route group combined with middleware")
    assert r.returncode == 0, r.stderr
    first = r.stdout.split("<map>\n", 1)[1].split("\n", 1)[0]
    assert first == "app/router.py", r.stdout[:400]
    r = run_cli("pack", str(repo), "--budget", "4k", "--mode", "slice", "--focus", "app/mod7.py")
    assert r.stdout.split("<map>\n", 1)[1].split("\n", 1)[0] == "app/mod7.py"


def test_the_summary_time_counts_from_the_start_of_the_process(tmp_path, capsys, monkeypatch):
    """The summary's seconds are the wall time since the process started (cli.STARTED, read from
    /proc), not since the pack began: a start 100 s ago shows as at least 100 s."""
    from repoctx import cli
    repo = _repo(tmp_path)
    assert 0 <= __import__("time").monotonic() - cli.STARTED < 3600
    monkeypatch.setattr(cli, "STARTED", cli.STARTED - 100)
    assert cli.main(["pack", str(repo), "--budget", "2k", "-o", str(tmp_path / "out.xml")]) == 0
    seconds = float(re.search(r", ([\d.]+)s", capsys.readouterr().err)[1])
    assert seconds >= 100


def test_every_skipped_file_is_listed_with_its_reason_and_counted_by_pack(tmp_path):
    repo = _repo(tmp_path)
    (repo / "app/big.py").write_text("x = 1\n" * 400_000)     # 2.4 MB: too large
    name = b"caf\xe9.py"                                        # not UTF-8
    import os
    with open(os.path.join(os.fsencode(repo), name), "wb") as f:
        f.write(b"def b():\n    return 2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    s = run_cli("stats", str(repo)).stdout
    assert "too-large (1)\n    app/big.py" in s and "undecodable-name (1)\n    caf\ufffd.py" in s, s
    r = run_cli("pack", str(repo), "--budget", "2k")
    assert r.returncode == 0 and "2 file(s) skipped (1 too-large, 1 undecodable-name; `repoctx stats` lists them)" in r.stderr
    r = run_cli("pack", str(repo), "--include", "nomatch/**")
    assert r.returncode == 1 and "--include 'nomatch/**'" in r.stderr and not r.stdout, r.stderr


def test_the_budget_holds_for_the_file_as_written_in_every_format(tmp_path):
    from repoctx import count_tokens, get_encoding
    repo = _repo(tmp_path, n=30)
    for fmt in ("xml", "markdown", "plain", "json"):
        for budget in ("1500", "4k"):
            r = run_cli("pack", str(repo), "--format", fmt, "--budget", budget)
            assert r.returncode == 0, r.stderr
            limit = int(budget.replace("k", "000"))
            tokens = count_tokens(r.stdout, get_encoding(None))
            assert limit * 0.5 < tokens <= limit, (fmt, budget)
            assert f": {tokens:,}/{limit:,} tokens" in r.stderr  # the summary counts the file as written


def test_snapshot_by_hand_outside_git_fails_while_the_hook_stays_quiet_and_list_shows_whole_columns(tmp_path):
    import os
    import subprocess
    plain = tmp_path / "plain"
    plain.mkdir()
    r = run_cli("snapshot", "-C", str(plain))
    assert r.returncode == 1 and "not a git repository" in r.stderr
    repo = _repo(tmp_path)
    r = run_cli("snapshot", "-C", str(repo))  # nothing staged, by hand: said, exit 1
    assert r.returncode == 1 and "nothing is staged" in r.stderr
    assert run_cli("hook", "install", "-C", str(repo)).returncode == 0
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    c = subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "empty"], cwd=repo, capture_output=True,
                       text=True, env=env)
    assert c.returncode == 0 and c.stderr == "", c.stderr
    (repo / "app/router.py").write_text("def route_group(prefix):\n    return [prefix]\n")
    git(repo, "add", "-A")
    assert run_cli("snapshot", "-C", str(repo)).returncode == 0  # staged, not committed
    listed = run_cli("snapshot", "list", "-C", str(repo)).stdout
    assert "(not committed)" in listed, listed


def test_a_whole_pack_opens_with_a_compact_file_tree_counted_in_the_budget(tmp_path):
    from repoctx import count_tokens, get_encoding
    repo = _repo(tmp_path, n=3)
    r = run_cli("pack", str(repo), "--budget", "32k")
    assert r.returncode == 0 and "whole:" in r.stderr, r.stderr
    tree = r.stdout.split("<map>\n", 1)[1].split("\n</map>", 1)[0]
    assert tree == "app/\n  consts.py\n  mod0.py\n  mod1.py\n  mod2.py\n  router.py"
    tokens = int(re.search(r"whole: ([\d,]+)/", r.stderr)[1].replace(",", ""))
    assert tokens == count_tokens(r.stdout, get_encoding(None))
    bare = run_cli("pack", str(repo), "--budget", "32k", "--no-tree")
    assert "<map>" not in bare.stdout and bare.stdout.replace("<context>\n\n", "") in r.stdout
    # a repository that fits only without its tree still goes whole, without it
    need = count_tokens(bare.stdout, get_encoding(None))
    r = run_cli("pack", str(repo), "--budget", str(need))
    assert r.returncode == 0 and "whole:" in r.stderr and "<map>" not in r.stdout
