"""Pilot tests of the dashboard once a run has ended: the footer, the debrief when small."""

from __future__ import annotations

import math

from textual.widgets._footer import FooterKey

from tests.tui.pilot_support import wait_for
from tui.app import make_app
from tui.screens.compare import CompareScreen
from tui.screens.debrief import DebriefScreen
from tui.screens.live import LiveScreen
from tui.screens.too_small import TooSmallScreen

SCENARIO = "support-pii-injection"


def footer_keys(screen: object) -> set[str]:
    assert isinstance(screen, LiveScreen | CompareScreen)
    return {k.description for k in screen.query(FooterKey)}


async def test_the_footer_offers_neither_pause_nor_play_once_the_run_has_ended() -> None:
    app = make_app(SCENARIO, speed=math.inf, debrief=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.done,
                       timeout=60)
        screen = app.screen
        await wait_for(pilot, lambda: "Pause" not in footer_keys(screen))
        assert "Play" not in footer_keys(screen)
        palette = {c.title for c in app.get_system_commands(screen)}
        assert "Pause" not in palette and "Play" not in palette


async def test_the_compare_footer_offers_no_pause_once_the_runs_have_ended() -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=math.inf)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.done,
                       timeout=60)
        screen = app.screen
        await wait_for(pilot, lambda: "Pause" not in footer_keys(screen))
        assert "Play" not in footer_keys(screen)


async def test_the_debrief_opens_under_the_too_small_notice_and_shows_once_enlarged() -> None:
    app = make_app(SCENARIO, speed=math.inf)
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, lambda: any(isinstance(s, DebriefScreen)
                                          for s in app.screen_stack), timeout=60)
        await pilot.pause(0.3)
        assert isinstance(app.screen, TooSmallScreen)
        assert sum(isinstance(s, TooSmallScreen) for s in app.screen_stack) == 1
        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: isinstance(app.screen, DebriefScreen))
        await pilot.resize_terminal(70, 30)
        await wait_for(pilot, lambda: isinstance(app.screen, TooSmallScreen))
