"""`repoctx serve` holds the rules `repoctx mcp` holds: over TCP it listens beyond this machine only
with a token, a client presents the token before anything else, and a client opens only the folders
the server was started for. Driven by pygls's own LanguageClient over a real socket, against
`repoctx serve` as a subprocess."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types as t
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

from conftest import make_repo

FILES = {"shop/cart.py": "def total(items):\n    return sum(items)\n", "shop/__init__.py": ""}


@pytest.fixture
def repos(tmp_path):
    """(the repository the server is started for, another folder of the user's holding a secret)."""
    repo = make_repo(tmp_path / "work", FILES)
    other = make_repo(tmp_path / "private", {"notes.py": "PASSWORD_HINT = 'the name of my cat'\n"})
    return repo, other


class Serve:
    """`repoctx serve ARGS` listening on a port of its choosing."""

    def __init__(self, *args: str, cwd: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "repoctx", "serve", *args], cwd=cwd,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.proc.stderr.readline()
        assert "listening on" in line, line + self.proc.stderr.read()
        self.port = int(line.split(":")[-1].split()[0])

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=60)
        return self.proc.stderr.read()


@pytest.fixture
def serve():
    started: list[Serve] = []

    def start(*args, cwd):
        started.append(Serve(*args, cwd=cwd))
        return started[-1]
    yield start
    for s in started:
        s.stop()


def _frame(msg: dict) -> bytes:
    body = json.dumps(msg).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _raw(port: int, data: bytes) -> bytes:
    """What the server sends back to `data` before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def _initialize(root: Path, token: str | None = None, folders: list[Path] = ()) -> dict:
    params = {"processId": None, "rootUri": root.as_uri(), "capabilities": {},
              "initializationOptions": {"token": token} if token else {},
              "workspaceFolders": [{"uri": f.as_uri(), "name": f.name} for f in folders] or None}
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


async def _session(port: int, root: Path, token: str | None = None, folders: list[Path] = ()):
    client = LanguageClient("test", "1")
    client.messages = []
    client.feature(t.WINDOW_SHOW_MESSAGE)(lambda params: client.messages.append(params.message))
    await client.start_tcp("127.0.0.1", port)
    init = _initialize(root, token, folders)["params"]
    await client.initialize_async(get_converter().structure(init, t.InitializeParams))
    client.initialized(t.InitializedParams())
    return client


async def _close(client: LanguageClient) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def test_tcp_beyond_loopback_needs_a_token(repos):
    repo, _ = repos
    proc = subprocess.run([sys.executable, "-m", "repoctx", "serve", "--tcp", "0.0.0.0:0"], cwd=repo,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "listening" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "give --token" in lines[0] and "Traceback" not in proc.stderr, proc.stderr


async def test_tcp_with_a_token_admits_only_a_client_that_presents_it(repos, serve):
    repo, _ = repos
    s = serve("--tcp", "127.0.0.1:0", "--token", "s3cret", cwd=repo)
    for token in (None, "wrong", "s3cre"):
        answer = _raw(s.port, _frame(_initialize(repo, token)))
        assert b'"error"' in answer and b"token" in answer and b'"result"' not in answer, answer
    # A first message that is no initialize, and an HTTP request (what a web page can send to a
    # loopback port) with frames in its body: sent away unanswered.
    assert b'"result"' not in _raw(s.port, _frame({"jsonrpc": "2.0", "id": 1, "method": "repoctx/pack", "params": {}}))
    http = _frame(_initialize(repo, "s3cret"))
    assert _raw(s.port, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(http), http)) == b""
    assert not (repo / ".repoctx").exists()
    client = await _session(s.port, repo, "s3cret")
    r = await client.protocol.send_request_async("repoctx/pack", {"budget": 2000})
    assert "def total(items):" in r.text
    await _close(client)


async def test_a_tcp_client_opens_only_the_folders_the_server_was_started_for(repos, serve):
    repo, other = repos
    s = serve("--tcp", "127.0.0.1:0", cwd=repo)  # no --root: the current folder
    client = await _session(s.port, other, folders=[other, other / ".."])
    with pytest.raises(JsonRpcException) as err:
        await client.protocol.send_request_async("repoctx/pack", {"budget": 2000})
    assert "no workspace folder" in str(err.value)
    with pytest.raises(JsonRpcException):
        await client.protocol.send_request_async("repoctx/pack", {"folder": other.as_uri()})
    with pytest.raises(JsonRpcException):
        await client.protocol.send_request_async(
            "repoctx/context", {"textDocument": {"uri": (other / "notes.py").as_uri()}, "position": {"line": 0, "character": 0}})
    # A folder added later is not opened either.
    client.workspace_did_change_workspace_folders(t.DidChangeWorkspaceFoldersParams(
        t.WorkspaceFoldersChangeEvent(added=[t.WorkspaceFolder(other.as_uri(), "private")], removed=[])))
    with pytest.raises(JsonRpcException):
        await client.protocol.send_request_async("repoctx/pack", {"folder": other.as_uri()})
    assert any("not serving" in m for m in client.messages), client.messages
    await _close(client)
    assert not (other / ".repoctx").exists() and not (other.parent / ".repoctx").exists()


async def test_root_names_the_folders_over_stdio_too(repos, tmp_path):
    """With --root, an editor's workspace outside it is refused over stdio as well; inside it, served."""
    repo, other = repos
    client = LanguageClient("test", "1")
    client.messages = []
    client.feature(t.WINDOW_SHOW_MESSAGE)(lambda params: client.messages.append(params.message))
    await client.start_io(sys.executable, "-m", "repoctx", "serve", "--root", str(repo), cwd=str(tmp_path))
    init = _initialize(other, folders=[other, repo / "shop"])["params"]
    await client.initialize_async(get_converter().structure(init, t.InitializeParams))
    client.initialized(t.InitializedParams())
    r = await client.protocol.send_request_async("repoctx/pack", {"budget": 2000})
    assert "def total(items):" in r.text and "PASSWORD_HINT" not in r.text
    assert any("not serving" in m and str(other) in m for m in client.messages), client.messages
    await _close(client)
    assert not (other / ".repoctx").exists()
