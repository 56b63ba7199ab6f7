"""The graph on disk: SQLite files per repository state, read by lookups instead of whole.

A pack asks the graph for a few hundred symbols' callers and a few hundred files' references; the
Linux source has 5.5 million references and 4 million ambiguous names, 1.7 GiB as Python lists and
2.6 s to read back whole. Here each lookup is an indexed query, and a list loads whole only when
someone reads it whole (`repoctx graph`, an editor's patch, the build of the walk graph).

    write_graph(graph, path, files)   # after a build (files are written beside, then renamed)
    graph = StoredGraph(path, facts)
    update = updated_graph(root, files, facts, index_path, key)   # after an edit: see below

The files also keep what relinking a few files needs (`state`, `defs`, `resolved`, `uses`: each
file's blob and language, where each name is defined, each file's resolved imports, the names each
file uses), so that after an edit the graph is made from the previous state's by relinking only
the files whose links can change — at the cost of those files, not of the repository. A file's links
depend on its own facts and imports, on where the names it uses are defined, and on the resolved
imports of the files its imports lead through (re-exports, C headers). So the files relinked are the
changed ones, those using a name whose definitions changed, those using a name a changed file's
re-exports bind differently, and, when a changed C file's includes or a star import changed, every
file that imports a changed file directly or indirectly. Resolution depends on the set of paths and
on configuration files (go.mod, tsconfig.json, Cargo.toml, …), so a change of either is a whole build,
as is a change of more than MAX_SHARE of the files. The result is row for row the cold build's
(tests/test_incremental.py walks a history and compares).

A state's file (`graph/<state key>.sqlite`) is small: the rows of the files relinked since a base
file kept in `graph-base/`, over that base. The Linux source's graph is 2.2 GiB; copying it for each
state, changing a few rows and digesting the copy for its seal took 17 s an edit, and each state kept
a whole copy. Now an update writes a delta alone: the base's rows of the relinked files (`stale_src`:
their id ranges) and of the changed files (`stale_path`) are superseded by the delta's, and every
read is the base's rows less the superseded ones, then the delta's, in one order (`_View`). The next
update starts from that view and writes the next delta over the same base; once a delta outgrows
MERGE_SHARE of its base, a new base is written (the old one copied, the delta applied). A base is
sealed once, when written (its digest and identity, `index/seal.py`), and each delta, sealed as any
state's file, names its base and the base's digest: a base changed since (zeroed, truncated, another
renamed in) fails its seal or that digest, and the state is built again with one warning. A cold
build writes a base and an empty delta. The `defs` rows also answer the definitions table of the
ranker (`Definitions`: `query.definition_table`'s lookups, with no table of its own to update).
"""
from __future__ import annotations

import hashlib
import heapq
import json
import os
import re
import shutil
import sqlite3
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from repoctx.graph import imports, link
from repoctx.graph.imports import ImportResolver, family
from repoctx.graph.link import (
    GRAPH_VERSION,
    RepoGraph,
    SymbolTable,
    _import_scopes,
    _link_file,
    _receivers,
    ordered_symbols,
)
from repoctx.index import seal
from repoctx.index.cache import previous_file, state_key, state_manifest, version_tag
from repoctx.model import FileFacts

_SCHEMA = """
CREATE TABLE refs (source TEXT, target TEXT, name TEXT, PRIMARY KEY (source, target, name)) WITHOUT ROWID;
CREATE TABLE imports (source TEXT, target TEXT, PRIMARY KEY (source, target)) WITHOUT ROWID;
CREATE TABLE external (source TEXT, module TEXT, PRIMARY KEY (source, module)) WITHOUT ROWID;
CREATE TABLE ambiguous (source TEXT, name TEXT, PRIMARY KEY (source, name)) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE state (path TEXT PRIMARY KEY, blob TEXT, language TEXT) WITHOUT ROWID;
CREATE TABLE defs (name TEXT, path TEXT, seq INTEGER, sid TEXT, PRIMARY KEY (name, path, seq)) WITHOUT ROWID;
CREATE TABLE resolved (source TEXT, seq INTEGER, entry TEXT, PRIMARY KEY (source, seq)) WITHOUT ROWID;
CREATE TABLE uses (name TEXT, path TEXT, PRIMARY KEY (name, path)) WITHOUT ROWID;
CREATE TABLE stale_src (lo TEXT PRIMARY KEY, hi TEXT) WITHOUT ROWID;
CREATE TABLE stale_path (path TEXT PRIMARY KEY) WITHOUT ROWID;
"""
#: Made after the rows go in (faster than keeping them up to date row by row).
_INDEXES = """
CREATE INDEX refs_by_target ON refs (target, source);
CREATE INDEX imports_by_target ON imports (target, source);
CREATE INDEX defs_by_path ON defs (path);
CREATE INDEX uses_by_path ON uses (path);
"""
#: Each table's rows belong to a file: the column (in `SELECT *` order) naming it. The rows of
#: `_BY_RANGE` tables are a file's by their source id ("path:Qualified.name"): a relinked file's are
#: superseded by id range; the others' by path, when the file changed.
_OWNER = {"refs": 0, "ambiguous": 0, "imports": 0, "external": 0, "state": 0, "defs": 1, "resolved": 0, "uses": 1}
_BY_RANGE = frozenset(("refs", "ambiguous"))
#: Bump when what the files keep for updates changes (with link.GRAPH_VERSION, in their `meta`).
STORE_VERSION = "3"


def graph_key(files: dict) -> str:
    """The state key of a graph file (`files`: path → anything with blob_sha and language): the
    repository state and the store's layout (a file of another layout is another state's)."""
    return state_key(files, f"{GRAPH_VERSION}.{STORE_VERSION}")
#: Above this share of the files to relink, a whole build is as cheap as an update.
MAX_SHARE = 0.3
#: A delta is merged into a new base once its rows or the files it supersedes pass this share of the base's.
MERGE_SHARE = 0.05
#: Files whose content decides import resolution (any .json too: a tsconfig's `extends` names one).
CONFIG_NAMES = frozenset(("go.mod", "go.work", "Cargo.toml", "package.json", "tsconfig.json", "jsconfig.json"))
#: What a base may be named: a delta names its base, and is believed only as far as this.
_BASE_NAME = re.compile(r"[0-9a-f]{40}\.sqlite")


def bases_folder(path: str) -> str:
    """Where the bases of the state files in `path`'s folder are: `graph-base/` beside `graph/`
    (apart, so that pruning the states, `cache._prune`, never takes a base a kept state reads)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), "graph-base")


def write_graph(graph: RepoGraph, path: str, files: dict | None = None) -> None:
    """The graph at `path` (a state's file): a new base with its rows, sealed, and at `path` an
    empty delta over it. With `files` (the scan's files it was built from), and a graph just
    built, also what an update from it needs. The lists are sorted and unique, and SQLite's BINARY
    order of UTF-8 text is Python's order of str, so reads come back in the lists' order. OSError
    or sqlite3.Error (a path that is no valid UTF-8) when it cannot."""
    def fill(db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO refs VALUES (?, ?, ?)", graph.references)
        db.executemany("INSERT INTO imports VALUES (?, ?)", graph.imports)
        db.executemany("INSERT INTO external VALUES (?, ?)", graph.external_imports)
        db.executemany("INSERT INTO ambiguous VALUES (?, ?)", graph.ambiguous)
        db.executemany("INSERT INTO meta VALUES (?, ?)", (("files", str(len(graph.files))),
                                                         ("rows", str(len(graph.references)))))
        linker = graph.__dict__.get("_linker")
        if files is None or linker is None or list(files) != linker.files:
            return
        facts = graph.symbols.facts
        db.execute("INSERT INTO meta VALUES ('version', ?)", (_version(),))
        db.executemany("INSERT INTO state VALUES (?, ?, ?)",
                       ((p, m, facts[p].language) for p, m in zip(files, state_manifest(files))))
        db.executemany("INSERT INTO defs VALUES (?, ?, ?, ?)",
                       (row for p in linker.files for row in _def_rows(p, linker.ordered[p])))
        db.executemany("INSERT INTO resolved VALUES (?, ?, ?)",
                       ((p, *row) for p in linker.files for row in _resolved_rows(linker.resolved[p])))
        db.executemany("INSERT INTO uses VALUES (?, ?)", ((n, p) for p in linker.files for n in _used(facts[p])))
    _write_base(path, fill)


def _def_rows(path: str, ordered: list) -> list[tuple[str, str, int, str]]:
    """(name, path, seq, id) of each distinct definition of a name in a file (`ordered`: its
    `ordered_symbols`). `seq` is the symbol's place among the file's, so that the rows of a name
    and of a qualified name read together come back in the file's order (`Definitions`)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for i, (sid, s) in enumerate(ordered):
        if (s.name, sid) not in seen:
            seen.add((s.name, sid))
            out.append((s.name, path, i, sid))
    return out


def _write_base(path: str, fill, source: _View | None = None) -> None:
    """A new base in `bases_folder(path)` — filled by `fill(db)`, or `source`'s base copied and
    changed by it — sealed, then at `path` an empty delta naming it and its digest."""
    folder = bases_folder(path)
    os.makedirs(folder, exist_ok=True)
    name = f"{os.urandom(20).hex()}.sqlite"  # never an existing base: a kept state may read that one
    base = os.path.join(folder, name)
    try:
        _write_new(base, fill, source.base_path if source else None)
        digest = seal.seal_file(base, f"graph-base/{name}")
        meta = _meta(base)
        _write_new(path, lambda db: db.executemany("INSERT INTO meta VALUES (?, ?)", (
            ("version", meta.get("version", "")), ("base", name), ("base_digest", digest))))
    finally:
        _prune_bases(path)


def _connect(path: str) -> sqlite3.Connection:
    # immutable: each file is written once and renamed into place, so SQLite need not lock it
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def _meta(path: str) -> dict[str, str]:
    db = _connect(path)
    try:
        return dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()


def _prune_bases(path: str) -> None:
    """Remove the bases that no state file beside `path` names (their states were pruned)."""
    named = set()
    for e in os.scandir(os.path.dirname(os.path.abspath(path))):
        if e.name.endswith(".sqlite") and e.is_file(follow_symlinks=False):
            try:
                named.add(_meta(e.path).get("base"))
            except sqlite3.Error:
                continue
    for e in os.scandir(bases_folder(path)):
        if e.name.endswith(".sqlite") and e.name not in named:
            seal.discard(e.path)


def _write_new(path: str, fill, base: str | None = None) -> None:
    """A graph file at `path`, replaced atomically: a new one filled by `fill(db)`, or a copy of
    `base` changed by it."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        if base:
            shutil.copyfile(base, temp)
        db = sqlite3.connect(temp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            if not base:
                db.executescript(_SCHEMA)
            db.execute("BEGIN")
            fill(db)
            db.execute("COMMIT")
            if not base:
                db.executescript(_INDEXES)
        finally:
            db.close()
        os.replace(temp, path)
    except (UnicodeEncodeError, ValueError) as exc:
        raise sqlite3.DataError(f"cannot store the graph: {exc}") from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _version() -> str:
    return version_tag(f"{GRAPH_VERSION}.{STORE_VERSION}.{_code_digest()}")


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """A digest of the linking code (graph/link.py, graph/imports.py): an update starts only from a
    file the same code wrote. A change of the rules that forgets to bump GRAPH_VERSION would
    otherwise carry the old rules' links forward, edit after edit, in every file not relinked."""
    h = hashlib.sha1()
    for module in (link, imports):
        try:
            with open(module.__file__, "rb") as f:
                h.update(f.read())
        except (OSError, TypeError):
            h.update(b"?")
    return h.hexdigest()[:16]


def _used(ff: FileFacts) -> list[str]:
    """The distinct names a file's links read definitions of, sorted: the names it uses and each
    part of their receivers (`a.b` in `a.b.c()`: rule 0 in graph/link.py)."""
    names = {r.name for r in ff.references}
    for receiver in set(_receivers(ff.references) or ()):
        if receiver:
            names.update(receiver.split("."))
    return sorted(names)


def _resolved_key(ri) -> tuple:
    """What linking reads of a resolved import: (names, targets, the import's names, its module)."""
    return ri.names, ri.targets, tuple(ri.imp.names), ri.imp.module


def _resolved_rows(resolved) -> list[tuple[int, str]]:
    """(seq, JSON of `_resolved_key`) of a file's resolved imports that bind a name or reach a
    file: all that linking another file reads of them (JSON: any string round-trips)."""
    rows = [json.dumps(_resolved_key(ri)) for ri in resolved if ri.names or ri.targets]
    return list(enumerate(rows))


@dataclass(frozen=True)
class _Import:
    names: tuple[str, ...]
    module: str


@dataclass(frozen=True)
class _Stored:
    """A resolved import as linking another file reads it (`ResolvedImport`'s fields)."""
    names: tuple[str, ...]
    targets: tuple[str, ...]
    imp: _Import

    @classmethod
    def of(cls, text: str) -> _Stored:
        names, targets, imp_names, module = json.loads(text)
        return cls(tuple(names), tuple(targets), _Import(tuple(imp_names), module))

    def key(self) -> tuple:
        return _resolved_key(self)


class _Foreign(ValueError):
    """A state file of no delta format (an earlier repoctx's whole file): not updated from."""


class _View:
    """A state's file read as one graph: its base's rows less those its delta supersedes, then the
    delta's. Not safe across threads (`StoredGraph` holds a lock around it)."""

    def __init__(self, path: str):
        self.delta = _connect(path)
        self.base = None
        try:
            meta = dict(self.delta.execute("SELECT key, value FROM meta"))
            name = meta.get("base")
            if name is None:
                raise _Foreign("no base named")
            if not _BASE_NAME.fullmatch(name):
                raise seal.Damaged(f"its base is named {name!r}")
            self.base_path = os.path.join(bases_folder(path), name)
            try:
                digest = seal.check_file(self.base_path, f"graph-base/{name}")
                if digest and digest != meta.get("base_digest"):
                    raise seal.Damaged(f"base {name} is not the one it was written over")
            except seal.Damaged:
                seal.discard(self.base_path)  # said once: no other state's read or update meets it again
                raise
            if not digest:
                raise FileNotFoundError(self.base_path)  # unsealed: as good as missing
            self.base = _connect(self.base_path)
            base_meta = dict(self.base.execute("SELECT key, value FROM meta"))
            ranges = self.delta.execute("SELECT lo, hi FROM stale_src ORDER BY lo").fetchall()
            self.stale_paths = {p for (p,) in self.delta.execute("SELECT path FROM stale_path")}
        except BaseException:
            self.close()
            raise
        self.lo, self.hi = [lo for lo, _ in ranges], [hi for _, hi in ranges]
        self.meta = meta
        #: the files keep what updates and the definitions table need
        self.complete = bool(meta.get("version")) and base_meta.get("version") == meta["version"]
        self.files, self.base_rows = int(base_meta.get("files", 0)), int(base_meta.get("rows", 0))

    def close(self) -> None:
        for db in (self.delta, self.base):
            if db is not None:
                db.close()

    def stale_source(self, source: str) -> bool:
        """Whether the delta supersedes the base's rows of this source id."""
        i = bisect_right(self.lo, source) - 1
        return i >= 0 and source < self.hi[i]

    def select(self, table: str, sql: str, args=(), owner: int = 0) -> list[tuple]:
        """The rows `sql` (a query of `table`) gives: the base's whose file (column `owner` of the
        row) the delta does not supersede, then the delta's."""
        rows = self.base.execute(sql, args).fetchall()
        if table in _BY_RANGE and self.lo:
            rows = [r for r in rows if not self.stale_source(r[owner])]
        elif table not in _BY_RANGE and self.stale_paths:
            rows = [r for r in rows if r[owner] not in self.stale_paths]
        return rows + self.delta.execute(sql, args).fetchall()

    def whole(self, table: str, columns: str) -> list[tuple]:
        """Every row of `table` (`columns`: all of them, the owner first), in order. The base's
        rows are read between the superseded ranges (no test of each row)."""
        sql, order = f"SELECT {columns} FROM {table}", f" ORDER BY {columns}"
        if table in _BY_RANGE and self.lo:
            rows: list[tuple] = []
            bounds = [None, *(x for pair in zip(self.lo, self.hi) for x in pair), None]
            for lo, hi in zip(bounds[::2], bounds[1::2]):
                where = [w for w, v in (("source >= ?", lo), ("source < ?", hi)) if v is not None]
                rows += self.base.execute(sql + (" WHERE " + " AND ".join(where) if where else "") + order,
                                          [v for v in (lo, hi) if v is not None]).fetchall()
        else:
            rows = self.base.execute(sql + order).fetchall()
            if table not in _BY_RANGE and self.stale_paths:
                rows = [r for r in rows if r[0] not in self.stale_paths]
        delta = self.delta.execute(sql + order).fetchall()
        return list(heapq.merge(rows, delta)) if delta else rows


def _merge_ranges(ranges) -> list[tuple[str, str]]:
    """Ranges [lo, hi) as the fewest disjoint ones, in order."""
    out: list[list[str]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


class _StoredResolved(Mapping):
    """Each file's resolved imports, read from the previous graph as linking asks for them;
    `fresh` (the changed files') in place of theirs."""

    def __init__(self, view: _View, fresh: dict[str, list]):
        self._view, self._fresh, self._read = view, fresh, {}

    def __getitem__(self, path: str) -> list:
        got = self._fresh.get(path)
        if got is None:
            got = self._read.get(path)
        if got is None:
            got = self._read[path] = [_Stored.of(row) for _, _, row in sorted(self._view.select(
                "resolved", "SELECT source, seq, entry FROM resolved WHERE source = ?", (path,)))]
        return got

    def __iter__(self):
        raise TypeError("not iterable: read by path")

    def __len__(self) -> int:
        raise TypeError("no length: read by path")


@dataclass
class GraphUpdate:
    """The previous state's graph file (`base`) and what makes it this state's: the files relinked
    (`relinked`, their reference and ambiguous rows replaced) and the changed files' own rows."""
    base: str
    relinked: list[str]
    changed: list[str]
    rows: dict[str, list] = field(default_factory=dict)  # table -> new rows

    def write(self, path: str) -> None:
        """This state's file at `path`: a delta over the previous state's base, holding the
        previous delta's rows not superseded now and the new ones; or, once that outgrows
        MERGE_SHARE of the base, a new base (the old one copied, all of it applied)."""
        view = _View(self.base)
        try:
            fresh = _merge_ranges((f"{q}:", f"{q};") for q in self.relinked)  # a file's ids all start "path:"
            lo, hi, changed = [a for a, _ in fresh], [b for _, b in fresh], set(self.changed)

            def kept(table: str, row: tuple) -> bool:
                owner = row[_OWNER[table]]
                if table in _BY_RANGE:
                    i = bisect_right(lo, owner) - 1
                    return not (i >= 0 and owner < hi[i])
                return owner not in changed
            rows = {table: [r for r in view.delta.execute(f"SELECT * FROM {table}") if kept(table, r)]
                    + self.rows.get(table, []) for table in _OWNER}
            ranges = _merge_ranges([*zip(view.lo, view.hi), *fresh])
            paths = sorted(view.stale_paths | changed)
            if (len(rows["refs"]) + len(rows["ambiguous"]) > MERGE_SHARE * view.base_rows
                    or len(ranges) + len(paths) > MERGE_SHARE * view.files):
                def merged(db: sqlite3.Connection) -> None:
                    for a, b in ranges:
                        for table in _BY_RANGE:
                            db.execute(f"DELETE FROM {table} WHERE source >= ? AND source < ?", (a, b))
                    for table in _OWNER:
                        if table not in _BY_RANGE:
                            name = ("source", "path")[table in ("state", "defs", "uses")]
                            db.executemany(f"DELETE FROM {table} WHERE {name} = ?", ((p,) for p in paths))
                    _insert(db, rows)
                    db.execute("UPDATE meta SET value = (SELECT count(*) FROM refs) WHERE key = 'rows'")
                _write_base(path, merged, source=view)
                return

            def delta(db: sqlite3.Connection) -> None:
                db.executemany("INSERT INTO meta VALUES (?, ?)", (
                    (k, view.meta[k]) for k in ("version", "base", "base_digest")))
                db.executemany("INSERT INTO stale_src VALUES (?, ?)", ranges)
                db.executemany("INSERT INTO stale_path VALUES (?)", ((p,) for p in paths))
                _insert(db, rows)
            _write_new(path, delta)
            _prune_bases(path)  # a base only states pruned since named
        finally:
            view.close()


def _insert(db: sqlite3.Connection, rows: dict[str, list]) -> None:
    for table, got in rows.items():
        if got:
            db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(got[0]))})", got)


def updated_graph(root: str, files: dict, facts: Mapping[str, FileFacts], index_path: str | None,
                  key: str) -> GraphUpdate | None:
    """How to make this state's graph file (of state key `key`) from the newest earlier one, or
    None when a whole build is needed or cheaper (see the module docstring). `files` are the scan's,
    `facts` every file's (only the changed and relinked files' are read)."""
    base = previous_file(index_path, "graph", ".sqlite", skip=key)
    if base is None:
        return None
    try:
        view = _View(base)
    except (_Foreign, FileNotFoundError):
        return None  # a file of an earlier repoctx, or one whose base went meanwhile
    except (sqlite3.Error, OSError, ValueError) as exc:
        seal.warn(f"graph cache {base} could not be updated from ({exc}): built whole")
        return None
    try:
        return _plan(view, base, root, files, facts)
    except (sqlite3.Error, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        seal.warn(f"graph cache {base} could not be updated from ({exc}): built whole")
        return None
    finally:
        view.close()


def _plan(view: _View, base: str, root: str, files: dict, facts: Mapping[str, FileFacts]
          ) -> GraphUpdate | None:
    if not view.complete or view.meta["version"] != _version():
        return None  # a file without what updates need, or of other linking code
    old = {p: (blob, lang) for p, blob, lang in view.select("state", "SELECT path, blob, language FROM state")}
    if old.keys() != files.keys():
        return None  # a path added or removed: any import may resolve differently
    manifest = dict(zip(files, state_manifest(files)))
    changed = [p for p, m in manifest.items() if old[p][0] != m]
    if len(changed) > MAX_SHARE * len(files):
        return None
    if any(p.rpartition("/")[2] in CONFIG_NAMES or p.endswith(".json") for p in changed):
        return None  # resolution's configuration changed
    new = {p: facts[p] for p in changed}
    languages = {p: lang for p, (_, lang) in old.items()}
    for p, ff in new.items():
        if family(p, languages[p]) != family(p, ff.language):
            return None
        languages[p] = ff.language
    resolver = ImportResolver(root, {p: FileFacts(lang, 0) for p, lang in languages.items()})

    # What changed that other files' links read: where names are defined, what re-exports bind.
    fresh = {p: [resolver.resolve(p, ff, imp) for imp in ff.imports] for p, ff in new.items()}
    ordered = {p: ordered_symbols(p, ff.symbols) for p, ff in new.items()}
    def_rows = {p: _def_rows(p, ordered[p]) for p in changed}
    new_defs: dict[str, dict[str, list[str]]] = {}
    names: set[str] = set()  # names whose definitions, or whose binding in a re-export, changed
    reach: list[str] = []    # changed files whose importers, direct or not, are relinked
    for p in changed:
        mine: dict[str, list[str]] = {}
        for name, _, _, sid in def_rows[p]:
            mine.setdefault(name, []).append(sid)
        before: dict[str, list[str]] = {}
        for _, name, _, sid in sorted(view.select("defs", "SELECT path, name, seq, sid FROM defs WHERE path = ?", (p,)),
                                      key=lambda r: (r[1], r[2])):
            before.setdefault(name, []).append(sid)
        names.update(n for n in mine.keys() | before.keys() if mine.get(n) != before.get(n))
        for name, ids in mine.items():
            new_defs.setdefault(name, {})[p] = ids
        was = {_Stored.of(row).key() for _, row in view.select(
            "resolved", "SELECT source, entry FROM resolved WHERE source = ?", (p,))}
        now = {_resolved_key(ri) for ri in fresh[p] if ri.names or ri.targets}
        differ = was ^ now
        bound = {n for names_, _, imp_names, _ in differ for n in (*names_, *imp_names)}
        names |= bound
        if differ and ("*" in bound or resolver.families.get(p) == "c"):
            reach.append(p)

    paths = sorted(files)
    relink = set(changed) | _users(view, names) | _importers(view, reach, fresh)
    for q in list(relink):  # a path that starts "q:" has ids in q's runs too
        i = bisect_left(paths, f"{q}:")
        while i < len(paths) and paths[i].startswith(f"{q}:"):
            relink.add(paths[i])
            i += 1
    if len(relink) > MAX_SHARE * len(files):
        return None
    relink_list = sorted(relink)
    facts_of = {q: new[q] if q in new else facts[q] for q in relink_list}
    used = {n for ff in facts_of.values() for n in _used(ff)}
    defs = _defs(view, used, set(changed), new_defs)
    resolved = _StoredResolved(view, fresh)
    scopes = _import_scopes(paths, facts_of, resolved, only=relink_list, fams=resolver.families)
    refs, amb = [], []
    for q in relink_list:
        ff = facts_of[q]
        if ff.references:
            r, a = _link_file(q, ff, ordered.get(q) or ordered_symbols(q, ff.symbols), defs, resolved, scopes[q])
            refs += r
            amb += a
    rows = {
        "refs": refs, "ambiguous": amb,
        "imports": sorted({(p, t) for p in changed for ri in fresh[p] for t in ri.targets if t != p}),
        "external": sorted({(p, ri.imp.module) for p in changed for ri in fresh[p] if not ri.targets}),
        "defs": [row for p in changed for row in def_rows[p]],
        "resolved": [(p, *row) for p in changed for row in _resolved_rows(fresh[p])],
        "uses": [(n, p) for p in changed for n in _used(new[p])],
        "state": [(p, manifest[p], new[p].language) for p in changed],
    }
    return GraphUpdate(base, relink_list, changed, rows)


def _chunks(items: list, n: int = 500):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _users(view: _View, names: set[str]) -> set[str]:
    """The files that use any of `names`."""
    out: set[str] = set()
    for part in _chunks(sorted(names)):
        out.update(p for p, in view.select(
            "uses", f"SELECT path FROM uses WHERE name IN ({', '.join('?' * len(part))})", part))
    return out


def _importers(view: _View, start: list[str], fresh: dict[str, list]) -> set[str]:
    """Every file that imports one of `start`, directly or through others (before or after the
    change: the changed files' new imports count too)."""
    new_by_target: dict[str, set[str]] = {}
    for p, ris in fresh.items():
        for ri in ris:
            for t in ri.targets:
                new_by_target.setdefault(t, set()).add(p)
    seen, todo = set(start), list(start)
    while todo:
        t = todo.pop()
        found = {s for s, in view.select("imports", "SELECT source FROM imports WHERE target = ?", (t,))}
        for s in found | new_by_target.get(t, set()):
            if s not in seen:
                seen.add(s)
                todo.append(s)
    return seen


def _defs(view: _View, names: set[str], changed: set[str],
          new_defs: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """name -> path -> ids (in symbol order), paths in order, for `names`: the stored definitions
    outside the changed files and the changed files' own (`new_defs`)."""
    out: dict[str, dict[str, list[str]]] = {}
    for part in _chunks(sorted(names)):
        for name, p, _, sid in sorted(view.select(
                "defs", f"SELECT name, path, seq, sid FROM defs WHERE name IN ({', '.join('?' * len(part))})",
                part, owner=1)):
            if p not in changed:
                out.setdefault(name, {}).setdefault(p, []).append(sid)
    for name in names & new_defs.keys():
        out[name] = dict(sorted((out.get(name, {}) | new_defs[name]).items()))
    return out


class StoredGraph(RepoGraph):
    """A `RepoGraph` whose lookups are queries on its files (`_View`); `references`, `imports`,
    `external_imports` and `ambiguous` are read whole on first use. Safe across threads."""

    def __init__(self, path: str, facts: Mapping[str, FileFacts]):  # no super().__init__(): it would set the lists
        self._view = _View(path)  # a file that is no graph, or whose base fails its seal, fails here
        self._lock = threading.Lock()
        self.files = sorted(facts)
        self.symbols = SymbolTable(facts)

    def _select(self, table: str, sql: str, *args, owner: int = 0) -> list[tuple]:
        with self._lock:
            return self._view.select(table, sql, args, owner)

    def _whole(self, table: str, columns: str) -> list[tuple]:
        with self._lock:
            return self._view.whole(table, columns)

    @cached_property
    def references(self) -> list[tuple[str, str, str]]:
        return self._whole("refs", "source, target, name")

    @cached_property
    def imports(self) -> list[tuple[str, str]]:
        return self._whole("imports", "source, target")

    @cached_property
    def external_imports(self) -> list[tuple[str, str]]:
        return self._whole("external", "source, module")

    @cached_property
    def ambiguous(self) -> list[tuple[str, str]]:
        return self._whole("ambiguous", "source, name")

    # Each lookup answers from the whole lists once they are loaded (as `RepoGraph` does), else by
    # a query, in the same order.

    def references_from(self, path: str) -> list[tuple[str, str, str]]:
        if "references" in self.__dict__:
            return super().references_from(path)
        return sorted(self._select("refs", "SELECT source, target, name FROM refs WHERE source >= ? AND source < ?",
                                   f"{path}:", f"{path};"))

    def callers_of(self, symbol_id: str) -> list[str]:
        if "_callers" in self.__dict__:
            return RepoGraph.callers_of(self, symbol_id)
        return sorted({s for s, in self._select("refs", "SELECT DISTINCT source FROM refs WHERE target = ?", symbol_id)})

    def references_to(self, symbol_id: str) -> list[tuple[str, str, str]]:
        """The (source, target, name) rows whose target is `symbol_id`, sorted: with
        `references_from`, what the walk graph's delta reads of a node (retrieve/delta.py)."""
        return sorted(self._select("refs", "SELECT source, target, name FROM refs WHERE target = ?", symbol_id))

    def callees_of(self, symbol_id: str) -> list[str]:
        if "_callees" in self.__dict__:
            return RepoGraph.callees_of(self, symbol_id)
        return sorted({t for _, t in self._select(
            "refs", "SELECT DISTINCT source, target FROM refs WHERE source = ?", symbol_id)})

    def importers_of(self, path: str) -> list[str]:
        if "_importers" in self.__dict__:
            return RepoGraph.importers_of(self, path)
        return sorted({s for s, in self._select("imports", "SELECT source FROM imports WHERE target = ?", path)})

    def imported_by(self, path: str) -> list[str]:
        if "_imported" in self.__dict__:
            return RepoGraph.imported_by(self, path)
        return sorted({t for _, t in self._select("imports", "SELECT source, target FROM imports WHERE source = ?", path)})

    def definitions(self) -> Definitions | None:
        """The ranker's definitions table (`query.definition_table`) answered from the `defs`
        rows; None when the files do not keep them."""
        return Definitions(self) if self._view.complete else None

    def _defined(self, key: str) -> list[str]:
        """`query.definition_table(repo).get(key, [])`: the nodes of the definitions named `key`
        or whose qualified name is `key`, in file order. A qualified name ends with its symbol's
        name, so the rows to read are those of the names `key` ends with."""
        parts = key.split(".")
        names = [".".join(parts[i:]) for i in range(len(parts))]
        rows = self._select("defs", f"SELECT path, seq, name, sid FROM defs WHERE name IN ({', '.join('?' * len(names))})",
                            *names, owner=0)
        return list(dict.fromkeys(sid for path, _, name, sid in sorted(rows)
                                  if name == key or sid[len(path) + 1:] == key))


class Definitions:
    """Name or qualified name → the nodes defining it, as `query.definition_table` gives them
    (its callers only look names up), read from the graph's `defs` rows as asked: after an edit
    there is no table to make again. Safe across threads."""

    def __init__(self, graph: StoredGraph):
        self._graph = graph
        self._known: dict[str, list[str]] = {}

    def get(self, key: str, default=None):
        got = self._known.get(key)
        if got is None:
            got = self._known[key] = self._graph._defined(key)
        return got or default

    def __getitem__(self, key: str) -> list[str]:
        got = self.get(key)
        if got is None:
            raise KeyError(key)
        return got

    def __contains__(self, key) -> bool:
        return self.get(key) is not None

    def __iter__(self):
        raise TypeError("not iterable: looked up by name")
