"""Derived data cached beside the index, keyed by the exact repository state.

The graph (with its definitions rows), the retrieval index and the literal index are pure functions
of the repository's files (paths and blob SHAs). Rebuilding them costs seconds on a large repository;
reading them back costs milliseconds, and reads only what a query touches: each state is one file
under `<index folder>/<kind>/<state key><suffix>` — an SQLite file of lookups (the graph) or a file
of memory-mapped arrays (`index/arrays.py`) — written atomically, then sealed (`index/seal.py`: its
digest and identity, under a MAC naming its kind and state key). A later state's file is usually a
small delta over a base file (a full file of an earlier state; the graph's and the literals' are
kept in `<kind>-base/`: graph/store.py, retrieve/delta.py): sealed once, named by the delta with its
digest, so an edit writes and seals only what it changed. A
missing or outdated file simply means "build it again"; one that fails its seal — truncated, zeroed,
overwritten, another repository's file renamed into place — or that its reader refuses, is built
again with one warning. SQLite cannot tell zeroed rows from real ones, nor the arrays' reader a
zeroed posting list from a real one: the seal can. The newest few states are kept.
"""
from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from repoctx.index import seal

KEEP = 4


def state_key(files: dict, version: str) -> str:
    """A key for the repository state: every path with its blob SHA and language, plus `version`."""
    h = hashlib.sha1(f"{version_tag(version)}\n".encode())
    for path, f in files.items():
        h.update(f"{path}\0{f.blob_sha}\0{f.language}\n".encode())
    return h.hexdigest()


def version_tag(version: str) -> str:
    """What besides the files a derived file depends on: its kind's version and Python's."""
    return f"{version}\0py{sys.version_info[0]}.{sys.version_info[1]}"


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: loading allocates hundreds of thousands of small
    objects, none in a cycle, and every collection would walk all of them again (a fifth of a warm
    Django pack's CPU time went there)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def cached_file(index_path: str | None, kind: str, key: str, suffix: str, build: Callable[[], Any],
                write: Callable[[Any, str], None], read: Callable[[str], Any], reopen: bool = False,
                unwritten: Callable[[Any], Any] = lambda value: value,
                needs: Callable[[Any], set[str]] = lambda value: set()) -> Any:
    """`read(<cache file>)` if there is a good one, else `build()`, written to its cache file by
    `write(value, file)` (which replaces the file atomically) and sealed. A file is read only once
    its seal holds; one that fails it, or that `read` finds damaged (an OSError, ValueError, …,
    sqlite3.DatabaseError), is built again with one warning. With `reopen`, a value just built and
    written is dropped and read back from its file (what `read` gives is the lighter: a file mapped
    or queried, not held). A value that cannot be written is returned as `unwritten(value)` (what
    `build` gives may be a change to an earlier file rather than the value: see graph/store.py).
    `needs(value)` names the files of the folder the new file is read with (a delta's base): they
    are kept however old."""
    if not index_path:
        return build()
    folder = os.path.join(os.path.dirname(index_path), kind)
    file = os.path.join(folder, key + suffix)
    context = f"{kind}/{key}{suffix}"
    try:
        if seal.check_file(file, context):
            return read(file)
    except FileNotFoundError:
        pass  # sealed, then removed: nothing to believe
    except (OSError, ValueError, EOFError, TypeError, KeyError, IndexError, sqlite3.DatabaseError) as exc:
        seal.warn(f"{kind} cache {file} was damaged ({exc}): rebuilt")
    value = build()
    try:
        os.makedirs(folder, exist_ok=True)
        write(value, file)
        seal.seal_file(file, context)
        _prune(folder, needs(value))
    except (OSError, sqlite3.Error):
        return unwritten(value)  # a cache we cannot write only costs time
    if reopen:
        del value
        return read(file)
    return value


def _prune(folder: str, keep: set[str] = frozenset()) -> None:
    """Keep the newest KEEP files of a cache folder (with their seals), and those named in `keep`."""
    files = [e for e in os.scandir(folder) if not e.name.endswith(".seal") and e.name not in keep]
    for old in sorted(files, key=lambda e: e.stat().st_mtime)[:-KEEP]:
        seal.discard(old.path)


def previous_file(index_path: str | None, kind: str, suffix: str, skip: str | None = None) -> str | None:
    """The newest sealed cache file of `kind` (an earlier repository state's), or None: what an
    update from the previous state starts from. `skip` is the state key being built (its file, if
    any, failed to be read: no base). A file whose seal fails is passed over, with one warning."""
    if not index_path:
        return None
    folder = os.path.join(os.path.dirname(index_path), kind)
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith(suffix) and e.name != f"{skip}{suffix}"
                   and e.is_file(follow_symlinks=False)]
        entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for e in entries:
        try:
            if seal.check_file(e.path, f"{kind}/{e.name}"):
                return e.path
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            seal.warn(f"{kind} cache {e.path} was damaged ({exc}): not updated from")
            continue
    return None


def state_manifest(files: dict) -> list[str]:
    """Each file's blob SHA and language, in `files` order: stored beside `list(files)` in a derived
    file (`manifest_columns`), so that an update tells which files changed since that file's state."""
    return [f"{f.blob_sha}\0{f.language or ''}" for f in files.values()]


def manifest_columns(files: dict, version: str) -> dict:
    """The repository state a derived array file is of, as its `state_paths`, `state_blobs` and
    `state_version` (`version_tag`) tables: an update starts only from a file of its own version."""
    from repoctx.index.arrays import StringTable
    return (StringTable.columns("state_paths", list(files)) | StringTable.columns("state_blobs", state_manifest(files))
            | StringTable.columns("state_version", [version_tag(version)]))
