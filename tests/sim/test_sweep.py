"""Sweeps: option parsing, variants, results equal to single runs, summaries, parallel runs."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model import Scenario
from scenarios import library
from scenarios.library import load_scenario
from sim import sweep_pool
from sim.result import percentile
from sim.runner import Simulation
from sim.sweep import Summary, sweep
from sim.sweep_grid import (
    DEFAULT_SEEDS,
    MAX_RUNS,
    SweepError,
    parse_seeds,
    parse_variation,
    variant,
)

SUPPORT = "support-pii-injection"
BUILTIN = Path(str(library.root()))
UNTIL = 3600.0
"""An hour of the support scenario: its injection and containment, in about a second."""


@pytest.fixture(scope="module")
def support() -> Scenario:
    return load_scenario(SUPPORT)


# --- options ------------------------------------------------------------------------------------


def test_a_variation_names_a_path_and_typed_values() -> None:
    v = parse_variation("profile.credentials.ttl=5m,15m,1h")
    assert (v.name, v.path, v.target, v.values) == (
        "profile.credentials.ttl", ("credentials", "ttl"), "profile", ("5m", "15m", "1h"))
    v = parse_variation("policy.rules.large-refund-approval.when.gt=250,500")
    assert (v.target, v.path, v.values) == (
        "policy", ("rules", "large-refund-approval", "when", "gt"), (250, 500))
    v = parse_variation("approvers.fatigue.per_queued=0.02,1,true,null,0.02")
    assert v.target == "scenario" and v.path == ("approvers", "fatigue", "per_queued")
    assert v.values == (0.02, 1, True, None)  # repeats dropped, order kept
    assert parse_variation("incidents.0.at=1h").path == ("incidents", 0, "at")


@pytest.mark.parametrize("text", ["approvers.count", "=1,2", "approvers..count=1",
                                  "profile=1", "approvers.count=", "approvers.count=1,,2"])
def test_a_malformed_variation_is_refused(text: str) -> None:
    with pytest.raises(SweepError, match="--vary"):
        parse_variation(text)


def test_seeds_as_ranges_lists_or_the_scenarios_own() -> None:
    assert parse_seeds("1-3,7,2", 0) == (1, 2, 3, 7)
    assert parse_seeds("5", 0) == (5,)
    assert parse_seeds(None, 11) == tuple(range(11, 11 + DEFAULT_SEEDS))


@pytest.mark.parametrize(("text", "match"), [("3-1", "backwards"), ("one", "expected seeds"),
                                             ("1-", "expected seeds"),
                                             (f"0-{MAX_RUNS}", "more than")])
def test_bad_seeds_are_refused(text: str, match: str) -> None:
    with pytest.raises(SweepError, match=match):
        parse_seeds(text, 0)


# --- variants -----------------------------------------------------------------------------------


def test_a_profile_path_changes_that_profile_only(support: Scenario) -> None:
    v = parse_variation("profile.credentials.ttl=5m")
    changed = variant(support, "jit-context", [(v, "5m")])
    assert changed.profile("jit-context").credentials.ttl == 300.0
    assert changed.profile("static-rbac") == support.profile("static-rbac")
    assert changed.source == support.source and changed.base == support.base


def test_a_scenario_path_changes_the_scenario(support: Scenario) -> None:
    v = parse_variation("approvers.count=4")
    assert variant(support, "static-rbac", [(v, 4)]).approvers.count == 4
    assert support.approvers.count != 4  # the loaded scenario is left alone


@pytest.mark.parametrize(("text", "value", "match"), [
    ("approvers.cuont=1", 1, r"no field 'cuont' at approvers \(fields: count, "),
    ("agents.99.name=x", "x", "a list of"),
    ("approvers.count.x=1", 1, "single value"),
    ("approvers.count=-1", -1, "does not validate at approvers.count"),
    ("profile.credentials.mode=forever", "forever", "does not validate"),
    ("profiles.1.id=renamed", "renamed", "at default_profile expected the id of a declared"),
])
def test_a_bad_variant_says_which_parameter_and_why(support: Scenario, text: str, value: object,
                                                    match: str) -> None:
    with pytest.raises(SweepError, match=match):
        variant(support, "jit-context", [(parse_variation(text), value)])


def test_a_variant_that_renames_the_swept_profile_is_refused(support: Scenario) -> None:
    # The scenario's own references (expectations) already name the missing profile.
    with pytest.raises(SweepError,
                       match=r"profiles\.0\.id=renamed: .*unknown profile 'static-rbac'"):
        variant(support, "static-rbac", [(parse_variation("profiles.0.id=renamed"), "renamed")])


def test_a_policy_variation_equals_editing_the_policy_file(tmp_path: Path) -> None:
    # The approval threshold of the refunds scenario's weak profile, varied by the sweep and,
    # for reference, by editing a copy of its policy file.
    copy = tmp_path / "refunds"
    shutil.copytree(BUILTIN / "refunds-customer-facing", copy)
    policy = copy / "policies" / "static-rbac.yaml"
    text = policy.read_text(encoding="utf-8")
    assert text.count("{attr: request.amount, gt: 500}") == 1
    policy.write_text(text.replace("gt: 500}", "gt: 2000}"), encoding="utf-8")
    edited = load_scenario(copy)
    metrics = ("approvals.requested", "blast_radius.amount", "tokens.issued")
    threshold = parse_variation("policy.rules.large-refund-approval.when.gt=500,2000")
    result = sweep(load_scenario("refunds-customer-facing"), profiles=["static-rbac"],
                   seeds=[1, 2], variations=[threshold], metrics=metrics)
    by_value = {dict(c.values)[threshold.name]: s
                for c, s in zip(result.cells, result.summaries, strict=True)}
    for i, seed in enumerate(result.seeds):
        run = Simulation(edited, "static-rbac", seed=seed).run()
        assert [by_value[2000][m].values[i] for m in metrics] == [
            float(run.metric(m)) for m in metrics]
    # A higher threshold: far fewer approvals, so the approvers are not too tired to refuse
    # the fraudulent refund.
    assert by_value[2000]["approvals.requested"].median < 10
    assert by_value[500]["approvals.requested"].median > 100
    assert by_value[2000]["blast_radius.amount"].high == 0


@pytest.mark.parametrize(("text", "match"), [
    ("policy.rules.nope.when.gt=1", r"rules has no element 'nope' \(ids: refunds-clerk-role, "),
    ("policy.rules.large-refund-approval.when.gt=abc",
     r"static-rbac\.yaml:21:38: at rules\[2\]\.when\.gt: a number .*found gt string 'abc'"),
    ("policy.rules.large-refund-approval.when.gtx=1", "has no field 'gtx'"),
    ("policy.rules.2.effect=maybe", r"static-rbac\.yaml:19:13: at rules\[2\]\.effect"),
])
def test_a_bad_policy_variation_names_the_file_and_line_it_replaces(text: str, match: str
                                                                     ) -> None:
    with pytest.raises(SweepError, match=match):
        sweep(load_scenario("refunds-customer-facing"), profiles=["static-rbac"], seeds=[1],
              variations=[parse_variation(text)], until=60.0)


# --- running ------------------------------------------------------------------------------------


def test_each_cell_holds_exactly_what_single_runs_give(support: Scenario) -> None:
    ttl = parse_variation("profile.credentials.ttl=5m,1h")
    metrics = ("tokens.expired", "time_to_contain", "delivery.tasks_completed")
    result = sweep(support, profiles=["static-rbac", "jit-context"], seeds=[3, 4],
                   variations=[ttl], metrics=metrics, until=UNTIL)
    assert [c.label for c in result.cells] == [
        "static-rbac ttl=5m", "static-rbac ttl=1h", "jit-context ttl=5m", "jit-context ttl=1h"]
    for cell, summary in zip(result.cells, result.summaries, strict=True):
        ((_name, value),) = cell.values
        scenario = variant(support, cell.profile, [(ttl, value)])
        for i, seed in enumerate(result.seeds):
            run = Simulation(scenario, cell.profile, seed=seed, until=UNTIL).run()
            for m in metrics:
                expected = run.metric(m)
                assert summary[m].values[i] == (None if expected is None else float(expected))
    # The TTL is what a static profile's tokens live for: with 5 minutes they expire within
    # the hour and the honest work stops; with an hour they do not.
    cells = {c.label: s for c, s in zip(result.cells, result.summaries, strict=True)}
    assert cells["static-rbac ttl=5m"]["tokens.expired"].median == 2
    assert cells["static-rbac ttl=1h"]["tokens.expired"].median == 0
    assert (cells["static-rbac ttl=5m"]["delivery.tasks_completed"].median
            < cells["static-rbac ttl=1h"]["delivery.tasks_completed"].median)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_the_same_sweep_in_worker_processes_gives_the_same_result(
        support: Scenario, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_pool, "start_method", lambda: method)
    kwargs = {"profiles": ["static-rbac", "jit-context"], "seeds": [1, 2], "until": UNTIL,
              "variations": [parse_variation("approvers.count=1,2"),
                             parse_variation("policy.description=varied")]}
    done: list[tuple[int, int]] = []
    here = sweep(support, jobs=1, **kwargs)  # type: ignore[arg-type]
    there = sweep(support, jobs=2, progress=lambda n, total: done.append((n, total)),
                  **kwargs)  # type: ignore[arg-type]
    assert there.to_dict() == here.to_dict()
    assert done == [(n, 8) for n in range(1, 9)]


def test_workers_fork_from_one_thread_and_spawn_beside_others() -> None:
    # A fresh interpreter runs one thread, as the command line does: its pool forks.
    code = "from sim.sweep_pool import start_method; print(start_method())"
    alone = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).parents[2])
    assert alone.stdout.strip() == "fork"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert sweep_pool.start_method() == "spawn"  # a fork would copy the thread's locks
    finally:
        stop.set()
        other.join()


def test_a_metric_must_be_a_number_of_the_result(support: Scenario) -> None:
    for bad in ("blast_radius", "scenario", "no.such.metric"):
        with pytest.raises(SweepError, match=f"--metric {bad}: not a number.*time_to_contain"):
            sweep(support, profiles=["jit-context"], seeds=[1], metrics=[bad], until=60.0)


def test_bad_profiles_and_oversized_grids_are_refused(support: Scenario) -> None:
    with pytest.raises(SweepError, match="no profile 'nope'"):
        sweep(support, profiles=["nope"], seeds=[1])
    seeds = list(range(MAX_RUNS // 2 + 1))
    with pytest.raises(SweepError, match="at most"):
        sweep(support, profiles=["static-rbac", "jit-context"], seeds=seeds)


def test_a_variant_whose_policy_file_is_missing_fails_before_running(support: Scenario) -> None:
    v = parse_variation("profile.policy=policies/missing.yaml")
    with pytest.raises(SweepError, match=r"--vary profile\.policy=policies/missing\.yaml: "
                                         r"jit-context: "
                                         r".*an existing file"):
        sweep(support, profiles=["jit-context"], seeds=[1], variations=[v], until=60.0)


def test_money_only_in_default_metrics_where_steps_move_money(support: Scenario) -> None:
    refunds = load_scenario("refunds-customer-facing")
    one = sweep(refunds, profiles=["jit-context"], seeds=[1], until=60.0)
    assert "blast_radius.amount" in one.metrics
    other = sweep(support, profiles=["jit-context"], seeds=[1], until=60.0)
    assert "blast_radius.amount" not in other.metrics


# --- summaries ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False)), min_size=1,
                max_size=30))
def test_a_summary_agrees_with_plain_statistics(values: list[float | None]) -> None:
    s = Summary.of(values)
    present = [v for v in values if v is not None]
    assert s.missing == len(values) - len(present)
    assert s.values == tuple(values)
    if not present:
        assert (s.median, s.mean, s.low, s.high, s.p95) == (None,) * 5
        return
    assert s.median == statistics.median(present)
    assert s.low == min(present) and s.high == max(present)
    assert s.mean == pytest.approx(statistics.fmean(present), rel=1e-9, abs=1e-6)
    assert s.p95 == percentile(present, 0.95)
    assert s.low <= s.median <= s.high  # type: ignore[operator]
