"""Fit: `largest_fit` finds the largest prefix whose exact count fits, whatever the estimates say."""
from __future__ import annotations

import math
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repoctx.pack.fit import largest_fit


def search(true_costs, estimates, base, budget):
    """(k largest_fit returned, the k of every build it asked for) with exact count base + sum(true[:k])."""
    cum = [0, *accumulate(true_costs)]
    probes = []

    def build(k):
        probes.append(k)
        return ("pack", k)

    got = largest_fit(build, lambda b: base + cum[b[1]], estimates, base, budget, ("pack", len(true_costs)))
    return got[1], probes


def brute_force(true_costs, base, budget):
    cum = [0, *accumulate(true_costs)]
    return max((k for k in range(len(true_costs) + 1) if base + cum[k] <= budget), default=0)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), true_costs=st.lists(st.integers(0, 60), min_size=1, max_size=60),
       base=st.integers(0, 40), error=st.sampled_from([1.0, 0.5, 2.0, 0.0, "noise"]))
def test_largest_fit_is_the_brute_force_answer(data, true_costs, base, error):
    total = base + sum(true_costs)
    budget = data.draw(st.integers(0, total - 1), label="budget") if total else -1  # the full pack never fits
    if error == "noise":
        estimates = [data.draw(st.integers(0, 3 * c + 5)) for c in true_costs]
    else:
        estimates = [round(c * error) for c in true_costs]
    k, probes = search(true_costs, estimates, base, budget)
    assert k == brute_force(true_costs, base, budget)
    n = len(true_costs)
    assert all(0 <= p < n for p in probes)  # the full pack is known not to fit: never rebuilt
    # Three guided probes, then halving, then at most one build(0) when nothing fits.
    assert len(probes) <= 3 + math.ceil(math.log2(n + 1)) + 1


@pytest.mark.parametrize("budget,k", [(35, 3), (34, 2), (25, 2), (24, 1), (15, 1), (14, 0), (5, 0), (4, 0)])
def test_exact_at_the_boundary(budget, k):
    # base 5, each addition 10: build(k) costs 5 + 10k; build(4) = 45 does not fit any of these budgets.
    assert search([10, 10, 10, 10], [10, 10, 10, 10], 5, budget)[0] == k
    assert search([10, 10, 10, 10], [1, 1, 1, 1], 5, budget)[0] == k     # estimates far too low
    assert search([10, 10, 10, 10], [99, 99, 99, 99], 5, budget)[0] == k  # far too high


def test_additions_that_cost_nothing_are_all_taken():
    assert search([5, 0, 0, 0, 10], [5, 0, 0, 0, 10], 0, 5)[0] == 4
    assert search([0, 0, 7], [0, 0, 0], 3, 3)[0] == 2


def test_when_nothing_fits_build_0_is_returned_even_over_budget():
    k, probes = search([10, 10], [10, 10], 50, 20)
    assert k == 0 and probes[-1] == 0
    assert search([], [], 50, 20) == (0, [0])


def test_a_long_list_takes_few_exact_counts_when_estimates_are_good():
    true_costs = [7 + i % 5 for i in range(5000)]
    estimates = [round(c * 1.1) for c in true_costs]  # 10% over, as line-cost estimates are
    budget = 3 + sum(true_costs[:3210])
    k, probes = search(true_costs, estimates, 3, budget)
    assert k == 3210 and len(probes) <= 6  # log2(5000) would be 13
