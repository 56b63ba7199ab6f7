"""Nothing outside the repository root is ever read or served: symlinks out of it, `..` in globs and
focus, a snapshot `show` argument that is a path (the server's URIs: tests/test_server.py)."""
from __future__ import annotations

import os
import socket

from conftest import make_repo, run_cli, write_files

from repoctx import secrets
from repoctx.workspace import OutsideWorkspace, Workspace

SECRET = "TOP_SECRET_OUTSIDE_THE_REPO"


def _outside(tmp_path):
    out = tmp_path / "outside"
    write_files(out, {"secret.py": f"VALUE = '{SECRET}'\n", "sub/deep.py": f"X = '{SECRET}'\n"})
    return out


def _repo_with_links(tmp_path, git: bool):
    out = _outside(tmp_path)
    files = {"app.py": "def main():\n    return 1\n"}
    repo = make_repo(tmp_path / "repo", files) if git else tmp_path / "repo"
    if not git:
        write_files(repo, files)
    os.symlink(out / "secret.py", repo / "link.py")
    os.symlink(out / "sub", repo / "linkdir")
    os.symlink(repo, repo / "loop")  # a symlink loop must not hang the walk either
    return repo


def test_symlinks_out_of_the_repository_are_never_followed(tmp_path):
    for git in (True, False):
        repo = _repo_with_links(tmp_path / ("git" if git else "plain"), git)
        r = run_cli("pack", str(repo), "--mode", "whole", "--format", "plain")
        assert r.returncode == 0, r.stderr
        assert SECRET not in r.stdout and "def main():" in r.stdout
        stats = run_cli("stats", str(repo))
        assert "symlink" in stats.stdout + stats.stderr


def test_dot_dot_in_globs_and_focus_reads_nothing_outside(tmp_path):
    _outside(tmp_path)
    repo = make_repo(tmp_path / "repo", {"app.py": "def main():\n    return 1\n"})
    for glob in ("../outside/secret.py", "../**", "/../outside/*"):
        r = run_cli("pack", str(repo), "--include", glob, "--mode", "whole", "--format", "plain")
        assert SECRET not in r.stdout
    for focus in ("../outside/secret.py", str(tmp_path / "outside/secret.py"), "app.py/../../outside/secret.py"):
        r = run_cli("pack", str(repo), "--focus", focus, "--budget", "2k")
        assert r.returncode == 1 and "inside the repository" in r.stderr and SECRET not in r.stdout


def test_snapshot_show_refuses_a_path(tmp_path):
    _outside(tmp_path)
    repo = make_repo(tmp_path / "repo", {"app.py": "def main():\n    return 1\n"})
    for arg in ("../outside/secret.py", str(tmp_path / "outside/secret.py")):
        r = run_cli("snapshot", "show", arg, cwd=repo)
        assert r.returncode != 0 and SECRET not in r.stdout


def test_workspace_paths_are_confined(tmp_path):
    repo = _repo_with_links(tmp_path, git=True)
    ws = Workspace(str(repo))
    for path in ("../outside/secret.py", str(tmp_path / "outside/secret.py"), "link.py", "linkdir/deep.py"):
        try:
            ws.relpath(path)
        except OutsideWorkspace:
            continue
        raise AssertionError(f"{path} was accepted")
    assert ws.relpath("app.py") == "app.py"


def test_secret_scanning_never_touches_the_network(monkeypatch):
    calls = []

    def refuse(self, address):
        calls.append(address)
        raise OSError("network is off in this test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    text = ('slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"\n'
            'stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"\naws = "AKIAIOSFODNN7EXAMPLE"\n')
    found = secrets.SecretScanner().scan("keys.py", text)
    assert {f.kind for f in found} >= {"Slack Token", "Stripe Access Key", "AWS Access Key"} and calls == []
