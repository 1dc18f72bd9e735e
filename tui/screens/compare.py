"""The compare screen: profiles in lock-step on one seed; blast radius chart, metrics, diff."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.worker import get_current_worker

from engine.model import Scenario
from sim.result import RunResult
from tui.render.story import story_of
from tui.screens.messages import OpenPicker
from tui.screens.playback import PlaybackFailed, SimTick, SimulationFactory
from tui.screens.room import PLAYBACK_KEYS, RunRoom, Sample
from tui.widgets.decision_diff import DecisionDiff, DiffRow
from tui.widgets.key_footer import KeyFooter
from tui.widgets.line_chart import LineChart
from tui.widgets.metrics_table import MetricsTable
from tui.widgets.run_header import RunHeader
from tui.widgets.story_banner import StoryBanner

if TYPE_CHECKING:
    from sim.compare import Comparison

REFRESH = 0.25
"""Wall seconds between redraws of the metrics while playing."""

CHART_POINTS = 600
"""Samples per chart line over the whole run (at fixed simulated times)."""


class CompareScreen(RunRoom):
    """Several profiles of one scenario run side by side, in lock-step, on the same seed.

    Each run's events are folded into its own metrics collector; the chart samples each
    collector's blast radius at the same simulated times, the metrics table shows each
    collector's result and the decision diff compares their decisions once the runs end.

    Args:
        scenario: The loaded scenario.
        profiles: Profile ids, one column (and chart line) each.
        seed: The shared seed (None: the scenario's).
        speed: Initial speed, simulated seconds per wall second.
        autoplay: Start playing at once.
        pause_at: Pause by itself once the simulated clock reaches this time.
        simulation: Builds the simulations (None: the real simulator).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *PLAYBACK_KEYS,
        Binding("escape,c", "back", "Back"),
        Binding("s", "scenarios", "Scenarios"),
        Binding("q", "quit", "Quit"),
    ]

    FAILED = "The comparison stopped"

    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    """Below 34 rows a narrow comparison drops its chart once the runs end (see the .tcss)."""

    def __init__(self, scenario: Scenario, profiles: Sequence[str], *, seed: int | None = None,
                 speed: float = 600.0, autoplay: bool = True, pause_at: float | None = None,
                 simulation: SimulationFactory | None = None) -> None:
        super().__init__(scenario, profiles, seed=seed, speed=speed, autoplay=autoplay,
                         pause_at=pause_at, simulation=simulation, record_decisions=True,
                         grid=max(1.0, scenario.duration / CHART_POINTS))
        self._last_refresh = 0.0

    def compose(self) -> ComposeResult:
        """Header; the story; chart and metrics side by side; the diff below; footer."""
        yield RunHeader(id="run-header")
        yield StoryBanner(id="story")
        with Horizontal(id="compare-top"):
            chart = LineChart(x_max=self.scenario.duration, id="compare-chart")
            chart.border_title = "records exposed over simulated time"
            yield chart
            metrics = VerticalScroll(MetricsTable(id="metrics-table"), id="compare-metrics")
            metrics.border_title = "metrics"
            yield metrics
        diff = DecisionDiff(id="compare-diff")
        diff.border_title = "decision diff (when the runs end)"
        yield diff
        yield KeyFooter(compact=True)

    def prepare(self) -> None:
        """Name the runs, start every chart line at zero and the table at "running"."""
        self.query_one(RunHeader).profile = " vs ".join(self.profiles)
        chart = self.query_one(LineChart)
        for p in self.profiles:
            chart.add_point(p, 0.0, 0.0)
        self.add_class("-running")
        table = self.query_one(MetricsTable)
        table.running = True
        table.results = {p: {} for p in self.profiles}
        self.show_story()

    def panels(self) -> tuple[Widget, ...]:
        """The widgets a tick redraws."""
        return (self.query_one(RunHeader), self.query_one(StoryBanner),
                self.query_one(LineChart), self.query_one(MetricsTable))

    def apply(self, message: SimTick, samples: list[list[Sample]]) -> None:
        """Move every line of the chart on and refresh the metrics from the feeds."""
        chart = self.query_one(LineChart)
        header = self.query_one(RunHeader)
        for profile, points in zip(self.profiles, samples, strict=True):
            for when, blast in points:
                chart.add_point(profile, when, float(blast["records"]))
        wall = time.monotonic()
        settled = message.paused or message.done or self.playback.paused  # see LiveScreen
        if wall - self._last_refresh >= REFRESH or settled:
            self._last_refresh = wall
            with self.app.batch_update():
                header.now = message.now
                header.speed = message.speed
                header.paused = self.playback.paused
                chart.refresh()
                self.show_story()
                self.query_one(MetricsTable).results = {
                    p: feed.result() for p, feed in zip(self.profiles, self.feeds, strict=True)}
        if message.done and not self.done:
            self.done = True
            header.done = True
            self._finish([feed.collector.result(feed.now) for feed in self.feeds])

    def show_story(self) -> None:
        """Tell the story so far in the banner, from each run's collector."""
        self.query_one(StoryBanner).show(story_of(
            [(p, feed.collector) for p, feed in zip(self.profiles, self.feeds, strict=True)]))

    @work(thread=True, exclusive=True, group="compare-end", exit_on_error=False)
    def _finish(self, results: list[RunResult]) -> None:
        """The decision diff of the folded results, once every run has ended (worker thread)."""
        from sim.compare import comparison_of

        try:
            comparison = comparison_of(self.scenario, self.profiles, self.seed, results)
        except Exception as exc:
            self.post_message(PlaybackFailed(exc))
            return
        self.app.call_from_thread(self._show_comparison, comparison)

    def _show_comparison(self, comparison: Comparison) -> None:
        results: dict[str, Mapping[str, Any]] = {
            p: r.data for p, r in zip(self.profiles, comparison.results, strict=True)}
        self.remove_class("-running")
        self.add_class("-ended")
        table = self.query_one(MetricsTable)
        table.running = False
        table.results = results
        rows = [DiffRow(d.request, tuple(d.effects), d.key) for d in comparison.diff]
        self.query_one(DecisionDiff).border_title = "decisions that differ between the profiles"
        self.query_one(DecisionDiff).show(self.profiles, rows, comparison.summary)

    # --- a diff row's decisions ------------------------------------------------------------

    def on_decision_diff_opened(self, message: DecisionDiff.Opened) -> None:
        """Find the row's decision under every profile (a replay), then show them."""
        if message.row.key is not None:
            self.notify("Finding this request's decision under each profile...", timeout=2)
            self._find_decisions(message.row.request, message.row.key)

    @work(thread=True, exclusive=True, group="diff-detail", exit_on_error=False)
    def _find_decisions(self, request: str, key: Any) -> None:
        from tui.screens.diff_detail import DiffDetailScreen, find_decision

        try:
            found = [find_decision(self.simulation, self.scenario, p, self.seed, key)
                     for p in self.profiles]
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"Could not replay the runs: {exc}",
                                      severity="error", timeout=8)
            return
        if not get_current_worker().is_cancelled:  # a newer row was chosen meanwhile
            self.app.call_from_thread(self.app.push_screen,
                                      DiffDetailScreen(request, found, self.scenario))

    # --- actions -------------------------------------------------------------------------

    def action_back(self) -> None:
        """Back to the live run (or the picker when the comparison was opened first)."""
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.post_message(OpenPicker())
