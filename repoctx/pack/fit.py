"""Fit: the largest prefix of a pack's additions whose rendered text fits the budget, counted exactly.

Selection works on estimated costs; exactness comes from rendering and counting. Counting a pack
costs more than anything else in packing, so the search between a prefix known to fit (`lo`) and one
known not to (`hi`) probes where the estimated costs, scaled by the last exact count, say the budget
runs out — two or three counts, not log2(n) — and only then halves.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Built = TypeVar("Built")  # whatever `build` returns; `tokens(built)` is its exact count


def largest_fit(build: Callable[[int], Built], tokens: Callable[[Built], int], costs: list[int], base: int,
                budget: int, full: Built) -> Built:
    """`build(k)` for the largest k ≤ len(costs) that fits `budget`, where `full` = build(len(costs))
    is known not to fit, `costs` are the estimated tokens each addition adds and `base` the exact
    tokens of build(0). Returns build(0) when no addition fits (it may itself be over budget)."""
    cum = [0]
    for c in costs:
        cum.append(cum[-1] + c)
    lo, hi, known, best = 0, len(costs), full, None
    for step in range(64):
        if lo >= hi - 1:
            break
        ratio = (tokens(known) - base) / max(1, cum[hi])
        guess = (max((k for k in range(lo, hi) if base + cum[k] * ratio <= budget), default=lo)
                 if step < 3 else (lo + hi) // 2)
        k = min(hi - 1, max(lo + 1, guess))
        probe = build(k)
        if tokens(probe) <= budget:
            lo, best = k, probe
        else:
            hi, known = k, probe
    return best if lo > 0 else build(0)
