"""The shared base of screens that play runs live: simulations, their worker, ticks and folds.

:class:`RunRoom` builds one simulation per profile, drives them in a labelled worker thread
(:class:`~tui.screens.playback.Driver`) and, on the UI thread, folds each tick's events into
one :class:`RunFeed` per run before the screen redraws its panels. Every figure a panel shows
is read from a feed's :class:`~sim.collectors.metrics.MetricsCollector`: nothing is read from
the simulations but the events they emit. The playback keys (pause, step, speed) and the keys
every run screen shares (scenarios, quit) live here too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import get_current_worker

from engine.model import Scenario
from sim.budget import RunStopped
from sim.collectors.metrics import MetricsCollector
from tui.memory import settle_memory
from tui.screens.messages import OpenPicker
from tui.screens.playback import (
    Driver,
    Frame,
    LiveSim,
    Playback,
    PlaybackFailed,
    SimTick,
    SimulationFactory,
    SinkBuffer,
    after_paint,
    faster,
    real_simulation,
    slower,
)
from tui.widgets.run_header import RunHeader

PLAYBACK_KEYS: list[BindingType] = [
    # One key, two bindings: the footer names what space does now (see RunRoom.check_action).
    Binding("space", "pause", "Pause", key_display="space"),
    Binding("space", "resume", "Play", key_display="space"),
    Binding(".", "step", "Step", key_display="."),
    Binding("+,equals_sign", "faster", "Faster", key_display="+"),
    Binding("-", "slower", "Slower", key_display="-"),
]
"""The keys that drive playback, first in every run screen's footer."""

Sample = tuple[float, dict[str, Any]]
"""(simulated time, the blast-radius figures folded up to it)."""


class RunFeed:
    """One run's events as its screen received them, folded on the UI thread.

    Args:
        record_decisions: Keep every decision's key (a comparison's diff needs them).
        grid: When set, :meth:`fold` samples the blast radius at every multiple of ``grid``
            simulated seconds the run's events cross, so a chart's points fall at the same
            times on every run whatever the ticks were.
    """

    def __init__(self, *, record_decisions: bool = False, grid: float | None = None) -> None:
        self.collector = MetricsCollector(record_decisions=record_decisions)
        """The run's figures, folded from the events received so far."""
        self.grid = grid
        self.now = 0.0
        """The run's simulated clock as of the last tick."""
        self.done = False
        self._mark = 1
        self._sampled = 0.0

    def fold(self, frame: Frame) -> list[Sample]:
        """Fold a tick's events; returns the blast radius at each grid time passed.

        A sample at time ``t`` holds every event before ``t`` (the simulator processes
        exactly those when stepped to ``t``). The run's end gets a last sample of its own.
        """
        collector = self.collector
        grid = self.grid
        if grid is None:
            for event in frame.events:
                collector(event)
            self.now, self.done = frame.now, frame.done
            return []
        samples: list[Sample] = []
        k = self._mark
        mark = k * grid
        for event in frame.events:
            while event.time >= mark:
                samples.append((mark, collector.blast(mark)))
                k += 1
                mark = k * grid
            collector(event)
        while mark <= frame.now:
            samples.append((mark, collector.blast(mark)))
            k += 1
            mark = k * grid
        self._mark = k
        if frame.done and not self.done and (samples[-1][0] if samples else self._sampled
                                             ) < frame.now:
            samples.append((frame.now, collector.blast(frame.now)))
        if samples:
            self._sampled = samples[-1][0]
        self.now, self.done = frame.now, frame.done
        return samples

    def result(self) -> dict[str, Any]:
        """The run's figures so far, at its clock (``RunResult.to_dict()`` shape)."""
        return dict(self.collector.result(self.now).data)


class RunRoom(Screen[None]):
    """Plays one run per profile of a scenario, in lock-step on one seed, folding their events.

    Subclasses lay the panels out, name them in :meth:`panels` and redraw them from the
    feeds in :meth:`apply`.

    Args:
        scenario: The loaded scenario.
        profiles: Profile ids, one run each.
        seed: The seed every run uses (None: the scenario's).
        speed: Initial speed, simulated seconds per wall second.
        autoplay: Start playing at once (else paused at time zero).
        pause_at: Pause by itself once the simulated clock reaches this time.
        simulation: Builds the simulations (None: the real simulator).
        record_decisions: Keep every decision's key (a comparison's diff needs them).
        grid: Sample each run's blast radius every ``grid`` simulated seconds (see
            :class:`RunFeed`).
    """

    BINDINGS: ClassVar[list[BindingType]] = []

    FAILED = "The simulation stopped"
    """How a simulation error is announced."""

    def __init__(self, scenario: Scenario, profiles: Sequence[str], *, seed: int | None = None,
                 speed: float = 600.0, autoplay: bool = True, pause_at: float | None = None,
                 simulation: SimulationFactory | None = None, record_decisions: bool = False,
                 grid: float | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.profiles = list(profiles)
        self.seed = scenario.seed if seed is None else seed
        self.playback = Playback(speed, playing=autoplay, pause_at=pause_at)
        self.simulation = simulation or real_simulation
        self.sinks = [SinkBuffer() for _ in self.profiles]
        self.feeds = [RunFeed(record_decisions=record_decisions, grid=grid)
                      for _ in self.profiles]
        self.sims: list[LiveSim] = []
        self.driver: Driver | None = None
        self.now = 0.0
        self.done = False
        self.events_seen = 0
        self.ticks_handled = 0
        self.longest_tick = 0.0
        self._footer_state = (not autoplay, False)
        """(paused, ended) as the footer last showed it."""

    # --- hooks for the screens -----------------------------------------------------------

    def prepare(self) -> None:
        """Set the panels up before the runs start (on mount)."""

    def panels(self) -> tuple[Widget, ...]:
        """The widgets a tick may redraw (the worker waits for them to paint)."""
        return ()

    def apply(self, message: SimTick, samples: list[list[Sample]]) -> None:
        """Redraw the panels after the tick's events were folded into :attr:`feeds`.

        Args:
            message: The tick.
            samples: Per run, the blast radius at each grid time the tick passed.
        """

    # --- runs ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Build one simulation per profile and start playing them in a worker thread."""
        header = self.query_one(RunHeader)
        header.scenario = self.scenario.name
        header.end = self.scenario.duration
        self._show_playback()
        self.prepare()
        # The feeds keep what the screen needs; the simulations' own figures are never read.
        self.sims = [self.simulation(self.scenario, p, self.seed, sink, record_decisions=False)
                     for p, sink in zip(self.profiles, self.sinks, strict=True)]
        settle_memory()
        self.driver = Driver(self.sims, self.sinks, self.playback, end=self.scenario.duration)
        self._play()

    def on_unmount(self) -> None:
        """Stop the worker with the screen."""
        self.playback.stop()

    @work(thread=True, exclusive=True, group="sim", exit_on_error=False)
    def _play(self) -> None:
        """Drive the simulations (worker thread); the UI hears of them only through messages."""
        worker = get_current_worker()
        assert self.driver is not None
        try:
            self.driver.run(self.post_message, lambda: worker.is_cancelled)
        except Exception as exc:  # the simulation failed: tell the screen, keep the app
            self.post_message(PlaybackFailed(exc))

    def on_sim_tick(self, message: SimTick) -> None:
        """Fold the tick's events into each run's feed, then let the screen redraw."""
        started = time.monotonic()
        try:
            samples = [feed.fold(frame)
                       for feed, frame in zip(self.feeds, message.frames, strict=True)]
            self.events_seen += sum(len(f.events) for f in message.frames)
            self.now = message.now
            self.apply(message, samples)
            self._sync_footer(self.playback.paused)  # paused by itself (pause_at, a step)
        finally:
            self.playback.consumed()
            if message.await_paint:  # a long step: let the paint finish before the next one
                after_paint(self, self.panels(), self.playback.painted)
            else:
                self.playback.painted()
            self.ticks_handled += 1
            self.longest_tick = max(self.longest_tick, time.monotonic() - started)

    def on_playback_failed(self, message: PlaybackFailed) -> None:
        """A simulation error ends playback with a clear notice, not a traceback.

        A run over its budget (``--max-events``, ``--max-memory``) is no error of the
        simulator: the notice says which budget and what drove the run there.
        """
        self.done = True
        self.query_one(RunHeader).done = True
        self._sync_footer(self.playback.paused)
        if isinstance(message.error, RunStopped):
            self.notify(str(message.error), title="run stopped", severity="warning",
                        timeout=30)
            return
        self.notify(f"{self.FAILED}: {message.error}", title="simulation error",
                    severity="error", timeout=30)

    # --- actions -------------------------------------------------------------------------

    def _show_playback(self) -> None:
        header = self.query_one(RunHeader)
        header.paused = self.playback.paused
        header.speed = self.playback.speed
        # The clock as of the last tick folded: a tick paced past the header's redraw
        # (the screens repaint it at most every few frames) must not leave it behind.
        header.now = self.now
        self._sync_footer(self.playback.paused)

    def _sync_footer(self, paused: bool) -> None:
        """Let the footer say Play while paused, Pause while playing.

        Only on a change: refreshing the bindings rebuilds the footer's keys, a restyle
        that costs a stall while events stream.
        """
        if (paused, self.done) != self._footer_state:
            self._footer_state = (paused, self.done)
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Space pauses while playing and plays while paused (the footer shows which).

        Once the run has ended neither is offered: there is nothing left to pause or play.
        """
        if action == "pause":
            return not self.playback.paused and not self.done
        if action == "resume":
            return self.playback.paused and not self.done
        return True

    def action_toggle_pause(self) -> None:
        """Pause or resume the simulated clock."""
        self.playback.toggle()
        self._show_playback()

    def action_pause(self) -> None:
        """Pause the simulated clock."""
        self.playback.pause()
        self._show_playback()

    def action_resume(self) -> None:
        """Play on from where the clock stands."""
        self.playback.resume()
        self._show_playback()

    def action_step(self) -> None:
        """Pause, then advance to the next decision."""
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

    def action_scenarios(self) -> None:
        """Choose another scenario."""
        self.post_message(OpenPicker())

    def action_quit(self) -> None:
        """Leave agentrange."""
        self.app.exit()
