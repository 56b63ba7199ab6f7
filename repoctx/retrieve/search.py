"""Search: symbols for a query — ranked chunks as symbols (`repoctx search`), and symbols by name
(an editor's workspace/symbol)."""
from __future__ import annotations

from dataclasses import dataclass

from repoctx.model import Symbol
from repoctx.retrieve.rank import RetrievalIndex, rank_chunks


@dataclass(frozen=True)
class Hit:
    path: str
    symbol: str | None    # qualified name, None for module-level code
    start_line: int
    end_line: int
    score: float


def search(index: RetrievalIndex, query: str, limit: int = 20) -> list[Hit]:
    """The best-ranked chunks for `query` as symbols (a symbol once, at its whole extent)."""
    symbols = index.repo.graph.symbols
    best: dict[str, Hit] = {}
    for i, score in rank_chunks(index, query):
        c = index.chunks[i]
        key = f"{c.path}:{c.symbol}" if c.symbol else f"{c.path}:{c.start}"
        if key in best:
            continue
        entry = symbols.get(key) if c.symbol else None
        start, end = (entry[1].start_line, entry[1].end_line) if entry else (c.start, c.end)
        best[key] = Hit(c.path, c.symbol, start, end, round(score, 4))
        if len(best) >= limit:
            break
    return list(best.values())


def find_symbols(index: RetrievalIndex, query: str, limit: int = 100) -> list[tuple[str, str, Symbol]]:
    """(id, path, symbol) whose name matches `query`: exact, then prefix, then substring, then
    the letters in order; within each, the more central symbol (global PageRank) first."""
    q = query.lower()
    rank = index.__dict__.get("_symbol_rank")
    if rank is None:  # the global PageRank, once per index (a patched index is a new object)
        rank = index._symbol_rank = index.pagerank_vector({})
    nodes = index.graph[0]
    hits = []
    symbols = index.repo.graph.symbols
    for sid, (path, s) in symbols.items():
        name = s.name.lower()
        if not q or name == q:
            tier = 0
        elif name.startswith(q):
            tier = 1
        elif q in name:
            tier = 2
        else:
            continue
        centrality = rank[nodes[sid]] if sid in nodes else 0.0
        hits.append((tier, -centrality, sid, path, s))
    if len(hits) < limit:  # letters in order only when the closer matches leave room
        for sid, (path, s) in symbols.items():
            name = s.name.lower()
            if q not in name and _subsequence(q, name):
                hits.append((3, -(rank[nodes[sid]] if sid in nodes else 0.0), sid, path, s))
    hits.sort(key=lambda h: h[:3])
    return [(sid, path, s) for _, _, sid, path, s in hits[:limit]]


def _subsequence(q: str, name: str) -> bool:
    it = iter(name)
    return all(ch in it for ch in q)
