"""Pilot tests of the blast panel in blind mode: what is detected so far, then all revealed."""

from __future__ import annotations

import math

from tests.tui.pilot_support import paused_at, wait_for
from tui.app import make_app
from tui.screens.live import LiveScreen
from tui.widgets.blast_panel import BlastPanel

SUPPORT = "support-pii-injection"
INJECTION_AT = 2 * 3600.0
"""The ticket injection into support-bot; under static-rbac it is detected 20 s later."""


async def test_blind_blast_shows_detected_so_far_then_what_leaked_before_detection() -> None:
    app = make_app(SUPPORT, profile="static-rbac", speed=math.inf,
                   pause_at=INJECTION_AT + 5, blind=True)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, INJECTION_AT + 5)
        await pilot.pause(0.1)
        panel = screen.query_one(BlastPanel)
        full = screen.feeds[0].collector
        leaked = full.blast(INJECTION_AT + 5)["records"]
        assert leaked > 0, "the export has run before anything alerted"
        assert panel.blind == "detected so far"
        assert panel.blast is not None and panel.blast["records"] == 0
        assert not panel.incidents
        screen.playback.pause_at = INJECTION_AT + 600
        await pilot.press("space")
        screen = await paused_at(pilot, app, INJECTION_AT + 600)
        await pilot.pause(0.1)
        # Detected: the incident shows whole, what leaked before the alert included.
        assert panel.blast["records"] == full.blast(INJECTION_AT + 600)["records"] >= leaked
        (incident,) = panel.incidents
        assert incident.id == "ticket-injection"
        assert incident.before_detection == full.before_detection["ticket-injection"] > 0
        assert panel.blind == "detected so far"


async def test_blind_blast_reveals_an_undetected_breach_when_the_run_ends() -> None:
    # Under static-rbac nothing alerts on vendor-hosted-agent's breach of leadlens.
    app = make_app("vendor-hosted-agent", profile="static-rbac", speed=math.inf, blind=True,
                   debrief=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.done,
                       timeout=60)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        panel = screen.query_one(BlastPanel)
        await wait_for(pilot, lambda: panel.blind == "all, revealed")
        full = screen.feeds[0].collector
        (incident,) = panel.incidents
        assert incident.id == "prospectly-breach" and incident.before_detection is None
        assert incident.records == full.compromises["prospectly-breach"].realised.records > 0
        assert panel.blast is not None
        assert panel.blast["records"] == full.blast()["records"]
