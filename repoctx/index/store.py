"""The embedded index: facts and token counts in SQLite, keyed by content.

Parsed facts are keyed by (blob SHA, language) and token counts by (blob SHA, encoding), so an
unchanged file is never parsed or counted twice — across branches, worktrees and renames.
Every write is a transaction: an interrupted run keeps everything committed before it. A file that
is not a valid index of this version (corrupt, truncated, older schema) is moved aside and rebuilt
with a warning.

Every row is sealed (`index/seal.py`): facts carry a MAC over their bytes and their key (sha,
language, skip reason), token counts a MAC over (sha, encoding, count). A row that fails its check
is never decoded — its file is analysed again and the row rewritten, with one warning — so a
damaged, forged or transplanted row is not believed, and `marshal` only ever reads bytes this
user's repoctx wrote. SQLite's own "malformed" errors, wherever a read meets them, set the file
aside for a rebuild.
"""
from __future__ import annotations

import hashlib
import hmac
import marshal
import os
import sqlite3
import stat
import sys
import time
import zlib
from collections.abc import Iterable

from repoctx.files import cache_home
from repoctx.index import seal
from repoctx.git import GitError, run
from repoctx.model import FileFacts

SCHEMA_VERSION = f"9-py{sys.version_info[0]}.{sys.version_info[1]}"  # 9: references of Go, C and C++ members carry a receiver
ENV_VAR = "REPOCTX_INDEX"
#: How long to wait for another process's write lock before giving up with an error.
LOCK_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    sha TEXT NOT NULL, language TEXT NOT NULL, skip TEXT, facts BLOB,
    PRIMARY KEY (sha, language)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    sha TEXT NOT NULL, encoding TEXT NOT NULL, count INTEGER NOT NULL, mac BLOB,
    PRIMARY KEY (sha, encoding)) WITHOUT ROWID;
"""


class IndexError_(Exception):
    """The index cannot be used (locked too long, location not writable)."""


def default_index_path(root: str) -> str:
    """`$REPOCTX_INDEX`, else `index.sqlite` in the repository's `state_folder`."""
    return os.environ.get(ENV_VAR) or os.path.join(state_folder(root), "index.sqlite")


def state_folder(root: str) -> str:
    """Where repoctx keeps what it learns of the repository at `root` (index, caches beside it,
    snapshots): `<root>/.repoctx`, when that folder is repoctx's own. It is not when git tracks
    anything in it (a repository can commit a forged index or cache, and every clone, repoctx's remote
    cache included, checks it out), when it is a symlink (writes would land elsewhere), or when another
    user owns it; then a private folder in the user's cache, one per repository path. The folder found
    in the repository is then never read nor written."""
    folder = os.path.join(root, ".repoctx")
    try:
        st = os.lstat(folder)
        own = stat.S_ISDIR(st.st_mode) and st.st_uid == getattr(os, "getuid", lambda: st.st_uid)()
    except FileNotFoundError:
        own = True
    except OSError:
        own = False
    if own:
        try:
            own = not run(root, "ls-files", "-z", "--", ".repoctx")
        except GitError:
            pass  # not a git work tree: no clone brought the folder
    if own:
        return folder
    real = os.path.realpath(root)
    key = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return os.path.join(cache_home(), "repoctx", "state", f"{os.path.basename(real) or 'root'}-{key}")


def encode_facts(facts: FileFacts) -> bytes:
    """marshal, not JSON: 3-5x faster to load. Safe because `IndexStore.put` seals it and
    `decode_facts` checks the seal before marshal sees a byte; only the Python that wrote it reads it
    (the schema version includes the interpreter version, so another one rebuilds)."""
    return zlib.compress(marshal.dumps(facts.to_record()), 1)


def _facts_context(sha: str, language: str, skip: str | None) -> str:
    return f"facts\0{sha}\0{language}\0{skip or ''}"


def _tokens_row(sha: str, encoding: str, count: int) -> bytes:
    """What a token count's MAC covers (`seal.row_macs("tokens")`)."""
    return f"{sha}\0{encoding}\0{count}".encode("utf-8", "surrogatepass")


def _owner() -> str:
    """What marks an index as written under this user's key (a MAC of a constant)."""
    return seal.row_mac("index-owner").hex()


def decode_facts(blob: bytes, sha: str, language: str) -> FileFacts:
    """The facts of a stored row; seal.Damaged (a ValueError) when the row fails its check."""
    return FileFacts.from_record(marshal.loads(zlib.decompress(seal.unseal(blob, _facts_context(sha, language, None)))))


def _retry_busy(step):
    """Run `step`, again while SQLite says busy, for up to LOCK_TIMEOUT_S in all. SQLite's own busy
    handler waits for a lock, but some conflicts return at once without it: two connections switching a
    new file to WAL together, a write from a stale snapshot."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if not ("locked" in str(exc) or "busy" in str(exc)) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


class IndexStore:
    """One SQLite file. Use as a context manager; `warnings` says what was repaired on open."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.warnings: list[str] = []
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, exist_ok=True)
            if os.path.basename(folder) == ".repoctx":
                ignore = os.path.join(folder, ".gitignore")
                if not os.path.lexists(ignore):  # lexists: a dangling link is there; open would follow it
                    with open(ignore, "x") as f:  # x: O_EXCL never follows a link planted meanwhile
                        f.write("# repoctx's index: never commit it\n*\n")
        except OSError as exc:
            raise IndexError_(f"cannot create the index folder {folder}: {exc.strerror}; "
                              f"choose another place with --index or ${ENV_VAR}") from None
        try:
            self.db = _retry_busy(self._open)
        except sqlite3.OperationalError as exc:
            raise self._error("open", exc) from None

    @classmethod
    def reader(cls, path: str) -> IndexStore:
        """A connection for reads alone, without the checks and repairs of opening one (for an index
        a load has just opened and checked), usable from any thread one at a time."""
        self = cls.__new__(cls)
        self.path, self.warnings = os.path.abspath(path), []
        try:
            self.db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._error("open", exc) from None
        return self

    def _error(self, doing: str, exc: sqlite3.Error) -> IndexError_:
        if "locked" in str(exc) or "busy" in str(exc):
            return IndexError_(f"the index {self.path} is locked by another process "
                               f"(gave up after {LOCK_TIMEOUT_S:g}s)")
        return IndexError_(f"cannot {doing} the index {self.path}: {exc}")

    def _open(self) -> sqlite3.Connection:
        linked = [s for s in ("", "-wal", "-shm", "-journal") if os.path.islink(self.path + s)]
        if linked:  # SQLite follows a link: it would write its tables into whatever file it names
            return self._rebuild(f"{os.path.basename(self.path) + linked[0]} is a symbolic link, never opened")
        try:
            db = self._connect()
            version = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if version is None or version[0] != SCHEMA_VERSION:
                found = "none" if version is None else version[0]
                if found != "none" or db.execute("SELECT count(*) FROM blobs").fetchone()[0]:
                    db.close()
                    return self._rebuild(f"it has schema version {found}, this repoctx needs {SCHEMA_VERSION}")
                self._stamp(db)
            elif db.execute("SELECT value FROM meta WHERE key='owner'").fetchone() != (_owner(),):
                # Every row would fail its check: say it once, as one rebuild, not row by row.
                db.close()
                return self._rebuild("it was written under another user's key (copied from elsewhere)")
            return db
        except sqlite3.OperationalError:
            raise  # locked, unwritable, disk full: the file may be fine, so never move it aside
        except sqlite3.DatabaseError as exc:
            return self._rebuild(f"it is not a valid database ({exc})")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    def _rebuild(self, why: str) -> sqlite3.Connection:
        self.warnings.append(f"index {self.path} was rebuilt: {why}")
        self.set_aside()
        db = self._connect()
        self._stamp(db)
        return db

    @staticmethod
    def _stamp(db: sqlite3.Connection) -> None:
        with db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('owner', ?)", (_owner(),))

    def check(self) -> None:
        """SQLite's own check of every page (`PRAGMA quick_check`: C speed, well under a millisecond per
        megabyte); a file that fails it is rebuilt. Rows it cannot judge carry their own seals."""
        try:
            found = [row[0] for row in self.db.execute("PRAGMA quick_check(1)")]
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            found = [str(exc)]
        if found != ["ok"]:
            self.db.close()
            self.db = self._rebuild(f"it is damaged ({found[0] if found else 'no answer'})")

    def set_aside(self) -> None:
        """Move the file (and its journal) aside as `.bad`, so that the next open starts a new one."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.replace(self.path + suffix, self.path + ".bad" + suffix)
            except FileNotFoundError:
                pass

    def _damaged(self, exc: sqlite3.DatabaseError) -> None:
        """A read met SQLite's "malformed" (or the like): start again from an empty index."""
        self.db.close()
        self.db = self._rebuild(f"it is damaged ({exc})")

    def _rows_failed(self, n: int) -> None:
        """Say how many rows failed their check so far, in one warning line."""
        if n:
            line = self.__dict__.get("_failed_line")
            self._failed = self.__dict__.get("_failed", 0) + n
            text = (f"index {self.path}: {self._failed} stored row(s) failed their check (damaged or forged): "
                    "their files are analysed again")
            if line is None:
                self._failed_line = len(self.warnings)
                self.warnings.append(text)
            else:
                self.warnings[line] = text

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- reads ---------------------------------------------------------------------------------

    def known_blobs(self, only: list[tuple[str, str]] | None = None) -> dict[tuple[str, str], str | None]:
        """{(sha, language): skip reason or None} for every stored blob (or for the keys `only`). A
        skip row is checked here (its seal is its facts column); a parsed row's facts are checked
        when they are read. A row that fails is left out (its file is analysed again); a damaged
        file is rebuilt."""
        select = "SELECT sha, language, skip, CASE WHEN skip IS NULL THEN NULL ELSE facts END FROM blobs"
        try:
            rows = self.db.execute(select).fetchall() if only is None else [
                row for key in only for row in self.db.execute(select + " WHERE sha=? AND language=?", key)]
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            self._damaged(exc)
            return {}
        out, failed = {}, 0
        for sha, lang, skip, sealed in rows:
            if skip is not None:
                try:
                    if seal.unseal(sealed, _facts_context(sha, lang, skip)).nbytes:
                        raise seal.Damaged("not a skip row")
                except seal.Damaged:
                    failed += 1
                    continue
            out[sha, lang] = skip
        self._rows_failed(failed)
        return out

    def known_tokens(self, encoding: str, only: list[str] | None = None) -> dict[str, int]:
        """{sha: token count in `encoding`} (of the blobs `only`, if given), each row checked against
        its MAC (one that fails is left out: its file is counted again); a damaged file is rebuilt."""
        select = "SELECT sha, count, mac FROM tokens WHERE encoding=?"
        try:
            rows = self.db.execute(select, (encoding,)).fetchall() if only is None else [
                row for sha in only for row in self.db.execute(select + " AND sha=?", (encoding, sha))]
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            self._damaged(exc)
            return {}
        mac_of, same = seal.row_macs("tokens"), hmac.compare_digest
        out = {sha: count for sha, count, mac in rows
               if type(count) is int and type(mac) is bytes and same(mac, mac_of(_tokens_row(sha, encoding, count)))}
        self._rows_failed(len(rows) - len(out))
        return out

    def facts(self, keys: Iterable[tuple[str, str]]) -> tuple[dict[tuple[str, str], FileFacts], set]:
        """(the stored facts of these (sha, language) keys, the keys whose rows failed their check);
        a missing or failing row is left out. sqlite3.DatabaseError when SQLite finds the file damaged."""
        keys = set(keys)
        if len(keys) <= 64:  # a few files: one primary-key lookup each
            rows = [(sha, lang, row[0]) for sha, lang in keys
                    for row in self.db.execute("SELECT facts FROM blobs WHERE sha=? AND language=? "
                                               "AND facts IS NOT NULL", (sha, lang))]
        else:
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (sha TEXT, language TEXT)")
            self.db.execute("DELETE FROM wanted")
            self.db.executemany("INSERT INTO wanted VALUES (?, ?)", keys)
            rows = self.db.execute("SELECT b.sha, b.language, b.facts FROM wanted w JOIN blobs b "
                                   "ON b.sha = w.sha AND b.language = w.language WHERE b.facts IS NOT NULL")
        out: dict[tuple[str, str], FileFacts] = {}
        failed = set()
        for sha, lang, blob in rows:
            try:
                out[sha, lang] = decode_facts(blob, sha, lang)
            except (ValueError, EOFError, TypeError, zlib.error):
                failed.add((sha, lang))  # the caller analyses that file again
        return out, failed

    # -- writes (each call is one transaction) -------------------------------------------------

    def put(self, blobs: list[tuple[str, str, str | None, bytes | None]],
            tokens: list[tuple[str, str, int]]) -> None:
        """Store (sha, language, skip, encoded facts) rows and (sha, encoding, count) rows atomically,
        each sealed. IndexError_ when the index cannot be written (locked too long, disk full,
        read-only); a file SQLite finds damaged is rebuilt and written again."""
        blobs = [(sha, lang, skip, seal.seal(b"" if skip else facts, _facts_context(sha, lang, skip)))
                 for sha, lang, skip, facts in blobs if skip or facts is not None]
        mac_of = seal.row_macs("tokens")
        tokens = [(sha, enc, n, mac_of(_tokens_row(sha, enc, n))) for sha, enc, n in tokens]

        # An explicit transaction: with isolation_level=None, `with db:` would begin none, and each row
        # would be a transaction of its own. IMMEDIATE takes the write lock up front (waiting for it).
        def write() -> None:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?)", blobs)
                self.db.executemany("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)", tokens)
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        try:
            try:
                _retry_busy(write)
            except sqlite3.OperationalError:
                raise
            except sqlite3.DatabaseError as exc:
                self._damaged(exc)
                _retry_busy(write)
        except sqlite3.OperationalError as exc:
            raise self._error("write", exc) from None
