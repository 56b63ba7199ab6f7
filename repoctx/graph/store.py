"""The graph on disk: one SQLite file per repository state, read by lookups instead of whole.

A pack asks the graph for a few hundred symbols' callers and a few hundred files' references; the
Linux source has 5.5 million references and 4 million ambiguous names, 1.7 GiB as Python lists and
2.6 s to read back whole. Here each lookup is an indexed query, and a list loads whole only when
someone reads it whole (`repoctx graph`, an editor's patch, the build of the walk graph).

    write_graph(graph, path, files)   # after a build (the file is written beside, then renamed)
    graph = StoredGraph(path, facts)
    update = updated_graph(root, files, facts, index_path, key)   # after an edit: see below

The file also keeps what relinking a few files needs (`state`, `defs`, `resolved`, `uses`: each
file's blob and language, where each name is defined, each file's resolved imports, the names each
file uses), so that after an edit the graph is made from the previous state's file by relinking only
the files whose links can change — at the cost of those files, not of the repository. A file's links
depend on its own facts and imports, on where the names it uses are defined, and on the resolved
imports of the files its imports lead through (re-exports, C headers). So the files relinked are the
changed ones, those using a name whose definitions changed, those using a name a changed file's
re-exports bind differently, and, when a changed C file's includes or a star import changed, every
file that imports a changed file directly or indirectly. Resolution depends on the set of paths and
on configuration files (go.mod, tsconfig.json, Cargo.toml, …), so a change of either is a whole build,
as is a change of more than MAX_SHARE of the files. The result is row for row the cold build's
(tests/test_incremental.py walks a history and compares).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import threading
from bisect import bisect_left
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
from repoctx.index.cache import previous_file, state_manifest, version_tag
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
"""
#: Made after the rows go in (faster than keeping them up to date row by row).
_INDEXES = """
CREATE INDEX refs_by_target ON refs (target, source);
CREATE INDEX imports_by_target ON imports (target, source);
CREATE INDEX defs_by_path ON defs (path);
CREATE INDEX uses_by_path ON uses (path);
"""
#: Bump when what the file keeps for updates changes (with link.GRAPH_VERSION, in its `meta`).
STORE_VERSION = "2"
#: Above this share of the files to relink, a whole build is as cheap as an update.
MAX_SHARE = 0.3
#: Files whose content decides import resolution (any .json too: a tsconfig's `extends` names one).
CONFIG_NAMES = frozenset(("go.mod", "go.work", "Cargo.toml", "package.json", "tsconfig.json", "jsconfig.json"))


def write_graph(graph: RepoGraph, path: str, files: dict | None = None) -> None:
    """The graph as an SQLite file at `path`, replacing it atomically; with `files` (the scan's
    files it was built from), and a graph just built, also what an update from it needs. The lists
    are sorted and unique, and SQLite's BINARY order of UTF-8 text is Python's order of str, so reads
    come back in the lists' order. OSError or sqlite3.Error (a path that is no valid UTF-8) when it
    cannot."""
    def fill(db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO refs VALUES (?, ?, ?)", graph.references)
        db.executemany("INSERT INTO imports VALUES (?, ?)", graph.imports)
        db.executemany("INSERT INTO external VALUES (?, ?)", graph.external_imports)
        db.executemany("INSERT INTO ambiguous VALUES (?, ?)", graph.ambiguous)
        linker = graph.__dict__.get("_linker")
        if files is None or linker is None or list(files) != linker.files:
            return
        facts = graph.symbols.facts
        db.execute("INSERT INTO meta VALUES ('version', ?)", (_version(),))
        db.executemany("INSERT INTO state VALUES (?, ?, ?)",
                       ((p, m, facts[p].language) for p, m in zip(files, state_manifest(files))))
        db.executemany("INSERT INTO defs VALUES (?, ?, ?, ?)",
                       ((name, p, i, sid) for name, by_path in linker.defs.items()
                        for p, ids in by_path.items() for i, sid in enumerate(ids)))
        db.executemany("INSERT INTO resolved VALUES (?, ?, ?)",
                       ((p, *row) for p in linker.files for row in _resolved_rows(linker.resolved[p])))
        db.executemany("INSERT INTO uses VALUES (?, ?)", ((n, p) for p in linker.files for n in _used(facts[p])))
    _write_new(path, fill)


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


class _StoredResolved(Mapping):
    """Each file's resolved imports, read from the previous graph file as linking asks for them;
    `fresh` (the changed files') in place of theirs."""

    def __init__(self, db: sqlite3.Connection, fresh: dict[str, list]):
        self._db, self._fresh, self._read = db, fresh, {}

    def __getitem__(self, path: str) -> list:
        got = self._fresh.get(path)
        if got is None:
            got = self._read.get(path)
        if got is None:
            got = self._read[path] = [_Stored.of(row) for (row,) in self._db.execute(
                "SELECT entry FROM resolved WHERE source = ? ORDER BY seq", (path,))]
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
        """The updated graph at `path`: the base copied, its rows of the relinked files replaced."""
        def fill(db: sqlite3.Connection) -> None:
            for q in self.relinked:  # a file's ids all start with "path:" (one run of each table)
                db.execute("DELETE FROM refs WHERE source >= ? AND source < ?", (f"{q}:", f"{q};"))
                db.execute("DELETE FROM ambiguous WHERE source >= ? AND source < ?", (f"{q}:", f"{q};"))
            for p in self.changed:
                for table, column in (("imports", "source"), ("external", "source"), ("defs", "path"),
                                      ("resolved", "source"), ("uses", "path"), ("state", "path")):
                    db.execute(f"DELETE FROM {table} WHERE {column} = ?", (p,))
            for table, rows in self.rows.items():
                if rows:
                    db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        _write_new(path, fill, self.base)


def updated_graph(root: str, files: dict, facts: Mapping[str, FileFacts], index_path: str | None,
                  key: str) -> GraphUpdate | None:
    """How to make this state's graph file (of state key `key`) from the newest earlier one, or
    None when a whole build is needed or cheaper (see the module docstring). `files` are the scan's,
    `facts` every file's (only the changed and relinked files' are read)."""
    base = previous_file(index_path, "graph", ".sqlite", skip=key)
    if base is None:
        return None
    try:
        db = sqlite3.connect(f"file:{base}?mode=ro&immutable=1", uri=True)
        try:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                return None  # a file of an earlier repoctx
            return _plan(db, base, root, files, facts)
        finally:
            db.close()
    except (sqlite3.Error, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        seal.warn(f"graph cache {base} could not be updated from ({exc}): built whole")
        return None


def _plan(db: sqlite3.Connection, base: str, root: str, files: dict, facts: Mapping[str, FileFacts]
          ) -> GraphUpdate | None:
    if db.execute("SELECT value FROM meta WHERE key = 'version'").fetchall() != [(_version(),)]:
        return None
    old = {p: (blob, lang) for p, blob, lang in db.execute("SELECT path, blob, language FROM state")}
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
    new_defs: dict[str, dict[str, list[str]]] = {}
    names: set[str] = set()  # names whose definitions, or whose binding in a re-export, changed
    reach: list[str] = []    # changed files whose importers, direct or not, are relinked
    for p in changed:
        mine: dict[str, list[str]] = {}
        for sid, s in ordered[p]:
            at = mine.setdefault(s.name, [])
            if sid not in at:
                at.append(sid)
        before: dict[str, list[str]] = {}
        for name, sid in db.execute("SELECT name, sid FROM defs WHERE path = ? ORDER BY name, seq", (p,)):
            before.setdefault(name, []).append(sid)
        names.update(n for n in mine.keys() | before.keys() if mine.get(n) != before.get(n))
        for name, ids in mine.items():
            new_defs.setdefault(name, {})[p] = ids
        was = {_Stored.of(row).key() for (row,) in db.execute(
            "SELECT entry FROM resolved WHERE source = ?", (p,))}
        now = {_resolved_key(ri) for ri in fresh[p] if ri.names or ri.targets}
        differ = was ^ now
        bound = {n for names_, _, imp_names, _ in differ for n in (*names_, *imp_names)}
        names |= bound
        if differ and ("*" in bound or resolver.families.get(p) == "c"):
            reach.append(p)

    paths = sorted(files)
    relink = set(changed) | _users(db, names) | _importers(db, reach, fresh)
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
    defs = _defs(db, used, set(changed), new_defs)
    resolved = _StoredResolved(db, fresh)
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
        "defs": [(name, p, i, sid) for name, by_path in new_defs.items() for p, ids in by_path.items()
                 for i, sid in enumerate(ids)],
        "resolved": [(p, *row) for p in changed for row in _resolved_rows(fresh[p])],
        "uses": [(n, p) for p in changed for n in _used(new[p])],
        "state": [(p, manifest[p], new[p].language) for p in changed],
    }
    return GraphUpdate(base, relink_list, changed, rows)


def _chunks(items: list, n: int = 500):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _users(db: sqlite3.Connection, names: set[str]) -> set[str]:
    """The files that use any of `names`."""
    out: set[str] = set()
    for part in _chunks(sorted(names)):
        out.update(p for (p,) in db.execute(
            f"SELECT DISTINCT path FROM uses WHERE name IN ({', '.join('?' * len(part))})", part))
    return out


def _importers(db: sqlite3.Connection, start: list[str], fresh: dict[str, list]) -> set[str]:
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
        found = {s for (s,) in db.execute("SELECT source FROM imports WHERE target = ?", (t,))}
        for s in found | new_by_target.get(t, set()):
            if s not in seen:
                seen.add(s)
                todo.append(s)
    return seen


def _defs(db: sqlite3.Connection, names: set[str], changed: set[str],
          new_defs: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """name -> path -> ids (in symbol order), paths in order, for `names`: the stored definitions
    outside the changed files and the changed files' own (`new_defs`)."""
    out: dict[str, dict[str, list[str]]] = {}
    for part in _chunks(sorted(names)):
        for name, p, sid in db.execute(
                f"SELECT name, path, sid FROM defs WHERE name IN ({', '.join('?' * len(part))}) "
                "ORDER BY name, path, seq", part):
            if p not in changed:
                out.setdefault(name, {}).setdefault(p, []).append(sid)
    for name in names & new_defs.keys():
        out[name] = dict(sorted((out.get(name, {}) | new_defs[name]).items()))
    return out


class StoredGraph(RepoGraph):
    """A `RepoGraph` whose lookups are queries on its file; `references`, `imports`,
    `external_imports` and `ambiguous` are read whole on first use. Safe across threads."""

    def __init__(self, path: str, facts: Mapping[str, FileFacts]):  # no super().__init__(): it would set the lists
        # immutable: the file is written once and renamed into place, so SQLite need not lock it
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._rows("SELECT 1 FROM refs LIMIT 1")  # a file that is no graph fails here, not later
        self.files = sorted(facts)
        self.symbols = SymbolTable(facts)

    def _rows(self, sql: str, *args) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _column(self, sql: str, *args) -> list[str]:
        return [row[0] for row in self._rows(sql, *args)]

    @cached_property
    def references(self) -> list[tuple[str, str, str]]:
        return self._rows("SELECT source, target, name FROM refs ORDER BY source, target, name")

    @cached_property
    def imports(self) -> list[tuple[str, str]]:
        return self._rows("SELECT source, target FROM imports ORDER BY source, target")

    @cached_property
    def external_imports(self) -> list[tuple[str, str]]:
        return self._rows("SELECT source, module FROM external ORDER BY source, module")

    @cached_property
    def ambiguous(self) -> list[tuple[str, str]]:
        return self._rows("SELECT source, name FROM ambiguous ORDER BY source, name")

    # Each lookup answers from the whole lists once they are loaded (as `RepoGraph` does), else by
    # one query, in the same order.

    def references_from(self, path: str) -> list[tuple[str, str, str]]:
        if "references" in self.__dict__:
            return super().references_from(path)
        return self._rows("SELECT source, target, name FROM refs WHERE source >= ? AND source < ? "
                          "ORDER BY source, target, name", f"{path}:", f"{path};")

    def callers_of(self, symbol_id: str) -> list[str]:
        return self._lookup("_callers", RepoGraph.callers_of, symbol_id,
                            "SELECT DISTINCT source FROM refs WHERE target = ? ORDER BY source")

    def callees_of(self, symbol_id: str) -> list[str]:
        return self._lookup("_callees", RepoGraph.callees_of, symbol_id,
                            "SELECT DISTINCT target FROM refs WHERE source = ? ORDER BY target")

    def importers_of(self, path: str) -> list[str]:
        return self._lookup("_importers", RepoGraph.importers_of, path,
                            "SELECT source FROM imports WHERE target = ? ORDER BY source")

    def imported_by(self, path: str) -> list[str]:
        return self._lookup("_imported", RepoGraph.imported_by, path,
                            "SELECT target FROM imports WHERE source = ? ORDER BY target")

    def _lookup(self, built: str, whole, key: str, sql: str) -> list[str]:
        """`whole(self, key)` once the lookup dict `built` exists, else the query's one column."""
        return whole(self, key) if built in self.__dict__ else self._column(sql, key)
