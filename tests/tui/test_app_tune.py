"""Pilot tests of what engineers tuning a policy use: whole-run alerts and filter, near misses,
the shadow-rule dialog and the header after enforcing a rule (issue 18, dash-tune)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from tests.tui.pilot_support import paste, paused_at, plain, wait_for
from tui.app import AgentrangeApp, make_app
from tui.screens.compare import CompareScreen
from tui.screens.detail import DecisionDetailScreen
from tui.screens.diff_detail import DiffDetailScreen
from tui.screens.live import LiveScreen
from tui.widgets.alert_list import AlertList
from tui.widgets.decision_diff import DecisionDiff
from tui.widgets.decision_stream import DecisionStream
from tui.widgets.run_header import RunHeader

pytestmark = pytest.mark.slow  # whole runs through the dashboard, several seconds each

SCENARIO = "support-pii-injection"
LATE = 28_000.0
"""Near the end of the 8 h run: about 700 decisions after the 2 h incident's alert."""


async def test_late_in_a_run_alerts_and_the_filter_reach_decisions_no_longer_kept() -> None:
    """Four checks on one run paused near its end, each leaving the stream as it found it
    (each played the whole run in an app of its own before: about 2 s of a worker apiece).

    a and Enter open the alert's own decision after it left the kept rows; a filter covers the
    whole run, not only the kept rows; a field query filters by effect, agent and tool glob;
    an old filtered row opens an abridged detail that says so.
    """
    app = make_app(SCENARIO, speed=math.inf, pause_at=LATE, debrief=False)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, LATE)
        stream = screen.query_one(DecisionStream)
        await alert_jump_opens_the_decision_that_left_the_buffer(pilot, app, stream)
        await filter_covers_the_whole_run_not_only_the_kept_rows(pilot, screen, stream)
        await field_query_filters_by_effect_agent_and_tool_glob(pilot, stream)
        await old_filtered_row_opens_an_abridged_detail_that_says_so(pilot, app, stream)


async def alert_jump_opens_the_decision_that_left_the_buffer(
        pilot: Pilot[Any], app: AgentrangeApp, stream: DecisionStream) -> None:
    alerts = app.screen.query_one(AlertList)
    assert alerts.alerts, "the incident raised no alert"
    alert = alerts.alerts[0]
    seq = alert.data["decision"]
    assert stream.total > stream.capacity
    assert all(e.seq != seq for e in list(stream.rows)[-stream.capacity:]), (
        "the alert's decision should have left the kept rows for this test to mean much")
    await pilot.press("a")
    await pilot.pause(0.1)
    cursor = stream.cursor_event
    assert cursor is not None and cursor.seq == seq
    stream.focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DecisionDetailScreen))
    detail = app.screen
    assert isinstance(detail, DecisionDetailScreen)
    assert detail.event.seq == seq
    assert not detail.event.data.get("summary"), "the alert's full record was not kept"
    await pilot.press("escape")
    # End returns the stream to the newest rows, following them.
    await pilot.press("end")
    assert not stream.whole_run and stream.following


async def filter_covers_the_whole_run_not_only_the_kept_rows(
        pilot: Pilot[Any], screen: LiveScreen, stream: DecisionStream) -> None:
    seq = screen.query_one(AlertList).alerts[0].data["decision"]
    await pilot.press("f", *"deny", "enter")
    rows = stream.rows
    assert rows, "f deny found nothing"
    assert seq in {e.seq for e in rows}
    assert all(e.data["decision"]["effect"] == "deny" for e in rows)
    await pilot.press("f", "escape")
    assert not stream.whole_run and len(stream.rows) == stream.kept


async def field_query_filters_by_effect_agent_and_tool_glob(
        pilot: Pilot[Any], stream: DecisionStream) -> None:
    await pilot.press("f")
    await paste(pilot, "effect:require_approval agent:support-bot tool:email.*")
    await pilot.press("enter")
    rows = stream.rows
    assert rows
    assert all(e.agent == "support-bot" and e.data["tool"].startswith("email.")
               and e.data["decision"]["effect"] == "require_approval" for e in rows)
    # Some are older than the kept rows: the index answers for them.
    assert any(e.data.get("summary") for e in rows)
    subtitle = str(stream.border_subtitle)
    assert subtitle.startswith(f"filter {len(rows)}/") and "effect:require_approval" in subtitle
    await pilot.press("f", "escape")
    assert not stream.whole_run and len(stream.rows) == stream.kept


async def old_filtered_row_opens_an_abridged_detail_that_says_so(
        pilot: Pilot[Any], app: AgentrangeApp, stream: DecisionStream) -> None:
    await pilot.press("f")
    await paste(pilot, "effect:allow tool:helpdesk.*")
    await pilot.press("enter")
    oldest = stream.rows[0]
    assert oldest.data.get("summary"), "the oldest allow should only be in the index"
    assert stream.select_seq(oldest.seq)
    stream.focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DecisionDetailScreen))
    body = plain(app.screen.query_one("#detail-body", Static))
    assert "Only this decision's row is still kept" in body
    assert oldest.data["tool"] in body and "Token" not in body


async def test_a_bad_query_says_what_was_expected_and_keeps_the_stream() -> None:
    app = make_app(SCENARIO, speed=math.inf, pause_at=7_500.0, debrief=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await paused_at(pilot, app, 7_500.0)
        stream = screen.query_one(DecisionStream)
        before = len(stream.rows)
        await pilot.press("f")
        await paste(pilot, "colour:red")
        await pilot.press("enter")
        await pilot.pause(0.1)
        notes = [str(n.message) for n in app._notifications]
        assert any("unknown field 'colour'" in n and "effect" in n for n in notes), notes
        assert screen.query_one("#filter", Input).display, "the filter box should stay open"
        assert len(stream.rows) == before and not stream.filter_text


async def test_default_deny_detail_shows_the_allow_rule_that_nearly_matched() -> None:
    app = make_app("rogue-and-poisoned", profile="jit-context", speed=math.inf,
                   pause_at=3_700.0, debrief=False)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, 3_700.0)
        stream = screen.query_one(DecisionStream)
        await pilot.press("f")
        await paste(pilot, "reason:no_matching_allow tool:ledger.*")
        await pilot.press("enter")
        target = stream.rows[0]
        assert stream.select_seq(target.seq)
        stream.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionDetailScreen))
        body = plain(app.screen.query_one("#detail-body", Static))
        assert "What would it take" in body
        assert "finance-reads" in body and "request.records lte 5000" in body
        assert "request.records = 6000" in body


async def test_shadow_dialog_counts_matches_and_changes_and_the_header_says_enforced() -> None:
    app = make_app("productivity-bot-overhead", profile="jit-shadow", speed=math.inf,
                   pause_at=6 * 3600.0, debrief=False)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await paused_at(pilot, app, 6 * 3600.0)
        counts = screen.index.shadow_counts()
        assert counts and all(c.matched >= c.changes for c in counts.values())
        assert any(c.matched for c in counts.values())
        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen.query("#shadow-pick"))
        pick = app.screen.query_one("#shadow-pick", OptionList)
        first = pick.get_option_at_index(0)
        count = counts[str(first.id)]
        label = str(first.prompt)
        assert f"matched {count.matched:,}" in label
        assert f"enforcing would change {count.changes:,}" in label
        await pilot.press("enter")
        screen.playback.resume()
        header = screen.query_one(RunHeader)
        await wait_for(pilot, lambda: "policy changed" in header.profile)
        assert str(first.id) in header.profile


async def test_a_decision_diff_row_opens_the_request_under_both_profiles() -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=math.inf)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and bool(app.screen.query_one(DecisionDiff).summary), timeout=60)
        diff = app.screen.query_one(DecisionDiff)
        # A row made under both profiles, whose effect differs between them.
        row_index = next(i for i, r in enumerate(diff.diff_rows) if None not in r.effects)
        row = diff.diff_rows[row_index]
        diff.focus()
        diff.move_cursor(row=row_index)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffDetailScreen), timeout=60)
        screen = app.screen
        assert isinstance(screen, DiffDetailScreen)
        assert [f.profile for f in screen.found] == ["static-rbac", "jit-context"]
        for found, effect in zip(screen.found, row.effects, strict=True):
            assert found.event is not None
            assert found.event.data["decision"]["effect"] == effect
            d = found.event.data
            assert (found.event.agent, d["task"], d["run"], d["step"], d["incident"]) == row.key
        bodies = [plain(s) for s in screen.query(".diff-body").results(Static)]
        assert len(bodies) == 2
        await pilot.press("escape")
        assert isinstance(app.screen, CompareScreen)
