"""Scrolling a following decision stream with the mouse wheel stops it following, so the rows
a user scrolled to stay put while the run streams; scrolling back to the bottom follows again."""

from __future__ import annotations

import math
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.scrollbar import ScrollTo, ScrollUp

from tests.tui.pilot_support import paused_at
from tui.app import AgentrangeApp, make_app
from tui.widgets.decision_stream import DecisionStream

FLEET = "devops-static-keys"
HOUR = 3600.0


async def wheel(pilot: Pilot[Any], stream: DecisionStream,
                kind: type[events.MouseScrollUp] | type[events.MouseScrollDown],
                times: int) -> None:
    """Turn the wheel over the stream: the events take the app's own route to the widget."""
    for _ in range(times):
        await pilot._post_mouse_events([kind], widget=stream, offset=(10, 5))


async def following(pilot: Pilot[Any], app: AgentrangeApp) -> DecisionStream:
    """The stream of a run paused at its first hour: following, more rows than fit."""
    screen = await paused_at(pilot, app, HOUR)
    await pilot.pause(0.1)
    stream = screen.query_one(DecisionStream)
    assert stream.following and stream.scroll_y == stream.max_scroll_y > 10
    return stream


async def streamed_until(pilot: Pilot[Any], app: AgentrangeApp, when: float
                         ) -> DecisionStream:
    """Play on until ``when`` (the run streams new rows meanwhile), then stand still."""
    screen = app.screen
    screen.playback.pause_at = when  # type: ignore[attr-defined]
    screen.playback.resume()  # type: ignore[attr-defined]
    await paused_at(pilot, app, when)
    await pilot.pause(0.1)
    return screen.query_one(DecisionStream)


async def test_the_wheel_up_stops_following_and_new_rows_leave_the_view_put() -> None:
    app = make_app(FLEET, speed=math.inf, pause_at=HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        stream = await following(pilot, app)
        await wheel(pilot, stream, events.MouseScrollUp, 3)
        assert not stream.following
        top, cursor, seen = stream.scroll_y, stream.cursor_event, stream.total
        assert top < stream.max_scroll_y
        stream = await streamed_until(pilot, app, 2 * HOUR)
        assert stream.total > seen  # the run did stream new rows
        assert not stream.following
        assert stream.cursor_event is cursor
        # The view did not jump to the newest rows (it may shift up by the rows that fell off
        # the top of a full stream, never down).
        assert stream.scroll_y <= top < stream.max_scroll_y


async def test_the_wheel_back_to_the_bottom_follows_the_newest_row_again() -> None:
    app = make_app(FLEET, speed=math.inf, pause_at=HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        stream = await following(pilot, app)
        await wheel(pilot, stream, events.MouseScrollUp, 2)
        assert not stream.following
        await wheel(pilot, stream, events.MouseScrollDown, 10)
        assert stream.following and stream.scroll_y == stream.max_scroll_y
        assert stream.cursor_event is stream.rows[-1]
        stream = await streamed_until(pilot, app, 2 * HOUR)
        assert stream.following and stream.scroll_y == stream.max_scroll_y
        assert stream.cursor_event is stream.rows[-1]


async def test_dragging_the_scrollbar_up_stops_following_and_down_to_the_end_follows() -> None:
    app = make_app(FLEET, speed=math.inf, pause_at=HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        stream = await following(pilot, app)
        # What the scrollbar posts while its thumb is dragged, and on a click above it.
        stream.vertical_scrollbar.post_message(ScrollTo(y=0, animate=False))
        await pilot.pause(0.1)
        assert not stream.following and stream.scroll_y == 0
        stream.vertical_scrollbar.post_message(ScrollTo(y=stream.max_scroll_y, animate=True))
        await pilot.pause(0.3)
        assert stream.following and stream.cursor_event is stream.rows[-1]
        stream.vertical_scrollbar.post_message(ScrollUp())
        await pilot.pause(0.3)
        assert not stream.following and stream.scroll_y < stream.max_scroll_y
