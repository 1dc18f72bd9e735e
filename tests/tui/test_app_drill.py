"""Pilot tests of the security teams' dashboard: the debrief's baselines, blind mode, revoke."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from sim.drill import Drill
from sim.score_log import read_records
from tests.tui.pilot_support import paused_at, plain, wait_for
from tui.app import make_app
from tui.screens.debrief import DebriefScreen
from tui.screens.drill_name import NameScreen
from tui.screens.incident import RevokeDialog
from tui.screens.live import LiveScreen
from tui.widgets.agent_roster import AgentRoster
from tui.widgets.blast_panel import BlastPanel
from tui.widgets.chain_tree import ChainTree
from tui.widgets.decision_stream import DecisionStream

VENDOR = "vendor-hosted-agent"
AFTER_BREACH = 16 * 3600.0 + 60
"""A minute after vendor-hosted-agent's breach of leadlens (16:00)."""


def _row(body: str, label: str) -> str:
    return next(line for line in body.splitlines() if line.strip().startswith(label))


@pytest.mark.slow
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


SUPPORT = "support-pii-injection"
INJECTION_AT = 2 * 3600.0
"""support-pii-injection's ticket injection into support-bot; jit-context detects it in 20 s."""


def _compromised(screen: LiveScreen) -> list[str]:
    return [name for name, row in screen.query_one(AgentRoster).agents.items()
            if row.compromised]


async def test_blind_mode_hides_the_compromised_agent_until_an_alert_detects_it() -> None:
    app = make_app(SUPPORT, speed=math.inf, pause_at=INJECTION_AT + 5, blind=True)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, INJECTION_AT + 5)
        assert screen.feeds[0].collector.compromises, "the incident has begun"
        assert _compromised(screen) == []
        assert screen.incidents == {}
        assert not screen.query_one(BlastPanel).incidents
        assert not any(e.data.get("incident") or e.data.get("attacker")
                       for e in screen.query_one(DecisionStream).rows)
        await pilot.press("c")  # the comparison would show the incident: closed while blind
        await pilot.pause()
        assert app.screen is screen
        assert any("compare opens when the run has ended" in str(n.message)
                   for n in app._notifications)
        screen.playback.pause_at = INJECTION_AT + 600
        await pilot.press("space")
        screen = await paused_at(pilot, app, INJECTION_AT + 600)
        # Detected, the incident shows on its agent (and, once contained, its agent is no
        # longer marked compromised: issue 18's "compromised long after contained").
        roster = screen.query_one(AgentRoster)
        assert roster._incident_agent == {"ticket-injection": "support-bot"}
        assert _compromised(screen) in ([], ["support-bot"])
        assert set(screen.incidents) == {"ticket-injection"}
        assert any("Detected: ticket-injection (support-bot)" in str(n.message)
                   for n in app._notifications)


async def test_without_blind_mode_the_compromise_shows_at_once() -> None:
    app = make_app(SUPPORT, speed=math.inf, pause_at=INJECTION_AT + 5)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, INJECTION_AT + 5)
        assert _compromised(screen) == ["support-bot"]


async def test_blind_mode_never_names_an_undetected_compromise() -> None:
    # Under static-rbac nothing alerts on the vendor breach: a blind SOC never learns of it.
    app = make_app(VENDOR, profile="static-rbac", speed=math.inf,
                   pause_at=AFTER_BREACH + 3600, blind=True, debrief=False)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, AFTER_BREACH + 3600)
        assert screen.feeds[0].collector.compromises
        assert _compromised(screen) == [] and screen.incidents == {}
        assert "prospectly-breach" not in plain_chains(screen)


def plain_chains(screen: LiveScreen) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(screen.query_one(ChainTree).render())
    return console.export_text()


@pytest.mark.slow
async def test_revoke_dialog_shows_each_tokens_holder_scope_expiry_and_last_use() -> None:
    app = make_app(VENDOR, profile="static-rbac", speed=math.inf, pause_at=AFTER_BREACH)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, AFTER_BREACH)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RevokeDialog))
        dialog = app.screen
        assert isinstance(dialog, RevokeDialog)
        facts = dialog.tokens["prospectly-00000001"]
        assert facts.holder == "leadlens"
        assert "tool:enrichment.lookup" in facts.scope
        assert facts.expires == 90 * 86400.0
        assert facts.last_use is not None and 0 < facts.last_use <= AFTER_BREACH
        picker = dialog.query_one(OptionList)
        labels = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]
        line = next(label for label in labels if "prospectly-00000001" in label)
        assert "held by leadlens" in line and "expires 90d 00:00:00" in line
        assert "last used" in line and "scope: tool:" in line
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


@pytest.mark.slow
async def test_scores_file_keeps_the_debrief_and_both_baselines(tmp_path: Path) -> None:
    scores = tmp_path / "scores.jsonl"
    app = make_app(SUPPORT, speed=math.inf, scores=scores)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DebriefScreen)
                       and app.screen.scored and scores.exists(), timeout=60)
    (record,) = read_records(scores)
    assert record["kind"] == "debrief" and record["profile"] == "jit-context"
    assert record["baselines"]["unanswered"]["profile"] == "jit-context"
    assert record["baselines"]["least_guarded"]["profile"] == "static-rbac"
    assert record["records_exposed"] < record["baselines"]["least_guarded"]["records_exposed"]


@pytest.mark.slow
async def test_a_drill_asks_the_name_plays_blind_and_appends_the_score(tmp_path: Path) -> None:
    drill = Drill(tmp_path / "drill", SUPPORT, "jit-context", 7, incident_at=3600.0)
    drill.save()
    app = make_app(drill=Drill.load(drill.directory), speed=math.inf, debrief=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NameScreen))
        await pilot.press(*"grace", "enter")
        await wait_for(pilot, lambda: app.drill_recorded, timeout=60)
        screen = app.screen
        assert isinstance(screen, LiveScreen) and screen.blind is not None
    (entry,) = drill.entries()
    assert entry["participant"] == "grace" and entry["seed"] == 7
    assert entry["time_to_detect"] is not None
