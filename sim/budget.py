"""The run budget: how many events and how much memory one run may take, and how a run stops.

A scenario that validation lets through can still ask for more than a machine has: a typo in
an arrival rate, a delegation loop. The budget is the backstop. :class:`BudgetWatch` is
consulted by the driving loop (:mod:`sim.runner`) every :data:`CHECK_EVERY` simpy steps, never
per event: it compares the events emitted so far with the event budget, reads the process's
resident memory at most every :data:`MEMORY_EVERY` wall seconds (a step's cost varies a
thousandfold between scenarios, so memory is paced by the clock, not by steps), and notices
an interruption asked for by a signal handler or another thread.

The memory budget is the run's own growth: resident memory now less its baseline, the
resident memory when the run was made. A run inherits its host's size otherwise (a pytest
worker that has run hundreds of tests, a long dashboard session, a sweep worker), and a
host past the budget would stop every run at once. Memory freed before the run and reused by
it is not counted; memory the run takes from the system is. Crossing a limit raises
:class:`BudgetExceededError` naming the budget and the agent and task that emitted most of the
recent events (sampled at each check, so the sampling costs one append per check); an
interruption raises
:class:`RunInterrupted`. Both are :class:`RunStopped`, carrying the reason and the simulated
time, which is what an audit log closed as incomplete records.

The defaults are :data:`engine.bounds.DEFAULT_MAX_EVENTS` and
:data:`engine.bounds.DEFAULT_MAX_MEMORY_MB`, shared with validation.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.bounds import DEFAULT_MAX_EVENTS, DEFAULT_MAX_MEMORY_MB
from engine.durations import format_duration
from engine.errors import AgentrangeError

CHECK_EVERY = 256
"""simpy steps between two checks (about a millisecond of an ordinary run)."""

MEMORY_EVERY = 0.05
"""Wall seconds between two reads of resident memory (each read costs about 10 us)."""

SAMPLES = 64
"""Recent events sampled (one per check) to name what drives a run over its budget."""

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 4096 / 2**20


class BudgetError(AgentrangeError):
    """A budget asked for is not a positive whole number."""


class RunStopped(AgentrangeError):
    """A run stopped before its end: over its budget, or interrupted.

    The message is one line for people; ``reason`` is the short form an incomplete audit
    log records and ``at`` the simulated time the run stopped at. (Only the message is a
    constructor argument: simpy re-raises an exception that left a process as
    ``type(exc)(*exc.args)``.)
    """

    def __init__(self, message: str, *, reason: str = "", at: float = 0.0) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.at = at


class BudgetExceededError(RunStopped):
    """A run crossed its event or memory budget.

    Attributes:
        budget: ``events`` or ``memory``.
        limit: The limit crossed (events, or MiB).
        driver: The (agent, task) that emitted most of the recent events, when known.
    """

    budget: str = ""
    limit: int = 0
    driver: tuple[str, str | None] | None = None


class RunInterrupted(RunStopped):
    """A run was interrupted (Ctrl-C, SIGTERM, or a caller's :meth:`BudgetWatch.interrupt`).

    Attributes:
        signal: What interrupted it (``SIGINT``, ``SIGTERM``, or the caller's word).
    """

    signal: str = ""


@dataclass(frozen=True)
class RunBudget:
    """How much one run may take.

    Args:
        max_events: Events the run may emit.
        max_memory_mb: Resident memory, in MiB, the run may add to its process (measured
            from the process's resident memory when the run was made).

    Raises:
        BudgetError: for a limit that is not a positive whole number.
    """

    max_events: int = DEFAULT_MAX_EVENTS
    max_memory_mb: int = DEFAULT_MAX_MEMORY_MB

    def __post_init__(self) -> None:
        for name in ("max_events", "max_memory_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BudgetError(f"{name}: expected a whole number above 0, found {value!r}")

    @classmethod
    def of(cls, max_events: int | None = None, max_memory_mb: int | None = None) -> RunBudget:
        """A budget with the defaults where a limit is None."""
        return cls(DEFAULT_MAX_EVENTS if max_events is None else max_events,
                   DEFAULT_MAX_MEMORY_MB if max_memory_mb is None else max_memory_mb)


def resident_mb() -> float:
    """The process's resident memory now, in MiB (its peak where /proc is not available).

    Where only the peak is known (macOS, the BSDs) a run's growth is the growth of the peak:
    never more than the run took, and the same at a host's first run.
    """
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class BudgetWatch:
    """Checks one run against its budget; the driving loop calls :meth:`check`.

    Args:
        budget: The run's limits.
        progress: Called at each check (a progress bar; it must be quick and not raise).
    """

    def __init__(self, budget: RunBudget, progress: Callable[[], None] | None = None) -> None:
        self.budget = budget
        self.progress = progress
        self.interrupted: str | None = None
        """What asked the run to stop (set from a signal handler or another thread)."""
        self.baseline = resident_mb()
        """Resident memory (MiB) when the run was made: the memory budget counts from it."""
        self._read_at = float("-inf")  # the first check reads it
        self._samples: deque[tuple[str, str | None]] = deque(maxlen=SAMPLES)

    def interrupt(self, why: str) -> None:
        """Ask the run to stop at its next check (safe from a signal handler or a thread)."""
        if self.interrupted is None:
            self.interrupted = why

    def check(self, events: int, now: float, last: Any = None, *,
              driver: tuple[str, str | None] | None = None, memory: bool = False) -> None:
        """Raise if the run is over its budget or was interrupted.

        Args:
            events: Events emitted so far (or about to be).
            now: The simulated clock.
            last: The last event emitted (an :class:`~sim.events.Event`; sampled).
            driver: The (agent, task) known to drive the run now, if any.
            memory: Read resident memory at this check whatever the count.

        Raises:
            RunInterrupted: an interruption was asked for.
            BudgetExceededError: a limit is crossed.
        """
        if last is not None and last.agent is not None:
            data: Mapping[str, Any] = last.data
            self._samples.append((last.agent, data.get("task")))
        if self.progress is not None:
            self.progress()
        if self.interrupted is not None:
            why = self.interrupted
            stop = RunInterrupted(f"interrupted by {why} at {format_duration(now)} simulated",
                                  reason=f"interrupted by {why}", at=now)
            stop.signal = why
            raise stop
        budget = self.budget
        if events > budget.max_events:
            raise self._exceeded("events", budget.max_events,
                                 f"{budget.max_events:,} events", now, driver)
        wall = time.monotonic()
        if memory or wall - self._read_at >= MEMORY_EVERY:
            self._read_at = wall
            rss = resident_mb()
            grown = rss - self.baseline
            if grown > budget.max_memory_mb:
                raise self._exceeded("memory", budget.max_memory_mb,
                                     f"{budget.max_memory_mb:,} MB of memory (grew by "
                                     # rounded up: never "grew by 2 MB" over a 2 MB budget
                                     f"{math.ceil(grown):,} MB to {rss:,.0f} MB resident)",
                                     now, driver)

    def driver(self) -> tuple[str, str | None] | None:
        """The (agent, task) behind most of the recently sampled events."""
        samples = self._samples
        if not samples:
            return None
        agent = Counter(a for a, _task in samples).most_common(1)[0][0]
        # Token and run-level events of that agent name no task: its most sampled task.
        tasks = Counter(t for a, t in samples if a == agent and t is not None).most_common(1)
        return agent, tasks[0][0] if tasks else None

    def _exceeded(self, budget: str, limit: int, what: str, now: float,
                  driver: tuple[str, str | None] | None) -> BudgetExceededError:
        driver = driver or self.driver()
        option = "--max-events" if budget == "events" else "--max-memory"
        by = ""
        if driver is not None:
            agent, task = driver
            by = f", driven by agent {agent}" + (f", task {task}" if task else "")
        stop = BudgetExceededError(
            f"run stopped at {format_duration(now)} simulated: over its budget of {what}"
            f"{by} (raise it with {option})",
            reason=f"over its {budget} budget ({what}){by}", at=now)
        stop.budget, stop.limit, stop.driver = budget, limit, driver
        return stop
