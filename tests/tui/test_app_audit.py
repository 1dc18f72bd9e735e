"""The dashboard writes the run it plays to a signed audit log (``agentrange tui --audit-log``)."""

from __future__ import annotations

import math
from pathlib import Path

from engine.audit.signing import load_public_key
from engine.audit.verdict import Incomplete, Problem
from engine.audit.verifier import verify_log
from sim.audit_sink import read_events
from tests.tui.pilot_support import paused_at
from tui.app import make_app
from tui.commands.tui import AuditedSimulation
from tui.screens.live import LiveScreen


async def test_the_live_run_is_logged_and_the_log_verifies(tmp_path: Path) -> None:
    log = tmp_path / "live.audit.jsonl"
    audited = AuditedSimulation(str(log), None)
    app = make_app("support-pii-injection", speed=math.inf, pause_at=3 * 3600.0,
                   debrief=False, simulation=audited)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 3 * 3600.0)
        assert isinstance(screen, LiveScreen)
        made = screen.sim.result().to_dict()["decisions"]["total"]
    audited.close()
    assert made > 0
    report = verify_log(log, load_public_key(f"{log}.pub.pem"))
    # Quit at 3h of an 8h run: every record is proven, and the log says the run was cut short.
    assert report.problem is Problem.INCOMPLETE, report.message
    assert report.incomplete == Incomplete("the dashboard was closed before the run ended",
                                           3 * 3600.0)
    assert report.unverified == 0
    assert sum(e.kind == "decision" for e in read_events(log)) == made
