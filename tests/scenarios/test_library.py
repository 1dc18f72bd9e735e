"""Every built-in scenario end to end: golden summary, expectations, governance gain and cost.

Each scenario in ``scenarios/`` runs headless with its own seed under each of its profiles,
once per test session, writing an audit log. The tests then check:

- the run's summary metrics and decision counts equal the checked-in golden file
  ``tests/scenarios/golden/<scenario>.json`` (a behaviour change shows up as a readable diff;
  after an intended change regenerate with ``AGENTRANGE_REGEN_GOLDEN=1 pytest tests/scenarios``
  and review the diff like code);
- every ``expect:`` assertion of the scenario holds under its shipped policies;
- the governed profile (marked ``production``) measurably cuts the blast radius of the weak
  baseline (the first profile not marked production), and what that costs is visible;
- every item of the OWASP Agentic and NHI Top 10s is rehearsed by a built-in (an incident
  references it) whose governed profile lowers the blast radius without raising any axis;
- every view of a run agrees: the log verifies and holds the whole event stream; the result
  folded from the log read back equals the live result on every figure; the accountability
  report folded live equals the one folded from the log, and its incident figures and
  out-of-scope counts are the result's.
"""

from __future__ import annotations

import difflib
import json
import os
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from engine import frameworks as fw
from engine.audit.signing import derive_signing_key
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter
from engine.model import Scenario
from scenarios import library
from scenarios.library import load_scenario
from sim.audit_sink import read_events
from sim.collectors.metrics import MetricsCollector
from sim.collectors.report import ReportCollector, build_report
from sim.collectors.report_coverage import FrameworkCoverage, coverage
from sim.expectations import check
from sim.result import RunResult
from sim.runner import Simulation

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("AGENTRANGE_REGEN_GOLDEN") == "1"
SUMMARY = ("decisions", "outcomes", "out_of_scope", "blast_radius", "time_to_detect",
           "time_to_contain", "delivery", "approvals", "alerts", "tokens", "audit")
BLAST_AXES = ("records", "egress_records", "systems", "data_classes", "potential_records",
              "exposure_window")
NAMES = library.names()


@cache
def _runs(name: str, log_dir: str) -> tuple[Scenario, dict[str, tuple[RunResult, Path]]]:
    scenario = load_scenario(name)
    runs: dict[str, tuple[RunResult, Path]] = {}
    for profile in scenario.profiles:
        log = Path(log_dir) / f"{name}.{profile.id}.audit.jsonl"
        report = ReportCollector()
        with AuditWriter(log, derive_signing_key(scenario.seed), run_id=f"{name}/{profile.id}",
                         overwrite=True) as audit:
            result = Simulation(scenario, profile.id, audit=audit, sink=report).run()
        _LIVE_REPORTS[(name, profile.id)] = report.report().to_dict()
        runs[profile.id] = (result, log)
    return scenario, runs


_LIVE_REPORTS: dict[tuple[str, str], dict[str, Any]] = {}
"""The accountability report of each run, folded from its events as they were emitted."""


@pytest.fixture(scope="module", autouse=True)
def _forget_runs() -> Iterator[None]:
    """Let every built-in's runs and reports go when the module's tests end.

    Kept to the end of the worker (about 90,000 objects), they made every full collection
    that the dashboard tests run later in the same worker (two at least per app) walk them.
    """
    yield
    _runs.cache_clear()
    _LIVE_REPORTS.clear()
    _coverage.cache_clear()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("scenario-logs"))


@pytest.fixture(scope="module", params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    """Each built-in by name; module-scoped so pytest orders the tests scenario by scenario and
    each scenario's runs (cached) are made and read on one worker."""
    value: str = request.param
    return value


def summary(result: RunResult) -> dict[str, Any]:
    """What the golden file pins: summary metrics and decision counts per tool and effect."""
    data = result.to_dict()
    out: dict[str, Any] = {key: data[key] for key in SUMMARY}
    counts = Counter(f"{tool} {effect}" for effect, tool, _rule in result.decisions.values())
    out["decisions_by_tool"] = dict(sorted(counts.items()))
    out["incidents"] = [{k: i[k] for k in ("id", "how", "time_to_detect", "time_to_contain",
                                           "exposure_window")} for i in data["incidents"]]
    return out


def weak_and_governed(scenario: Scenario) -> tuple[str, str]:
    """The weak baseline (first non-production profile) and the governed one (production)."""
    weak = [p.id for p in scenario.profiles if not p.production]
    governed = [p.id for p in scenario.profiles if p.production]
    assert weak and governed, (f"{scenario.name} needs a weak baseline and a governed profile "
                               "marked production: true")
    return weak[0], governed[0]


def test_there_are_built_in_scenarios() -> None:
    assert "support-pii-injection" in NAMES


def test_each_scenario_matches_its_golden_summary(name: str, log_dir: str) -> None:
    _, runs = _runs(name, log_dir)
    actual = {pid: summary(result) for pid, (result, _) in runs.items()}
    text = json.dumps(actual, indent=2, sort_keys=True) + "\n"
    golden = GOLDEN / f"{name}.json"
    if REGEN or not golden.exists():
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
        if not REGEN:
            pytest.fail(f"wrote the missing golden file {golden}; review and commit it")
        return
    expected = golden.read_text()
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True),
                                            text.splitlines(keepends=True),
                                            "golden", "this run", n=2))
        pytest.fail(f"{name} differs from its golden summary (regenerate with "
                    f"AGENTRANGE_REGEN_GOLDEN=1 if intended):\n{diff}")


def test_each_scenarios_expectations_hold(name: str, log_dir: str) -> None:
    scenario, runs = _runs(name, log_dir)
    assert scenario.expect, f"{name} states no expectations"
    verdicts = check(scenario, {pid: result for pid, (result, _) in runs.items()})
    assert len(verdicts) == len(scenario.expect)
    failed = [v for v in verdicts if not v.passed]
    assert not failed, "\n".join(f"[{v.profile}] expected {v.what}; got {v.actual}"
                                 for v in failed)


def test_each_scenario_is_described_and_mapped(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.title and len(scenario.description.split()) >= 20
    assert scenario.frameworks, f"{name} names no framework items"
    assert len(scenario.profiles) >= 2


def test_governance_cuts_the_blast_radius_or_shows_its_cost(name: str, log_dir: str) -> None:
    scenario, runs = _runs(name, log_dir)
    weak_id, governed_id = weak_and_governed(scenario)
    weak, governed = runs[weak_id][0].to_dict(), runs[governed_id][0].to_dict()
    if scenario.incidents:
        w = [weak["blast_radius"][axis] or 0 for axis in BLAST_AXES]
        g = [governed["blast_radius"][axis] or 0 for axis in BLAST_AXES]
        worse = [a for a, x, y in zip(BLAST_AXES, w, g, strict=True) if y > x]
        assert not worse, f"{governed_id} has a larger blast radius than {weak_id} on {worse}"
        assert g != w, f"{governed_id} does not cut the blast radius of {weak_id}"
    # What governance costs must be visible: approval waits, slower tasks or benign denials.
    wd, gd = weak["delivery"], governed["delivery"]
    costs = {
        "approval wait": (gd["approval_wait_mean"] or 0) > (wd["approval_wait_mean"] or 0),
        "latency": (gd["task_latency_p95"] or 0) > (wd["task_latency_p95"] or 0),
        "benign denials": gd["benign_denied"] > wd["benign_denied"],
        "approvals": governed["approvals"]["requested"] > weak["approvals"]["requested"],
    }
    assert any(costs.values()), f"{name}: {governed_id} shows no cost over {weak_id}"


def test_every_view_of_a_run_agrees_and_its_log_verifies(name: str, log_dir: str) -> None:
    _, runs = _runs(name, log_dir)
    for pid, (result, log) in runs.items():
        live = result.to_dict()
        audit = live["audit"]
        assert audit["decisions"] == audit["logged"] == live["decisions"]["total"]
        report = verify_log(log)
        assert report.ok, f"{name}/{pid}: {report.message}"
        events = list(read_events(log))
        assert report.records == len(events) == live["events"], (name, pid)
        # The result folded from the log read back is the live result, figure for figure.
        assert MetricsCollector.of(events, audited=True).result().to_dict() == live, (name, pid)
        # One report, whether folded live or from the log.
        from_log = build_report(events).to_dict()
        assert from_log == _LIVE_REPORTS[(name, pid)], (name, pid)
        # Its incident figures and out-of-scope counts are the result's.
        for entry, figures in zip(from_log["incidents"], live["incidents"], strict=True):
            assert entry["id"] == figures["id"]
            for key in ("start", "detected_at", "contained_at", "how"):
                assert entry[key] == figures[key], (name, pid, key)
            for key, value in entry["reached"].items():
                assert value == figures["blast_radius"][key], (name, pid, key)
            assert entry["reached"]["records"] <= figures["blast_radius"]["potential_records"]
        off_plan = [a for a in from_log["attempts"] if a["off_plan"]]
        assert sum(a["count"] for a in off_plan) == live["out_of_scope"]["attempts"]
        assert sum(a["count"] for a in off_plan if a["stopped"]) == \
            live["out_of_scope"]["stopped"]


AGENTIC_AND_NHI = tuple(r.id for r in fw.CATALOGUE.values() if r.framework in (fw.ASI, fw.NHI))
LOWERED_AXES = ("records", "egress_records", "amount", "exposure_window")


@cache
def _coverage() -> FrameworkCoverage:
    return coverage(load_scenario(name) for name in NAMES)


def test_the_library_covers_the_twenty_agentic_and_nhi_items() -> None:
    assert len(AGENTIC_AND_NHI) == 20
    assert _coverage().uncovered == ()


@pytest.mark.parametrize("item", AGENTIC_AND_NHI)
def test_each_item_is_rehearsed_and_its_governed_profile_lowers_the_blast_radius(
        item: str, log_dir: str) -> None:
    entry = next(i for i in _coverage().items if i.id == item)
    assert entry.rehearsed, f"no built-in scenario has an incident referencing {item}"
    verdicts = []
    for name in entry.rehearsed:
        scenario, runs = _runs(name, log_dir)
        weak_id, governed_id = weak_and_governed(scenario)
        weak = runs[weak_id][0].to_dict()["blast_radius"]
        governed = runs[governed_id][0].to_dict()["blast_radius"]
        raised = [a for a in BLAST_AXES if (governed[a] or 0) > (weak[a] or 0)]
        lowered = [a for a in LOWERED_AXES if (governed[a] or 0) < (weak[a] or 0)]
        if lowered and not raised:
            return
        verdicts.append(f"{name}: lowered {lowered or 'nothing'}, raised {raised or 'nothing'}")
    pytest.fail(f"no scenario rehearsing {item} shows its governed profile lowering the blast "
                f"radius without raising it elsewhere: {'; '.join(verdicts)}")
