"""Files: reading a repository file safely, splitting text into lines as packed, writing atomically.

The one atomic write: a temporary file beside the target, flushed and fsynced, then renamed over it,
so a crash or Ctrl-C leaves either the old file or the new one, never half of one. Every file repoctx
writes — packs (`-o`), settings, snapshots, caches, token encodings — goes through `write_atomic`.
"""
from __future__ import annotations

import errno
import os
import signal
import stat
import tempfile
from collections.abc import Iterable

#: The test hook's variable (see `fault_point`); unset, the hook does nothing.
FAULT_ENV = "REPOCTX_FAULT"
_fault_hits: dict[str, int] = {}


def fault_point(point: str) -> None:
    """A named point where fault tests crash a real run: inert unless REPOCTX_FAULT="POINT:N:SIG" is
    set, when the Nth pass of this process through POINT sends the process SIG (KILL or INT, as
    kill -9 or Ctrl-C would). Tests so kill a run at a known point instead of racing the clock (a
    fast machine finished before the kill landed, a slow one was killed too early). It can only end
    this very process, which whoever sets its environment can do anyway. Points: "write NAME" (an
    atomic write of a file named NAME: its data is in the temporary file, not yet synced), "rename
    NAME" (synced, not yet renamed into place), "index-commit" (a batch of index results committed)."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, nth, sig = (spec.rsplit(":", 2) + ["", ""])[:3]
    if name != point:
        return
    _fault_hits[point] = hits = _fault_hits.get(point, 0) + 1
    signum = {"KILL": getattr(signal, "SIGKILL", None), "INT": signal.SIGINT}.get(sig)
    if signum and nth == str(hits):
        signal.raise_signal(signum)


def read_file(root: str, path: str, limit: int = -1, follow: bool = False) -> bytes:
    """The bytes of a repository file (at most `limit`), refusing to follow a symlink at the last
    step (unless `follow`: the user's own config file may be a dotfiles link), and refusing (OSError)
    anything but a regular file: opened non-blocking and checked before a byte is read, so a FIFO
    planted in the repository never blocks the caller (or a lock it holds). Every file repoctx reads
    from a repository — sources, ignore files, config files, manifests — is read through here."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(os.path.join(root, path), flags)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file (a FIFO, socket or device)")
        return f.read(limit)


def split_lines(text: str) -> list[str]:
    """A text's lines as packed and measured: split at "\\n", one trailing "\\r" dropped from each."""
    if "\r" not in text:  # most files: half the time of looking at every line
        return text.split("\n")
    return [ln.removesuffix("\r") for ln in text.split("\n")]


def write_atomic(target: str, data: str | bytes | Iterable[bytes], mode: int | None = None,
                 parents: bool = False) -> None:
    """Write `data` (text as UTF-8, bytes, or bytes in parts, written one by one) to `target`
    atomically. The file gets `mode`, or by default the permissions a plainly created file would get
    (not mkstemp's 0600). A target that exists but is not a regular file (/dev/stdout, a FIFO, a
    device) is written to, never replaced (`-o /dev/stdout`, `-o >(cmd)`), and never blocks: it is
    opened non-blocking, so a FIFO no process reads (one planted where repoctx writes) is refused with
    ENXIO instead of hanging the caller and any lock it holds. With `parents`, missing folders on the
    way are created. Failures are an OSError naming the target."""
    parts = [data.encode("utf-8")] if isinstance(data, str) else [data] if isinstance(data, (bytes, bytearray)) else data
    try:
        folder = os.path.dirname(os.path.abspath(target))
        if parents and not os.path.lexists(folder):  # a file in the way fails below, as "Not a directory"
            os.makedirs(folder, exist_ok=True)
        if os.path.exists(target) and not os.path.isfile(target):
            fd = os.open(target, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)  # a reader was there: wait for it as a plain write does
            with os.fdopen(fd, "wb") as f:
                for part in parts:
                    f.write(part)
            return
        fd, tmp = tempfile.mkstemp(prefix=".repoctx-", suffix=".tmp", dir=folder)
        try:
            if mode is None:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                for part in parts:
                    f.write(part)
                fault_point("write " + os.path.basename(target))
                f.flush()
                os.fsync(f.fileno())  # the rename must never publish data still in flight
            fault_point("rename " + os.path.basename(target))
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        if exc.errno is None:
            raise OSError(f"cannot write {target}: {exc}") from None
        raise OSError(exc.errno, f"cannot write {target}: {exc.strerror or exc}") from None


class OutsideWorkspace(ValueError):
    """A path that is not inside the workspace's root (after resolving `..` and symlinks)."""


def confine(root: str, path: str) -> str:
    """The repository path of an absolute or `root`-relative path (`root` already real);
    OutsideWorkspace when it (or a symlink on the way) leads outside the root, or holds a NUL byte
    (no file has one; the OS would refuse it with a ValueError every caller would have to expect)."""
    if "\0" in path:
        raise OutsideWorkspace(f"{path!r} holds a NUL byte: it names no file")
    full = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([full, root]) != root or full == root:
        raise OutsideWorkspace(f"{path} is outside the workspace {root}")
    return os.path.relpath(full, root).replace(os.sep, "/")


def cache_home() -> str:
    """`$XDG_CACHE_HOME`, `~/.cache` when that is unset (or relative)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return base if os.path.isabs(base) else os.path.join(os.path.expanduser("~"), ".cache")
