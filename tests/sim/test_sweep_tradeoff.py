"""The trade-off of a sweep: the frontier against a plain reference, pass^k by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.library import load_scenario
from sim.sweep import sweep
from sim.sweep_grid import parse_variation
from sim.tradeoff import (
    TradeOffError,
    dominators,
    from_sweep_dict,
    pass_hat_k,
    tradeoff,
)


def reference_dominators(points: list[list[float]]) -> list[list[int]]:
    """Every pair compared, straight from the definition."""
    out = []
    for b in points:
        by = []
        for j, a in enumerate(points):
            no_worse = all(x <= y for x, y in zip(a, b, strict=True))
            better = any(x < y for x, y in zip(a, b, strict=True))
            if no_worse and better:
                by.append(j)
        out.append(by)
    return out


values = st.one_of(st.integers(0, 4).map(float), st.just(math.inf))
grids = st.integers(1, 4).flatmap(
    lambda axes: st.lists(st.lists(values, min_size=axes, max_size=axes), min_size=1,
                          max_size=12))


@settings(max_examples=300, deadline=None)
@given(grids)
def test_dominators_match_the_pairwise_definition(points: list[list[float]]) -> None:
    assert dominators(points) == reference_dominators(points)


@settings(max_examples=200, deadline=None)
@given(grids)
def test_the_frontier_is_never_empty_and_covers_every_dominated_point(
        points: list[list[float]]) -> None:
    by = dominators(points)
    frontier = [i for i, d in enumerate(by) if not d]
    assert frontier
    for d in by:
        assert not d or any(j in frontier for j in d)


def test_a_small_frontier_by_hand() -> None:
    # (harm, cost): a is cheap and harmful, c safe and slow, b between; d worse than b on
    # both; e equal to b (ties dominate nothing).
    t = tradeoff(
        ["a", "b", "c", "d", "e"],
        [{"blast_radius.records": [10.0], "delivery.task_latency_p95": [1.0]},
         {"blast_radius.records": [5.0], "delivery.task_latency_p95": [5.0]},
         {"blast_radius.records": [0.0], "delivery.task_latency_p95": [9.0]},
         {"blast_radius.records": [6.0], "delivery.task_latency_p95": [6.0]},
         {"blast_radius.records": [5.0], "delivery.task_latency_p95": [5.0]}],
        [[None]] * 5)
    assert [p.label for p in t.frontier] == ["a", "b", "c", "e"]
    assert t.points[3].dominated_by == ("b", "e")
    assert t.chart_axes() == ("delivery.task_latency_p95", "blast_radius.records")


def test_never_contained_is_the_worst_time_and_no_approval_is_no_wait() -> None:
    t = tradeoff(
        ["never", "slow"],
        [{"time_to_contain": [None, None, 60.0], "delivery.approval_wait_mean": [None] * 3},
         {"time_to_contain": [600.0, 600.0, 600.0],
          "delivery.approval_wait_mean": [0.0, 0.0, 0.0]}],
        [[], []])
    never, slow = t.points
    assert never.harm["time_to_contain"] == math.inf
    assert never.cost["delivery.approval_wait_mean"] == 0.0
    assert never.dominated_by == ("slow",) and slow.on_frontier
    assert never.to_dict()["harm"] == {"time_to_contain": None}


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (4, 4, 4, 1.0),
    (4, 0, 1, 0.0),
    (4, 3, 1, 3 / 4),
    (4, 3, 2, 3 / 6),   # C(3,2)=3 of C(4,2)=6 pairs both passed
    (4, 3, 3, 1 / 4),   # C(3,3)=1 of C(4,3)=4 triples
    (4, 3, 4, 0.0),
    (5, 2, 2, 1 / 10),  # C(2,2)=1 of C(5,2)=10
    (10, 7, 3, 35 / 120),
])
def test_pass_hat_k_by_hand(n: int, c: int, k: int, expected: float) -> None:
    assert pass_hat_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, 1, 0), (3, 1, 4), (3, -1, 1)])
def test_pass_hat_k_refuses_impossible_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="pass\\^k"):
        pass_hat_k(n, c, k)


def test_a_points_pass_k_counts_only_seeds_with_assertions() -> None:
    t = tradeoff(["x", "none"], [{"blast_radius.records": [0.0] * 4}] * 2,
                 [[True, True, False, True], [None] * 4])
    x, none = t.points
    assert (x.seeds, x.held, x.pass_k(1), x.pass_k(2)) == (4, 3, 0.75, 0.5)
    assert none.pass_k(1) is None and none.to_dict()["expect"] is None
    assert x.to_dict()["expect"]["pass_k"] == {"1": 0.75, "2": 0.5, "3": 0.25, "4": 0.0}


def test_a_sweep_counts_the_seeds_on_which_its_expectations_hold() -> None:
    # Seeds 1-3 of the support scenario run to the end: every expectation holds. Cut at a
    # minute, the injected request has not been made yet, so its assertion fails.
    scenario = load_scenario("support-pii-injection")
    full = sweep(scenario, profiles=["jit-context"], seeds=[1, 2, 3])
    assert full.held == ((True, True, True),)
    cut = sweep(scenario, profiles=["static-rbac"], seeds=[1, 2], until=60.0,
                variations=[parse_variation("profile.credentials.ttl=5m,1h")])
    assert cut.held == ((False, False), (False, False))
    point = cut.tradeoff().points[0]
    assert (point.seeds, point.held, point.pass_k(1)) == (2, 0, 0.0)
    again = from_sweep_dict(cut.to_dict(), "sweep.json")
    assert again == cut.tradeoff()


@pytest.mark.parametrize(("data", "message"), [
    ([], "not a sweep result"),
    ({"cells": []}, "not a sweep result"),
    ({"cells": [], "metrics": [], "seeds": [1]}, "no combinations"),
    ({"cells": [{"label": "a", "metrics": {"x": {"values": ["7"]}}}], "metrics": ["x"],
      "seeds": [1]}, "not a number"),
    ({"cells": [{"label": "a", "metrics": {}, "expect": [1]}], "metrics": [],
      "seeds": [1]}, "expect verdict"),
])
def test_a_file_that_is_not_a_sweep_result_is_named(data: object, message: str) -> None:
    with pytest.raises(TradeOffError, match=message) as err:
        from_sweep_dict(data, "result.json")
    assert str(err.value).startswith("result.json: ")
