"""SVG snapshots of the compare screen's story banner, paused just after the first incident.

Regenerate after an intended change with ``pytest tests/tui/test_snapshots_story.py
--snapshot-update`` and review the SVGs under ``tests/tui/__snapshots__/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tests.tui.pilot_support import wait_for
from tui.app import make_app
from tui.screens.compare import CompareScreen

SCENARIO = "support-pii-injection"
AFTER_INCIDENT = 2 * 3600.0 + 15 * 60
"""02:15: the injection (02:00) has played out under both profiles."""


def paused_compare(when: float) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen.now == when and app.screen.playback.paused
                       and app.screen.playback.inflight == 0)
        await pilot.pause(0.1)

    return run_before


def test_story_banner_on_an_80x24_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=3600,
                   pause_at=AFTER_INCIDENT)
    assert snap_compare(app, terminal_size=(80, 24), run_before=paused_compare(AFTER_INCIDENT))


def test_story_banner_on_a_large_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=3600,
                   pause_at=AFTER_INCIDENT)
    assert snap_compare(app, terminal_size=(160, 45),
                        run_before=paused_compare(AFTER_INCIDENT))
