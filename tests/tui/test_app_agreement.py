"""The dashboard's panels show what a headless run's metrics collector folds, on every built-in.

For every built-in scenario and profile the run plays in the dashboard to its end, as fast as
the app allows (a scenario's live runs one after another in one app, as the picker replaces a
run: an app's start costs about as much as a small run), and what the blast panel, the alerts
panel, the metrics table and the chart show is compared with a :class:`MetricsCollector` fed
the events of a headless :class:`Simulation` of the same scenario, profile and seed. Both the
widgets' own data and the text they draw are checked, so a panel that computed a number its
own way fails here.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table
from textual.pilot import Pilot

from engine.model import Scenario
from scenarios import library
from scenarios.library import load_scenario
from sim.collectors.metrics import MetricsCollector
from sim.events import Event
from sim.runner import Simulation
from tests.tui.pilot_support import wait_for
from tui.app import AgentrangeApp, make_app
from tui.render.formatting import count, duration, metric, percent, seconds
from tui.render.metrics import METRIC_ROWS
from tui.screens.compare import CompareScreen
from tui.screens.live import LiveScreen
from tui.widgets.alert_list import AlertList
from tui.widgets.blast_panel import BlastPanel
from tui.widgets.line_chart import LineChart
from tui.widgets.metrics_table import MetricsTable

pytestmark = pytest.mark.slow

RUN_END = 120.0
"""Wall seconds a whole run may take in the dashboard (under a loaded test machine)."""


@cache
def scenario(name: str) -> Scenario:
    return load_scenario(name)


@cache
def headless(name: str, profile: str) -> tuple[tuple[Event, ...], MetricsCollector]:
    """A headless run's events, folded by a collector of their own."""
    events: list[Event] = []
    sc = scenario(name)
    Simulation(sc, profile, seed=sc.seed, sink=events.append, record_decisions=False).run()
    return tuple(events), MetricsCollector.of(events, record_decisions=False)


@pytest.fixture(scope="module", params=library.names())
def name(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each built-in by name; module-scoped so pytest orders the two tests scenario by scenario
    and each scenario's headless runs (cached) are made and read on one worker.

    The caches are emptied when pytest moves on to the next scenario: every built-in's events
    (and loaded scenario) kept to the end (about 300,000 objects) made each full collection
    the dashboard runs in the rest of the worker's tests walk them all.
    """
    value: str = request.param
    yield value
    headless.cache_clear()
    scenario.cache_clear()


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> leaf value of nested figures."""
    if not isinstance(data, Mapping):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def text_of(renderable: Any, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def cells_of(table: Table) -> list[list[str]]:
    """The text of every cell a Rich table draws, row by row."""
    columns = [[str(getattr(c, "plain", c)) for c in column._cells] for column in table.columns]
    return [list(row) for row in zip(*columns, strict=True)]


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


async def played(pilot: Pilot[Any], app: AgentrangeApp) -> Any:
    await wait_for(pilot, lambda: getattr(app.screen, "done", False)
                   and app.screen.playback.inflight == 0, timeout=RUN_END)
    await pilot.pause(0.05)
    return app.screen


async def test_the_blast_and_alerts_panels_show_what_the_events_fold_to(name: str) -> None:
    """Every profile of the scenario, one after another in one dashboard (as the picker
    replaces a run); each run's panels are new, so one app saves a start per profile."""
    sc = scenario(name)
    profiles = [p.id for p in sc.profiles]
    app = make_app(sc, profile=profiles[0], speed=math.inf, debrief=False)
    async with app.run_test(size=(160, 45)) as pilot:
        for profile in profiles:
            if profile != profiles[0]:
                app.open_live(sc, profile, replace=True)
                await wait_for(pilot, lambda p=profile: isinstance(app.screen, LiveScreen)
                               and app.screen.profile_id == p)
            try:
                await blast_and_alerts_agree(pilot, app, name, profile)
            except AssertionError as failed:
                failed.add_note(f"under profile {profile}")
                raise


async def blast_and_alerts_agree(pilot: Pilot[Any], app: AgentrangeApp, name: str,
                                 profile: str) -> None:
    events, folded = headless(name, profile)
    end = events[-1].time
    screen = await played(pilot, app)
    assert isinstance(screen, LiveScreen) and screen.profile_id == profile
    assert screen.events_seen == len(events) and screen.now == end
    panel = screen.query_one(BlastPanel)
    expected = folded.blast(end)
    assert panel.blast == expected
    compromises = list(folded.compromises.values())
    assert [(i.id, i.open, i.exposure, i.time_to_detect, i.time_to_contain)
            for i in panel.incidents] == [
        (c.id, c.open, c.exposure_window(end), c.time_to_detect, c.time_to_contain)
        for c in compromises]
    shown = {row[0]: row[1] for row in cells_of(panel.render())}
    assert number(shown["records exposed"]) == expected["records"]
    assert number(shown["could reach"]) == expected["potential_records"]
    if expected["amount"]:
        assert number(shown["money moved"]) == expected["amount"]
    else:
        assert "money moved" not in shown
    for label, key in (("systems", "systems"), ("data classes", "data_classes")):
        names = expected[key]
        assert shown[label].split()[0] == str(len(names))
        assert shown[label] == f"{len(names)}" + (f"  {', '.join(names)}" if names else "")
    exposure = expected["exposure_window"]
    assert shown["exposure"] == ("-" if exposure is None else duration(exposure)) + (
        "  still open" if expected["open"] else "")
    for c in compromises[-20:]:
        assert shown[c.id] == (
            f"open {duration(c.exposure_window(end))}" if c.open else
            f"contained in {duration(c.time_to_contain)}"
            + (f", seen at {duration(c.time_to_detect)}" if c.time_to_detect is not None
               else ""))
    alerts = folded.result(end).data["alerts"]["total"]
    title = screen.query_one(AlertList).border_title
    assert title == (f"alerts ({alerts:,})" if alerts else "alerts")


def headless_samples(events: tuple[Event, ...], times: list[float]) -> list[float]:
    """Records exposed, folded from the events before each time."""
    collector = MetricsCollector(record_decisions=False)
    out: list[float] = []
    i = 0
    for when in times:
        while i < len(events) and events[i].time < when:
            collector(events[i])
            i += 1
        if when >= events[-1].time:  # the run's end: every event is in
            while i < len(events):
                collector(events[i])
                i += 1
        out.append(float(collector.blast(when)["records"]))
    return out


async def test_the_metrics_table_and_chart_show_what_the_events_fold_to(name: str) -> None:
    profiles = [p.id for p in scenario(name).profiles]
    app = make_app(scenario(name), compare=profiles, speed=math.inf)
    async with app.run_test(size=(160, 60)) as pilot:
        screen = await played(pilot, app)
        assert isinstance(screen, CompareScreen)
        table = screen.query_one(MetricsTable)
        await wait_for(pilot, lambda: not table.running)
        chart = screen.query_one(LineChart)
        drawn = cells_of(table.render())
        assert [row[0] for row in drawn] == [row.label for row in table.rows]
        assert set(table.rows) == set(METRIC_ROWS)
        for column, profile in enumerate(profiles, start=1):
            events, folded = headless(name, profile)
            end = events[-1].time
            figures = folded.result(end).data
            shown = table.results[profile]
            assert flat(shown) == flat(figures)
            cells = {row[0]: row[column] for row in drawn}
            for row in METRIC_ROWS:
                assert cells[row.label] == row.cell(figures), (profile, row.label)
            # Read back as numbers, independently of the rows' own formatting.
            for label, path in (("records exposed", "blast_radius.records"),
                                ("records sent out", "blast_radius.egress_records"),
                                ("money moved", "blast_radius.amount"),
                                ("records reachable", "blast_radius.potential_records"),
                                ("decisions", "decisions.total"),
                                ("alerts", "alerts.total")):
                assert number(cells[label]) == metric(figures, path), (profile, label)
            assert cells["out-of-scope attempts stopped"] == (
                f"{count(metric(figures, 'out_of_scope.stopped'))} of "
                f"{count(metric(figures, 'out_of_scope.attempts'))}")
            assert cells["time to contain"] == seconds(figures["time_to_contain"])
            assert cells["benign steps denied"].startswith(
                percent(metric(figures, "delivery.benign_denied_rate")))
            points = chart.series[profile]
            assert points[-1] == (end, float(figures["blast_radius"]["records"]))
            assert [y for _, y in points[1:]] == headless_samples(
                events, [x for x, _ in points[1:]])
