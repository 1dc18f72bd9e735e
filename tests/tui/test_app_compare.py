"""Pilot tests of the compare screen: profiles in lock-step on one seed, chart, metrics, diff."""

from __future__ import annotations

from tests.tui.pilot_support import wait_for
from tui.app import make_app
from tui.screens.compare import CompareScreen
from tui.screens.picker import PickerScreen
from tui.widgets.decision_diff import DecisionDiff
from tui.widgets.line_chart import LineChart
from tui.widgets.metrics_table import MetricsTable
from tui.widgets.run_header import RunHeader

SCENARIO = "support-pii-injection"
PROFILES = ["static-rbac", "jit-context"]


async def test_compare_runs_both_profiles_to_the_end_and_shows_both() -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=float("inf"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen.done
                       and bool(app.screen.query_one(DecisionDiff).summary))
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.query_one(RunHeader).profile == "static-rbac vs jit-context"
        chart = screen.query_one(LineChart)
        assert list(chart.series) == PROFILES
        results = screen.query_one(MetricsTable).results
        assert list(results) == PROFILES
        # The scenario's own expectations, as the metrics table shows them.
        assert results["static-rbac"]["blast_radius"]["records"] >= 250_000
        assert results["jit-context"]["blast_radius"]["records"] <= 100
        assert chart.latest("static-rbac") == results["static-rbac"]["blast_radius"]["records"]
        diff = screen.query_one(DecisionDiff)
        assert diff.row_count > 0
        assert "changed" in diff.summary


async def test_compare_keeps_the_runs_in_lock_step_and_pauses_them_together() -> None:
    app = make_app(SCENARIO, compare=PROFILES, speed=float("inf"), pause_at=3 * 3600.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen.playback.paused and app.screen.now == 3 * 3600.0
                       and app.screen.playback.inflight == 0)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert [sim.now for sim in screen.sims] == [3 * 3600.0, 3 * 3600.0]
        await pilot.pause(0.3)
        assert [sim.now for sim in screen.sims] == [3 * 3600.0, 3 * 3600.0]
        # The chart samples at fixed simulated times, identical for both lines.
        chart = screen.query_one(LineChart)
        times = [[x for x, _ in chart.series[p]] for p in PROFILES]
        assert times[0] == times[1]
        await pilot.press("space")
        await wait_for(pilot, lambda: all(sim.now > 3 * 3600.0 for sim in screen.sims))


async def test_step_and_speed_keys_drive_both_runs_together() -> None:
    app = make_app(SCENARIO, compare=PROFILES, speed=600, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and len(app.screen.sims) == 2)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await pilot.pause(0.2)
        assert [sim.now for sim in screen.sims] == [0.0, 0.0]
        await pilot.press(".")
        await wait_for(pilot, lambda: screen.sims[0].now > 0 and screen.playback.inflight == 0)
        stepped = [sim.now for sim in screen.sims]
        assert stepped[0] == stepped[1] and screen.playback.paused
        await pilot.press("+")
        assert screen.playback.speed == 1200
        await pilot.press("-", "-")
        assert screen.playback.speed == 300
        assert screen.query_one(RunHeader).speed == 300


async def test_escape_on_a_first_compare_opens_the_picker() -> None:
    app = make_app(SCENARIO, compare=PROFILES, autoplay=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
