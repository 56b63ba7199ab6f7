"""Stored data is believed only if this user's repoctx wrote it: a keyed MAC on every stored value.

What repoctx keeps between runs lives where others can write: a repository's `.repoctx/` (committed,
cloned, copied between repositories), the shared temporary folder of tiktoken's cache. Decoding such
bytes with `marshal` trusts them, and even a safe format can only say a value is well formed, not
that it is true (a forged map signature with an "AI agent: run curl …|sh" comment is well formed).
So every stored value carries a MAC — keyed BLAKE2b with a per-user key kept outside any repository
(`$XDG_CACHE_HOME/repoctx/seal.key`, `~/.cache/...` by default, mode 0600) — over the value and
what it is for (its index key, its cache file's name). A value whose MAC fails (damaged, truncated,
forged, written by another user, or moved to another key) is never decoded: the caller rebuilds it
and says so once. Only bytes that pass are handed to `marshal`.

Files written once and read often (the graph, the retrieval arrays) are sealed whole: the seal, a
small file beside, holds the file's digest and its identity (device, inode, size, mtime, ctime —
ctime changes on every write and cannot be set back), so a file unchanged since it was sealed is
trusted after one `stat`, and any other is hashed whole before it is read.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import marshal
import os
import stat
import sys
from functools import cache, lru_cache

from repoctx.files import cache_home, read_file, write_atomic

MAGIC = b"RCTXSEAL1"
_MAC_BYTES = 16
KEY_ENV = "XDG_CACHE_HOME"


class Damaged(ValueError):
    """Stored bytes that fail their check: rebuild what they held."""


def key_path() -> str:
    """`$XDG_CACHE_HOME/repoctx/seal.key` (`~/.cache/repoctx/seal.key` when unset or relative)."""
    return os.path.join(cache_home(), "repoctx", "seal.key")


@cache
def _key(path: str) -> bytes:
    """The key at `path`, made on first use: written whole to a temporary file, then linked into
    place (a link never replaces, so two processes racing agree on the first one). Where none can be
    kept, a key for this process alone: nothing stored is then reused across runs."""
    for _ in range(2):
        try:
            return _read_key(path)
        except FileNotFoundError:
            pass
        except OSError:
            break
        temp = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(32))
            os.link(temp, path)
        except FileExistsError:
            pass  # another process was first: read its key
        except OSError:
            break
        finally:
            try:
                os.unlink(temp)
            except OSError:
                pass
    return os.urandom(32)


def _read_key(path: str) -> bytes:
    """The key file's 32 bytes, when only this user could have written or read it: a regular file (not
    a link someone else points, nor a FIFO, opened non-blocking), owned by this user, with no group or
    other permission (a key others can read lets them forge what it seals). Else a key for this
    process alone (FileNotFoundError: none yet, make one)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        private = stat.S_ISREG(st.st_mode) and not st.st_mode & 0o077 and st.st_uid == getattr(os, "geteuid", lambda: st.st_uid)()
        key = f.read(33) if private else b""
    return key if len(key) == 32 else os.urandom(32)


def _mac(context: str, *parts) -> bytes:
    h = _hasher(os.environ.get(KEY_ENV, "")).copy()
    c = context.encode("utf-8", "surrogatepass")
    h.update(len(c).to_bytes(4, "little") + c)
    for p in parts:
        h.update(p)
    return h.digest()


@lru_cache(maxsize=8)
def _hasher(_env: str):
    """A keyed BLAKE2b to copy per MAC (keying one costs more than the MAC of a short row); by the
    key folder's variable, so that a test or a caller who changes it gets its key."""
    return hashlib.blake2b(key=_key(key_path()), digest_size=_MAC_BYTES)


def seal(data: bytes, context: str) -> bytes:
    """`data` with its MAC for `context` in front."""
    return _mac(context, data) + data


def unseal(blob: bytes, context: str) -> memoryview:
    """The data `seal(data, context)` wrapped; Damaged when the MAC does not match."""
    if not isinstance(blob, (bytes, bytearray, memoryview)) or len(blob) < _MAC_BYTES:
        raise Damaged("too short")
    view = memoryview(blob)
    if not hmac.compare_digest(view[:_MAC_BYTES], _mac(context, view[_MAC_BYTES:])):
        raise Damaged("failed its check")
    return view[_MAC_BYTES:]


def row_mac(context: str) -> bytes:
    """A MAC of a short row (its fields joined in `context`), stored beside it."""
    return _mac(context)


def row_macs(kind: str):
    """`mac(row: bytes) -> bytes` for many short rows of one kind (a load checks every file's token
    count): the hasher keyed and fed `kind` once, copied per row (~1 µs a row)."""
    base = _hasher(os.environ.get(KEY_ENV, "")).copy()
    k = kind.encode()
    base.update(len(k).to_bytes(4, "little") + k)

    def mac(row: bytes) -> bytes:
        h = base.copy()
        h.update(row)
        return h.digest()
    return mac


def key_id() -> bytes:
    """Names the key (not the key): a file sealed under another user's key is not ours, so it is
    rebuilt like a missing one, not reported as damage."""
    return _mac("key-id")[:8]


def dump(value, context: str) -> bytes:
    """A marshal-able value as a sealed file's bytes (MAGIC, key id, MAC, marshal)."""
    return MAGIC + key_id() + seal(marshal.dumps(value), context)


def load(data: bytes, context: str):
    """The value `dump(value, context)` wrote. None for bytes of no sealed format at all (a cache of
    an older repoctx) or sealed under another key (another user's): rebuilt without a word; Damaged
    for a file of ours that fails its check."""
    n = len(MAGIC)
    if not data.startswith(MAGIC) or data[n:n + 8] != key_id():
        return None
    return marshal.loads(unseal(data[n + 8:], context))


def read_sealed(path: str, context: str, what: str):
    """The value of a sealed file (`dump`), None when there is none (missing, of an older format) or
    when it is damaged — which is then reported once (`warn`)."""
    try:
        return load(read_file("", path), context)  # a FIFO or link planted in its place: refused, never waited on
    except FileNotFoundError:
        return None
    except (OSError, Damaged, ValueError, EOFError, TypeError) as exc:
        warn(f"{what} {path} was damaged ({exc}): rebuilt")
        return None


# -- whole files ---------------------------------------------------------------------------------

def _identity(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _digest(path: str) -> str:
    h = hashlib.blake2b(digest_size=32)
    with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:  # never waits on a FIFO
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def seal_file(path: str, context: str) -> str:
    """Seal the file at `path` (just written) for `context`: `<path>.seal` holds its digest and
    identity. Returns the digest (a file that names another by it: graph/store.py's deltas)."""
    st = os.stat(path)
    digest = _digest(path)
    write_atomic(path + ".seal", dump(json.dumps({"digest": digest, "identity": _identity(st)}).encode(), context))
    return digest


def discard(path: str) -> None:
    """Remove a sealed file and its seal (either may already be gone; one we cannot remove stays,
    and fails its check again)."""
    for p in (path, path + ".seal"):
        try:
            os.unlink(p)
        except OSError:
            pass


def check_file(path: str, context: str) -> str | bool:
    """Whether `path` is the file sealed for `context`: its digest when it is, False when it has no
    seal (not sealed yet, or of an older repoctx); Damaged when its seal or its bytes fail the check."""
    try:
        record = load(read_file("", path + ".seal"), context)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise Damaged(f"unreadable seal: {exc}") from None
    if record is None:
        return False
    try:
        record = json.loads(bytes(record))
        digest, identity = record["digest"], record["identity"]
    except (ValueError, TypeError, KeyError) as exc:
        raise Damaged(f"unreadable seal: {exc}") from None
    if not isinstance(digest, str) or not digest:
        raise Damaged("unreadable seal: no digest")
    st = os.stat(path)
    if _identity(st) == identity:
        return digest
    if _digest(path) != digest:
        raise Damaged("its content changed since it was written")
    try:  # the same bytes under a new identity (copied, restored): hash them once, not every time
        seal_file(path, context)
    except OSError:
        pass  # a read-only cache: hashed again next time
    return digest


_warned: set[str] = set()


def warn(message: str) -> None:
    """One line on stderr, once per process, for damage found after the load's warnings were given
    (a derived file or a stored row read on demand): the same form as the CLI's warnings."""
    if message not in _warned:
        _warned.add(message)
        print(f"repoctx: warning: {message}", file=sys.stderr)
