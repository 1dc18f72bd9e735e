"""SVG snapshots of the main screens: fixed seed, paused at a fixed simulated time, fixed size.

Every screen the layout work of issue 18 touched is pinned at 80x24 and at 160x45.
Regenerate after an intended change with ``pytest tests/tui/test_snapshots.py
--snapshot-update`` and review the SVGs under ``tests/tui/__snapshots__/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tests.tui.pilot_support import wait_for
from tui.app import make_app
from tui.screens.compare import CompareScreen
from tui.screens.detail import DecisionDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.live import LiveScreen
from tui.screens.too_small import TooSmallScreen
from tui.widgets.decision_diff import DecisionDiff
from tui.widgets.decision_stream import DecisionStream

SCENARIO = "support-pii-injection"
AFTER_INCIDENT = 2 * 3600.0 + 900


def paused_live(when: float, *, slower: bool = False) -> Callable[[Pilot[Any]], Any]:
    """Wait for the live run paused at ``when``; ``slower``: then press ``-`` once.

    A run played at max speed and slowed once shows 3600x, the same screen as a run played
    at 3600x (the panels fold events, not ticks) without waiting seconds of wall time.
    """
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                       and app.screen.now == when and app.screen.playback.paused
                       and app.screen.playback.inflight == 0)
        if slower:
            await pilot.press("minus")
        await pilot.pause(0.1)

    return run_before


def test_live_run_on_an_80x24_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, speed=math.inf, pause_at=AFTER_INCIDENT)
    assert snap_compare(app, terminal_size=(80, 24),
                        run_before=paused_live(AFTER_INCIDENT, slower=True))


def test_live_run_on_a_large_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, profile="static-rbac", speed=math.inf, pause_at=AFTER_INCIDENT)
    assert snap_compare(app, terminal_size=(160, 45),
                        run_before=paused_live(AFTER_INCIDENT, slower=True))


def test_decision_detail_of_the_injected_export(snap_compare: Any) -> None:
    app = make_app(SCENARIO, speed=math.inf, pause_at=AFTER_INCIDENT)

    async def run_before(pilot: Pilot[Any]) -> None:
        await paused_live(AFTER_INCIDENT, slower=True)(pilot)
        screen = pilot.app.screen
        stream = screen.query_one(DecisionStream)
        export = next(e for e in stream.rows if e.data.get("incident")
                      and e.data.get("tool") == "crm.export_customers")
        stream.select_seq(export.seq)
        stream.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DecisionDetailScreen))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(100, 40), run_before=run_before)


def paused_compare(when: float) -> Callable[[Pilot[Any]], Any]:
    """Wait for the comparison paused at ``when``, then press ``-`` once (see paused_live)."""
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen.now == when and app.screen.playback.paused
                       and app.screen.playback.inflight == 0)
        await pilot.press("minus")
        await pilot.pause(0.1)

    return run_before


def test_compare_paused_after_the_incident(snap_compare: Any) -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=math.inf,
                   pause_at=4 * 3600.0)
    assert snap_compare(app, terminal_size=(120, 36), run_before=paused_compare(4 * 3600.0))


def compare_ended() -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.done
                       and bool(app.screen.query_one(DecisionDiff).summary), timeout=60)
        await pilot.pause(0.2)

    return run_before


def test_compare_after_the_runs_end_on_an_80x24_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=math.inf)
    assert snap_compare(app, terminal_size=(80, 24), run_before=compare_ended())


def test_compare_after_the_runs_end_on_a_large_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=math.inf)
    assert snap_compare(app, terminal_size=(160, 45), run_before=compare_ended())


def help_over_the_live_run() -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        await pilot.pause(0.1)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.1)

    return run_before


def test_help_on_an_80x24_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, autoplay=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=help_over_the_live_run())


def test_help_on_a_large_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, autoplay=False)
    assert snap_compare(app, terminal_size=(160, 45), run_before=help_over_the_live_run())


def test_a_fleet_of_ten_on_an_80x24_terminal(snap_compare: Any) -> None:
    app = make_app("devops-static-keys", speed=math.inf, pause_at=3600.0)
    assert snap_compare(app, terminal_size=(80, 24), run_before=paused_live(3600.0))


def test_a_terminal_too_small_says_so(snap_compare: Any) -> None:
    app = make_app(SCENARIO, autoplay=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TooSmallScreen))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(60, 20), run_before=run_before)
