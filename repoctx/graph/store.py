"""The graph on disk: one SQLite file per repository state, read by lookups instead of whole.

A pack asks the graph for a few hundred symbols' callers and a few hundred files' references; the
Linux source has 5.5 million references and 4 million ambiguous names, 1.7 GiB as Python lists and
2.6 s to read back whole. Here each lookup is an indexed query, and a list loads whole only when
someone reads it whole (`repoctx graph`, an editor's patch, the build of the walk graph).

    write_graph(graph, path)      # after a build (the file is written beside, then renamed)
    graph = StoredGraph(path, facts)
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Mapping
from functools import cached_property

from repoctx.graph.link import RepoGraph, SymbolTable
from repoctx.model import FileFacts

_SCHEMA = """
CREATE TABLE refs (source TEXT, target TEXT, name TEXT, PRIMARY KEY (source, target, name)) WITHOUT ROWID;
CREATE TABLE imports (source TEXT, target TEXT, PRIMARY KEY (source, target)) WITHOUT ROWID;
CREATE TABLE external (source TEXT, module TEXT, PRIMARY KEY (source, module)) WITHOUT ROWID;
CREATE TABLE ambiguous (source TEXT, name TEXT, PRIMARY KEY (source, name)) WITHOUT ROWID;
"""
#: Made after the rows go in (faster than keeping them up to date row by row).
_INDEXES = """
CREATE INDEX refs_by_target ON refs (target, source);
CREATE INDEX imports_by_target ON imports (target, source);
"""


def write_graph(graph: RepoGraph, path: str) -> None:
    """The graph as an SQLite file at `path`, replacing it atomically. The lists are sorted and
    unique, and SQLite's BINARY order of UTF-8 text is Python's order of str, so reads come back in
    the lists' order. OSError or sqlite3.Error (a path that is no valid UTF-8) when it cannot."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        db = sqlite3.connect(temp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.executescript(_SCHEMA)
            db.execute("BEGIN")
            db.executemany("INSERT INTO refs VALUES (?, ?, ?)", graph.references)
            db.executemany("INSERT INTO imports VALUES (?, ?)", graph.imports)
            db.executemany("INSERT INTO external VALUES (?, ?)", graph.external_imports)
            db.executemany("INSERT INTO ambiguous VALUES (?, ?)", graph.ambiguous)
            db.execute("COMMIT")
            db.executescript(_INDEXES)
        finally:
            db.close()
        os.replace(temp, path)
    except (UnicodeEncodeError, ValueError) as exc:
        raise sqlite3.DataError(f"cannot store the graph: {exc}") from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


class StoredGraph(RepoGraph):
    """A `RepoGraph` whose lookups are queries on its file; `references`, `imports`,
    `external_imports` and `ambiguous` are read whole on first use. Safe across threads."""

    def __init__(self, path: str, facts: Mapping[str, FileFacts]):  # noqa: super().__init__ would set the lists
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
