"""SVG snapshots of what engineers tuning a policy see (issue 18, dash-tune): a field query
over the whole run, a default deny's near misses, the shadow-rule dialog and a decision-diff
row under both profiles; each at 80x24 and 160x45.

Regenerate after an intended change with ``pytest tests/tui/test_snapshots_tune.py
--snapshot-update`` and review the SVGs under ``tests/tui/__snapshots__/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.pilot_support import paste, wait_for
from tui.app import make_app
from tui.screens.compare import CompareScreen
from tui.screens.detail import DecisionDetailScreen
from tui.screens.diff_detail import DiffDetailScreen
from tui.screens.live import LiveScreen
from tui.screens.shadow import ShadowDialog
from tui.widgets.decision_diff import DecisionDiff
from tui.widgets.decision_stream import DecisionStream

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])

pytestmark = pytest.mark.slow


async def paused(pilot: Pilot[Any], when: float) -> LiveScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                   and app.screen.now == when and app.screen.playback.paused
                   and app.screen.playback.inflight == 0, timeout=60)
    screen = app.screen
    assert isinstance(screen, LiveScreen)
    return screen


async def settle(pilot: Pilot[Any]) -> None:
    pilot.app.clear_notifications()
    await pilot.pause(0.2)


def then(steps: Callable[[Pilot[Any]], Any]) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await steps(pilot)
        await settle(pilot)

    return run_before


@SIZES
def test_field_query_over_the_whole_run(snap_compare: Any, size: tuple[int, int]) -> None:
    app = make_app("support-pii-injection", speed=math.inf, pause_at=28_000.0, debrief=False)

    async def steps(pilot: Pilot[Any]) -> None:
        await paused(pilot, 28_000.0)
        await pilot.press("f")
        await paste(pilot, "effect:deny agent:support-bot")
        await pilot.press("enter")

    assert snap_compare(app, terminal_size=size, run_before=then(steps))


@SIZES
def test_near_misses_of_a_default_deny(snap_compare: Any, size: tuple[int, int]) -> None:
    app = make_app("rogue-and-poisoned", profile="jit-context", speed=math.inf,
                   pause_at=3_700.0, debrief=False)

    async def steps(pilot: Pilot[Any]) -> None:
        screen = await paused(pilot, 3_700.0)
        stream = screen.query_one(DecisionStream)
        await pilot.press("f")
        await paste(pilot, "reason:no_matching_allow")
        await pilot.press("enter")
        assert stream.select_seq(stream.rows[0].seq)
        stream.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DecisionDetailScreen))

    assert snap_compare(app, terminal_size=size, run_before=then(steps))


@SIZES
def test_shadow_rule_dialog_with_counts(snap_compare: Any, size: tuple[int, int]) -> None:
    app = make_app("productivity-bot-overhead", profile="jit-shadow", speed=math.inf,
                   pause_at=6 * 3600.0, debrief=False)

    async def steps(pilot: Pilot[Any]) -> None:
        await paused(pilot, 6 * 3600.0)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ShadowDialog))

    assert snap_compare(app, terminal_size=size, run_before=then(steps))


@SIZES
def test_decision_diff_row_under_both_profiles(snap_compare: Any,
                                               size: tuple[int, int]) -> None:
    app = make_app("support-pii-injection", compare="static-rbac,jit-context",
                   speed=math.inf)

    async def steps(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen)
                       and bool(pilot.app.screen.query_one(DecisionDiff).summary), timeout=60)
        diff = pilot.app.screen.query_one(DecisionDiff)
        diff.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DiffDetailScreen),
                       timeout=60)

    assert snap_compare(app, terminal_size=size, run_before=then(steps))
