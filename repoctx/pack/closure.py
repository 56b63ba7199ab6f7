"""Closure: what a chunk needs and what depends on it, as line spans.

A chunk is only packed with its closure — the headers of the definitions that enclose it, the
imports its lines use, the signatures of the repository symbols it references, and the call sites of
it elsewhere — so a diff written from a slice is coherent. Closures are memoised per chunk: a pack
revisits chunks, and an editor asks many packs of one repository.
"""
from __future__ import annotations

from bisect import bisect_left

from repoctx.index.load import Repository
from repoctx.model import Symbol
from repoctx.retrieve.chunks import Chunk
from repoctx.retrieve.rank import node_of
from repoctx.scan import is_test_path

MAX_CALLEES = 6
MAX_CALLERS = 3
SIGNATURE_MAX_LINES = 4

Span = tuple[str, int, int]  # (path, first line, last line), 1-based inclusive


class Closures:
    """The closures of one loaded repository's chunks, and the per-file name indexes they use."""

    def __init__(self, repo: Repository):
        self.repo = repo
        self.symbols: dict[str, tuple[str, Symbol]] = repo.graph.symbols  # node id → (path, symbol)
        self.callees: dict[str, list[tuple[str, str]]] = {}  # node id → [(target id, name used)]
        for source, target, name in repo.graph.references:
            self.callees.setdefault(source, []).append((target, name))
        self._names: dict[str, dict[int, set[str]]] = {}
        self._uses: dict[str, dict[str, list[int]]] = {}
        self._closures: dict[tuple[Chunk, bool], list[Span]] = {}
        self._closures_by: dict[str, set[tuple[Chunk, bool]]] = {}  # path or node id → closures it is in

    def derived(self, repo: Repository, changed: list[str]) -> Closures:
        """The closures of `repo`, which is this one's repository with the `changed` files replaced
        (editor buffers), keeping every closure the change cannot affect: those that touch no changed
        file and whose call sites no changed file adds or removes."""
        new = Closures.__new__(Closures)
        new.repo = repo
        gone = set(changed)
        prefixes = tuple(f"{p}:" for p in changed)
        new._names = {p: v for p, v in self._names.items() if p not in gone}
        new._uses = {p: v for p, v in self._uses.items() if p not in gone}
        new.symbols = repo.graph.symbols
        new.callees = {k: v for k, v in self.callees.items() if not k.startswith(prefixes)}
        refs = [r for p in changed for r in repo.graph.references_from(p)]
        for source, target, name in refs:
            new.callees.setdefault(source, []).append((target, name))
        touched = {t for _, t, _ in refs} | {t for p in changed for _, t, _ in self.repo.graph.references_from(p)}
        drop = set().union(*(self._closures_by.get(x, ()) for x in touched | gone))
        new._closures = {k: v for k, v in self._closures.items() if k not in drop}
        new._closures_by = {}  # views are derived from the base only, never from each other
        return new

    def signature_span(self, node: str) -> Span | None:
        if node not in self.symbols:
            return None
        path, s = self.symbols[node]
        body = s.body_start_line or s.start_line + 1
        end = max(s.start_line, min(body - 1, s.start_line + SIGNATURE_MAX_LINES - 1, s.end_line))
        return path, s.start_line, end

    def names_by_line(self, path: str) -> dict[int, set[str]]:
        """The names a file's lines use, by line (built once per file)."""
        if path not in self._names:
            by_line: dict[int, set[str]] = {}
            for r in self.repo.facts[path].references:
                by_line.setdefault(r.line, set()).add(r.name)
            self._names[path] = by_line
        return self._names[path]

    def lines_using(self, path: str) -> dict[str, list[int]]:
        """The lines of a file that use each name, sorted (built once per file)."""
        if path not in self._uses:
            by_name: dict[str, list[int]] = {}
            for r in self.repo.facts[path].references:
                by_name.setdefault(r.name, []).append(r.line)
            self._uses[path] = {k: sorted(v) for k, v in by_name.items()}
        return self._uses[path]

    def of(self, c: Chunk, full: bool = True) -> list[Span]:
        """The chunk's lines plus what it needs (headers, imports; with `full`, callee signatures and
        call sites) as spans. Memoised."""
        key = (c, full)
        if key not in self._closures:
            self._closures[key] = spans = self._closure(c, full)
            for where in {p for p, _, _ in spans} | {node_of(c)}:
                self._closures_by.setdefault(where, set()).add(key)
        return self._closures[key]

    def _closure(self, c: Chunk, full: bool) -> list[Span]:
        spans = [(c.path, c.start, c.end)]
        node = node_of(c)
        parts = (c.symbol or "").split(".")
        heads = [f"{c.path}:{'.'.join(parts[:i])}" for i in range(1, len(parts) + 1)] if c.symbol else []
        for h in heads:
            sig = self.signature_span(h)
            if sig and sig[1] < c.start:
                spans.append(sig)
        facts = self.repo.facts[c.path]
        by_line = self.names_by_line(c.path)
        used = set().union(*(by_line.get(n, ()) for n in range(c.start, c.end + 1)))
        for imp in facts.imports:
            last = imp.module.replace("::", ".").replace("/", ".").rsplit(".", 1)[-1]
            if used & set(imp.names) or last in used:
                spans.append((c.path, imp.line, imp.line))
        if not full:
            return spans
        seen: set[str] = set()
        for target, name in self.callees.get(node, []):
            if name in used and target not in seen and target != node and len(seen) < MAX_CALLEES:
                seen.add(target)
                sig = self.signature_span(target)
                if sig:
                    spans.append(sig)
        if c.symbol and node in self.symbols and self.symbols[node][1].start_line >= c.start:
            # Call sites: in the chunk that starts the symbol only, callers outside tests first.
            name = self.symbols[node][1].name
            callers = sorted(self.repo.graph.callers_of(node), key=lambda sid: (is_test_path(sid), sid))
            for caller in callers[:MAX_CALLERS]:
                cpath = caller.split(":", 1)[0]
                lo, hi = 1, self.repo.facts[cpath].lines
                if caller in self.symbols:
                    lo, hi = self.symbols[caller][1].start_line, self.symbols[caller][1].end_line
                    spans.append(self.signature_span(caller))
                uses = self.lines_using(cpath).get(name, [])
                at = bisect_left(uses, lo)
                line = uses[at] if at < len(uses) and uses[at] <= hi else None
                if line:
                    spans.append((cpath, line, line))
        return spans
