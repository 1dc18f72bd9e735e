"""Pilot tests of the dashboard's minor faults (issue 18, bug 7) and the help screen."""

from __future__ import annotations

import math

from rich.text import Text
from textual import events
from textual.widgets import Input, OptionList, Static

from sim.events import Event, EventKind
from tests.tui.pilot_support import live, paused_at, plain, wait_for
from tui.app import make_app
from tui.screens.help import HelpScreen
from tui.screens.incident import InjectDialog
from tui.screens.live import LiveScreen
from tui.widgets.alert_list import AlertList
from tui.widgets.decision_stream import DecisionStream

SCENARIO = "support-pii-injection"
FAST = math.inf


async def test_f_then_a_fast_key_types_into_the_filter_and_opens_no_screen() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=1800)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await paused_at(pilot, app, 1800)
        # The keys queued at once, as a fast typist sends them: "c" and "r" arrive
        # before the filter box has taken the focus.
        for key in "fcr":
            app.post_message(events.Key(key, key))
        await pilot.pause(0.3)
        assert app.screen is screen
        assert screen.query_one("#filter", Input).value == "cr"


async def test_a_medium_alert_says_medium_not_medi() -> None:
    app = make_app(SCENARIO, autoplay=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        alerts = live(app).query_one(AlertList)
        alert = Event(seq=7, time=60.0, kind=EventKind.ALERT, agent="support-bot",
                      data={"id": "A1", "severity": "medium", "reason": "deny",
                            "message": "denied export"})
        label: Text = alerts._label(alert)
        assert "MEDIUM denied export" in label.plain


async def test_the_palette_lists_quit_once_and_says_what_each_command_does() -> None:
    app = make_app(SCENARIO, autoplay=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        commands = list(app.get_system_commands(app.screen))
        titles = [c.title for c in commands]
        assert titles.count("Quit") == 1
        assert not [c.help for c in commands if c.help.startswith("key ")]
        revoke = next(c for c in commands if c.title == "Revoke")
        assert revoke.help == "Revoke a live token (or every token of an agent) (key r)"


async def test_escape_closes_the_keys_panel_and_then_still_works_as_before() -> None:
    app = make_app(SCENARIO, autoplay=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = app.screen
        app.action_show_help_panel()
        await wait_for(pilot, lambda: bool(screen.query("HelpPanel")))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.query("HelpPanel"))
        assert app.screen is screen


async def test_the_inject_notice_gives_the_simulated_clock_not_raw_seconds() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=1800)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 1800)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InjectDialog))
        app.screen.query_one("#inject-kind", OptionList).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and bool(app._notifications))
        notice = next(n for n in app._notifications if n.title == "incident")
        assert "at 00:30:00." in notice.message and "1800s" not in notice.message


async def test_question_mark_and_f1_open_help_with_the_keys_and_the_jargon_and_esc_closes(
) -> None:
    app = make_app(SCENARIO, autoplay=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = app.screen
        screen.query_one(DecisionStream).focus()
        for key in ("question_mark", "f1"):
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert app.screen.under is screen
            keys = plain(app.screen.query_one("#help-keys", Static))
            assert "Revoke a live token" in keys and "Pause, then advance" in keys
            words = plain(app.screen.query_one("#help-words", Static))
            assert "TTL" in words and "time to live" in words
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen)
