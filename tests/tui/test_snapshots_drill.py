"""SVG snapshots of the security teams' screens: blind mode, the revoke dialog, the debrief.

Kept apart from tests/tui/test_snapshots.py (layout changes there regenerate those).
Regenerate after an intended change with ``pytest tests/tui/test_snapshots_drill.py
--snapshot-update`` and review the SVGs under ``tests/tui/__snapshots__/``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.pilot_support import wait_for
from tests.tui.test_snapshots import paused_live
from tui.app import make_app
from tui.screens.debrief import DebriefScreen
from tui.screens.incident import RevokeDialog

SUPPORT = "support-pii-injection"
BEFORE_DETECTION = 2 * 3600.0 + 5
"""Five seconds into support-pii-injection's injection: jit-context detects it at 20 s."""
VENDOR_BREACH = 16 * 3600.0 + 60


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_blind_live_run_before_detection(snap_compare: Any, size: tuple[int, int]) -> None:
    app = make_app(SUPPORT, speed=math.inf, pause_at=BEFORE_DETECTION, blind=True)
    assert snap_compare(app, terminal_size=size,
                        run_before=paused_live(BEFORE_DETECTION, slower=True))


AFTER_DETECTION = 2 * 3600.0 + 600
"""Ten minutes into the injection: static-rbac let the export run before the alert at 20 s."""


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_blind_blast_after_detection_shows_what_leaked_before_it(
        snap_compare: Any, size: tuple[int, int]) -> None:
    app = make_app(SUPPORT, profile="static-rbac", speed=math.inf, pause_at=AFTER_DETECTION,
                   blind=True)
    assert snap_compare(app, terminal_size=size,
                        run_before=paused_live(AFTER_DETECTION, slower=True))


def test_revoke_dialog_with_token_facts(snap_compare: Any) -> None:
    app = make_app("vendor-hosted-agent", profile="static-rbac", speed=math.inf,
                   pause_at=VENDOR_BREACH)

    async def run_before(pilot: Pilot[Any]) -> None:
        await paused_live(VENDOR_BREACH)(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RevokeDialog))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(160, 45), run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_debrief_against_both_baselines(snap_compare: Any, size: tuple[int, int]) -> None:
    app = make_app(SUPPORT, speed=math.inf)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DebriefScreen)
                       and pilot.app.screen.scored, timeout=60)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
