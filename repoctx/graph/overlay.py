"""A stored graph with a few files relinked in memory: an editor's buffers, or a few files saved.

`RepoGraph.patched` relinks a few files against a `_Linker` over every file's facts, and copies the
whole reference lists and lookup dicts: on the Linux source that linker alone held gigabytes and each
edit copied millions of entries. Here the base stays on disk (`graph.store.StoredGraph`) and only the
changed files' rows live in memory. A lookup is the base's answer (an indexed query) less the rows of
the changed files and the references into definitions they no longer have, plus their new rows. The
changed files are linked as `RepoGraph.patched` links them (the same rules and inputs: where names are
defined and the other files' resolved imports, read from the store as `store._plan` reads them), so
the answers are the same (tests/test_workspace.py compares them).

    g = patched_graph(repo.graph, root, facts, new_facts, ["pkg/a.py"])
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from functools import cached_property

from repoctx.graph.imports import ImportResolver
from repoctx.graph.link import RepoGraph, _import_scopes, _link_file, ordered_symbols
from repoctx.graph.store import (
    StoredGraph,
    _def_rows,
    _defs,
    _merge_ranges,
    _StoredResolved,
    _used,
)
from repoctx.model import FileFacts


def patched_graph(graph: RepoGraph, root: str, facts: Mapping[str, FileFacts], new_facts: Mapping[str, FileFacts],
                  changed: list[str]) -> RepoGraph:
    """`graph` (built from `facts`) with the `changed` files relinked from `new_facts`, as
    `RepoGraph.patched` gives it; over a stored graph (or an overlay of one) without loading it.
    A graph that keeps nothing to relink from (no `state` rows) is patched in memory."""
    if isinstance(graph, Overlay):
        return Overlay(graph.base, root, new_facts, sorted(set(graph.changed) | set(changed)))
    if isinstance(graph, StoredGraph) and resolver_of(graph, root) is not None:
        return Overlay(graph, root, new_facts, changed)
    return graph.patched(root, facts, new_facts, changed)


def resolver_of(graph: StoredGraph, root: str) -> ImportResolver | None:
    """The import resolver of the stored graph's files (their paths and languages, from its `state`
    rows: no file's facts decoded), made once per graph; None when the files do not keep them."""
    if "_overlay_resolver" not in graph.__dict__:
        rows = graph._select("state", "SELECT path, language FROM state") if graph._view.complete else []
        graph._overlay_resolver = ImportResolver(root, {p: FileFacts(lang, 0) for p, lang in rows}) if rows else None
    return graph._overlay_resolver


class Overlay(RepoGraph):
    """A `StoredGraph` (`base`) with the `changed` files relinked from `facts`: their symbols,
    imports and outgoing references replaced, and references into definitions they no longer
    have dropped (`RepoGraph.patched`'s answer). Other files are not relinked: a symbol a buffer
    newly defines gains its callers at the next load."""

    def __init__(self, base: StoredGraph, root: str, facts: Mapping[str, FileFacts], changed: list[str]):
        self.base, self.changed = base, list(changed)
        self.files = sorted(set(base.files) | set(changed))
        self.symbols = base.symbols.derived(facts, changed)
        ranges = _merge_ranges((f"{p}:", f"{p};") for p in changed)  # a file's ids all start "path:"
        self._lo, self._hi = [a for a, _ in ranges], [b for _, b in ranges]
        self._changed = set(changed)
        self.gone = {sid for p in changed for sid in base.symbols_in(p)} - {
            sid for p in changed if p in facts for sid in self.symbols.of_file(p)}
        refs, amb, imports, external = self._link(root, facts)
        self._refs, self._amb, self._new_imports, self._new_external = refs, amb, imports, external

    def _link(self, root: str, facts: Mapping[str, FileFacts]):
        """The changed files' (references, ambiguous, imports, external imports), each sorted."""
        base, changed = self.base, self.changed
        resolver = resolver_of(base, root)
        fresh = {p: [resolver.resolve(p, facts[p], imp) for imp in facts[p].imports] for p in changed}
        ordered = {p: ordered_symbols(p, facts[p].symbols) for p in changed}
        new_defs: dict[str, dict[str, list[str]]] = {}
        for p in changed:
            for name, _, _, sid in _def_rows(p, ordered[p]):
                new_defs.setdefault(name, {}).setdefault(p, []).append(sid)
        fams = dict(resolver.families)
        # the folders' files only: a Go or Java file's scope is its package folder's
        folders = {p.rpartition("/")[0] for p in changed}
        files = sorted({f for d in folders for f in resolver.by_dir.get(d, ())} | set(changed))
        refs, amb = [], []
        with base._lock:
            used = {n for p in changed for n in _used(facts[p])}
            defs = _defs(base._view, used, set(changed), new_defs)
            resolved = _StoredResolved(base._view, fresh)
            scopes = _import_scopes(files, facts, resolved, only=changed, fams=fams)
            for p in changed:
                if facts[p].references:
                    r, a = _link_file(p, facts[p], ordered[p], defs, resolved, scopes[p])
                    refs += r
                    amb += a
        imports = sorted({(p, t) for p in changed for ri in fresh[p] for t in ri.targets if t != p})
        external = sorted({(p, ri.imp.module) for p in changed for ri in fresh[p] if not ri.targets})
        return sorted(refs), sorted(amb), imports, external

    def _stale(self, source: str) -> bool:
        """Whether a base row of this source id is a changed file's (superseded)."""
        i = bisect_right(self._lo, source) - 1
        return i >= 0 and source < self._hi[i]

    def patched(self, root, facts, new_facts, changed) -> RepoGraph:
        return patched_graph(self, root, facts, new_facts, changed)

    # -- lookups: the base's answer less the changed files' rows, plus theirs -----------------------

    def references_from(self, path: str) -> list[tuple[str, str, str]]:
        lo, hi = f"{path}:", f"{path};"
        old = [] if path in self._changed else [
            r for r in self.base.references_from(path) if not self._stale(r[0]) and r[1] not in self.gone]
        return sorted(old + self._refs[bisect_left(self._refs, (lo,)):bisect_left(self._refs, (hi,))])

    def references_to(self, symbol_id: str) -> list[tuple[str, str, str]]:
        if symbol_id in self.gone:
            return []
        return sorted([r for r in self.base.references_to(symbol_id) if not self._stale(r[0])]
                      + [r for r in self._refs if r[1] == symbol_id])

    def callers_of(self, symbol_id: str) -> list[str]:
        if symbol_id in self.gone:
            return []
        return sorted({c for c in self.base.callers_of(symbol_id) if not self._stale(c)}
                      | set(self._new_callers.get(symbol_id, ())))

    def callees_of(self, symbol_id: str) -> list[str]:
        if self._stale(symbol_id):
            return self._new_callees.get(symbol_id, [])
        return [t for t in self.base.callees_of(symbol_id) if t not in self.gone]

    def importers_of(self, path: str) -> list[str]:
        return sorted({s for s in self.base.importers_of(path) if s not in self._changed}
                      | {s for s, t in self._new_imports if t == path})

    def imported_by(self, path: str) -> list[str]:
        if path in self._changed:
            return sorted({t for s, t in self._new_imports if s == path})
        return self.base.imported_by(path)

    @cached_property
    def _new_callers(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for s, t, _ in self._refs:
            out.setdefault(t, set()).add(s)
        return {t: sorted(v) for t, v in out.items()}

    @cached_property
    def _new_callees(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for s, t, _ in self._refs:
            out.setdefault(s, set()).add(t)
        return {s: sorted(v) for s, v in out.items()}

    def named(self, name: str) -> list[str]:
        """The ids of the definitions of `name` (distinct ids, the base's outside the changed files
        and the changed files' own): what `Workspace.definitions` lists when no link decides."""
        base = [sid for p, sid in self.base._select("defs", "SELECT path, sid FROM defs WHERE name = ?", name, owner=0)
                if p not in self._changed]
        return base + [sid for p in self.changed if p in self.symbols.facts
                       for sid, (_, s) in self.symbols.of_file(p).items() if s.name == name]

    # -- whole lists (the `repoctx graph` export; nothing an editor's request reads) ---------------

    @cached_property
    def references(self) -> list[tuple[str, str, str]]:
        return sorted([r for r in self.base.references if not self._stale(r[0]) and r[1] not in self.gone] + self._refs)

    @cached_property
    def ambiguous(self) -> list[tuple[str, str]]:
        return sorted([r for r in self.base.ambiguous if not self._stale(r[0])] + self._amb)

    @cached_property
    def imports(self) -> list[tuple[str, str]]:
        return sorted([r for r in self.base.imports if r[0] not in self._changed] + self._new_imports)

    @cached_property
    def external_imports(self) -> list[tuple[str, str]]:
        return sorted([r for r in self.base.external_imports if r[0] not in self._changed] + self._new_external)
