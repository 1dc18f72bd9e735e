"""The dashboard under a run budget: a run over it stops with a notice, the app stays up."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.tui.pilot_support import wait_for
from tui.app import make_app
from tui.cli import build_parser
from tui.commands.tui import AuditedSimulation, BudgetedSimulation
from tui.screens.compare import CompareScreen
from tui.screens.live import LiveScreen


@pytest.mark.slow
async def test_a_live_run_over_its_budget_stops_with_a_notice_not_a_crash() -> None:
    app = make_app("support-pii-injection", speed=math.inf, debrief=False,
                   simulation=BudgetedSimulation(max_events=300))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.done)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        assert screen.sim.stopped is not None and screen.sim.now < screen.sim.end
        notices = [n for n in app._notifications if n.title == "run stopped"]
        assert len(notices) == 1
        assert "over its budget of 300 events" in notices[0].message
        assert "--max-events" in notices[0].message
        await pilot.press("space")  # the controls still answer; nothing more plays
        await pilot.pause(0.2)
        assert app.is_running and screen.sim.events == screen.events_seen


@pytest.mark.slow
async def test_a_comparison_over_its_budget_stops_with_a_notice() -> None:
    app = make_app("support-pii-injection", compare="static-rbac,jit-context",
                   speed=math.inf, simulation=BudgetedSimulation(max_events=300))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen.done and bool(list(app._notifications)))
        notices = [(n.title, n.message) for n in app._notifications]
        assert [title for title, _ in notices] == ["run stopped"], notices
        assert "over its budget of 300 events" in notices[0][1]


@pytest.mark.slow
async def test_the_audit_log_of_a_dashboard_run_over_budget_is_sealed(tmp_path: Path) -> None:
    log = tmp_path / "live.jsonl"
    audited = AuditedSimulation(str(log), None, max_events=300)
    app = make_app("support-pii-injection", speed=math.inf, debrief=False, simulation=audited)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.done)
    audited.close()
    assert audited.audited.stopped is not None
    last = json.loads(log.read_bytes().splitlines()[-1])["checkpoint"]
    assert last["seq"] == audited.audited.events
    assert last["incomplete"]["reason"].startswith("over its events budget (300 events)")
    assert last["incomplete"]["at"] == audited.audited.now


def test_the_dashboard_takes_the_budget_options() -> None:
    args = build_parser().parse_args(["tui", "--max-events", "5000", "--max-memory", "2G"])
    assert (args.max_events, args.max_memory) == (5000, 2048)
