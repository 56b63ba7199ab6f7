"""Search: symbols for a query — ranked chunks as symbols (`repoctx search`), and symbols by name
(an editor's workspace/symbol)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from repoctx.model import Symbol
from repoctx.retrieve.rank import MODULE, RetrievalIndex, rank_chunks
from repoctx.scan import is_test_path


@dataclass(frozen=True)
class Hit:
    path: str
    symbol: str           # qualified name; `<module>` for module-level code
    start_line: int
    end_line: int
    score: float


#: Name tiers: exact (qualified or not, as written), exact ignoring case, prefix; then, for an editor's
#: symbol picker, substring and the letters in order.
EXACT, EXACT_CASE, PREFIX, SUBSTRING, FUZZY = range(5)
_IMPORTED = re.compile(r"\brequire\s*\(|\bimport\s*\(|^\s*(?:import|from)\s")
_PLAIN_NAME = re.compile(r"[\w$]+")
_NAME_CHAIN = re.compile(r"[\w$]+(?:(?:\.|::|#|->)[\w$]+)*")


def is_import_binding(s: Symbol) -> bool:
    """A name an import binds (`var send = require('send')`): no definition of the repository's."""
    return s.kind in ("constant", "variable") and bool(_IMPORTED.search(s.signature.split("\n", 1)[0]))


def name_tier(query: str, path: str, qualified: str, fuzzy: int = 0, root: str = "") -> int | None:
    """How a symbol's name matches a query that is a name — `send`, `HTTPAdapter.send` (Class.method),
    `adapters.HTTPAdapter.send` (module.Class.method), `res.send` (obj.method), `requests.get` or
    `gin.New` (pkg.func: a folder on the path, or the repository's own folder `root` for its top-level
    files): its tier, or None. A qualified query matches the end of `module.Qualified.name`, at a dot."""
    q = re.sub(r"::|#|->", ".", query.strip())
    if not q:
        return None
    module = path.rsplit(".", 1)[0].replace("/", ".")
    full = f"{module}.{qualified}"
    name = qualified.rsplit(".", 1)[-1]
    folders = path.split("/")[:-1] or [root] * bool(root)
    candidates = (qualified, full, *(f"{d}.{qualified}" for d in folders)) if "." in q else (name,)
    for tier, fold in ((EXACT, str), (EXACT_CASE, str.lower)):
        if any(fold(c) == fold(q) or fold(c).endswith("." + fold(q)) for c in candidates):
            return tier
    ql = q.lower()
    if any(c.lower().startswith(ql) or f".{ql}" in c.lower() and c.lower().rsplit(".", 1)[-1].startswith(ql.rsplit(".", 1)[-1])
           for c in candidates):
        return PREFIX
    if fuzzy:  # 1: substring; 2: substring or the letters in order
        target = (qualified if "." in q else name).lower()
        if ql in target:
            return SUBSTRING
        if fuzzy > 1 and _subsequence(ql, target):
            return FUZZY
    return None


def _by_name(index: RetrievalIndex, query: str, fuzzy: int = 0, limit: int = 0
             ) -> list[tuple[int, float, str, str, Symbol]]:
    """(tier, -centrality, id, path, symbol) of the symbols whose name matches, best first (code
    before tests within a tier). With `fuzzy` 2, the letters-in-order tier is only worked out when
    the closer tiers give fewer than `limit`."""
    rank = index.__dict__.get("_symbol_rank")
    if rank is None:  # the global PageRank, once per index (a patched index is a new object)
        rank = index._symbol_rank = index.pagerank_vector({})
    nodes = index.node_ids()
    root = os.path.basename(os.path.normpath(index.repo.root))
    symbols = index.__dict__.get("_named_symbols")
    if symbols is None:  # (id, path, symbol, lowercased name), once per index
        symbols = index._named_symbols = [(sid, path, s, sid.split(":", 1)[1].rsplit(".", 1)[-1].lower())
                                          for sid, (path, s) in index.repo.graph.symbols.items() if not is_import_binding(s)]
    plain = query.strip().lower() if _PLAIN_NAME.fullmatch(query.strip()) else None

    def plain_tier(sid: str, name: str, level: int) -> int | None:
        """`name_tier` for a plain name held by `name` (what it works out, without its candidates)."""
        if name == plain:
            return EXACT if sid.split(":", 1)[1].rsplit(".", 1)[-1] == query.strip() else EXACT_CASE
        return PREFIX if name.startswith(plain) else SUBSTRING if level else None

    def matches(level: int):
        for sid, path, s, name in symbols:
            if plain is None:
                tier = name_tier(query, path, sid.split(":", 1)[1], level, root) if query.strip() else EXACT
            elif level < 2:  # a plain name matches (exactly, by prefix, as a substring) only a name holding it
                tier = plain_tier(sid, name, level) if plain in name else None
            else:  # fuzzily, only one holding its letters in order
                tier = name_tier(query, path, sid.split(":", 1)[1], level, root) if _subsequence(plain, name) else None
            if tier is not None:
                yield tier, -(float(rank[nodes[sid]]) if sid in nodes else 0.0), sid, path, s

    hits = list(matches(min(fuzzy, 1)))
    if fuzzy > 1 and len(hits) < limit:
        hits += [h for h in matches(2) if h[0] == FUZZY]
    hits.sort(key=lambda h: (h[0], is_test_path(h[3]), h[1], h[2]))
    return hits


def search(index: RetrievalIndex, query: str, limit: int = 20) -> list[Hit]:
    """Symbols for `query`: when it is a name (or `Class.method`, `pkg.func`, `obj.method`), the
    symbols of that name first — exact, then prefix, the more central first — then the
    best-ranked chunks (BM25 and the graph walk) as symbols, each once at its whole extent.
    Scores fall down the list: a name's hit scores the best ranked score plus 3, 2 or 1 by its tier.
    A doc comment's chunk is named after the definition it documents (and shown with it);
    module-level code is named `<module>`. No hit at all for a query that matches nothing."""
    if not query.strip():
        return []
    symbols = index.repo.graph.symbols
    ranked = [(i, score) for i, score in rank_chunks(index, query) if score > 0]
    top = max((score for _, score in ranked), default=0.0)
    best: dict[str, Hit] = {}
    if _NAME_CHAIN.fullmatch(query.strip()):
        for tier, _, sid, path, s in _by_name(index, query):
            if len(best) >= limit:
                break
            best[sid] = Hit(path, sid.split(":", 1)[1], s.start_line, s.end_line, round(top + 3 - tier, 4))
    if not best and not _matches(index, query):
        return []  # ranked chunks without one matching word are the graph's central code, not hits
    for i, score in ranked:
        if len(best) >= limit:
            break
        c = index.chunks[i]
        owner = f"{c.path}:{c.symbol}" if c.symbol else _documented(index, c)
        key = owner or f"{c.path}:{c.start}"
        if key in best:
            continue
        entry = symbols.get(owner) if owner else None
        start, end = (min(c.start, entry[1].start_line), entry[1].end_line) if entry else (c.start, c.end)
        best[key] = Hit(c.path, owner.split(":", 1)[1] if owner else MODULE, start, end, round(score, 4))
    return list(best.values())


def _documented(index: RetrievalIndex, c) -> str | None:
    """The definition a symbol-less chunk documents: one of its file's that starts on the line just
    after the chunk (a doc comment above a Go function, a JSDoc block)."""
    g = index.repo.graph
    for sid in g.symbols_in(c.path):
        if g.symbols[sid][1].start_line == c.end + 1:
            return sid
    return None


def _matches(index: RetrievalIndex, query: str) -> bool:
    """Whether any word of the query is a term of the repository (BM25 scores something)."""
    from repoctx.retrieve.bm25 import tokenize
    return bool(index.bm25.scores(tokenize(query)).any())


def find_symbols(index: RetrievalIndex, query: str, limit: int = 100, fuzzy: int = 2) -> list[tuple[str, str, Symbol]]:
    """(id, path, symbol) whose name matches `query`, as `search` ranks names (exact, qualified or
    not, then prefix), then (`fuzzy` 1 or 2) substring, then (2) the letters in order; within each,
    the more central symbol (global PageRank) first. An editor's workspace/symbol."""
    return [(sid, path, s) for _, _, sid, path, s in _by_name(index, query, fuzzy, limit)[:limit]]


def _subsequence(q: str, name: str) -> bool:
    it = iter(name)
    return all(ch in it for ch in q)
