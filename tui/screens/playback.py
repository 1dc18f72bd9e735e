"""Playback of live simulations in a worker thread: speed, pause, step and one batch per tick.

The worker thread owns the simulations' clocks: it alone calls ``step_until``. The UI thread
changes :class:`Playback` (thread-safe) and calls the simulations' live controls, which the
simulator applies at its next step. Each tick the worker drains the events the simulations
emitted into :class:`SinkBuffer` sinks and posts ONE :class:`SimTick` carrying them all; it
waits while two ticks are still unprocessed, so a busy UI slows the simulation down instead of
queueing without bound. When its last step computed for longer than the interpreter's switch
interval, it also waits (briefly) until the UI has repainted after a tick: the worker and the
UI share one interpreter lock, and a long step computing while the UI paints would stretch
the frame into a visible stall. Shorter steps (a replay, a slow speed) cannot hold the lock
long enough to matter, and waiting for the screen's next refresh would only slow them down.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from textual.message import Message
from textual.message_pump import MessagePump

from engine.model import Scenario
from sim.events import Event, EventKind, Sink

SPEEDS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
"""The speed ladder ``+`` and ``-`` climb: simulated seconds per wall second."""

TICK = 0.05
"""Wall seconds between ticks while playing (20 batches a second)."""

MAX_INFLIGHT = 2
"""Ticks posted but not yet handled before the worker waits (back-pressure)."""

PAINT_WAIT = 0.1
"""Longest the worker waits for the UI to repaint after a tick before it computes the next."""


class LiveSim(Protocol):
    """What playback needs of a simulation."""

    @property
    def now(self) -> float:
        """The simulated clock."""
        ...

    @property
    def done(self) -> bool:
        """True once the run has ended."""
        ...

    def step_until(self, t: float) -> Any:
        """Advance the simulation to simulated time ``t``."""
        ...


class Frame(NamedTuple):
    """What one simulation did during a tick."""

    events: tuple[Event, ...]
    now: float
    done: bool


class SimulationFactory(Protocol):
    """Builds a simulation to play: (scenario, profile id, seed, sink)."""

    def __call__(self, scenario: Scenario, profile: str, seed: int, sink: Sink, *,
                 record_decisions: bool = True) -> LiveSim:
        """A simulation; ``record_decisions`` keeps every decision's key for a diff."""
        ...


def real_simulation(scenario: Scenario, profile: str, seed: int, sink: Sink, *,
                    record_decisions: bool = True) -> LiveSim:
    """The simulator the product ships: :class:`sim.runner.Simulation`."""
    from sim.runner import Simulation

    sim: LiveSim = Simulation(scenario, profile, seed=seed, sink=sink,
                              record_decisions=record_decisions)
    return sim


class SimTick(Message):
    """One tick of playback: a frame per simulation, in the order they were given."""

    def __init__(self, frames: tuple[Frame, ...], speed: float, paused: bool, *,
                 await_paint: bool = False) -> None:
        self.frames = frames
        self.speed = speed
        self.paused = paused
        self.await_paint = await_paint
        """The worker waits until the screen has painted this tick (see :func:`after_paint`)."""
        self.posted_at = time.monotonic()
        super().__init__()

    @property
    def now(self) -> float:
        """The simulated clock after the tick (all simulations run in lock-step)."""
        return min(f.now for f in self.frames) if self.frames else 0.0

    @property
    def done(self) -> bool:
        """True when every simulation has ended."""
        return all(f.done for f in self.frames)


class PlaybackFailed(Message):
    """The worker stopped because a simulation raised; the screen reports it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        super().__init__()


class SinkBuffer:
    """A thread-safe event sink that the worker drains once per tick."""

    def __init__(self) -> None:
        self._items: deque[Event] = deque()

    def __call__(self, event: Event) -> None:
        """Take one event (deque appends are atomic, so any thread may emit)."""
        self._items.append(event)

    def drain(self) -> tuple[Event, ...]:
        """Everything emitted since the last drain, in order."""
        items = self._items
        return tuple(items.popleft() for _ in range(len(items)))


def after_paint(screen: MessagePump, panels: Sequence[MessagePump],
                callback: Callable[[], object]) -> None:
    """Call ``callback`` once ``screen`` has painted what a tick asked ``panels`` to redraw.

    ``screen.call_after_refresh`` alone is not enough: a widget asked to refresh tells the
    screen so from its own idle handler, in its own task, and the screen, idle before those
    requests arrive, runs its after-refresh callbacks at once. The worker then computed the
    next tick while the screen painted this one, and since both share one interpreter lock the
    paint took twice as long (the dashboard's longest stalls). Here each panel first runs a
    callback after its idle handler has posted its repaint request; when the last one has,
    the screen's after-refresh callback waits for those repaints.

    Args:
        screen: The screen the panels are on (call from its message handler).
        panels: The widgets the tick may have changed.
        callback: What to call once the screen has painted.
    """
    pending = len(panels)
    if not pending:
        screen.call_after_refresh(callback)
        return

    def panel_idle() -> None:
        nonlocal pending
        pending -= 1
        if not pending:
            screen.call_after_refresh(callback)

    for panel in panels:
        panel.call_next(panel_idle)


def default_speed(scenario: Scenario, seconds_to_incident: float = 15.0) -> float:
    """A speed at which the first incident shows within ``seconds_to_incident`` wall seconds.

    Without incidents the whole run plays in about two minutes.

    Args:
        scenario: The scenario to play.
        seconds_to_incident: Wall seconds the audience should wait for the first incident.
    """
    first = min((i.at for i in scenario.incidents), default=None)
    wanted = (first / seconds_to_incident) if first else scenario.duration / 120.0
    for step in SPEEDS:
        if step >= wanted:
            return step
    return SPEEDS[-1]


def faster(speed: float) -> float:
    """The next speed up the ladder."""
    return next((s for s in SPEEDS if s > speed), SPEEDS[-1] if math.isfinite(speed) else speed)


def slower(speed: float) -> float:
    """The next speed down the ladder."""
    if math.isinf(speed):
        return SPEEDS[-1]
    return next((s for s in reversed(SPEEDS) if s < speed), SPEEDS[0])


class Playback:
    """Playback controls shared by the UI thread and the worker (thread-safe)."""

    def __init__(self, speed: float, *, playing: bool = True,
                 pause_at: float | None = None) -> None:
        self._lock = threading.Lock()
        self.pause_at = pause_at
        """Simulated time at which playback pauses by itself (exactly there; None: never)."""
        self._speed = speed
        self._paused = not playing
        self._steps = 0
        self._wake = threading.Event()
        self._slots = threading.Condition()
        self._inflight = 0
        self._painted = threading.Event()
        self._painted.set()
        self.stopped = False

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second (``math.inf``: as fast as the UI keeps up)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        with self._lock:
            self._speed = value
        self._wake.set()

    @property
    def paused(self) -> bool:
        """True while the simulated clock stands still."""
        return self._paused

    def pause(self) -> None:
        """Stop the simulated clock after the current tick."""
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        """Start the simulated clock again."""
        with self._lock:
            self._paused = False
        self._wake.set()

    def toggle(self) -> bool:
        """Pause or resume; returns the new paused state."""
        if self._paused:
            self.resume()
        else:
            self.pause()
        return self._paused

    def request_step(self) -> None:
        """While paused: advance to the next decision (one step), then stand still again."""
        with self._lock:
            self._steps += 1
        self._wake.set()

    def take_step(self) -> bool:
        """Worker side: consume one requested step."""
        with self._lock:
            if self._steps:
                self._steps -= 1
                return True
            return False

    def stop(self) -> None:
        """Ask the worker to finish (the screen is going away)."""
        self.stopped = True
        self._wake.set()
        self._painted.set()
        with self._slots:
            self._slots.notify_all()

    def wait(self, seconds: float) -> None:
        """Worker side: sleep until a control changes or ``seconds`` pass."""
        self._wake.wait(seconds)
        self._wake.clear()

    def posted(self) -> None:
        """Worker side: a tick went out."""
        self._painted.clear()
        with self._slots:
            self._inflight += 1

    def painted(self) -> None:
        """UI side: the screen repainted after handling a tick."""
        self._painted.set()

    def wait_painted(self, timeout: float = PAINT_WAIT) -> None:
        """Worker side: give the UI the interpreter until it has repainted (or ``timeout``)."""
        self._painted.wait(timeout)

    def consumed(self) -> None:
        """UI side: a tick was handled."""
        with self._slots:
            self._inflight = max(0, self._inflight - 1)
            self._slots.notify_all()

    @property
    def inflight(self) -> int:
        """Ticks posted and not yet handled."""
        return self._inflight

    def wait_for_slot(self, timeout: float = 0.25) -> bool:
        """Worker side: wait until fewer than MAX_INFLIGHT ticks are pending."""
        with self._slots:
            return self._slots.wait_for(
                lambda: self._inflight < MAX_INFLIGHT or self.stopped, timeout)


class Driver:
    """Advances simulations in lock-step on wall-clock ticks and posts their events.

    The driver reads nothing from the simulations but their clocks: the screens fold the
    events it posts into every figure they show.

    Args:
        sims: The simulations (one for a live run, several for a comparison).
        sinks: The sink each simulation emits into, in the same order.
        playback: Speed and pause state, changed by the UI.
        end: Simulated time at which the runs end.
        max_batch: At unbounded speed, aim for about this many events per tick.
    """

    def __init__(self, sims: Sequence[LiveSim], sinks: Sequence[SinkBuffer],
                 playback: Playback, *, end: float, max_batch: int = 1500) -> None:
        self.sims = list(sims)
        self.sinks = list(sinks)
        self.playback = playback
        self.end = end
        self.max_batch = max_batch
        self._chunk = 60.0

    @property
    def now(self) -> float:
        """The simulated clock (the slowest simulation's)."""
        return min(s.now for s in self.sims)

    @property
    def done(self) -> bool:
        """True when every simulation has ended."""
        return all(s.done for s in self.sims)

    def _advance(self, target: float) -> None:
        target = min(target, self.end)
        pb = self.playback
        stop = pb.pause_at
        if stop is not None and target >= stop:
            # Land exactly on the pause time, so a paused run shows the same state every time.
            target = stop
            pb.pause_at = None
            pb.pause()
        for sim in self.sims:
            if not sim.done:
                sim.step_until(target)

    def _frames(self) -> tuple[Frame, ...]:
        return tuple(Frame(sink.drain(), sim.now, sim.done)
                     for sim, sink in zip(self.sims, self.sinks, strict=True))

    def step(self, quantum: float) -> tuple[Frame, ...]:
        """Advance until some simulation decides a request (or the run ends)."""
        frames: list[tuple[Frame, ...]] = []
        deadline = time.monotonic() + 1.0
        while not self.done and time.monotonic() < deadline:
            self._advance(self.now + quantum)
            batch = self._frames()
            frames.append(batch)
            if any(e.kind is EventKind.DECISION for f in batch for e in f.events):
                break
        return _merge(frames) if frames else self._frames()

    def run(self, post: Callable[[SimTick], object], cancelled: Callable[[], bool]) -> None:
        """The worker loop: tick until the runs end or the worker is cancelled."""
        pb = self.playback
        last = time.monotonic()
        computed = 0.0  # wall seconds the last step took
        pb.posted()
        post(SimTick(self._frames(), pb.speed, pb.paused))
        while not cancelled() and not pb.stopped:
            if self.done:
                pb.posted()
                post(SimTick(self._frames(), pb.speed, pb.paused))
                return
            if not pb.wait_for_slot():
                continue
            if computed > sys.getswitchinterval():
                pb.wait_painted()
            if pb.paused:
                if pb.take_step():
                    quantum = max(1.0, pb.speed * TICK) if math.isfinite(pb.speed) else 60.0
                    began = time.monotonic()
                    frames = self.step(quantum)
                    computed = time.monotonic() - began
                    pb.posted()
                    post(SimTick(frames, pb.speed, True,
                                 await_paint=computed > sys.getswitchinterval()))
                else:
                    pb.wait(TICK)
                last = time.monotonic()
                continue
            started = time.monotonic()
            dt = min(started - last, 0.25)
            last = started
            speed = pb.speed
            if math.isinf(speed):
                self._advance(self.now + self._chunk)
            else:
                self._advance(self.now + speed * dt)
            computed = time.monotonic() - started
            frames = self._frames()
            paused = pb.paused
            if math.isinf(speed):
                n = max(1, max(len(f.events) for f in frames))
                self._chunk = min(max(self._chunk * min(2.0, max(0.5, self.max_batch / n)),
                                      0.001), 86400.0)
            pb.posted()
            post(SimTick(frames, speed, paused, await_paint=computed > sys.getswitchinterval()))
            if math.isfinite(speed):
                spare = TICK - (time.monotonic() - started)
                if spare > 0:
                    pb.wait(spare)


def _merge(batches: list[tuple[Frame, ...]]) -> tuple[Frame, ...]:
    """Fold consecutive frames of each simulation into one."""
    merged: list[Frame] = []
    for i in range(len(batches[0])):
        events = tuple(e for batch in batches for e in batch[i].events)
        last = batches[-1][i]
        merged.append(Frame(events, last.now, last.done))
    return tuple(merged)
