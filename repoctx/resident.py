"""A repository kept loaded in a background process that `repoctx pack` asks first (issue 27).

A fresh process pays for its interpreter, its imports (numpy alone ~0.1 s), the tokenizer and the
first reads of the index on every call: on Django 5.2.8 a warm query pack costs ~0.6 s of CPU, of
which the pack itself is ~0.3 s. `repoctx resident PATH` keeps that work done: it loads the
repository once (a `Workspace`, as the language and agent servers keep one), listens on a unix
socket beside the index (`<index folder>/resident.sock`, mode 0600), and answers each `pack` the
command line forwards by running the command line's own code in the caller's folder and
environment, on the kept repository — refreshed first (`Workspace.refresh`: a stat of every file and
folder, reloading what changed), so an answer is never older than the files on disk.

Every door is checked: the caller's user id (SO_PEERCRED) must be this process's, and the client
checks the server's the same way, so a socket another user planted (or a link to one) is never
asked; a request is a bounded JSON frame of strings, anything else is dropped; a request for
another repository, index or settings is declined and the caller works alone, as it does when no
resident process runs, when the socket is not a socket of this user, or on any failure.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import stat
import struct
import sys

NAME = "resident.sock"
#: Largest request (the caller's arguments and environment) and answer frame taken.
MAX_REQUEST = 1 << 20
MAX_ANSWER = 1 << 31
#: The client's wait to connect and send its request.
PEER_TIMEOUT = 10.0
#: A peer's whole request must arrive within this many seconds (the server answers one call at a
#: time: a peer that sends nothing, or a byte now and then, would otherwise hold every caller).
REQUEST_DEADLINE = 3.0
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def socket_path(index_path: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(index_path)), NAME)


def _peer_uid(conn: socket.socket) -> int | None:
    try:
        return _CRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))[1]
    except (OSError, AttributeError, struct.error):  # no SO_PEERCRED here: no one is trusted
        return None


def _send(conn: socket.socket, value) -> None:
    data = json.dumps(value).encode("utf-8", "surrogatepass")
    conn.sendall(struct.pack(">Q", len(data)) + data)


def _receive(conn: socket.socket, limit: int, deadline: float | None = None):
    """One frame's JSON value; ValueError for a frame over `limit`, a short one, one not JSON, or
    one not whole by `deadline` (time.monotonic)."""
    head = _exactly(conn, 8, deadline)
    size = struct.unpack(">Q", head)[0]
    if size > limit:
        raise ValueError(f"a frame of {size:,} bytes (at most {limit:,})")
    return json.loads(_exactly(conn, size, deadline).decode("utf-8", "surrogatepass"))


def _exactly(conn: socket.socket, n: int, deadline: float | None = None) -> bytes:
    import time
    chunks, left = [], n
    while left:
        if deadline is not None:
            if (wait := deadline - time.monotonic()) <= 0:
                raise ValueError("the peer was too slow")
            conn.settimeout(wait)
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise ValueError("the peer closed mid-frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- the command line's side ---------------------------------------------------------------------

def answers(args) -> bool:
    """Whether a resident process answers this parsed `pack`: not one that needs the caller's own
    process (a clipboard, a query file or stdin) nor a URL to clone (--ref, --refresh, a PATH that is
    no folder here). Both sides ask: the caller before it forwards, the process before it runs."""
    return (args.command == "pack" and not (args.copy or args.query_file or args.ref is not None or args.refresh)
            and os.path.isdir(args.path))


def find_socket(path: str, index: str | None) -> str | None:
    """The socket a resident process for this call would listen on: beside the --index given (or
    $REPOCTX_INDEX), else in the nearest `.repoctx` folder at or above PATH. The process itself
    checks that the call is for its repository and index (and declines it otherwise)."""
    index = index or os.environ.get("REPOCTX_INDEX")
    if index:
        return socket_path(index)
    folder = os.path.realpath(path)
    while True:
        candidate = os.path.join(folder, ".repoctx", NAME)
        if os.path.lexists(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    # A `.repoctx` the repository tracks, links or another user owns is never used: the state is
    # in the user's cache (store.state_folder), found through git (what a call alone does anyway).
    from repoctx.index.store import default_index_path
    from repoctx.scan import locate
    try:
        candidate = socket_path(default_index_path(locate(path)[0]))
    except Exception:  # noqa: BLE001 — no resident then: the command alone says what is wrong
        return None
    return candidate if os.path.lexists(candidate) else None


def ask(path: str, argv: list[str], started: float) -> tuple[int, str, str] | None:
    """(exit code, stdout, stderr) of `repoctx ARGV` as a resident process of this user answers it,
    or None: none listens, it is not this user's, it declined, or anything failed (the caller then
    works alone)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.geteuid() or len(os.fsencode(path)) > 100:
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(PEER_TIMEOUT)
            conn.connect(path)
            if _peer_uid(conn) != os.geteuid():  # a link to another user's socket, or a planted one
                print(f"repoctx: warning: {path} is served by another user: ignored", file=sys.stderr)
                return None
            _send(conn, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "started": started})
            conn.settimeout(None)  # a pack takes what it takes; the server is this user's own process
            answer = _receive(conn, MAX_ANSWER)
    except (OSError, ValueError):
        return None
    if not (isinstance(answer, dict) and isinstance(answer.get("code"), int)
            and isinstance(answer.get("out"), str) and isinstance(answer.get("err"), str)):
        return None  # declined (or not an answer at all)
    return answer["code"], answer["out"], answer["err"]


# -- the resident process ------------------------------------------------------------------------

class Kept:
    """The repository a resident process keeps: loaded as the command line loads it (so its packs
    are the command's, byte for byte), with its packer (whose caches make a repeated question cheap),
    and a stamp of every file and folder the load read. A call whose stamp still holds is answered
    from it; any change on disk — or a file written so recently that an edit in the same timestamp
    tick could hide (git's "racy" files) — loads again first, incrementally, as a call alone would."""

    def __init__(self, root: str, index_path: str):
        self.root, self.index_path = root, index_path
        self.key = None
        self.repo = self._packer = None
        self.stamp: dict[str, tuple[int, int]] = {}
        self.racy = True
        self.loaded = False  # whether the last call loaded (its warnings are then new)

    def __call__(self, root: str, index_arg: str | None, options, st):
        """(repository, packer) for a call, fresh from disk; None when the call is not for this
        process (another root or index, or a scan the kept one is not: an -o file or --index folder
        inside the repository, which that call leaves out)."""
        import dataclasses

        from repoctx.index.store import default_index_path
        from repoctx.scan import ScanOptions
        from repoctx.workspace import _unchanged
        if root != self.root or os.path.abspath(index_arg or default_index_path(root)) != self.index_path:
            return None
        if options != dataclasses.replace(ScanOptions.from_settings(st), scope=options.scope):
            return None
        from repoctx.git import _REPOSITORY_ENV
        # What a load depends on (the rest is per request): the scan, and the caller's git variables
        # (a pre-commit hook's GIT_INDEX_FILE lists other files).
        key = (options, st.encoding, st.redact, tuple(os.environ.get(v) for v in _REPOSITORY_ENV))
        self.loaded = self.repo is None or self.key != key or self.racy or not _unchanged(self.stamp)
        if self.loaded:
            self._load(options, st, key)
        return self.repo, self._packer

    def _load(self, options, st, key) -> None:
        import time

        from repoctx.index.load import load_repository
        from repoctx.pack.packer import Packer
        from repoctx.workspace import _parents, _stat
        self.repo = None  # a load that fails leaves nothing stale behind
        began = time.time_ns()
        repo = load_repository(self.root, options, encoding=st.encoding, index_path=self.index_path)
        paths = set(repo.files) | {d for p in [*repo.files, *(s.path for s in repo.skipped)] for d in _parents(p)}
        paths |= set(WATCHED) | set(_git_index(self.root))
        self.stamp = {full: _stat(full) for full in (os.path.join(self.root, p) for p in paths)}
        self.racy = any(ctime >= began - RACY_NS for ctime, _ in self.stamp.values())
        self.repo, self._packer, self.key = repo, Packer(repo, redact=st.redact), key

    @staticmethod
    def answers(args) -> bool:
        """Whether this process runs the parsed call (`answers`; the command line asks it here)."""
        return answers(args)

    def packer(self, repo):
        """The kept packer of `repo` (what this call's `__call__` gave)."""
        if repo is not self.repo:
            raise RuntimeError("the kept repository changed during a call")
        return self._packer


#: Files that decide what is packed without being packed themselves (when ignored or absent).
WATCHED = (".gitignore", ".repoctxignore", ".repoctx.toml", ".git/info/exclude")
#: A file modified this close to a load (or after it began) could change again within the same
#: timestamp tick unseen: the next call loads again (2 s covers the coarsest common file systems).
RACY_NS = 2_000_000_000


def _git_index(root: str) -> list[str]:
    """Git's index file (the one this environment names): `git add -f` of an ignored file, or `git rm
    --cached`, changes what is listed, and so packed, without touching the work tree."""
    from repoctx.git import GitError, run
    try:
        return [os.path.join(root, run(root, "rev-parse", "--git-path", "index").strip())]
    except GitError:  # not a git repository: the folders' stamps say it all
        return []


class Declined(Exception):
    """The call is not one this process answers: the caller works alone."""


def serve(root: str, index_path: str, idle: float, kept: Kept, cli) -> int:
    """Listen on the socket beside `index_path` until `idle` seconds pass without a call; each call
    runs `cli.main` (the command line's module, passed in: it imports this one)."""
    path = socket_path(index_path)
    if len(os.fsencode(path)) > 100:
        raise OSError(f"the socket path {path} is too long for a unix socket; pass a shorter --index")
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    _clear(path)
    import signal  # stopped (SIGTERM, as a service manager stops it): the socket is removed as on idle
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mask = os.umask(0o177)  # the socket is created 0600: only this user can connect
    try:
        server.bind(path)
    finally:
        os.umask(mask)
    ours = os.lstat(path)
    try:  # from here on, any exit removes the socket
        server.listen(16)
        print(f"repoctx: resident for {root} on {path} (exits after {idle:g} s without a call)", flush=True)
        import time
        last = time.monotonic()  # of the last call: a peer that sends none does not keep the process
        while (left := last + idle - time.monotonic()) > 0:
            server.settimeout(left)
            try:
                conn, _ = server.accept()
            except TimeoutError:
                return 0
            with conn:
                if _answer(conn, kept, cli):
                    last = time.monotonic()
        return 0
    finally:
        server.close()
        with contextlib.suppress(OSError):
            now = os.lstat(path)
            if (now.st_dev, now.st_ino) == (ours.st_dev, ours.st_ino):
                os.unlink(path)


def _clear(path: str) -> None:
    """Make way for the socket: nothing there, or a stale socket of this user's that no process
    listens on. Anything else (a file, a link, another user's socket, a live process) is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.geteuid():
        raise FileExistsError(f"{path} exists and is not a socket of yours: remove it to start a resident process")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
            return
    raise FileExistsError(f"a resident process already listens on {path}")


def _answer(conn: socket.socket, kept: Kept, cli) -> bool:
    """One call: checked, run as the command line runs it, answered; a bad peer is dropped (False)."""
    import time
    if _peer_uid(conn) != os.geteuid():
        return False
    try:
        request = _receive(conn, MAX_REQUEST, time.monotonic() + REQUEST_DEADLINE)
        argv, cwd, env, started = request["argv"], request["cwd"], request["env"], request["started"]
        if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv) and isinstance(cwd, str)
                and os.path.isabs(cwd) and isinstance(env, dict)
                and all(isinstance(k, str) and isinstance(v, str) and "\0" not in k + v for k, v in env.items())
                and isinstance(started, (int, float))):
            raise ValueError("not a call")
    except (OSError, ValueError, KeyError, TypeError):
        return False
    conn.settimeout(None)
    try:
        answer = run(argv, cwd, env, started, kept, cli)
    except Declined:
        answer = {"declined": True}
    with contextlib.suppress(OSError):
        _send(conn, answer)
    return True


def run(argv: list[str], cwd: str, env: dict[str, str], started: float, kept: Kept, cli) -> dict:
    """`cli.main(argv)` in the caller's folder and environment, its output captured, on the kept
    repository; Declined when the call is for another repository, index or settings, or is not one
    the command line forwards (`answers`): only a `pack` of a local folder runs here."""
    if argv[:1] != ["pack"]:  # another command (`serve` would read this process's stdin) is never run
        raise Declined
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved = cli.STARTED, cli.RESIDENT, sys.stdout, sys.stderr
    try:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        cli.STARTED, cli.RESIDENT, sys.stdout, sys.stderr = started, kept, out, err
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's errors and --help
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        except cli.NotResident:
            raise Declined from None
        except Exception:  # noqa: BLE001 — a bug: its traceback, as the command line alone would show it
            import traceback
            traceback.print_exc(file=err)
            code = 1
    finally:
        cli.STARTED, cli.RESIDENT, sys.stdout, sys.stderr = saved
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}
