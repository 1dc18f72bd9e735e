"""Helpers shared by the dashboard's Pilot tests: waiting on the app, reading what it shows."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual import events
from textual.pilot import Pilot
from textual.widgets import Static

from tui.app import AgentrangeApp
from tui.screens.live import LiveScreen


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], bool],
                   timeout: float = 15.0) -> None:
    """Let the app run until ``predicate`` holds; fail the test after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


async def paste(pilot: Pilot[Any], text: str) -> None:
    """Paste ``text`` into the focused widget, one event as a terminal's bracketed paste sends.

    ``pilot.press(*text)`` waits for the app to go idle after every character (40 ms at
    least, far more on a loaded machine): a 50-character filter query typed took 2-5 s of a
    test's wall time. Typing itself stays covered where it matters (``f`` typed into an open
    filter, test_app_view_minor; short queries typed in test_app_live and test_app_tune).
    """
    pilot.app.post_message(events.Paste(text))
    await pilot.pause()


def plain(static: Static) -> str:
    """The text a Static shows, rendered without styles."""
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()

def live(app: AgentrangeApp) -> LiveScreen:
    screen = app.screen
    assert isinstance(screen, LiveScreen), f"expected the live screen, found {screen!r}"
    return screen


async def paused_at(pilot: Pilot[Any], app: AgentrangeApp, when: float) -> LiveScreen:
    """Wait until the live run has paused itself at ``when`` and the UI has caught up."""
    await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                   and app.screen.sim is not None and app.screen.sim.now == when
                   and app.screen.playback.paused and app.screen.playback.inflight == 0
                   and app.screen.now == when)
    return live(app)
