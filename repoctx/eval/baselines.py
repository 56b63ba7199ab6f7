"""Baselines: the packers repoctx's own is compared against in the same run."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from repoctx.files import split_lines
from repoctx.index.load import Repository
from repoctx.model import PackedFile, PackResult
from repoctx.render import file_slice, merge_spans, render
from repoctx.retrieve.bm25 import BM25, tokenize
from repoctx.tokens import count, get_encoding

WINDOW_LINES = 40

PackFn = Callable[[str, int], PackResult]


class BM25Baseline:
    """A budget-filling BM25 packer. Units — whole files, or fixed windows of `window` lines — are
    ranked by BM25 of the query against their path and text (ties: path order), and added in rank
    order, skipping a unit that no longer fits, until nothing more fits. Windows of one file merge
    into spans. The output is rendered like repoctx's xml pack and counted exactly in the
    repository's encoding; it never exceeds the budget.

    Two choices make these baselines stronger than the BM25 rows of anchors.md, which match a fill
    that stops at the first unit that does not fit and plain word tokens: we fill past a unit that
    does not fit, and rank with the identifier-aware tokens (and path terms) repoctx itself uses."""

    def __init__(self, repo: Repository, window: int | None = None):
        self.repo = repo
        self.enc = get_encoding(repo.encoding)
        self._lines: dict[str, list[str]] = {}
        self._floor: dict[int, int] = {}
        self._cost: dict[tuple[str, tuple], int] = {}
        self.units: list[tuple[str, int, int]] = []  # (path, first line, last line)
        docs = []
        for path, facts in repo.facts.items():
            n = facts.lines
            step = window or n
            for a in range(1, n + 1, step or 1):
                b = min(a + step - 1, n)
                self.units.append((path, a, b))
                docs.append(tokenize(path) + tokenize("\n".join(self.lines(path)[a - 1:b])))
        self.index = BM25(docs)
        self.base = count(self._render({}), self.enc)

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            self._lines[path] = split_lines(self.repo.text(path))
        return self._lines[path]

    def _render(self, selection: dict[str, tuple]) -> str:
        return render(None, [file_slice(self.repo, p, s) for p, s in sorted(selection.items())], self.lines, "xml")

    def _floor_cost(self, u: int) -> int:
        """A floor on what adding unit `u` costs: the tokens of its own text, less a little for the
        merges BPE may make with the text around it."""
        if u not in self._floor:
            path, a, b = self.units[u]
            text = "\n".join(self.lines(path)[a - 1:b])
            self._floor[u] = count(text, self.enc) - 4
        return self._floor[u]

    def _block_cost(self, path: str, spans: tuple) -> int:
        """Tokens one file's block adds to the pack (counted as a pack of that file alone)."""
        key = (path, spans)
        if key not in self._cost:
            self._cost[key] = count(self._render({path: spans}), self.enc) - self.base
        return self._cost[key]

    def _selection(self, units: list[int]) -> dict[str, tuple]:
        spans: dict[str, list[tuple[int, int]]] = {}
        for u in units:
            path, a, b = self.units[u]
            spans.setdefault(path, []).append((a, b))
        return {p: merge_spans(s) for p, s in spans.items()}

    def pack(self, query: str, budget: int) -> PackResult:
        start = time.perf_counter()
        scores = self.index.scores(tokenize(query))
        order = np.lexsort((np.arange(len(scores)), -scores))
        chosen: list[int] = []
        spans: dict[str, tuple] = {}
        block: dict[str, int] = {}
        used = self.base
        for u in map(int, order):
            if used >= budget:
                break
            path, a, b = self.units[u]
            if self._floor_cost(u) > budget - used:
                continue
            new = merge_spans([*spans.get(path, ()), (a, b)])
            cost = self._block_cost(path, new)
            if used - block.get(path, 0) + cost > budget:
                continue
            used += cost - block.get(path, 0)
            spans[path], block[path] = new, cost
            chosen.append(u)
        while True:  # exactness: drop the last units until the rendered pack fits
            selection = self._selection(chosen)
            text = self._render(selection)
            tokens = count(text, self.enc)
            if tokens <= budget or not chosen:
                break
            chosen.pop()
        if tokens > budget:
            text, tokens, selection = "", 0, {}
        files = [PackedFile(p, [list(sp) for sp in s], file_slice(self.repo, p, s).whole) for p, s in sorted(selection.items())]
        return PackResult(mode="slice", encoding=self.enc.name, budget=budget, tokens=tokens, text=text,
                          files=files, seconds=time.perf_counter() - start)
