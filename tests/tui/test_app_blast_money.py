"""The dashboard shows the money an incident moved, where steps move money (refunds)."""

from __future__ import annotations

import io
import math
import re
from typing import Any

from rich.console import Console
from textual.pilot import Pilot

from scenarios.library import load_scenario
from tests.tui.pilot_support import wait_for
from tui.app import AgentrangeApp, make_app
from tui.screens.live import LiveScreen
from tui.widgets.blast_panel import BlastPanel


def shown(panel: BlastPanel) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(panel.render())
    return console.export_text()


async def panel_at_the_end(pilot: Pilot[Any], app: AgentrangeApp) -> BlastPanel:
    """The live screen's blast panel once the run has played to its end."""
    await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                   and app.screen.sim is not None and app.screen.sim.done
                   and app.screen.playback.inflight == 0, timeout=60)
    return app.screen.query_one(BlastPanel)


async def test_the_blast_panel_shows_the_fraudulent_refund_a_tired_approver_let_through(
        ) -> None:
    app = make_app(load_scenario("refunds-customer-facing"), profile="static-rbac",
                   speed=math.inf, debrief=False)
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await panel_at_the_end(pilot, app)
        await wait_for(pilot, lambda: (panel.blast or {}).get("amount") == 3960)
        assert re.search(r"^money moved +3,960 ", shown(panel), re.MULTILINE)


async def test_no_money_row_where_no_money_moved() -> None:
    app = make_app(load_scenario("support-pii-injection"), profile="jit-context",
                   speed=math.inf, debrief=False)
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await panel_at_the_end(pilot, app)
        await wait_for(pilot, lambda: panel.blast is not None and "amount" in panel.blast)
        assert panel.blast["amount"] == 0
        text = shown(panel)
        assert "records exposed" in text and "money moved" not in text
