"""Pre-commit snapshots and hook installation, driven by real `git commit`s."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import git, make_repo, run_cli

FILES = {
    "app/util.py": "def helper(x):\n    return x + 1\n",
    "app/main.py": "from app.util import helper\n\n\ndef main():\n    return helper(1)\n",
}


def commit(repo, message="change the helper"):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, env=env, capture_output=True, text=True)


def test_hook_snapshots_each_commit_and_finds_it_again(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    r = run_cli("hook", "install", "-C", str(repo))
    assert r.returncode == 0, r.stderr
    (repo / "app/util.py").write_text("def helper(x):\n    return x + 2\n")
    git(repo, "add", "app/util.py")
    staged_tree = git(repo, "write-tree").strip()
    c = commit(repo)
    assert c.returncode == 0, c.stderr
    assert git(repo, "rev-parse", "HEAD^{tree}").strip() == staged_tree   # the hook changed nothing staged
    assert "repoctx: snapshot .repoctx/snapshots/" in c.stderr
    shown = run_cli("snapshot", "show", "HEAD", "-C", str(repo))
    assert shown.returncode == 0, shown.stderr
    assert "-    return x + 1\n+    return x + 2" in shown.stdout and "<file path=\"app/main.py\"" in shown.stdout
    listed = run_cli("snapshot", "list", "-C", str(repo)).stdout
    assert git(repo, "rev-parse", "HEAD").strip()[:12] in listed and "tokens" in listed
    assert git(repo, "status", "--porcelain") == ""                       # snapshots are never committed
    assert run_cli("snapshot", "show", "HEAD~1", "-C", str(repo)).returncode == 1  # made without the hook


def test_an_existing_hook_is_kept_chained_and_restored(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\necho ran >> '{tmp_path}/marker'\n")
    hook.chmod(0o755)
    assert run_cli("hook", "install", "-C", str(repo)).returncode == 0
    (repo / "app/util.py").write_text("def helper(x):\n    return x * 2\n")
    git(repo, "add", "-A")
    assert commit(repo).returncode == 0
    assert (tmp_path / "marker").read_text() == "ran\n"
    assert run_cli("hook", "uninstall", "-C", str(repo)).returncode == 0
    assert hook.read_text().startswith("#!/bin/sh\necho ran")


def test_a_failing_snapshot_never_blocks_the_commit_unless_strict(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    assert run_cli("hook", "install", "-C", str(repo)).returncode == 0
    (repo / "app/util.py").write_text("def helper(x):\n    return x - 1\n")
    git(repo, "add", "-A")
    bad = {"REPOCTX_INDEX": "/dev/null/index.sqlite"}  # cannot be created: the snapshot fails
    c = subprocess.run(["git", "commit", "-q", "-m", "still commits"], cwd=repo, capture_output=True, text=True,
                       env={**os.environ, **bad, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"})
    assert c.returncode == 0 and "no snapshot taken" in c.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "still commits"
    r = subprocess.run([sys.executable, "-m", "repoctx", "snapshot", "--strict", "-C", str(repo)],
                       capture_output=True, text=True, env={**os.environ, **bad})
    assert r.returncode == 1 and "cannot create the index folder" in r.stderr


def test_notes_attach_the_snapshot_to_the_commit(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    assert run_cli("hook", "install", "--notes", "-C", str(repo)).returncode == 0
    (repo / "app/main.py").write_text(FILES["app/main.py"] + "\n\nVERSION = 2\n")
    git(repo, "add", "-A")
    assert commit(repo).returncode == 0
    note = git(repo, "notes", "--ref=repoctx", "show", "HEAD")
    assert "+VERSION = 2" in note


def test_show_refuses_a_path(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    r = run_cli("snapshot", "show", "app/util.py", "-C", str(repo))
    assert r.returncode == 1 and "is not a commit" in r.stderr


def test_the_pre_commit_framework_runs_our_hook_offline(tmp_path):
    """Our .pre-commit-hooks.yaml, published from a (local) hook repository, run by pre-commit."""
    hook_repo = make_repo(tmp_path / "hooks", {
        ".pre-commit-hooks.yaml": open(os.path.join(os.path.dirname(__file__), "..", ".pre-commit-hooks.yaml")).read()})
    rev = git(hook_repo, "rev-parse", "HEAD").strip()
    repo = make_repo(tmp_path / "r", {**FILES, ".pre-commit-config.yaml":
                                      f"repos:\n- repo: {hook_repo}\n  rev: {rev}\n  hooks:\n  - id: repoctx-snapshot\n"})
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home"),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    pc = [sys.executable, "-m", "pre_commit"]
    r = subprocess.run(pc + ["install"], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (repo / "app/util.py").write_text("def helper(x):\n    return x + 3\n")
    git(repo, "add", "-A")
    c = subprocess.run(["git", "commit", "-q", "-m", "through pre-commit"], cwd=repo, capture_output=True, text=True,
                       env={**env, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
                            "GIT_COMMITTER_EMAIL": "t@e"})
    assert c.returncode == 0, c.stdout + c.stderr
    shown = run_cli("snapshot", "show", "HEAD", "-C", str(repo))
    assert shown.returncode == 0, shown.stderr
    assert "+    return x + 3" in shown.stdout


def test_snapshots_are_capped_by_the_settings_file(tmp_path):
    repo = make_repo(tmp_path / "r", {**FILES, ".repoctx.toml": "snapshot_max_count = 2\n"})
    assert run_cli("hook", "install", "-C", str(repo)).returncode == 0
    trees = []
    for i in range(3):
        (repo / "app/util.py").write_text(f"def helper(x):\n    return x + {10 + i}\n")
        git(repo, "add", "-A")
        assert commit(repo, f"step {i} of the helper").returncode == 0
        trees.append(git(repo, "rev-parse", "HEAD^{tree}").strip())
    kept = sorted(p.name.split(".")[0] for p in (repo / ".repoctx" / "snapshots").iterdir())
    assert kept == sorted(trees[1:])  # the oldest went first
