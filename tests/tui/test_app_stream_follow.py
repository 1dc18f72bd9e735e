"""A following decision stream shows its newest rows: after the first layout, at every size,
and after the terminal is resized."""

from __future__ import annotations

import math

from textual.pilot import Pilot

from tests.tui.pilot_support import paused_at
from tui.app import AgentrangeApp, make_app
from tui.widgets.decision_stream import DecisionStream

FLEET = "devops-static-keys"
HOUR = 3600.0


def newest_row_on_screen(stream: DecisionStream) -> bool:
    """The last row sits on the stream's last visible line (the header takes line 0)."""
    body = stream.scrollable_content_region.height - 1
    last = len(stream.rows) - 1
    top = int(stream.scroll_y)
    # The scrollbar's thumb says the same (it stayed at the top once while the rows moved).
    return top <= last < top + body and stream.vertical_scrollbar.position == stream.scroll_y


async def following_paused(pilot: Pilot[object], app: AgentrangeApp) -> DecisionStream:
    screen = await paused_at(pilot, app, HOUR)
    await pilot.pause(0.1)
    stream = screen.query_one(DecisionStream)
    assert stream.following
    assert len(stream.rows) > stream.scrollable_content_region.height  # more than fit
    return stream


async def test_a_following_stream_at_80x24_scrolls_to_the_newest_row() -> None:
    app = make_app(FLEET, speed=math.inf, pause_at=HOUR)
    async with app.run_test(size=(80, 24)) as pilot:
        stream = await following_paused(pilot, app)
        assert stream.max_scroll_y > 0
        assert stream.scroll_y == stream.max_scroll_y, (stream.scroll_y, stream.max_scroll_y)
        assert newest_row_on_screen(stream)
        assert stream.cursor_event is stream.rows[-1]


async def test_a_following_stream_at_200x50_scrolls_to_the_newest_row() -> None:
    app = make_app(FLEET, speed=math.inf, pause_at=HOUR)
    async with app.run_test(size=(200, 50)) as pilot:
        stream = await following_paused(pilot, app)
        assert stream.scroll_y == stream.max_scroll_y > 0
        assert newest_row_on_screen(stream)


async def test_a_following_stream_keeps_the_newest_row_in_view_across_resizes() -> None:
    app = make_app(FLEET, speed=math.inf, pause_at=HOUR)
    async with app.run_test(size=(200, 50)) as pilot:
        stream = await following_paused(pilot, app)
        for size in ((80, 24), (120, 40), (90, 30)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.2)
            assert stream.following
            assert stream.scroll_y == stream.max_scroll_y > 0, size
            assert newest_row_on_screen(stream), size


async def test_a_stream_the_user_scrolled_up_stays_put_across_a_resize() -> None:
    app = make_app(FLEET, speed=math.inf, pause_at=HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        stream = await following_paused(pilot, app)
        stream.focus()
        await pilot.press("home")
        await pilot.pause(0.1)
        assert not stream.following and stream.scroll_y == 0
        first = stream.cursor_event
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert stream.scroll_y == 0 and stream.cursor_event is first
