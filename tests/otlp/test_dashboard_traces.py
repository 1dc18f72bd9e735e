"""The dashboard's ``--otlp``: every run its factory builds is folded into the same file."""

from __future__ import annotations

import json

from scenarios.library import load_scenario
from tui.commands.tui import BudgetedSimulation, TracedSimulation


def test_each_dashboard_run_becomes_its_own_resource(tmp_path):
    out = tmp_path / "t.jsonl"
    traced = TracedSimulation(BudgetedSimulation(), str(out), None)
    scenario = load_scenario("multi-agent-escalation")
    seen = []
    for profile in ("static-rbac", "jit-context"):
        sim = traced(scenario, profile, scenario.seed, seen.append)
        sim.step_until(900.0)  # the dashboard leaves runs unfinished when it quits
    traced.close()
    assert seen, "the screen's own sink still gets every event"
    resources = [rs["resource"] for line in out.read_text().splitlines()
                 for rs in json.loads(line)["resourceSpans"]]
    profiles = {a["value"]["stringValue"] for r in resources for a in r["attributes"]
                if a["key"] == "agentrange.profile"}
    assert profiles == {"static-rbac", "jit-context"}
    assert '"agentrange.unfinished"' in out.read_text()
