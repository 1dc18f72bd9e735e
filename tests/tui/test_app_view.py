"""Pilot tests of the dashboard's face: clicks, the header and footer, layout at small sizes."""

from __future__ import annotations

import math

from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tests.tui.pilot_support import live, paused_at, wait_for
from tui.app import make_app
from tui.screens.compare import CompareScreen
from tui.screens.live import LiveScreen
from tui.screens.too_small import TooSmallScreen
from tui.widgets.agent_roster import AgentRoster
from tui.widgets.decision_diff import DecisionDiff
from tui.widgets.decision_stream import DecisionStream
from tui.widgets.run_header import RunHeader

SCENARIO = "support-pii-injection"
FAST = math.inf


async def test_a_click_selects_the_row_under_the_pointer() -> None:
    app = make_app(SCENARIO, speed=FAST, pause_at=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 3600)
        stream = screen.query_one(DecisionStream)
        await pilot.pause(0.1)
        # Screen line of the third row: the border, the column header, then rows.
        top = int(stream.scroll_y)
        await pilot.click(DecisionStream, offset=(5, 1 + 1 + 2))
        assert stream.cursor_event is stream._visible[top + 2]


async def test_the_header_clock_is_current_when_paused() -> None:
    app = make_app(SCENARIO, speed=600)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: live(app).now > 0)
        screen = live(app)
        for _ in range(5):  # pause between redraws, more than once to catch a stale one
            await pilot.press("space")
            await wait_for(pilot, lambda: screen.playback.inflight == 0)
            # Stale would mean never updated while paused; on a loaded machine it may be late.
            await wait_for(pilot, lambda: screen.query_one(RunHeader).now == screen.now)
            await pilot.press("space")
            await pilot.pause(0.13)


async def test_the_footer_says_play_while_paused_and_pause_while_playing() -> None:
    app = make_app(SCENARIO, speed=600)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: live(app).now > 0)
        screen = live(app)

        def shown() -> set[str]:
            return {k.description for k in screen.query(FooterKey)}

        await wait_for(pilot, lambda: "Pause" in shown() and "Play" not in shown())
        await pilot.press("space")
        await wait_for(pilot, lambda: "Play" in shown() and "Pause" not in shown())
        palette = {c.title for c in app.get_system_commands(screen)}
        assert "Play" in palette and "Pause" not in palette


async def test_at_80x24_the_roster_shows_most_of_a_fleet_of_ten_and_scrolls_to_the_rest(
) -> None:
    app = make_app("devops-static-keys", speed=FAST, pause_at=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await paused_at(pilot, app, 3600)
        roster = screen.query_one(AgentRoster)
        await pilot.pause(0.1)
        assert len(roster.agents) == 10
        rows_shown = roster.scrollable_content_region.height - 1  # less the column header
        assert rows_shown >= 6
        roster.focus()
        await pilot.press("end")
        await pilot.pause(0.1)
        assert roster.scroll_y == roster.max_scroll_y > 0
        assert roster.scroll_y + rows_shown + 1 >= 1 + len(roster.agents)  # the last shows


async def test_an_agent_is_no_longer_compromised_once_its_incident_is_contained() -> None:
    # Under jit-context the injected support bot's incident is contained within seconds.
    app = make_app(SCENARIO, speed=FAST, pause_at=2 * 3600.0 + 900)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 2 * 3600.0 + 900)
        contained = [c for c in screen.feeds[0].collector.compromises.values() if not c.open]
        assert contained, "the scenario's incident should be contained by now"
        row = screen.query_one(AgentRoster).agents["support-bot"]
        assert row.state != "compromised"


async def test_compare_at_80x24_after_the_runs_end_keeps_the_metrics_and_every_effect_column(
) -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=FAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.done
                       and bool(app.screen.query_one(DecisionDiff).summary), timeout=60)
        await pilot.pause(0.2)
        screen = app.screen
        metrics = screen.query_one("#compare-metrics")
        # The column header and the story's first rows: records exposed, sent out...
        assert metrics.scrollable_content_region.height >= 6
        diff = screen.query_one(DecisionDiff)
        right = 0
        for column in diff.ordered_columns:
            right += column.get_render_width(diff)
            if column.label.plain in ("static-rbac", "jit-context"):
                assert right <= diff.scrollable_content_region.width, column.label.plain


async def test_a_terminal_under_80x24_shows_a_notice_until_it_is_enlarged() -> None:
    app = make_app(SCENARIO, speed=600)
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TooSmallScreen))
        notice = app.screen.query_one("#too-small", Static)
        assert "60x20" in str(notice.content) and "80x24" in str(notice.content)
        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        await pilot.resize_terminal(79, 30)
        await wait_for(pilot, lambda: isinstance(app.screen, TooSmallScreen))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
