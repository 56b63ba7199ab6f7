"""The server's stdio transport: LSP frames read without trusting the client, and JSON-RPC messages
checked before pygls sees them. (pygls 2.1's own loop goes deaf for good after one frame with a bad
Content-Length, and sends no answer to a request whose params do not fit their type, so the client
waits forever.)

Framing (`FrameReader`). A frame is header lines (`Name: value`, CRLF or LF) ending in an empty line,
then exactly Content-Length bytes of body. What happens to what is not:
  * a header block without exactly one Content-Length of digits, with a line that is no header, or
    longer than MAX_HEADER_BYTES; a Content-Length over MAX_BODY_BYTES (the body, if any, is not
    read): the frame is dropped and the reader resynchronises on the next `Content-Length:` /
    `Content-Type:` in the stream, so the frames after a broken one are read as sent;
  * a body that is no JSON. A Content-Length that was too long took in (part of) the next frame:
    when the body starts with a whole JSON value, that value is the message and the rest is read
    as the next frame; otherwise the body is dropped and reading resumes at a header inside it (a
    next header cut in two is lost with its frame);
  * a body that stops arriving: after STALL_SECONDS without a byte (a Content-Length of 50 MB and
    no body), the frame is given up and what did arrive is searched for the next header, so a
    request sent after a lying header is still answered, STALL_SECONDS late.
Bytes are pulled from the pipe by a daemon thread into a bounded queue (memory stays bounded while
the server is busy, and a read blocked on stdin never holds up exit).

Messages (`dispatch`). Requests with a usable id get a JSON-RPC error instead of silence:
-32600 for a message that is no request (wrong `jsonrpc`, method not a string, a notification method
sent with an id — not applied — or any request after `shutdown`), -32602 when the params are
neither object nor array or do not fit the method's type (`strict_converter`: "3" is no line
number). Messages that cannot be answered (no JSON, not an object, no or an unusable id: a JSON
array, a request without an id) are dropped and logged; a known request method sent without an id
is not run. Everything else goes to pygls unchanged.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import re
import threading
from typing import BinaryIO

import cattrs
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter

log = logging.getLogger("repoctx.server.framing")

#: Largest body accepted; a frame declaring more is dropped unread.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Largest header block (all lines); a longer one is garbage.
MAX_HEADER_BYTES = 8192
#: Seconds without a byte after which an incomplete body is given up.
STALL_SECONDS = 5.0
#: Bytes read from the pipe at a time, and how many such chunks may wait unread.
CHUNK_BYTES = 1 << 16
QUEUED_CHUNKS = 256

INVALID_REQUEST, INVALID_PARAMS, INTERNAL_ERROR = -32600, -32602, -32603

_HEADER_START = re.compile(rb"content-(?:length|type)[ \t]*:", re.I)
_HEADER_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
_HEADER_NAMES = (b"content-length:", b"content-type:")
_KEEP = 16  # a header name may be split across reads: this much of the end of dropped garbage is checked
_EOF = object()
#: What `FrameReader.next` gives at the end of the stream (a body may well be JSON `null`).
END = type("End", (), {"__repr__": lambda self: "END"})()


class Malformed:
    """A frame or body that was dropped, and why (for the log)."""
    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"Malformed({self.reason!r})"


class FrameReader:
    """Frames from a byte stream: `next()` gives the next message (the decoded JSON value), a
    `Malformed` for a frame that was dropped, or END at the end of the stream."""

    def __init__(self, stream: BinaryIO, stall_seconds: float = STALL_SECONDS,
                 max_body: int = MAX_BODY_BYTES):
        self.stall_seconds = stall_seconds
        self.max_body = max_body
        self.buf = bytearray()
        self.eof = False
        self.chunks: queue.Queue = queue.Queue(QUEUED_CHUNKS)
        self.decoder = json.JSONDecoder()
        threading.Thread(target=self._pump, args=(stream,), name="repoctx-stdin", daemon=True).start()

    def _pump(self, stream: BinaryIO) -> None:
        # The file descriptor, not the buffered stream: a daemon thread blocked inside a
        # BufferedReader holds its lock, and interpreter shutdown then aborts on it.
        try:
            fd = stream.fileno()
            read = lambda n: os.read(fd, n)  # noqa: E731
        except (AttributeError, OSError, ValueError):
            read = getattr(stream, "read1", stream.read)
        try:
            while True:
                chunk = read(CHUNK_BYTES)
                if not chunk:
                    break
                self.chunks.put(chunk)
        except (OSError, ValueError):
            pass
        self.chunks.put(_EOF)

    def _fill(self, timeout: float | None) -> bool:
        """Append the next chunk to the buffer; False at the end of the stream or after `timeout`
        seconds without one."""
        if self.eof:
            return False
        try:
            chunk = self.chunks.get(timeout=timeout)
        except queue.Empty:
            return False
        if chunk is _EOF:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _resync(self, start: int) -> None:
        """Drop the buffer up to the next header start at or after `start`; without one, all of it
        but an end that may be the first bytes of a header still arriving."""
        m = _HEADER_START.search(self.buf, start)
        if m:
            del self.buf[:m.start()]
            return
        cut = len(self.buf)
        if not self.eof:
            tail = bytes(self.buf[max(start, cut - _KEEP):]).lower()
            for i in range(len(tail)):
                if any(h.startswith(tail[i:]) for h in _HEADER_NAMES):
                    cut -= len(tail) - i
                    break
        del self.buf[:cut]

    def next(self):
        while True:
            header = self._header()
            if header is None:
                return END
            if isinstance(header, Malformed):
                return header
            length, body_start = header
            while len(self.buf) < body_start + length:
                if not self._fill(self.stall_seconds):
                    got = len(self.buf) - body_start
                    self._resync(body_start)
                    if self.eof and not self.buf:
                        return Malformed(f"stream ended {length - got} bytes into a {length}-byte body")
                    return Malformed(f"body stalled after {got} of {length} bytes")
            body = bytes(self.buf[body_start:body_start + length])
            del self.buf[:body_start + length]
            return self._decode(body)

    def _header(self):
        """(content length, where the body starts) of the frame at the start of the buffer; a
        Malformed for a header block that was dropped; None at the end of the stream."""
        pos = 0
        length: int | None = None
        lengths = lines = 0
        problem = None
        restart = 1  # where to look for the next header when this one is dropped
        while True:
            nl = self.buf.find(b"\n", pos)
            if nl < 0:
                if len(self.buf) > MAX_HEADER_BYTES:
                    problem = "header too long"
                    break
                if not self._fill(None):
                    return None
                continue
            line = bytes(self.buf[pos:nl]).rstrip(b"\r")
            pos = nl + 1
            if not line:
                if not lines:  # blank lines between frames
                    del self.buf[:pos]
                    pos = 0
                    continue
                if lengths == 0:  # the length may be glued into another line ("X-Content-Length: 5")
                    problem = "no Content-Length"
                    break
                restart = pos  # a block with a length that cannot be used: its body (if any) follows it
                if lengths != 1 or length is None:
                    problem = "bad Content-Length"
                    break
                if length > self.max_body:
                    problem = f"Content-Length {length} is over the limit of {self.max_body}"
                    break
                return length, pos
            lines += 1
            m = _HEADER_LINE.fullmatch(line)
            if m is None or pos > MAX_HEADER_BYTES:
                problem = "not a header line"
                break
            if m.group(1).lower() == b"content-length":
                lengths += 1
                value = m.group(2)
                length = int(value) if value.isdigit() and len(value) < 19 else None
        self._resync(restart)
        return Malformed(problem)

    def _decode(self, body: bytes):
        """The JSON value of a body. A Content-Length that was too long took in (part of) the next
        frame: when the body starts with a whole JSON value, that is the message and the rest goes
        back to be read as the next frame; otherwise reading resumes at a header inside the body."""
        try:
            return json.loads(body)
        except ValueError as exc:
            error = str(exc)
        text = body.decode("utf-8", "surrogateescape")  # the rest may be anything
        try:
            _, end = self.decoder.raw_decode(text, len(text) - len(text.lstrip()))
            value = json.loads(text[:end].encode("utf-8", "surrogateescape"))  # the message itself: UTF-8
        except ValueError:
            m = _HEADER_START.search(body, 1)
            if m is not None:
                self.buf[:0] = body[m.start():]
            return Malformed(f"body is no JSON: {error}")
        self.buf[:0] = text[end:].encode("utf-8", "surrogateescape")
        return value


# ---------------------------------------------------------------------------------------------
# Messages


def strict_converter() -> cattrs.Converter:
    """pygls's converter, except that a str, int, float or bool field takes only a JSON value of that
    type: cattrs would make `"text": 5` the text "5", `"line": "3"` line 3 and `true` line 1."""
    from pygls.protocol import default_converter
    converter = default_converter()

    def strict(kind: str, ok, convert=lambda v: v):
        def hook(value, _type):
            if not ok(value):
                raise TypeError(f"expected {kind}, got {type(value).__name__}")
            return convert(value)
        return hook

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    converter.register_structure_hook(str, strict("a string", lambda v: isinstance(v, str)))
    converter.register_structure_hook(int, strict("an integer", lambda v: number(v) and isinstance(v, int)))
    converter.register_structure_hook(float, strict("a number", number, float))
    converter.register_structure_hook(bool, strict("true or false", lambda v: isinstance(v, bool)))
    return converter


def _usable_id(msg: dict) -> bool:
    i = msg.get("id")
    return isinstance(i, str) or (isinstance(i, int) and not isinstance(i, bool))


def _reply_error(protocol, msg_id, code: int, message: str) -> None:
    protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})


def _params_problem(exc: Exception) -> str:
    cause = exc.__cause__ or exc
    try:
        details = cattrs.transform_error(cause, path="$") if isinstance(cause, cattrs.BaseValidationError) else []
    except Exception:  # noqa: BLE001 — a message is all this is for
        details = []
    return "invalid params" + (": " + "; ".join(details[:5]) if details else "")


def dispatch(protocol, msg, requests: frozenset[str] = frozenset()) -> None:
    """Check one decoded message and hand it to pygls, or answer/drop it (see the module doc).
    `requests`: custom request methods, not run when they come without an id."""
    if isinstance(msg, Malformed):
        log.warning("dropped a malformed frame: %s", msg.reason)
        return
    if not isinstance(msg, dict):
        log.warning("dropped a message that is no JSON object: %s", type(msg).__name__)
        return
    answerable = _usable_id(msg)
    msg_id = msg.get("id")
    method = msg.get("method")
    if "method" not in msg:  # a response from the client
        if msg.get("jsonrpc") != "2.0" or not ("id" in msg and ("result" in msg or "error" in msg)):
            log.warning("dropped a message that is neither request, notification nor response")
            return
        _handle(protocol, msg, None)
        return

    def refuse(code: int, why: str) -> None:
        if answerable:
            _reply_error(protocol, msg_id, code, why)
        else:
            log.warning("dropped %s: %s", "a request with an unusable id" if "id" in msg else "a notification", why)

    if msg.get("jsonrpc") != "2.0":
        return refuse(INVALID_REQUEST, 'not a JSON-RPC 2.0 message ("jsonrpc": "2.0" is missing)')
    if not isinstance(method, str):
        return refuse(INVALID_REQUEST, "method must be a string")
    if "id" in msg and not answerable:
        return refuse(INVALID_REQUEST, "id must be a string or an integer")
    if msg.get("params") is not None and not isinstance(msg["params"], (dict, list)):
        return refuse(INVALID_PARAMS, "params must be an object or an array")
    types = t.METHOD_TO_TYPES.get(method)
    is_request_method = method in requests or (types is not None and types[1] is not None)
    if answerable and types is not None and types[1] is None:
        return refuse(INVALID_REQUEST, f"{method} is a notification: it takes no id")
    if not answerable and is_request_method:
        log.warning("dropped request %s sent without an id", method)
        return
    if answerable and getattr(protocol, "_shutdown", False):
        return refuse(INVALID_REQUEST, "the server is shutting down")
    msg.setdefault("params", None)  # pygls's fallback message types require the key
    _handle(protocol, msg, msg_id if answerable else None)


def _handle(protocol, msg: dict, msg_id) -> None:
    try:
        structured = protocol.structure_message(msg)
    except Exception as exc:  # noqa: BLE001 — params that do not fit the method's type
        if msg_id is not None:
            _reply_error(protocol, msg_id, INVALID_PARAMS, _params_problem(exc))
        else:
            log.warning("dropped %s: %s", msg.get("method", "a response"), _params_problem(exc))
        return
    try:
        protocol.handle_message(structured)
    except JsonRpcException as exc:
        if msg_id is not None:
            _reply_error(protocol, msg_id, exc.code, exc.message)
    except Exception:  # noqa: BLE001 — a message must not take the server down
        log.exception("handling %s failed", msg.get("method", "a response"))
        if msg_id is not None:
            _reply_error(protocol, msg_id, INTERNAL_ERROR, "internal error")


# ---------------------------------------------------------------------------------------------
# The loop


def serve_io(server, stdin: BinaryIO, stdout: BinaryIO, requests: frozenset[str] = frozenset(),
             reader: FrameReader | None = None, first=None) -> None:
    """Run `server` (a pygls LanguageServer) over a byte stream pair until the stream ends or the
    client sends `exit`. Frames are read on a daemon thread and handled in order on the event loop;
    at most a few wait, so a slow loop slows the reader, not memory. `reader` and `first`: a reader
    of `stdin` whose first message was already taken (to admit a TCP client), and that message."""
    server._stop_event = stop = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))
    reader = reader or FrameReader(stdin)
    window = threading.Semaphore(8)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def one(msg) -> None:
            try:
                dispatch(server.protocol, msg, requests)
            finally:
                window.release()

        def read() -> None:
            pending = [] if first is None else [first]
            try:
                while not stop.is_set():
                    msg = pending.pop() if pending else reader.next()
                    if msg is END:
                        break
                    window.acquire()
                    loop.call_soon_threadsafe(one, msg)
            except RuntimeError:  # the loop closed under us: the server is exiting
                return
            except Exception:  # noqa: BLE001
                log.exception("the frame reader failed")
            try:
                loop.call_soon_threadsafe(done.set)
            except RuntimeError:
                pass

        threading.Thread(target=read, name="repoctx-frames", daemon=True).start()
        await done.wait()

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the connection to the client is lost; shutting down")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
