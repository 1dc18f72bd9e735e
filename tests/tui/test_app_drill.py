"""Pilot tests of the security teams' dashboard: the debrief's baselines, blind mode, revoke."""

from __future__ import annotations

import math

from textual.widgets import Static

from tests.tui.pilot_support import paused_at, plain, wait_for
from tui.app import make_app
from tui.screens.debrief import DebriefScreen

VENDOR = "vendor-hosted-agent"
AFTER_BREACH = 16 * 3600.0 + 60
"""A minute after vendor-hosted-agent's breach of leadlens (16:00)."""


def _row(body: str, label: str) -> str:
    return next(line for line in body.splitlines() if line.strip().startswith(label))


async def test_debrief_scores_a_response_against_the_run_without_it_not_itself() -> None:
    # Issue 18 bug 1: under the least-guarded profile the debrief compared the run with
    # itself ("baseline: static-rbac", every row "same").
    app = make_app(VENDOR, profile="static-rbac", speed=math.inf, pause_at=AFTER_BREACH)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, AFTER_BREACH)
        screen.sim.quarantine("leadlens")
        await pilot.press("space")
        await wait_for(pilot, lambda: isinstance(app.screen, DebriefScreen)
                       and app.screen.scored, timeout=60)
        debrief = app.screen
        assert isinstance(debrief, DebriefScreen)
        body = plain(debrief.query_one("#debrief-body", Static))
        assert "static-rbac without your response" in body
        assert "least guarded: static-rbac)" in body
        records = _row(body, "records exposed")
        assert "same" not in records
        assert "900" in records and "44,100" in records
