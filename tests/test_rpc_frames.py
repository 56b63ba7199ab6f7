"""Malformed JSON-RPC frames and messages against `repoctx serve`, over a raw stdio pipe: the test
writes the bytes itself. After every bad frame the server must answer a valid request correctly;
a bad request that carries a usable id gets a JSON-RPC error for that id (never silence); what cannot
be answered is dropped. The framing itself (server/framing.py) is also fuzzed in-process with
Hypothesis. RawServer here is also the client of test_server_load.py."""
from __future__ import annotations

import io
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import make_repo

# ---------------------------------------------------------------------------------------------
# A client that writes bytes itself


def frame(body: bytes | str | dict | list) -> bytes:
    """One well-formed frame around `body` (anything but bytes/str is JSON-encoded)."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _key(msg_id) -> str:
    return json.dumps(msg_id, sort_keys=True)


#: Seconds to wait for an answer before calling the server hung: a hang guard only, never a speed
#: check (a slow or busy machine answers late, not never).
HANG = 300.0


class RawServer:
    """`python -m repoctx serve` with raw stdin/stdout pipes. A thread reads what the server writes:
    responses are kept by id, notifications in a list; requests from the server (progress tokens,
    capability registrations) are answered with a null result."""

    def __init__(self, cwd: Path, log: Path | None = None):
        self.stderr = open(log or os.devnull, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "repoctx", "serve"], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, bufsize=0)
        self.responses: dict[str, list[dict]] = {}
        self.notifications: list = []
        self.server_requests: list[str] = []
        self.cond = threading.Condition()
        self.ids = itertools.count(1)
        self.closed = False
        self.write_lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read(self) -> None:
        out = self.proc.stdout
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        return
                    if not line.strip():
                        break
                    name, _, value = line.decode("ascii", "replace").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = b""
                while length is not None and len(body) < length:
                    chunk = out.read(length - len(body))
                    if not chunk:
                        return
                    body += chunk
                self._take(json.loads(body))
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def _take(self, msg) -> None:
        if isinstance(msg, dict) and "method" in msg and "id" in msg:  # a request from the server
            self.server_requests.append(msg["method"])
            self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
            return
        with self.cond:
            if isinstance(msg, dict) and "method" not in msg:
                self.responses.setdefault(_key(msg.get("id")), []).append(msg)
            else:
                self.notifications.append(msg)
            self.cond.notify_all()

    def response(self, msg_id, timeout: float = HANG) -> dict | None:
        """The server's response to `msg_id`, or None if none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.responses.get(_key(msg_id)):
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return None
                self.cond.wait(left)
            return self.responses[_key(msg_id)][0]

    def responses_to(self, msg_id) -> list[dict]:
        with self.cond:
            return list(self.responses.get(_key(msg_id), ()))

    def send_raw(self, data: bytes) -> None:
        with self.write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, body) -> None:
        self.send_raw(frame(body))

    def request(self, method: str, params=None, msg_id=None):
        msg_id = next(self.ids) if msg_id is None else msg_id
        msg = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return msg_id

    def notify(self, method: str, params=None) -> None:
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def call(self, method: str, params=None, timeout: float = HANG) -> dict | None:
        return self.response(self.request(method, params), timeout)

    def initialize(self, root: Path, options: dict | None = None) -> dict:
        reply = self.call("initialize", {"processId": os.getpid(), "rootUri": root.resolve().as_uri(),
                                         "capabilities": {}, "initializationOptions": options or {}}, 60)
        assert reply is not None and "result" in reply, reply
        self.notify("initialized", {})
        return reply["result"]

    def close(self, timeout: float = HANG) -> int | None:
        """shutdown + exit, then wait for the process; one that does not go is killed (None)."""
        try:
            if self.alive():
                self.response(self.request("shutdown"), timeout)
                self.notify("exit")
                self.proc.stdin.close()
            return self.proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.stderr.close()


# ---------------------------------------------------------------------------------------------
# The server under test: one session for all the cases below, each checked to leave it serving

APP = "def hello(name):\n    return 'hi ' + name\n\n\ndef world():\n    return hello('w')\n"


def _start(root: Path, log: Path | None = None) -> RawServer:
    s = RawServer(root, log=log)
    s.root, s.app = root, (root / "app.py").resolve().as_uri()
    s.initialize(root)
    assert_serving(s)
    return s


@pytest.fixture(scope="module")
def _session(tmp_path_factory):
    root = make_repo(tmp_path_factory.mktemp("frames") / "repo", {"app.py": APP, "util.py": "X = 1\n"})
    box = {"server": _start(root, root.parent / "server.log"), "root": root}
    yield box
    assert box["server"].close() == 0, (root.parent / "server.log").read_text()[-3000:]


@pytest.fixture
def srv(_session):
    """One server for the cases below; a case that leaves it deaf or dead fails, and the next case
    gets a fresh server, so each case is judged on its own."""
    s = _session["server"]
    yield s
    if not s.alive() or not _serving(s):
        s.close(timeout=2)
        root = _session["root"]
        _session["server"] = _start(root, root.parent / "server.log")


def _serving(s: RawServer) -> bool:
    try:
        assert_serving(s, timeout=60)
        return True
    except AssertionError:
        return False


def assert_serving(s: RawServer, timeout: float = HANG) -> float:
    """A valid request gets its correct answer (within `timeout` seconds, which it returns)."""
    start = time.monotonic()
    reply = s.call("repoctx/context", {"textDocument": {"uri": s.app}, "position": {"line": 0, "character": 4}},
                   timeout)
    assert reply is not None, f"no answer within {timeout}s (server alive: {s.alive()})"
    assert "result" in reply and "def hello(name):" in reply["result"]["text"], reply
    return time.monotonic() - start


def _req(msg_id, method="repoctx/map", params=None) -> dict:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": {} if params is None else params}


def _body(msg) -> bytes:
    return json.dumps(msg).encode()


# (name, bytes, id whose answer is expected: None for none, or (id, "result" | error code))
def _frame_cases():
    b = _body(_req("short"))
    yield "content-length too short", b"Content-Length: %d\r\n\r\n" % (len(b) - 7) + b, None
    b = _body(_req("long"))
    yield "content-length too long (next frame swallowed)", b"Content-Length: %d\r\n\r\n" % (len(b) + 60) + b, ("long", "result")
    b = _body(_req("long3"))
    yield "content-length too long by 3 (next header cut)", b"Content-Length: %d\r\n\r\n" % (len(b) + 3) + b, ("long3", "result")
    b = _body(_req("nan"))
    yield "content-length not a number", b"Content-Length: abc\r\n\r\n" + b, None
    yield "content-length negative", b"Content-Length: -5\r\n\r\n" + _body(_req("neg")), None
    yield "content-length float", b"Content-Length: 1e2\r\n\r\n" + _body(_req("flt")), None
    yield "content-length hex", b"Content-Length: 0x40\r\n\r\n" + _body(_req("hex")), None
    yield "content-length missing", b"Content-Type: application/vscode-jsonrpc\r\n\r\n" + _body(_req("miss")), None
    yield "content-length twice, different", b"Content-Length: 5\r\nContent-Length: 7\r\n\r\n{}", None
    yield "content-length zero", b"Content-Length: 0\r\n\r\n", None
    yield "content-length 20 digits", b"Content-Length: 99999999999999999999\r\n\r\n{}", None
    yield "header line that is no header", b"this is not a header\r\n\r\n" + _body(_req("nohdr")), None
    yield "header glued to garbage", b"garbage" + frame(_req("glued")), ("glued", "result")
    yield "header line 20 KB long", b"X-Junk: " + b"j" * 20000 + b"\r\n" + frame(_req("longhdr")), ("longhdr", "result")
    yield "lower-case header, LF line ends", b"content-length: %d\n\n" % len(_body(_req("lf"))) + _body(_req("lf")), ("lf", "result")
    yield "blank lines between frames", b"\r\n\r\n\r\n" + frame(_req("blank")), ("blank", "result")
    yield "1 MB of random bytes", random.Random(7).randbytes(1 << 20).replace(b"Content-", b"C0ntent-"), None
    yield "invalid JSON", frame(b'{"jsonrpc": "2.0", "id": "bad", "method": '), None
    yield "invalid UTF-8 body", frame(b'{"jsonrpc": "2.0", "id": "\xff\xfe", "method": "repoctx/map"}'), None
    yield "JSON array (batch)", frame([_req("batch1"), _req("batch2")]), None
    yield "JSON string", frame(b'"hello"'), None
    yield "JSON null", frame(b"null"), None
    yield "JSON number", frame(b"42"), None


@pytest.mark.parametrize("name,data,answer", list(_frame_cases()), ids=[c[0] for c in _frame_cases()])
def test_bad_frames_are_dropped_and_the_server_keeps_serving(srv, name, data, answer):
    srv.send_raw(data)
    assert_serving(srv)
    if answer is not None:
        msg_id, kind = answer
        reply = srv.response(msg_id)
        assert reply is not None and (kind in reply if isinstance(kind, str) else reply["error"]["code"] == kind), reply
    for bad in ("short", "nan", "neg", "flt", "hex", "miss", "nohdr", "bad", "batch1", "batch2"):
        assert not srv.responses_to(bad), (bad, srv.responses_to(bad))  # dropped, never a stray answer


def _message_cases(app_uri: str):
    pos = {"line": 0, "character": 4}
    doc = {"uri": app_uri}
    yield "hover with position 'x'", _req("h1", "textDocument/hover", {"textDocument": doc, "position": "x"}), -32602
    yield "hover with line as string", _req("h2", "textDocument/hover", {"textDocument": doc, "position": {"line": "zero", "character": 0}}), -32602
    yield "definition with textDocument 5", _req("d1", "textDocument/definition", {"textDocument": 5, "position": pos}), -32602
    yield "hover without params", {"jsonrpc": "2.0", "id": "h3", "method": "textDocument/hover"}, -32602
    yield "executeCommand with command 5", _req("e1", "workspace/executeCommand", {"command": 5}), -32602
    yield "params a number", {"jsonrpc": "2.0", "id": "p1", "method": "repoctx/context", "params": 7}, -32602
    yield "repoctx/context with position 'x'", _req("c1", "repoctx/context", {"textDocument": doc, "position": "x"}), -32602
    yield "unknown method", _req("u1", "no/such/method"), -32601
    yield "unknown method without params", {"jsonrpc": "2.0", "id": "u2", "method": "no/such/method"}, -32601
    yield "method not a string", {"jsonrpc": "2.0", "id": "m1", "method": 5, "params": {}}, -32600
    yield "jsonrpc 1.0", {"jsonrpc": "1.0", "id": "v1", "method": "repoctx/map", "params": {}}, -32600
    yield "no jsonrpc member", {"id": "v2", "method": "repoctx/map", "params": {}}, -32600
    yield "didOpen with an id (not applied)", _req("n1", "textDocument/didOpen", {"textDocument": {
        "uri": app_uri, "languageId": "python", "version": 9, "text": "def replaced():\n    pass\n"}}), -32600
    yield "didChange with an id (not applied)", _req("n2", "textDocument/didChange", {
        "textDocument": {"uri": app_uri, "version": 9}, "contentChanges": [{"text": "X = 2\n"}]}), -32600
    yield "exit with an id (not applied)", {"jsonrpc": "2.0", "id": "n3", "method": "exit"}, -32600
    yield "initialized with an id", {"jsonrpc": "2.0", "id": "n4", "method": "initialized", "params": {}}, -32600
    # Nothing can be answered: dropped.
    yield "hover without an id", {"jsonrpc": "2.0", "method": "textDocument/hover", "params": {"textDocument": doc, "position": pos}}, None
    yield "repoctx/context without an id", {"jsonrpc": "2.0", "method": "repoctx/context", "params": {"textDocument": doc, "position": pos}}, None
    yield "repoctx/applyEdit without an id (not applied)", {"jsonrpc": "2.0", "method": "repoctx/applyEdit", "params": {
        "text": "--- a/app.py\n+++ b/app.py\n@@ -1,1 +1,2 @@\n def hello(name):\n+# injected\n", "dryRun": False}}, None
    yield "didOpen with text 5", {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": app_uri, "languageId": "python", "version": 1, "text": 5}}}, None
    yield "didChange of a file never opened", {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": app_uri.replace("app.py", "ghost.py"), "version": 2},
        "contentChanges": [{"range": {"start": {"line": 5, "character": 0}, "end": {"line": 5, "character": 0}}, "text": "x"}]}}, None
    yield "unknown notification", {"jsonrpc": "2.0", "method": "no/such/notification", "params": {}}, None
    yield "cancel of an unknown id", {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 987654}}, None
    yield "id null", {"jsonrpc": "2.0", "id": None, "method": "repoctx/map", "params": {}}, None
    yield "id an array", {"jsonrpc": "2.0", "id": [1], "method": "repoctx/map", "params": {}}, None
    yield "id an object", {"jsonrpc": "2.0", "id": {"a": 1}, "method": "repoctx/map", "params": {}}, None
    yield "id a float", {"jsonrpc": "2.0", "id": 1.5, "method": "repoctx/map", "params": {}}, None
    yield "id true", {"jsonrpc": "2.0", "id": True, "method": "repoctx/map", "params": {}}, None
    yield "a response nobody asked for", {"jsonrpc": "2.0", "id": "zz", "result": {"x": 1}}, None
    yield "neither request nor response", {"jsonrpc": "2.0", "id": "zz"}, None


@pytest.mark.parametrize("name", [c[0] for c in _message_cases("file:///app.py")])
def test_bad_messages_get_an_error_or_are_dropped(srv, name):
    msg, code = {n: (m, c) for n, m, c in _message_cases(srv.app)}[name]
    srv.send(msg)
    if code is not None:
        reply = srv.response(msg["id"])
        assert reply is not None, f"no answer to {msg['id']!r}: the client would wait forever"
        assert reply.get("error", {}).get("code") == code, reply
        assert isinstance(reply["error"].get("message"), str) and reply["error"]["message"]
    assert_serving(srv)  # still serving, and app.py is still what it was (a notification sent with an id was not applied)
    assert "workspace/applyEdit" not in srv.server_requests  # an edit asked for without an id is not applied
    assert srv.alive()


def test_a_20mb_did_open_is_taken_and_the_server_keeps_serving(srv):
    """A buffer over the size cap (1 MB by default) is skipped like such a file on disk; the frame
    itself is read (64 MB is the frame limit)."""
    uri = (srv.root / "big.py").resolve().as_uri()
    text = "def f():\n    return 1\n\n" * (20_000_000 // 24)
    srv.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    assert_serving(srv)
    reply = srv.call("repoctx/context", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 4}})
    assert reply is not None and "big.py" not in {f["path"] for f in reply["result"]["files"]}  # skipped
    single = "x" * 20_000_000
    srv.notify("textDocument/didOpen", {"textDocument": {"uri": uri.replace("big", "big1"), "languageId": "python",
                                                         "version": 1, "text": single}})
    assert_serving(srv)
    srv.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert_serving(srv)


def test_a_50mb_content_length_with_no_body_costs_the_stall_timeout_not_the_server(srv):
    """The declared body never comes; the valid request sent after it is read as part of that body
    until the reader gives the body up (STALL_SECONDS without a byte) and finds the request inside."""
    from repoctx_server.framing import STALL_SECONDS
    log = Path(srv.stderr.name)
    stalls = lambda: log.read_text(errors="replace").count("body stalled after")  # noqa: E731
    before = stalls()
    srv.send_raw(b"Content-Length: 52428800\r\n\r\n")
    took = assert_serving(srv)
    assert took >= STALL_SECONDS * 0.8, took  # answered by the resync, not by luck (a lower bound: slowness cannot fail it)
    assert stalls() == before + 1
    srv.send_raw(b"Content-Length: 209715200\r\n\r\n")  # over the frame limit: dropped at once, its body never awaited
    assert_serving(srv)
    assert "Content-Length 209715200 is over the limit" in log.read_text(errors="replace")
    assert stalls() == before + 1  # the request sent after it was not read as its body


def test_after_shutdown_requests_get_an_error_and_exit_ends_the_process(tmp_path):
    s = _start(make_repo(tmp_path / "repo", {"app.py": APP}))
    try:
        reply = s.call("shutdown", None)
        assert reply is not None and reply.get("result", "missing") is None, reply
        reply = s.call("repoctx/map", {})
        assert reply is not None and reply["error"]["code"] == -32600, reply
        s.notify("exit")
        assert s.proc.wait(HANG) == 0
    finally:
        if s.alive():
            s.proc.kill()
        s.stderr.close()


def test_a_frame_cut_off_by_the_end_of_input_does_not_keep_the_server(tmp_path):
    s = _start(make_repo(tmp_path / "repo", {"app.py": APP}))
    try:
        s.send_raw(b"Content-Length: 52428800\r\n\r\n{\"jsonrpc\": ")
        s.proc.stdin.close()
        assert s.proc.wait(HANG) is not None
    finally:
        if s.alive():
            s.proc.kill()
        s.stderr.close()


# ---------------------------------------------------------------------------------------------
# The framing, fuzzed in-process


class _Chunked(io.RawIOBase):
    """A stream that hands out its bytes in the given chunk sizes (a pipe read returns what is there)."""

    def __init__(self, data: bytes, sizes: list[int]):
        self.data, self.pos, self.sizes = data, 0, itertools.cycle(sizes or [len(data) or 1])

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        size = min(n if n > 0 else len(self.data), next(self.sizes))
        out = self.data[self.pos:self.pos + size]
        self.pos += len(out)
        return out

    read = read1


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(lambda s: "content-" not in s.lower())
_messages = st.fixed_dictionaries({"jsonrpc": st.just("2.0"), "id": st.integers(0, 10**6),
                                   "method": _text, "params": st.dictionaries(_text, _text, max_size=3)})
# Garbage between frames ends its line: glued to the next header it could make a broken header a
# good one ("X-" + "Content-Length: 5\r\nContent-Length: 6"); gluing is tested against the server.
_garbage = st.binary(min_size=0, max_size=300).filter(lambda b: b"content-" not in b.lower()).map(lambda b: b + b"\n")
_piece = st.one_of(
    st.tuples(st.just("valid"), _messages),
    st.tuples(st.just("lf"), _messages),
    st.tuples(st.just("short"), _messages, st.integers(1, 30)),
    st.tuples(st.just("long"), _messages, st.integers(1, 400)),
    st.tuples(st.sampled_from(["no-length", "bad-length", "negative", "twice", "over-limit"]), _messages),
    st.tuples(st.just("junk-line"), _messages),
    st.tuples(st.just("garbage"), _garbage),
)
MAX_BODY = 4096


def _build(pieces) -> tuple[bytes, list]:
    """The stream, and the messages that must come out of it, in order."""
    parts: list[bytes] = []
    wanted: list[tuple[int, dict, int]] = []  # (piece index, message, bytes needed after the piece)
    for i, piece in enumerate(pieces):
        kind = piece[0]
        body = json.dumps(piece[1]).encode() if kind != "garbage" else b""
        if kind == "valid":
            parts.append(frame(body)); wanted.append((i, piece[1], 0))
        elif kind == "lf":
            parts.append(b"content-length: %d\n\n" % len(body) + body); wanted.append((i, piece[1], 0))
        elif kind == "short":
            parts.append(b"Content-Length: %d\r\n\r\n" % max(0, len(body) - piece[2]) + body)
        elif kind == "long":  # the body is whole JSON: taken, the rest read as the next frame
            parts.append(b"Content-Length: %d\r\n\r\n" % (len(body) + piece[2]) + body); wanted.append((i, piece[1], piece[2]))
        elif kind == "no-length":
            parts.append(b"Content-Type: x\r\n\r\n" + body)
        elif kind == "bad-length":
            parts.append(b"Content-Length: twelve\r\n\r\n" + body)
        elif kind == "negative":
            parts.append(b"Content-Length: -%d\r\n\r\n" % len(body) + body)
        elif kind == "twice":
            parts.append(b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(body), len(body) + 1) + body)
        elif kind == "over-limit":
            parts.append(b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1 + len(body)) + body)
        elif kind == "junk-line":  # a line that is no header, then a good frame: the frame is found
            parts.append(b"not a header\r\n" + frame(body)); wanted.append((i, piece[1], 0))
        else:
            parts.append(piece[1])
    ends = list(itertools.accumulate(map(len, parts)))
    total = ends[-1] if ends else 0
    expected = [msg for i, msg, need in wanted if total - ends[i] >= need]
    return b"".join(parts), expected


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_piece, max_size=12), st.lists(st.integers(1, 200), max_size=6))
def test_framing_recovers_every_frame_it_can(pieces, sizes):
    """Every well-formed frame after any of the broken ones above comes out, in order, and nothing
    else does (a too-long frame whose own body is whole JSON is still taken); the reader never
    raises and always reaches the end."""
    from repoctx_server.framing import END, FrameReader, Malformed
    data, expected = _build(pieces)
    reader = FrameReader(_Chunked(data, sizes), stall_seconds=0.05, max_body=MAX_BODY)
    out = []
    for _ in range(10 * len(pieces) + 10):
        item = reader.next()
        if item is END:
            break
        if not isinstance(item, Malformed):
            out.append(item)
    else:
        pytest.fail("the reader did not reach the end of the stream")
    assert out == expected
