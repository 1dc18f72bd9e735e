"""Pilot tests of the live-run screen: each key binding, driving the real simulator."""

from __future__ import annotations

import math

from textual.widgets import OptionList, Static
from textual.widgets._footer import FooterKey

from tests.tui.pilot_support import live, paused_at, plain, wait_for
from tui.app import make_app
from tui.screens.compare import CompareScreen
from tui.screens.debrief import DebriefScreen
from tui.screens.detail import DecisionDetailScreen
from tui.screens.incident import InjectDialog, QuarantineDialog, RevokeDialog
from tui.screens.live import LiveScreen
from tui.screens.picker import PickerScreen
from tui.widgets.agent_roster import AgentRoster
from tui.widgets.alert_list import AlertList
from tui.widgets.decision_stream import DecisionStream
from tui.widgets.run_header import RunHeader

SCENARIO = "support-pii-injection"
INCIDENT_AT = 2 * 3600.0
FAST = math.inf
"""As fast as the UI keeps up: tests that pause at a fixed time need not wait for it."""


async def test_no_arguments_opens_the_default_scenario_already_playing() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                       and app.screen.now > 0 and app.screen.events_seen > 0)
        screen = live(app)
        header = screen.query_one(RunHeader)
        assert header.scenario == SCENARIO
        assert header.profile == screen.scenario.default_profile_id == "jit-context"
        assert not screen.playback.paused
        # Fast enough that the 2 h incident shows within about 20 s of opening.
        assert INCIDENT_AT / screen.playback.speed <= 20


async def test_space_pauses_the_simulated_clock_and_resumes_it() -> None:
    app = make_app(SCENARIO, speed=600)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.now > 0)
        screen = live(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.playback.inflight == 0)
        frozen = screen.sim.now
        await pilot.pause(0.4)
        assert screen.sim.now == frozen
        assert screen.query_one(RunHeader).paused
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.sim.now > frozen)
        assert not screen.query_one(RunHeader).paused


async def test_step_advances_to_the_next_decision_and_stays_paused() -> None:
    app = make_app(SCENARIO, autoplay=False)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                       and app.screen.sim is not None)
        screen = live(app)
        stream = screen.query_one(DecisionStream)
        await pilot.pause(0.2)
        assert screen.sim.now == 0 and stream.total == 0
        await pilot.press(".")
        await wait_for(pilot, lambda: stream.total > 0)
        stepped = screen.sim.now
        assert stepped > 0 and screen.playback.paused
        await pilot.pause(0.3)
        assert screen.sim.now == stepped


async def test_plus_and_minus_change_the_speed() -> None:
    app = make_app(SCENARIO, speed=600, autoplay=False)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = live(app)
        await pilot.press("+")
        assert screen.playback.speed == 1200
        await pilot.press("-", "-")
        assert screen.playback.speed == 300
        assert screen.query_one(RunHeader).speed == 300


async def test_filter_shows_only_matching_decisions() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=INCIDENT_AT + 600)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, INCIDENT_AT + 600)
        stream = screen.query_one(DecisionStream)
        everything = len(stream.rows)
        await pilot.press("f")
        await pilot.press(*"deny")
        await pilot.press("enter")
        rows = stream.rows
        assert 0 < len(rows) < everything
        assert all(r.data["decision"]["effect"] == "deny" for r in rows)
        await pilot.press("f", "escape")
        assert len(stream.rows) == everything


async def test_a_jumps_to_the_next_alert_and_the_decision_behind_it() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=INCIDENT_AT + 600)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, INCIDENT_AT + 600)
        alerts = screen.query_one(AlertList)
        assert alerts.alerts, "the injected incident raised no alert"
        await pilot.press("a")
        await pilot.pause(0.1)
        assert alerts.highlighted == 0
        alert = alerts.alerts[0]
        cursor = screen.query_one(DecisionStream).cursor_event
        assert cursor is not None and cursor.time <= alert.time
        if alert.agent is not None:
            assert cursor.agent == alert.agent


async def test_enter_opens_the_decision_detail_with_the_deciding_rule() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=INCIDENT_AT + 600)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await paused_at(pilot, app, INCIDENT_AT + 600)
        stream = screen.query_one(DecisionStream)
        # Under jit-context the incident's e-mail step needs approval by a named rule.
        ruled = [e for e in stream.rows if e.data["decision"]["rule"]
                 and e.data["decision"]["effect"] != "allow"]
        assert ruled, "no decision stopped by a rule before the pause"
        target = ruled[-1]
        assert stream.select_seq(target.seq)
        stream.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionDetailScreen))
        body = plain(app.screen.query_one("#detail-body", Static))
        assert target.data["decision"]["rule"] in body
        assert "deciding rule" in body and target.data["tool"] in body
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_clicking_a_row_selects_it_and_clicking_again_opens_it() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 3600)
        stream = screen.query_one(DecisionStream)
        await pilot.click(DecisionStream, offset=(5, 2))
        chosen = stream.cursor_event
        assert chosen is not None and not stream.following
        await pilot.click(DecisionStream, offset=(5, 2))
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionDetailScreen))
        assert app.screen.event is chosen


async def test_revoke_ends_the_token_in_the_simulation() -> None:
    # Under static-rbac the support bot holds one long-lived token for the whole run.
    app = make_app(SCENARIO, profile="static-rbac", speed=3600, pause_at=1800)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 1800)
        roster = screen.query_one(AgentRoster)
        tokens = roster.live_tokens("support-bot")
        assert tokens, "the support bot holds no live token"
        jti = tokens[0]
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RevokeDialog))
        picker = app.screen.query_one(OptionList)
        index = next(i for i in range(picker.option_count)
                     if picker.get_option_at_index(i).id == jti)
        picker.highlighted = index
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        stream = screen.query_one(DecisionStream)
        seen = stream.total
        await pilot.press("space")

        def next_use() -> bool:
            return any(e.data.get("jti") == jti for e in stream.rows[-(stream.total - seen):]
                       ) if stream.total > seen else False

        await wait_for(pilot, next_use)
        await pilot.press("space")
        after = [e for e in stream.rows[-(stream.total - seen):] if e.data.get("jti") == jti]
        first = after[0]
        assert first.data["decision"]["effect"] == "deny"
        assert first.data["decision"]["reason"] == "invalid_token"
        assert jti not in roster.live_tokens("support-bot")


async def test_quarantine_marks_the_agent_and_it_starts_nothing_more() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=1800)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 1800)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, QuarantineDialog))
        picker = app.screen.query_one(OptionList)
        picker.highlighted = next(i for i in range(picker.option_count)
                                  if picker.get_option_at_index(i).id == "support-bot")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press(".")
        roster = screen.query_one(AgentRoster)
        await wait_for(pilot, lambda: roster.agents["support-bot"].state == "quarantined")
        stream = screen.query_one(DecisionStream)
        seen = stream.total
        screen.playback.pause_at = 5400
        await pilot.press("space")
        await paused_at(pilot, app, 5400)
        later = stream.rows[-(stream.total - seen):] if stream.total > seen else []
        assert all(e.agent != "support-bot" or e.data["decision"]["effect"] == "deny"
                   for e in later)


async def test_inject_starts_the_chosen_incident_on_the_chosen_agent() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=1800)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 1800)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InjectDialog))
        dialog = app.screen
        agents = dialog.query_one("#inject-agent", OptionList)
        agents.highlighted = next(i for i in range(agents.option_count)
                                  if agents.get_option_at_index(i).id == "triage-bot")
        kinds = dialog.query_one("#inject-kind", OptionList)
        kinds.highlighted = next(i for i in range(kinds.option_count)
                                 if kinds.get_option_at_index(i).id == "rogue_agent")
        kinds.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press(".")
        await wait_for(pilot, lambda: any(e.agent == "triage-bot"
                                          for e in screen.incidents.values()))
        incident = next(e for e in screen.incidents.values() if e.agent == "triage-bot")
        assert incident.data["kind"] == "rogue_agent"
        assert screen.query_one(AgentRoster).agents["triage-bot"].state == "compromised"


async def test_c_opens_compare_and_escape_comes_back() -> None:
    app = make_app(SCENARIO, speed=600)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = live(app)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert app.screen.profiles == ["static-rbac", "jit-context"]
        # The live run waits underneath while the comparison plays.
        assert screen.playback.paused
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert not screen.playback.paused


async def test_s_opens_the_picker_and_escape_resumes_the_run() -> None:
    app = make_app(SCENARIO, speed=600)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = live(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert screen.playback.paused
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert not screen.playback.paused


async def test_q_quits() -> None:
    app = make_app(SCENARIO, autoplay=False)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_every_key_is_in_the_footer_at_80x24_and_in_the_command_palette() -> None:
    app = make_app(SCENARIO, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = live(app)
        bindings = [b for b in LiveScreen.BINDINGS if not isinstance(b, tuple)]
        # Space shows one of its two bindings: what it does now (Play, while paused).
        bindings = [b for b in bindings if screen.check_action(b.action, ())]
        wanted = {b.description for b in bindings if b.description and b.show}
        # The footer composes its keys after the screen mounts (later on a loaded machine).
        await wait_for(pilot, lambda: wanted <= {k.description for k in screen.query(FooterKey)})
        await pilot.pause(0.1)
        for key in screen.query(FooterKey):
            if key.description in wanted:
                region = key.region
                assert region.right <= 80 and region.bottom <= 24, key.description
        palette = {c.title for c in app.get_system_commands(screen)}
        assert {b.description for b in bindings} <= palette


async def test_escape_cancels_a_response_dialog_and_playing_resumes() -> None:
    app = make_app(SCENARIO, speed=600)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.now > 0)
        screen = live(app)
        for key, dialog in (("r", RevokeDialog), ("x", QuarantineDialog), ("i", InjectDialog)):
            await pilot.press(key)
            await wait_for(pilot, lambda d=dialog: isinstance(app.screen, d))
            assert screen.playback.paused, key
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen)
            assert not screen.playback.paused, key
        assert not screen.incidents or all(
            e.data["id"] == "ticket-injection" for e in screen.incidents.values())


async def test_tighten_without_shadow_rules_says_so_and_opens_nothing() -> None:
    app = make_app(SCENARIO, autoplay=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = live(app)
        await pilot.press("t")
        await pilot.pause(0.1)
        assert app.screen is screen
        assert any("no shadow rules" in str(n.message) for n in app._notifications)


async def test_the_end_of_a_run_shows_the_debrief_against_the_baseline() -> None:
    app = make_app(SCENARIO, speed=float("inf"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DebriefScreen)
                       and app.screen.scored, timeout=60)
        debrief = app.screen
        assert isinstance(debrief, DebriefScreen)
        assert debrief.baseline_id == "static-rbac"
        body = plain(debrief.query_one("#debrief-body", Static))
        for label in ("time to detect", "time to contain", "records exposed"):
            assert label in body
        assert "jit-context without your response" in body
        assert "least guarded: static-rbac" in body
        assert debrief.result is not None and debrief.least is not None
        assert (debrief.result["blast_radius"]["records"]
                < debrief.least["blast_radius"]["records"])
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert app.screen.profiles == ["static-rbac", "jit-context"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.done)
