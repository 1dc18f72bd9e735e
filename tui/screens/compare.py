"""The compare screen: profiles in lock-step on one seed; blast radius chart, metrics, diff."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.worker import get_current_worker

from engine.model import Scenario
from tui.screens.playback import (
    Driver,
    Playback,
    PlaybackFailed,
    SimTick,
    SinkBuffer,
    after_paint,
    faster,
    slower,
)
from tui.widgets.decision_diff import DecisionDiff, DiffRow
from tui.widgets.key_footer import KeyFooter
from tui.widgets.line_chart import LineChart
from tui.widgets.metrics_table import MetricsTable
from tui.widgets.run_header import RunHeader

if TYPE_CHECKING:
    from tui.app import AgentrangeApp

REFRESH = 0.25
"""Wall seconds between redraws of the metrics while playing."""

CHART_POINTS = 600
"""Samples per chart line over the whole run (at fixed simulated times)."""


def observe_result(sim: Any) -> Mapping[str, Any]:
    """A run's metrics so far in ``RunResult.to_dict()`` shape (read in the worker thread)."""
    result: Mapping[str, Any] = sim.result().to_dict()
    return result


class CompareScreen(Screen[None]):
    """Several profiles of one scenario run side by side, in lock-step, on the same seed.

    Args:
        scenario: The loaded scenario.
        profiles: Profile ids, one column (and chart line) each.
        seed: The shared seed (None: the scenario's).
        speed: Initial speed, simulated seconds per wall second.
        autoplay: Start playing at once.
        pause_at: Pause by itself once the simulated clock reaches this time.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Pause", key_display="space"),
        Binding(".", "step", "Step", key_display="."),
        Binding("+,equals_sign", "faster", "Faster", key_display="+"),
        Binding("-", "slower", "Slower", key_display="-"),
        Binding("escape,c", "back", "Back"),
        Binding("s", "scenarios", "Scenarios"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, scenario: Scenario, profiles: Sequence[str], *, seed: int | None = None,
                 speed: float = 600.0, autoplay: bool = True,
                 pause_at: float | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.profiles = list(profiles)
        self.seed = scenario.seed if seed is None else seed
        self.playback = Playback(speed, playing=autoplay, pause_at=pause_at)
        self.sinks = [SinkBuffer() for _ in self.profiles]
        self.sims: list[Any] = []
        self.driver: Driver | None = None
        self.now = 0.0
        self.done = False
        self.events = [0 for _ in self.profiles]
        self.snapshots: dict[str, Mapping[str, Any]] = {}
        self._last_refresh = 0.0

    @property
    def agentrange(self) -> AgentrangeApp:
        """The app, typed."""
        from tui.app import AgentrangeApp

        assert isinstance(self.app, AgentrangeApp)
        return self.app

    def compose(self) -> ComposeResult:
        """Header; chart and metrics side by side; the diff below; footer."""
        yield RunHeader(id="run-header")
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

    def on_mount(self) -> None:
        """One simulation per profile, all driven by one worker."""
        header = self.query_one(RunHeader)
        header.scenario = self.scenario.name
        header.profile = " vs ".join(self.profiles)
        header.end = self.scenario.duration
        header.speed = self.playback.speed
        header.paused = self.playback.paused
        self.sims = [self.agentrange.new_simulation(self.scenario, p, self.seed, sink)
                     for p, sink in zip(self.profiles, self.sinks, strict=True)]
        self.agentrange.settle_memory()
        self.driver = Driver(self.sims, self.sinks, self.playback, end=self.scenario.duration,
                             observe=observe_result,
                             grid=max(1.0, self.scenario.duration / CHART_POINTS))
        chart = self.query_one(LineChart)
        for p in self.profiles:
            chart.add_point(p, 0.0, 0.0)
        self.add_class("-running")
        table = self.query_one(MetricsTable)
        table.running = True
        table.results = {p: {} for p in self.profiles}
        self._play()

    def on_unmount(self) -> None:
        """Stop the worker with the screen."""
        self.playback.stop()

    @work(thread=True, exclusive=True, group="sim", exit_on_error=False)
    def _play(self) -> None:
        worker = get_current_worker()
        assert self.driver is not None
        try:
            self.driver.run(self.post_message, lambda: worker.is_cancelled)
        except Exception as exc:  # the simulation failed: tell the screen, keep the app
            self.post_message(PlaybackFailed(exc))

    def on_sim_tick(self, message: SimTick) -> None:
        """Move every line of the chart on and refresh the metrics."""
        try:
            self._apply(message)
        finally:
            self.playback.consumed()
            if message.await_paint:  # a long step: let the paint finish before the next one
                after_paint(self, (self.query_one(RunHeader), self.query_one(LineChart),
                                   self.query_one(MetricsTable)), self.playback.painted)
            else:
                self.playback.painted()

    def _apply(self, message: SimTick) -> None:
        chart = self.query_one(LineChart)
        header = self.query_one(RunHeader)
        self.now = message.now
        for i, (profile, frame) in enumerate(zip(self.profiles, message.frames, strict=True)):
            self.events[i] += len(frame.events)
            if frame.snapshot is not None:
                self.snapshots[profile] = frame.snapshot
            for when, snapshot in frame.samples:
                if snapshot is not None:
                    records = snapshot["blast_radius"]["records"]
                    chart.add_point(profile, when, float(records or 0))
        wall = time.monotonic()
        if wall - self._last_refresh >= REFRESH or message.paused or message.done:
            self._last_refresh = wall
            with self.app.batch_update():
                header.now = message.now
                header.speed = message.speed
                header.paused = self.playback.paused
                chart.refresh()
                self.query_one(MetricsTable).results = {
                    p: self._live_metrics(p) for p in self.profiles}
        if message.done and not self.done:
            self.done = True
            header.done = True
            self._finish()

    def _live_metrics(self, profile: str) -> Mapping[str, Any]:
        return self.snapshots.get(profile) or {}

    @work(thread=True, exclusive=True, group="compare-end", exit_on_error=False)
    def _finish(self) -> None:
        """Results and the decision diff, once every run has ended (worker thread)."""
        from sim.compare import comparison_of

        try:
            comparison = comparison_of(self.scenario, self.profiles, self.seed,
                                       [sim.result() for sim in self.sims])
        except Exception as exc:
            self.post_message(PlaybackFailed(exc))
            return
        self.app.call_from_thread(self._show_comparison, comparison)

    def _show_comparison(self, comparison: Any) -> None:
        results = {p: r.to_dict() for p, r in zip(self.profiles, comparison.results,
                                                   strict=True)}
        self.remove_class("-running")
        table = self.query_one(MetricsTable)
        table.running = False
        table.results = results
        rows = [DiffRow(d.request, tuple(d.effects)) for d in comparison.diff]
        self.query_one(DecisionDiff).show(self.profiles, rows, comparison.summary)

    def on_playback_failed(self, message: PlaybackFailed) -> None:
        """A simulation error ends playback with a clear notice."""
        self.done = True
        self.query_one(RunHeader).done = True
        self.notify(f"The comparison stopped: {message.error}", title="simulation error",
                    severity="error", timeout=30)

    # --- actions -------------------------------------------------------------------------

    def _show_playback(self) -> None:
        header = self.query_one(RunHeader)
        header.paused = self.playback.paused
        header.speed = self.playback.speed

    def action_toggle_pause(self) -> None:
        """Pause or resume every run."""
        self.playback.toggle()
        self._show_playback()

    def action_step(self) -> None:
        """Pause, then advance every run to the next decision."""
        self.playback.pause()
        self.playback.request_step()
        self._show_playback()

    def action_faster(self) -> None:
        """Play faster."""
        self.playback.speed = faster(self.playback.speed)
        self._show_playback()

    def action_slower(self) -> None:
        """Play slower."""
        self.playback.speed = slower(self.playback.speed)
        self._show_playback()

    def action_back(self) -> None:
        """Back to the live run (or the picker when the comparison was opened first)."""
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.agentrange.open_picker()

    def action_scenarios(self) -> None:
        """Choose another scenario."""
        self.agentrange.open_picker()

    def action_quit(self) -> None:
        """Leave agentrange."""
        self.app.exit()
