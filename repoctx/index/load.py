"""The library's entry point: a repository scanned, indexed and loaded — everything later stages read.

    repo = load_repository(".")          # scan → index (incremental) → facts, tokens, graph
    repo.facts["pkg/mod.py"].symbols
    repo.graph.imports
"""
from __future__ import annotations

import dataclasses
import marshal
import os
import sqlite3
import threading
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice

from repoctx import tokens as tok
from repoctx.files import read_file, write_atomic
from repoctx.index import seal
from repoctx.index.cache import cached_file, gc_paused
from repoctx.index.store import (
    SCHEMA_VERSION,
    IndexError_,
    IndexStore,
    default_index_path,
    encode_facts,
)
from repoctx.index.update import IndexReport, Progress, analyze, update_index
from repoctx.model import FileFacts, ScanResult, Skipped, SourceFile
from repoctx.parse.languages import language_for_path
from repoctx.scan import ScanMemo, ScanOptions, git_blob_sha, scan
from repoctx.secrets import left_out_rule


@dataclass
class Repository:
    root: str
    encoding: str
    is_git: bool
    files: dict[str, SourceFile]       # packable files by path, sorted by path
    facts: StoredFacts                 # by path, read from the index on first use
    tokens: dict[str, int]             # exact token count of each file's text in `encoding`
    skipped: list[Skipped]             # by the scan and for their content, sorted by path
    report: IndexReport
    overlay: dict[str, str] = field(default_factory=dict)  # unsaved editor buffers, by path
    index_path: str | None = None      # the SQLite index these facts came from (caches live beside it)
    scope: str = ""                    # the repository-relative folder the files were narrowed to ("" = all)

    @cached_property
    def graph(self):
        """The import and symbol graph (cached beside the index for this exact repository state)."""
        from repoctx.graph.link import build_graph
        from repoctx.graph.store import (
            GraphUpdate,
            StoredGraph,
            graph_key,
            updated_graph,
            write_graph,
        )
        if self.overlay:
            return build_graph(self.root, self.facts)
        key = graph_key(self.files)

        def made():  # relinked from the previous state's file where that is cheaper (graph/store.py)
            return (updated_graph(self.root, self.files, self.facts, self.index_path, key)
                    or build_graph(self.root, self.facts))

        def write(g, file: str) -> None:
            g.write(file) if isinstance(g, GraphUpdate) else write_graph(g, file, self.files)
            #: (the previous state's graph file, the files relinked since): what the retrieval
            #: index's delta reads (retrieve/delta.py); only in the process that made the update
            self.graph_relinked = (g.base, g.relinked) if isinstance(g, GraphUpdate) else None
        return cached_file(self.index_path, "graph", key, ".sqlite", made, write,
                           lambda file: StoredGraph(file, self.facts), reopen=True,
                           unwritten=lambda g: build_graph(self.root, self.facts) if isinstance(g, GraphUpdate) else g)

    def with_buffers(self, buffers: dict[str, str]) -> Repository:
        """This repository as an editor sees it: each buffer (path → unsaved text) replaces its file's
        text, facts and token count, and the graph is patched for those files alone (see
        `RepoGraph.patched`). A buffer whose content would be skipped (binary, minified), or of a
        file packs leave out (`secrets.left_out_rule`), is ignored."""
        files, tokens = dict(self.files), dict(self.tokens)
        facts: dict[str, FileFacts] = {}
        overlay = {}
        rule = None  # the .repoctxignore is read once, and only when a buffer is of a new file
        for path, text in sorted(buffers.items()):
            if path not in files and (rule := rule or left_out_rule(self.root))(path):
                continue  # a file packs leave out (.env, one .repoctxignore hides) stays out as a buffer too
            data = text.encode("utf-8", errors="surrogatepass")
            skip, fa, n = analyze(path, data, self.encoding, want_facts=True)
            if skip:
                continue
            if path not in files:
                files[path] = SourceFile(path, git_blob_sha(data), language_for_path(path), len(data))
            facts[path], tokens[path], overlay[path] = fa, n, text
        merged = self.facts.replaced(facts)
        repo = dataclasses.replace(self, files=files, facts=merged, tokens=tokens, overlay=overlay)
        if overlay:
            # a stored graph is patched without loading it
            from repoctx.graph.overlay import patched_graph
            repo.graph = patched_graph(self.graph, self.root, self.facts, merged, sorted(overlay))
        return repo

    def text(self, path: str) -> str:
        """The file's text as packed: UTF-8, undecodable bytes replaced."""
        if path in self.overlay:
            return self.overlay[path]
        return read_file(self.root, path).decode("utf-8", errors="replace")


def _updated_index(root: str, options: ScanOptions, encoding: str | None, index_path: str | None,
                   progress: Progress | None, workers: int | None, check: bool = False, memo: bool = False):
    """Scan `root` and bring its index up to date: (scan, encoding name, index path, the store's
    known blobs and token counts, report, the scan's memo or None). With `check`, SQLite checks the
    whole file first. With `memo`, the scan starts from the last load's memo (`_read_memo`): then
    only the files it looked at again are in the known blobs and counts, and in the update."""
    enc = tok.encoding_name(encoding)
    real = os.path.realpath(root)
    if memo and os.path.isdir(real):  # (else the scan says what is wrong)
        index_path = os.path.abspath(index_path or default_index_path(real))
        kept, memo_damage = _read_memo(real, options, enc, index_path, reuse=not check)
    else:
        kept = memo_damage = None
    result = scan(root, options, kept)
    index_path = os.path.abspath(index_path or default_index_path(result.root))
    with IndexStore(index_path) as store:
        if memo_damage and not store.warnings:  # an index rebuilt says so once: the memo beside it is moot
            seal.warn(memo_damage)
        if check:
            store.check()
        if kept is not None and kept.hit and kept.saved.get("index") != _identity(index_path):
            # another index file's memo, or this one's made anew on opening: look at every file
            kept = ScanMemo(kept.salt, None)
            result = scan(root, options, kept)
        if kept is not None and kept.hit:
            fresh = [f for f in result.files if f.path in kept.fresh]
            known = (store.known_blobs([(f.blob_sha, f.language or "") for f in fresh]),
                     store.known_tokens(enc, [f.blob_sha for f in fresh]))
            report = update_index(ScanResult(result.root, fresh, [], result.is_git, result.scope), store, enc,
                                  progress=progress, workers=workers, known=known)
            verdicts = kept.verdicts()
            by_content = sum(1 for f in result.files if f.path not in kept.fresh and verdicts[f.path][1])
            remembered = len(result.files) - len(fresh) - by_content
            report.files, report.reused = report.files + remembered, report.reused + remembered
            report.skipped += len(result.skipped) + by_content
        else:
            known = store.known_blobs(), store.known_tokens(enc)
            report = update_index(result, store, enc, progress=progress, workers=workers, known=known)
    return result, enc, index_path, known, report, kept


#: Bump when what a scan memo holds, or how it is read, changes.
MEMO_VERSION = "1"


def _identity(path: str) -> str:
    """Which file is at `path` (device and inode): a memo is of one index file, not of a rebuilt one."""
    try:
        st = os.stat(path)
    except OSError:
        return "none"
    return f"index {st.st_dev}:{st.st_ino}"


def _memo_file(index_path: str) -> str:
    return os.path.join(os.path.dirname(index_path), "scan.memo")


def _read_memo(root: str, options: ScanOptions, encoding: str, index_path: str,
               reuse: bool) -> tuple[ScanMemo, str | None]:
    """The last load's scan memo for this root, options, encoding and index file (`ScanMemo`), to
    start from (none to start from when not `reuse`, or when it fails its seal: a file in the index
    folder is input like any other, and a memo another user or repository wrote names files as that
    one saw them), and what was wrong with it, if anything (the caller warns). The memo names its
    index file (`_identity`): it is used with that one alone."""
    salt = "\0".join((MEMO_VERSION, SCHEMA_VERSION, encoding, root,
                      repr(dataclasses.replace(options, outputs=()))))
    saved = damage = None
    if reuse:
        try:
            with open(_memo_file(index_path), "rb") as f:
                saved = marshal.loads(seal.unseal(f.read(), "scan-memo"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError, TypeError) as exc:
            damage = f"scan memo {_memo_file(index_path)} is damaged ({exc}): every file is looked at"
    return ScanMemo(salt, saved), damage


def _write_memo(memo: ScanMemo, index_path: str, result, files: dict[str, SourceFile],
                tokens: dict[str, int], by_content: dict[str, str], uncovered: set[str]) -> None:
    """Keep what this load found of each file git lists unchanged, for the next load's scan; a file
    looked at anew (changed, untracked, a link, one this run writes, one unreadable or analysed
    anew by this load) is left uncovered: the next scan looks at it again."""
    uncovered = uncovered | memo.unknown
    skips = []
    for s in result.skipped:
        if s.path.endswith("/") or s.reason in ("unreadable", "undecodable-name", "repoctx-output"):
            uncovered.add(s.path.rstrip("/"))
        elif s.path not in uncovered:
            skips.append((s.path, s.reason))
    rows = [(f.path, f.blob_sha, f.language or "", f.size, tokens.get(f.path), by_content.get(f.path))
            for f in result.files if f.path not in uncovered and (f.path in files or f.path in by_content)]
    uncovered |= {f.path for f in result.files if f.path not in files and f.path not in by_content}
    data = {"key": memo.key, "index": _identity(index_path), "uncovered": sorted(uncovered), "files": rows,
            "skips": skips}
    try:
        write_atomic(_memo_file(index_path), seal.seal(marshal.dumps(data), "scan-memo"))
    except (OSError, ValueError):
        pass  # a memo we cannot write only costs time


def index_repository(root: str, options: ScanOptions = ScanOptions(), encoding: str | None = None,
                     index_path: str | None = None, progress: Progress | None = None,
                     workers: int | None = None) -> IndexReport:
    """Scan `root` and bring its index up to date, without loading anything back. The whole file is
    checked first (`IndexStore.check`): `repoctx index` repairs damage that a pack, which reads only
    the rows it needs, would meet later."""
    return _updated_index(root, options, encoding, index_path, progress, workers, check=True)[4]


def _key(f: SourceFile) -> tuple[str, str]:
    """The index key of a file's facts."""
    return f.blob_sha, f.language or ""


def load_repository(root: str, options: ScanOptions = ScanOptions(), encoding: str | None = None,
                    index_path: str | None = None, progress: Progress | None = None,
                    workers: int | None = None, check: bool = False) -> Repository:
    """Scan `root`, bring its index up to date, and load token counts for every file; facts are read
    from the index as they are used (`StoredFacts`). With `check`, as `index_repository`. The scan
    starts from the last load's memo (`ScanMemo`): a warm load looks only at the files git does not
    list unchanged (the Linux source's 78,000 files were most of a second per query)."""
    result, enc, index_path, (blobs, counted), report, memo = _updated_index(
        root, options, encoding, index_path, progress, workers, check, memo=True)
    files: dict[str, SourceFile] = {}
    tokens: dict[str, int] = {}
    keys: dict[str, tuple[str, str]] = {}
    analysed: dict[str, FileFacts] = {}
    by_content: dict[str, str] = {}
    skipped = list(result.skipped)
    hit = memo is not None and memo.hit
    verdicts, fresh = (memo.verdicts(), memo.fresh) if hit else ({}, set())
    for f in result.files:
        if hit and f.path not in fresh:  # as the memo found it: the same blob
            count, skip = verdicts[f.path]
            if skip:
                skipped.append(Skipped(f.path, skip))
            else:
                files[f.path], tokens[f.path], keys[f.path] = f, count, (f.blob_sha, f.language or "")
            continue
        key = _key(f)
        if blobs.get(key):
            skipped.append(Skipped(f.path, by_content.setdefault(f.path, blobs[key])))
            continue
        count = counted.get(f.blob_sha)
        if key not in blobs or count is None:  # changed or vanished between scan and read: analyse it now
            try:
                data = read_file(result.root, f.path)
            except OSError:
                skipped.append(Skipped(f.path, "unreadable"))
                continue
            skip, analysed[f.path], count = analyze(f.path, data, enc, want_facts=True)
            if skip:
                del analysed[f.path]
                skipped.append(Skipped(f.path, skip))
                continue
        files[f.path], tokens[f.path], keys[f.path] = f, count, key
    skipped.sort(key=lambda s: s.path)
    if memo is not None and not hit and memo.key:
        _write_memo(memo, index_path, result, files, tokens, by_content, set(analysed))
    facts = StoredFacts(result.root, enc, index_path, keys, analysed)
    return Repository(root=result.root, encoding=enc, is_git=result.is_git, files=files, facts=facts,
                      tokens=tokens, skipped=skipped, report=report, index_path=index_path,
                      scope=result.scope)


class StoredFacts(Mapping):
    """Each file's facts by path, decoded from the index on first use. A query reads a few hundred
    files' facts, not every file's (every file's facts are a quarter second of a Django pack, and
    2.9 GiB of Python objects for the Linux source). Keys, `in` and `len` decode nothing. The first
    KEEP_DECODED files read stay decoded, and no more: a pass over every file (`items()`, or the
    graph build's `facts[p]` for each path) holds those and one read-ahead batch, not the
    repository, and the next pass finds those again (with the oldest dropped instead, passes in
    path order over more files than that would find none). A pass in path order reads READ_AHEAD
    files per index read. A row gone since the load is analysed again from the file (empty facts if
    the file is gone too); so is a row that fails its check, which is then rewritten, or a file
    SQLite finds damaged, which is set aside for a rebuild — each with one warning. Safe across
    threads."""

    #: Files whose facts stay decoded: a whole pack of Django (5,400 files) reads every one of them
    #: and keeps them; the Linux source's 78,000 would be 2.5 GiB.
    KEEP_DECODED = 8192
    #: Files read at once when a pass goes through the files in path order.
    READ_AHEAD = 256

    def __init__(self, root: str, encoding: str, index_path: str, keys: dict[str, tuple[str, str]],
                 decoded: dict[str, FileFacts]):
        self._root, self._encoding, self._index_path = root, encoding, index_path
        self._keys = keys            # path → index key, in path order
        self._decoded: dict[str, FileFacts] = {}  # path → facts of the first files read (shared with `replaced` copies)
        self._ahead: dict[str, FileFacts] = {}    # path → facts of the last read-ahead batch
        self._front: dict[str, FileFacts] = dict(decoded)  # path → facts that replace the stored ones (analysed at load)
        self._lock = threading.Lock()
        self._reader: IndexStore | None = None
        self._paths: list[str] | None = None  # the keys sorted, once a read needs them
        self._cursor = -1            # where in `_paths` a pass in path order reads next (none yet)

    def __getitem__(self, path: str) -> FileFacts:
        fa = self._front.get(path) or self._decoded.get(path) or self._ahead.get(path)
        if fa is None:
            if path not in self._keys:
                raise KeyError(path)
            fa = self._read(path)
        return fa

    def __contains__(self, path) -> bool:
        return path in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def _read(self, path: str) -> FileFacts:
        """The facts of `path` (not decoded yet), read with the READ_AHEAD files after it when the
        last read ended just before it (a pass in path order)."""
        with self._lock, gc_paused():
            if self._paths is None:
                self._paths = sorted(self._keys)  # already in order, but for an editor's new files
            paths = self._paths
            at = bisect_left(paths, path)
            if at == self._cursor:
                batch = [p for p in paths[at:at + self.READ_AHEAD]
                         if p not in self._decoded and p not in self._front] or [path]
                self._cursor = at + self.READ_AHEAD
            else:
                batch, self._cursor = [path], at + 1
            if path not in batch:
                batch.append(path)
            found = self._decode(batch)
            for p in islice(found, max(self.KEEP_DECODED - len(self._decoded), 0)):
                self._decoded[p] = found[p]
            if len(batch) > 1:
                self._ahead = found
            return found[path]

    def _decode(self, paths: list[str]) -> dict[str, FileFacts]:
        """The facts of `paths` from the index (each failing or missing row analysed from its file)."""
        failed: set = set()
        try:
            if self._reader is None:
                self._reader = IndexStore.reader(self._index_path)
            rows, failed = self._reader.facts(self._keys[p] for p in paths)
        except sqlite3.OperationalError:
            rows = {}  # the index went away meanwhile: the files themselves still answer
        except sqlite3.DatabaseError as exc:
            rows = {}
            self._reader.close()
            self._reader.set_aside()
            self._reader = None
            seal.warn(f"index {self._index_path} is damaged ({exc}): set aside, rebuilt on the next run")
        except IndexError_:
            rows = {}
        repaired, out = [], {}
        for p in paths:
            fa = rows.get(self._keys[p])
            if fa is None:
                fa, sha = self._analyse(p)
                if self._keys[p] in failed and sha == self._keys[p][0]:  # the row's very blob
                    repaired.append((*self._keys[p], None, encode_facts(fa)))
            out[p] = fa
        if repaired:
            seal.warn(f"index {self._index_path}: {len(repaired)} stored row(s) failed their check "
                      "(damaged, or written by another user): analysed again and rewritten")
            try:
                self._reader.put(repaired, [])
            except (sqlite3.Error, IndexError_):
                pass  # analysed again next time
        return out

    def _analyse(self, path: str) -> tuple[FileFacts, str | None]:
        """(the file's facts, the blob SHA they are of); empty facts and None when it cannot be."""
        try:
            data = read_file(self._root, path)
            skip, fa, _ = analyze(path, data, self._encoding, want_facts=True)
        except OSError:
            skip = "unreadable"
        return (FileFacts(language_for_path(path), 0), None) if skip else (fa, git_blob_sha(data))

    def replaced(self, new: dict[str, FileFacts]) -> StoredFacts:
        """These facts with `new` (path → facts: editor buffers) in place of, or beside, the stored
        ones; what is read from the index is shared with this mapping."""
        out = StoredFacts.__new__(StoredFacts)
        out.__dict__.update(self.__dict__)
        out._keys = self._keys | {p: ("", "") for p in new if p not in self._keys}
        out._front = self._front | new
        out._paths = None if len(out._keys) > len(self._keys) else self._paths
        return out
