"""`repoctx serve`: the language server — a thin pygls layer over `repoctx.workspace.Workspace`.

Each workspace folder is a `Workspace`, indexed in a background thread on `initialized` with
`$/progress`; requests run in worker threads and wait (at most WAIT_SECONDS) for the first index, so
the message loop never blocks. Unsaved buffers (didOpen/didChange) overlay the index; didSave and
watched-file changes reload the disk state in the background (only changed files are parsed).

Custom requests (also `workspace/executeCommand` commands `repoctx.context`, `repoctx.pack`,
`repoctx.map` with the params as their one argument):
  repoctx/context {textDocument, range|position, query?, budget?, format?, lineNumbers?}
  repoctx/pack    {query?, budget?, format?, mode?, lineNumbers?}
  repoctx/map     {budget?, focus?: uri}
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import uuid
from urllib.parse import unquote, urlparse

from lsprotocol import types as t
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from repoctx_server import exposure_error, listen_address, same_token
from repoctx import REDACTION_OFF
from repoctx import (ConfigError, Focus, GitError, NoEdit, OutsideWorkspace, PackError, RequestError, Settings,
                     Workspace, __version__, confine, from_client, load_settings, locate, plan_edit, result_dict)

log = logging.getLogger("repoctx.server")


class _AnsweredErrors(logging.Filter):
    """pygls logs every error a handler raises with its full traceback. An InvalidParams or a
    RequestFailed is the answer to a bad or early request, not a fault of the server: it is logged
    as one line. Internal errors (bugs) keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, JsonRpcException) and not isinstance(exc, JsonRpcInternalError):
            what = record.getMessage().split("\n", 1)[0][:200]  # the request, not all its params
            record.msg, record.args = "%s: answered %s: %s", (what, type(exc).__name__, exc)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


logging.getLogger("pygls.protocol.json_rpc").addFilter(_AnsweredErrors())

#: How long a request waits for the first index of its workspace before it fails.
WAIT_SECONDS = 60.0
#: Quiet time after a save or a watched-file change before the disk state is reloaded.
RELOAD_DELAY = 0.3
_RELOAD_KEYS = {"encoding", "include", "exclude", "max_file_size", "redact"}


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the params were fine but the answer cannot be given (still indexing, a
    budget below what a pack's frame takes)."""
    CODE = -32803
    MESSAGE = "Request failed"


class _Folder:
    """One workspace folder: its Workspace, its first-index event and its reload timer."""

    def __init__(self, root: str, settings: Settings):
        self.ws = Workspace(root, settings)
        self.ready = threading.Event()
        self.error: str | None = None
        self.timer: threading.Timer | None = None
        self.loading = threading.Lock()


#: The custom requests (not run when one comes without an id).
CUSTOM_REQUESTS = frozenset(("repoctx/context", "repoctx/pack", "repoctx/map", "repoctx/applyEdit"))


class RepoctxServer(LanguageServer):
    def __init__(self):
        from repoctx_server.framing import strict_converter
        super().__init__("repoctx", __version__, converter_factory=strict_converter)
        self.folders: list[_Folder] = []
        self.options: dict = {}
        #: The folders this server may open (`--root`, real paths; over TCP the current folder when none
        #: is given); None: those the editor names at initialize (stdio, where the editor is the user).
        self.allowed: list[str] | None = None

    def start_io(self, stdin=None, stdout=None) -> None:
        """stdio through server.framing: a malformed frame or message is answered with an error or
        dropped, and the server keeps serving (pygls's own loop goes deaf after a bad Content-Length)."""
        from repoctx_server.framing import serve_io
        serve_io(self, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer, CUSTOM_REQUESTS)

    # -- folders and paths -----------------------------------------------------------------------

    def folder_for(self, uri: str) -> tuple[_Folder, str]:
        """The folder holding a file URI and the file's repository path; InvalidParams otherwise."""
        if not isinstance(uri, str) or not uri.startswith("file:"):
            raise JsonRpcInvalidParams(f"not a file URI: {uri!r}")
        path = unquote(urlparse(uri).path)
        for folder in sorted(self.folders, key=lambda f: (-len(f.ws.root), -len(f.ws.scope))):  # innermost first
            try:
                return folder, folder.ws.relpath(path)
            except OutsideWorkspace:
                continue
        raise JsonRpcInvalidParams(f"{path} is outside the workspace folders")

    def may_open(self, root: str) -> bool:
        """Whether a folder a client names is one this server was started for (or inside one)."""
        if self.allowed is None:
            return True
        real = os.path.realpath(root)
        return any(real == a or real.startswith(os.path.join(a, "")) for a in self.allowed)

    def uri(self, folder: _Folder, path: str) -> str:
        return "file://" + os.path.join(folder.ws.root, path).replace(os.sep, "/")

    def wait(self, folder: _Folder) -> Workspace:
        if not folder.ready.wait(WAIT_SECONDS):
            raise RequestFailed(f"still indexing {folder.ws.root}; try again shortly")
        if folder.error:
            raise RequestFailed(folder.error)
        return folder.ws

    # -- loading ---------------------------------------------------------------------------------

    def add_folder(self, root: str) -> None:
        try:  # a folder inside a repository serves that repository, narrowed to the folder
            settings = load_settings(locate(root)[0]).merged(**from_client(self.options))
        except ConfigError as exc:
            self.window_show_message(t.ShowMessageParams(t.MessageType.Error, f"repoctx: {exc}"))
            settings = Settings()
        folder = _Folder(root, settings)
        self.folders.append(folder)
        threading.Thread(target=self.load, args=(folder, True), daemon=True).start()

    def load(self, folder: _Folder, first: bool = False) -> None:
        """Index a folder (reporting progress the first time) and make it the base buffers overlay."""
        token = None
        caps = self.client_capabilities.window
        if first and caps and caps.work_done_progress:
            token = str(uuid.uuid4())
            try:
                self.work_done_progress.create(token).result(timeout=5)
                self.work_done_progress.begin(token, t.WorkDoneProgressBegin(
                    title="repoctx: indexing", message=folder.ws.root, percentage=0))
            except Exception:  # a client that does not answer the create request gets no progress
                token = None
        last = [-1]

        def progress(done: int, total: int) -> None:
            pct = 100 * done // max(total, 1)
            if token and pct != last[0]:
                last[0] = pct
                self.work_done_progress.report(token, t.WorkDoneProgressReport(
                    message=f"{done}/{total} files", percentage=pct))

        with folder.loading:
            try:
                repo = folder.ws.load(progress)
                folder.error = None
                summary = f"{len(repo.files)} files, {repo.encoding}"
            except Exception as exc:  # a broken repository must not take the server down
                log.exception("indexing %s failed", folder.ws.root)
                folder.error = f"indexing {folder.ws.root} failed: {exc}"
                summary = folder.error
            finally:
                folder.ready.set()
        if token:
            self.work_done_progress.end(token, t.WorkDoneProgressEnd(message=summary))

    def schedule_reload(self, folder: _Folder) -> None:
        if folder.timer:
            folder.timer.cancel()
        folder.timer = threading.Timer(RELOAD_DELAY, self.load, args=(folder,))
        folder.timer.daemon = True
        folder.timer.start()


server = RepoctxServer()


def _plain(obj):
    """pygls hands custom params over as attribute objects; back to dicts and lists."""
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "__attrs_attrs__"):
        return {a.name: _plain(getattr(obj, a.name)) for a in obj.__attrs_attrs__}
    return obj


def _check(params, key: str, kind, default=None):
    """A param that is not a setting (settings are checked by the request they go into)."""
    value = params.get(key, default) if isinstance(params, dict) else default
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise JsonRpcInvalidParams(f"{key} must be a {kind.__name__}")
    return value


def _request(ws: Workspace, p: dict, **given):
    """The pack request of a custom request's params, over the workspace's settings."""
    return ws.request(query=_check(p, "query", str, ""), budget=p.get("budget"), format=p.get("format"),
                      mode=p.get("mode"), line_numbers=p.get("lineNumbers"), origin="params:", **given)


def _line(pos, name: str) -> tuple[int, int]:
    if not isinstance(pos, dict) or not all(isinstance(pos.get(k), int) and not isinstance(pos.get(k), bool)
                                            and pos.get(k) >= 0 for k in ("line", "character")):
        raise JsonRpcInvalidParams(f"{name} must be {{line, character}} with whole numbers >= 0")
    return pos["line"], pos["character"]


def _result(ls: RepoctxServer, folder: _Folder, r) -> dict:
    out = result_dict(r)
    out["seconds"] = round(r.seconds, 4)
    for f in out["files"]:
        f["uri"] = ls.uri(folder, f["path"])
    return out


def _run(fn):
    """Library errors as LSP errors (the server keeps serving)."""
    try:
        return fn()
    except PackError as exc:
        raise RequestFailed(str(exc)) from None
    except GitError as exc:
        raise RequestFailed(str(exc)) from None
    except (ConfigError, OutsideWorkspace, RequestError) as exc:
        raise JsonRpcInvalidParams(str(exc)) from None


# -- custom requests ---------------------------------------------------------------------------

def context(ls: RepoctxServer, params) -> dict:
    p = _plain(params)
    if not isinstance(p, dict):
        raise JsonRpcInvalidParams("params must be an object")
    doc = p.get("textDocument")
    if not isinstance(doc, dict):
        raise JsonRpcInvalidParams("textDocument {uri} is required")
    folder, path = ls.folder_for(doc.get("uri"))
    if p.get("range") is not None:
        rng = p["range"]
        if not isinstance(rng, dict):
            raise JsonRpcInvalidParams("range must be {start, end}")
        (l0, _), (l1, c1) = _line(rng.get("start"), "range.start"), _line(rng.get("end"), "range.end")
        if l1 > l0 and c1 == 0:  # a selection of whole lines ends at the start of the next one
            l1 -= 1
        start, end = min(l0, l1) + 1, max(l0, l1) + 1
    elif p.get("position") is not None:
        start = end = _line(p["position"], "position")[0] + 1
    else:
        raise JsonRpcInvalidParams("range or position is required")
    ws = ls.wait(folder)
    return _result(ls, folder, _run(lambda: ws.pack(_request(ws, {**p, "mode": None},
                                                                 focus=(Focus(path, start, end),)))))


def pack(ls: RepoctxServer, params) -> dict:
    p = _plain(params) or {}
    if not isinstance(p, dict):
        raise JsonRpcInvalidParams("params must be an object")
    folder = _folder_param(ls, p)
    ws = ls.wait(folder)
    return _result(ls, folder, _run(lambda: ws.pack(_request(ws, p))))


def repo_map(ls: RepoctxServer, params) -> dict:
    p = _plain(params) or {}
    if not isinstance(p, dict):
        raise JsonRpcInvalidParams("params must be an object")
    focus = _check(p, "focus", str)
    folder, path = ls.folder_for(focus) if focus else (_folder_param(ls, p), None)
    ws = ls.wait(folder)
    budget = _run(lambda: ws.request(map_budget=p.get("budget"), origin="params:").map_budget)
    text, tokens = _run(lambda: ws.map(budget, path))
    return {"text": text, "tokens": tokens, "budget": budget, "encoding": ws.repo.encoding,
            "warnings": [] if ws.settings.redact else [REDACTION_OFF]}


def apply_edit(ls: RepoctxServer, params) -> dict:
    """`{text, dryRun?, folder?}` -> `{edit: WorkspaceEdit, hunks, applied?}`: a model's edit placed
    against the unsaved buffers (else the files); with `dryRun: false` and every hunk placed, the
    client is asked to apply it (`workspace/applyEdit`), so it lands in buffers and undo history."""
    p = _plain(params) or {}
    if not isinstance(p, dict):
        raise JsonRpcInvalidParams("params must be an object")
    text = _check(p, "text", str)
    if text is None:
        raise JsonRpcInvalidParams("text (the model's edit) is required")
    folder = _folder_param(ls, p)
    root = folder.ws.root
    try:
        plan = plan_edit(text, root, buffers=dict(folder.ws.buffers))
    except NoEdit as exc:
        raise JsonRpcInvalidParams(str(exc)) from None
    changes: list[dict] = []
    for f in plan.files:
        uri = ls.uri(folder, f.path)
        if f.kind == "delete":
            changes.append({"kind": "delete", "uri": uri})
            continue
        if f.kind == "add" and f.old_text is None:   # a new file never replaces one (as git apply)
            changes.append({"kind": "create", "uri": uri, "options": {"overwrite": False, "ignoreIfExists": False}})
        if f.new_text != f.old_text:
            rows = (f.old_text or "").split("\n")
            end = {"line": len(rows) - 1, "character": len(rows[-1].encode("utf-16-le")) // 2}
            changes.append({"textDocument": {"uri": uri, "version": None},
                            "edits": [{"range": {"start": {"line": 0, "character": 0}, "end": end}, "newText": f.new_text}]})
        if f.new_path:
            changes.append({"kind": "rename", "oldUri": uri, "newUri": ls.uri(folder, f.new_path),
                            "options": {"overwrite": False, "ignoreIfExists": False}})
    would = plan.changes()
    # what the edit writes, deletes and renames; a mode line is beyond what a WorkspaceEdit can say
    out = {"edit": {"documentChanges": changes}, **plan.as_dict(), "would": would.as_dict(),
           "notes": [f"{path}: mode {mode} not set (an editor's edit cannot set modes; `repoctx apply` can)"
                     for path, mode in would.modes]}
    for h in out["hunks"]:
        if h["path"] == "(no file)":
            continue
        try:  # a hunk refused for a path outside the workspace names no file there
            h["uri"] = ls.uri(folder, confine(root, h["path"]))
        except OutsideWorkspace:
            pass
    if p.get("dryRun", True) is False and plan.ok:
        edit = get_converter().structure(out["edit"], t.WorkspaceEdit)
        answer = ls.workspace_apply_edit(t.ApplyWorkspaceEditParams(edit, label="repoctx: apply model edit"))
        out["applied"] = bool(answer.result(timeout=WAIT_SECONDS).applied)
    return out


def _folder_param(ls: RepoctxServer, p: dict) -> _Folder:
    """The folder a whole-workspace request is about: `folder` (a URI) or the first one."""
    if p.get("folder") is not None:
        uri = _check(p, "folder", str)
        for f in ls.folders:
            if ls.uri(f, "").rstrip("/") == uri.rstrip("/"):
                return f
        raise JsonRpcInvalidParams(f"not a workspace folder: {uri}")
    if not ls.folders:
        raise RequestFailed("no workspace folder is open")
    return ls.folders[0]


def _as_command(fn):
    """A request handler as an executeCommand handler: the params are the one argument."""
    def command(ls, *args):
        return fn(ls, args[0] if args else {})
    return command


for _method, _fn in (("repoctx/context", context), ("repoctx/pack", pack), ("repoctx/map", repo_map),
                     ("repoctx/applyEdit", apply_edit)):
    server.thread()(server.feature(_method)(_fn))
    server.command(_method.replace("/", "."))(server.thread()(_as_command(_fn)))


# -- lifecycle and documents -------------------------------------------------------------------

@server.feature(t.INITIALIZE)
def initialize(ls: RepoctxServer, params: t.InitializeParams) -> None:
    options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
    ls.options = {k: v for k, v in options.items() if k != "token"}  # the TCP token (see `admit`) is no setting


@server.feature(t.INITIALIZED)
def initialized(ls: RepoctxServer, params) -> None:
    roots = [f.uri for f in ls.workspace.folders.values()] or ([ls.workspace.root_uri] if ls.workspace.root_uri else [])
    for uri in roots:
        root = unquote(urlparse(uri).path) if isinstance(uri, str) and uri.startswith("file:") else ""
        if not os.path.isdir(root):
            continue
        if not ls.may_open(root):
            ls.window_show_message(t.ShowMessageParams(t.MessageType.Warning, (
                f"repoctx: not serving {root}: outside the folders this server was started for (--root)")))
            continue
        ls.add_folder(root)
    caps = ls.client_capabilities.workspace
    watched = caps and caps.did_change_watched_files
    if watched and watched.dynamic_registration:
        ls.client_register_capability(t.RegistrationParams([t.Registration(
            id="repoctx-watch", method=t.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=t.DidChangeWatchedFilesRegistrationOptions([t.FileSystemWatcher("**/*")]))]))


def _buffer(ls: RepoctxServer, uri: str, close: bool = False) -> None:
    try:
        folder, path = ls.folder_for(uri)
    except JsonRpcInvalidParams:
        return  # a buffer outside every folder is none of our business
    text = None if close else ls.workspace.get_text_document(uri).source
    limit = folder.ws.settings.max_file_size
    if text is None or len(text) > limit or len(text.encode("utf-8", "surrogatepass")) > limit:
        folder.ws.close_buffer(path)  # a buffer over the size cap is skipped, as such a file on disk is
    else:
        folder.ws.set_buffer(path, text)


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: RepoctxServer, params: t.DidOpenTextDocumentParams) -> None:
    _buffer(ls, params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: RepoctxServer, params: t.DidChangeTextDocumentParams) -> None:
    _buffer(ls, params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: RepoctxServer, params: t.DidCloseTextDocumentParams) -> None:
    _buffer(ls, params.text_document.uri, close=True)


@server.feature(t.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: RepoctxServer, params: t.DidSaveTextDocumentParams) -> None:
    try:
        folder, _ = ls.folder_for(params.text_document.uri)
    except JsonRpcInvalidParams:
        return
    ls.schedule_reload(folder)


@server.feature(t.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched(ls: RepoctxServer, params: t.DidChangeWatchedFilesParams) -> None:
    touched = set()
    for change in params.changes:
        try:
            touched.add(id(ls.folder_for(change.uri)[0]))
        except JsonRpcInvalidParams:
            continue
    for folder in ls.folders:
        if id(folder) in touched:
            ls.schedule_reload(folder)


@server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: RepoctxServer, params: t.DidChangeConfigurationParams) -> None:
    settings = params.settings
    section = settings.get("repoctx", settings) if isinstance(settings, dict) else None
    if not isinstance(section, dict):
        return
    try:
        overrides = from_client(section)
        for folder in ls.folders:
            old = folder.ws.settings
            folder.ws.settings = load_settings(folder.ws.root).merged(**{**from_client(ls.options), **overrides})
            if any(getattr(old, k) != getattr(folder.ws.settings, k) for k in _RELOAD_KEYS):
                folder.ready.clear()  # requests from now on wait for the files and encoding asked for
                ls.schedule_reload(folder)
        ls.options = {**ls.options, **section}
    except ConfigError as exc:
        ls.window_show_message(t.ShowMessageParams(t.MessageType.Error, f"repoctx: settings not applied: {exc}"))


# -- standard requests from the graph ---------------------------------------------------------

from repoctx_server import symbols  # noqa: E402

symbols.register(server)

__all__ = ["server", "main"]


def build_parser() -> argparse.ArgumentParser:
    """`repoctx serve`'s flags (the README's command table lists them: tests/test_help.py)."""
    ap = argparse.ArgumentParser(prog="repoctx serve", description="run the repoctx language server")
    ap.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    ap.add_argument("--tcp", metavar="[HOST:]PORT", type=listen_address,
                    help="listen on a TCP port instead (for debugging; host 127.0.0.1 unless given); serves "
                         "one client, then exits")
    ap.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                    help=f"with --tcp: the token a client must send as initializationOptions.token (default "
                         f"${TOKEN_ENV}); required off loopback")
    ap.add_argument("--root", action="append", default=[], metavar="DIR",
                    help="a folder clients may open (repeatable); default: over --tcp the current folder, over "
                         "stdio the workspace the editor names")
    ap.add_argument("--log", metavar="FILE", help="write a debug log to FILE")
    return ap


#: Where `--token` comes from when not given.
TOKEN_ENV = "REPOCTX_SERVE_TOKEN"
#: How long a TCP client has to send its `initialize` before it is sent away.
ADMIT_SECONDS = 10.0


class _Unsaid(logging.Filter):
    """Takes the TCP token out of every line the debug log writes: pygls logs the initialize request's
    params (its initializationOptions carry the token), and a log file is no place for a secret."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.secret in text:
            record.msg, record.args = text.replace(self.secret, "[token]"), None
        if record.exc_info and self.secret in logging.Formatter().formatException(record.exc_info):
            record.exc_info, record.exc_text = None, None
        return True


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.log:
        logging.basicConfig(filename=args.log, level=logging.DEBUG)
        if args.token:
            for handler in logging.getLogger().handlers:
                handler.addFilter(_Unsaid(args.token))
    for root in args.root:
        if not os.path.isdir(root):
            print(f"repoctx: error: --root {root}: not a folder", file=sys.stderr)
            return 2
    if args.root or args.tcp:
        server.allowed = [os.path.realpath(r) for r in args.root or ["."]]
    if args.tcp:
        host, port = args.tcp
        problem = exposure_error("--tcp", host, port, args.token, TOKEN_ENV,
                                 "the client sends it as initializationOptions.token")
        if problem:
            print(problem, file=sys.stderr)
            return 2
        try:
            serve_tcp(host, port, args.token)
        except KeyboardInterrupt:
            return 130
    else:
        server.start_io()
    return 0


def serve_tcp(host: str, port: int, token: str | None) -> None:
    """Listen on HOST:PORT and serve the first client that is admitted (see `admit`), then exit.
    A client that is not admitted gets one error answer and is disconnected; the next may try."""
    import socket
    from repoctx_server.framing import FrameReader, serve_io
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(4)
        shown = f"[{host}]" if ":" in host else host
        print(f"repoctx serve: listening on {shown}:{sock.getsockname()[1]}" + (" (token required)" if token else ""),
              file=sys.stderr, flush=True)
        while True:
            conn, peer = sock.accept()
            rfile, wfile = conn.makefile("rb", buffering=0), conn.makefile("wb")
            reader = FrameReader(rfile)
            first: list = []
            taker = threading.Thread(target=lambda: first.append(reader.next()), daemon=True)
            taker.start()
            taker.join(ADMIT_SECONDS)
            problem = admit(first[0], token) if first else f"no initialize within {ADMIT_SECONDS:g} s"
            if problem is None:
                log.info("serving %s", peer)
                serve_io(server, rfile, wfile, CUSTOM_REQUESTS, reader=reader, first=first[0])
                _hang_up(conn, rfile, wfile)
                return
            log.warning("refused %s: %s", peer, problem)
            msg_id = first[0].get("id") if first and isinstance(first[0], dict) else None
            if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool):
                body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32600, "message": problem}}).encode()
                try:
                    wfile.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    wfile.flush()
                except OSError:
                    pass
            _hang_up(conn, rfile, wfile)


def _hang_up(conn, *files) -> None:
    """Close a connection for good: shut down first, which also ends the frame reader's blocked read
    (closing alone keeps the socket open while its file objects live)."""
    import socket
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    for f in (*files, conn):
        try:
            f.close()
        except OSError:
            pass


def admit(msg, token: str | None) -> str | None:
    """Why a TCP client's first message does not open a session (None: it does). It must be an LSP
    `initialize` request framed as such from the first byte (an HTTP request a web page sends to a
    loopback port is not), carrying `initializationOptions.token` when the server has a token."""
    if not isinstance(msg, dict) or msg.get("method") != "initialize" or "id" not in msg:
        return "the first message must be an initialize request"
    if token:
        options = (msg.get("params") or {}).get("initializationOptions") if isinstance(msg.get("params"), dict) else None
        if not same_token(options.get("token") if isinstance(options, dict) else None, token):
            return "this server needs its token: send it as initializationOptions.token"
    return None
