"""A repository kept loaded for an editor session: unsaved buffers overlay it, and the questions an
editor asks (context for a selection, a pack, the map, symbols, definitions, references) are answered
from memory.

    ws = Workspace("/path/to/repo")
    ws.load()                                   # scan, index (incrementally), load
    ws.set_buffer("pkg/a.py", unsaved_text)     # answers now reflect the buffer
    ws.pack(ws.request(focus=[Focus("pkg/a.py", 10, 14)], budget=8000))  # PackResult

The disk state (`base`) is loaded once and reloaded when files change on disk (`load` again: only
changed files are parsed). Buffers are applied on top of it at the cost of the buffers alone
(`Repository.with_buffers`, `RetrievalIndex.patched`), so an edit is reflected in the next answer in
milliseconds, whatever the repository's size.

Every text an answer carries (packs, the map, signatures and docs) comes from the view's `Packer`,
and so through its one `Redactor`.
"""
from __future__ import annotations

import dataclasses
import os
import re
import threading
from bisect import bisect_right
from dataclasses import dataclass

from repoctx.files import OutsideWorkspace, confine
from repoctx.graph.link import lines_of_use, module_id
from repoctx.graph.overlay import Overlay, patched_graph, resolver_of
from repoctx.graph.store import StoredGraph
from repoctx.index.load import Repository, load_repository
from repoctx.model import PackResult, Symbol
from repoctx.pack.packer import Packer
from repoctx.pack.request import PackRequest
from repoctx.retrieve.rank import MODULE, RetrievalIndex, query_signals
from repoctx.retrieve.search import find_symbols
from repoctx.scan import ScanOptions, in_scope, locate
from repoctx.settings import Settings, load_settings
from repoctx.tokens import count, get_encoding

_WORD = re.compile(r"[A-Za-z_$][\w$]*")


#: Files changed on disk since the last load up to which the loaded state is patched, not rebuilt.
PATCH_LIMIT = 50


def _changed(old: Repository, new: Repository) -> list[str] | None:
    """Files whose content differs between two loads of one repository (added ones included), or
    None when files were removed (the state is then rebuilt)."""
    if any(p not in new.files for p in old.files):
        return None
    return sorted(p for p, f in new.files.items() if p not in old.files or old.files[p].blob_sha != f.blob_sha)


def _parents(path: str):
    """The folders above a repository path, the root ("." ) included."""
    parts = path.split("/")[:-1]
    yield "."
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


def _unchanged(stamp: dict[str, tuple[int, int]]) -> bool:
    """Whether every path still has its (ctime_ns, size): the stat loop of every MCP call, kept bare
    (no join, no call per path: a third of its time on Django's 8,700 paths). The change time, not
    the modification time: an edit whose mtime is put back (cp -p, rsync, utime) still moves it, as
    git's own stat check sees."""
    stat = os.stat
    for full, (ctime, size) in stamp.items():
        try:
            st = stat(full)
        except OSError:
            if ctime != -1:  # gone since the load (a path missing then too is unchanged)
                return False
            continue
        if st.st_ctime_ns != ctime or st.st_size != size:
            return False
    return True


def _stat(full: str) -> tuple[int, int]:
    try:
        st = os.stat(full)
        return st.st_ctime_ns, st.st_size
    except OSError:
        return -1, -1


@dataclass(frozen=True)
class Location:
    path: str
    start_line: int   # 1-based, inclusive
    end_line: int
    name: str = ""    # the symbol's name, when the location is a definition


@dataclass
class _View:
    repo: Repository
    index: RetrievalIndex
    packer: Packer


class Workspace:
    """A folder's repository kept loaded. A folder inside a git work tree serves that repository
    (its root, index, settings and repository-relative paths), narrowed to the folder's files
    (`scope`), as the command line does (`scan.locate`)."""

    def __init__(self, root: str, settings: Settings | None = None, index_path: str | None = None):
        try:
            self.root, self.scope = locate(root)
        except NotADirectoryError:  # loading says so, where a front end reports it
            self.root, self.scope = os.path.realpath(root), ""
        self.settings = settings or load_settings(self.root)
        self.index_path = index_path
        self.buffers: dict[str, str] = {}   # path → unsaved text, as the editor last sent it
        self._base: _View | None = None
        self._view: _View | None = None
        self._lock = threading.RLock()
        self._stamp: dict[str, tuple[int, int]] = {}  # absolute path → (mtime_ns, size) of what the last load read

    # -- paths -----------------------------------------------------------------------------------

    def relpath(self, path: str) -> str:
        """The repository path of an absolute or root-relative path; OutsideWorkspace when it (or a
        symlink on the way) leads outside the root, or outside the scope folder."""
        rel = confine(self.root, path)
        if not in_scope(rel, self.scope):
            raise OutsideWorkspace(f"{path} is outside the workspace folder {os.path.join(self.root, self.scope)}")
        return rel

    # -- state -----------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._base is not None

    def load(self, progress=None) -> Repository:
        """Scan and index the repository (only what changed since the last index is parsed) and
        make it the base the buffers overlay."""
        st = self.settings
        options = dataclasses.replace(ScanOptions.from_settings(st), scope=self.scope)
        repo = load_repository(self.root, options, encoding=st.encoding, index_path=self.index_path, progress=progress)
        stamp = self._disk_stamp(repo)
        old = self._base
        same = old and old.repo.encoding == repo.encoding and old.packer.redactor.enabled == st.redact
        changed = _changed(old.repo, repo) if same else None
        # the files relinked over the stored graph since the last whole load, these too (`Overlay`)
        relinked = set(changed or ()) | set(old.repo.graph.changed if changed and isinstance(old.repo.graph, Overlay) else ())
        if changed is not None and len(relinked) <= PATCH_LIMIT:
            # A save or a few files changed on disk: patch the loaded state, as for buffers.
            if changed:
                repo.graph = patched_graph(old.repo.graph, repo.root, old.repo.facts, repo.facts, changed)
                index = old.index.patched(repo, changed)
                view = _View(repo, index, old.packer.derived(repo, index, changed))
            else:
                view = _View(repo, old.index, old.packer)
                view.index.repo = view.packer.repo = repo
        else:
            index = RetrievalIndex.load(repo)
            if isinstance(repo.graph, StoredGraph):  # what relinking a buffer needs besides the store
                resolver_of(repo.graph, repo.root)
            index.global_files()
            view = _View(repo, index, Packer(repo, index, redact=st.redact))
        with self._lock:
            self._base = view
            self._view = None
            self._stamp = stamp
        return repo

    def _disk_stamp(self, repo: Repository) -> dict[str, tuple[int, int]]:
        """(mtime_ns, size) of every file the load read and of the folders holding them or a skipped
        file (a file added, removed or renamed changes its folder's), for `refresh` to compare."""
        paths = set(repo.files) | {d for p in [*repo.files, *(s.path for s in repo.skipped)] for d in _parents(p)}
        return {full: _stat(full) for full in (os.path.join(self.root, p) for p in paths)}

    def refresh(self, progress=None) -> bool:
        """Load again if anything on disk changed since the last load (a stat of each file and folder:
        milliseconds when nothing did); True when it loaded. For front ends no editor tells about
        saves (an agent writes files itself)."""
        with self._lock:
            stamp = self._stamp
        if self._base is not None and stamp and _unchanged(stamp):
            return False
        self.load(progress)
        return True

    def set_buffer(self, path: str, text: str) -> None:
        with self._lock:
            self.buffers[path] = text
            self._view = None

    def close_buffer(self, path: str) -> None:
        with self._lock:
            if self.buffers.pop(path, None) is not None:
                self._view = None

    def view(self) -> _View:
        """The base with the buffers that differ from it applied (built once per change)."""
        with self._lock:
            if self._base is None:
                raise RuntimeError("the workspace is not loaded yet")
            if self._view is None:
                base = self._base
                changed = {p: t for p, t in self.buffers.items()
                           if p not in base.repo.files or base.repo.text(p) != t}
                if not changed:
                    self._view = base
                else:
                    repo = base.repo.with_buffers(changed)
                    paths = sorted(repo.overlay)
                    index = base.index.patched(repo, paths)
                    self._view = _View(repo, index, base.packer.derived(repo, index, paths))
            return self._view

    @property
    def repo(self) -> Repository:
        return self.view().repo

    # -- packs -----------------------------------------------------------------------------------

    def request(self, **given) -> PackRequest:
        """A request with `given` values (None = not given) over this workspace's settings."""
        return PackRequest.from_settings(self.settings, **given)

    def pack(self, request: PackRequest | None = None) -> PackResult:
        """The pack a request asks for, of the repository as the editor sees it (buffers applied)."""
        view = self.view()
        with self._lock:
            return view.packer.pack(request or self.request())

    def map(self, budget: int | None = None, focus: str | None = None, query: str = "") -> tuple[str, int]:
        """(map text, exact tokens): the signature map, personalised towards `focus` (a path) and
        what `query` names, redacted."""
        view = self.view()
        seeds = {f"{focus}:{MODULE}": 1.0} | {sid: 1.0 for sid in view.repo.graph.symbols_in(focus)} if focus else None
        if query.strip():
            seeds = {**query_signals(view.index, query).seeds, **(seeds or {})}
        with self._lock:
            text = view.packer.map(budget or self.settings.map_budget, seeds)
        return text, count(text, get_encoding(view.repo.encoding))

    # -- symbols ---------------------------------------------------------------------------------

    def symbols(self, path: str) -> list[tuple[str, Symbol]]:
        """(id, symbol) of a file's definitions, in line order; signatures and docs redacted."""
        view = self.view()
        g = view.repo.graph
        return [(sid, self._redacted(view, path, g.symbols[sid][1])) for sid in g.symbols_in(path)]

    def find_symbols(self, query: str, limit: int = 100, kind: str | None = None,
                     fuzzy: int = 2) -> list[tuple[str, str, Symbol]]:
        """(id, path, symbol) whose name matches `query` (see `retrieve.search.find_symbols`), of one
        `kind` if given; signatures and docs redacted."""
        view = self.view()
        hits = find_symbols(view.index, query, limit if kind is None else len(view.repo.graph.symbols), fuzzy)
        if kind is not None:
            hits = [h for h in hits if h[2].kind == kind][:limit]
        return [(sid, p, self._redacted(view, p, s)) for sid, p, s in hits]

    @staticmethod
    def _redacted(view: _View, path: str, s: Symbol) -> Symbol:
        """The symbol with its signature and doc redacted as its file's lines are."""
        return dataclasses.replace(s, signature=view.packer.snippet(path, s.signature),
                                   doc=view.packer.snippet(path, s.doc))

    def word_at(self, path: str, line: int, column: int) -> str | None:
        """The identifier at a 1-based line and 0-based column (in code points) of the file's text."""
        lines = self.repo.text(path).split("\n")
        if not 1 <= line <= len(lines):
            return None
        for m in _WORD.finditer(lines[line - 1]):
            if m.start() <= column <= m.end():
                return m.group()
        return None

    def symbol_at(self, path: str, line: int, column: int) -> str | None:
        """The id of the symbol named at a position: the definition being declared there, or the
        definition a reference there links to."""
        name = self.word_at(path, line, column)
        if not name:
            return None
        g = self.repo.graph
        inner = self._innermost(path, line)
        for sid in g.symbols_in(path):
            s = g.symbols[sid][1]
            if s.name == name and s.start_line == line:
                return sid
        source = inner or f"{path}:{MODULE}"
        for target in g.callees_of(source):
            if target in g.symbols and g.symbols[target][1].name == name:
                return target
        return None

    def definitions(self, path: str, line: int, column: int) -> list[Location]:
        """Where the name at a position is defined: the linked definition, or every definition of that
        name when the graph could not decide (same file first)."""
        sid = self.symbol_at(path, line, column)
        g = self.repo.graph
        if sid:
            p, s = g.symbols[sid]
            return [Location(p, s.start_line, s.end_line, s.name)]
        name = self.word_at(path, line, column)
        if isinstance(g, Overlay):  # the definitions of that name, asked of the store, not every file's facts
            named = [g.symbols[sid] for sid in g.named(name)]
        elif isinstance(g, StoredGraph) and g.definitions() is not None:
            named = [g.symbols[sid] for sid in g.definitions().get(name, [])]
        else:
            named = [(p, s) for p, s in g.symbols.values() if s.name == name]
        found = [(p != path, p, s.start_line, s) for p, s in named]
        return [Location(p, s.start_line, s.end_line, s.name) for _, p, _, s in sorted(found, key=lambda x: x[:3])]

    def references(self, path: str, line: int, column: int, include_declaration: bool = True) -> list[Location]:
        """The lines that use the symbol named at a position, across the repository."""
        sid = self.symbol_at(path, line, column)
        return self.references_of(sid, include_declaration) if sid else []

    def references_of(self, sid: str, include_declaration: bool = True) -> list[Location]:
        """The definition of a symbol (by id) and the lines that use it, across the repository."""
        g = self.repo.graph
        tpath, target = g.symbols[sid]
        out = [Location(tpath, target.start_line, target.start_line, target.name)] if include_declaration else []
        owners: dict[str, set[str | None]] = {}
        for caller in g.callers_of(sid):
            owners.setdefault(caller.rpartition(":")[0], set()).add(caller if caller in g.symbols else None)
        for cpath, callers in owners.items():   # each file once: its lines naming the target, kept where a caller encloses them
            lines = sorted({r.line for r in self.repo.facts[cpath].references if r.name == target.name})
            inner = self._innermost_at(cpath, lines)
            refs = self.repo.facts[cpath].references
            kept = {n for c in callers for n in lines_of_use(g, refs, sid, c or module_id(cpath),
                                                             [n for n in lines if inner[n] == c])}
            out += [Location(cpath, n, n) for n in lines if n in kept]
        return sorted(set(out), key=lambda loc: (loc.path, loc.start_line))

    def describe(self, sid: str) -> dict:
        """What a hover shows: signature, doc, the symbol's token cost, and what depends on it."""
        view = self.view()
        g = view.repo.graph
        path, s = g.symbols[sid]
        lines = view.packer.lines(path)[s.start_line - 1:s.end_line]
        callers = g.callers_of(sid)
        return {"id": sid, "path": path, "symbol": self._redacted(view, path, s),
                "language": view.repo.files[path].language,
                "tokens": count("\n".join(lines), get_encoding(view.repo.encoding)),
                "callers": len(callers), "caller_files": len({c.split(":", 1)[0] for c in callers}),
                "encoding": view.repo.encoding}

    def _innermost(self, path: str, line: int) -> str | None:
        return self._innermost_at(path, [line])[line]

    def _innermost_at(self, path: str, lines) -> dict[int, str | None]:
        """line → the innermost definition of `path` enclosing it (the one starting last; of those
        starting on one line, the last in file order), or None: one sort per file, not a scan of
        its definitions per line."""
        g = self.repo.graph
        spans = sorted((g.symbols[sid][1].start_line, k, g.symbols[sid][1].end_line, sid)
                       for k, sid in enumerate(g.symbols_in(path)))
        starts = [s[0] for s in spans]
        out = {}
        for n in lines:
            i = bisect_right(starts, n) - 1
            while i >= 0 and spans[i][2] < n:
                i -= 1
            out[n] = spans[i][3] if i >= 0 else None
        return out

