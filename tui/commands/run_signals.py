"""How ``agentrange run`` meets SIGINT and SIGTERM: a run stops cleanly, its log sealed.

While a run is driven, a signal asks it to stop at its next budget check
(:func:`interrupt_on_signals`); before and after, from the audit log's creation to its close, a
signal stops the command by an exception the log's context seals as incomplete
(:func:`stop_on_signals`); while the log is being created, signals are held back
(:func:`signals_held`), so that no moment leaves a log unsealed. See docs/audit-log.md
("Incomplete runs and what a kill can lose").
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence

from engine.durations import format_duration
from sim.budget import RunInterrupted
from sim.runner import Simulation


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends; they are delivered then.

    Between the log file's creation and its writer's context being entered, an exception
    would leave a file nobody can seal; held back, the signal stops the command right after.
    """
    held = {signal.SIGINT, signal.SIGTERM}
    hold = hasattr(signal, "pthread_sigmask") and (
        threading.current_thread() is threading.main_thread())
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held) if hold else None
    try:
        yield
    finally:
        if before is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)


@contextlib.contextmanager
def stop_on_signals(now: Callable[[], float]) -> Iterator[None]:
    """Outside the driving of the run, SIGINT and SIGTERM stop the command as RunInterrupted.

    From before the audit log is created until it is closed, so a signal never kills the
    process with the log unsealed (SIGTERM's default) nor leaves it sealed as complete: the
    log is closed as incomplete, naming the signal. While the run is driven,
    :func:`interrupt_on_signals` takes over and stops it at its next budget check.
    """
    def handler(signum: int, _frame: object) -> None:
        raise _interrupted(signal.Signals(signum).name, now())

    with _handled_by(handler):
        yield


def _interrupted(name: str, at: float) -> RunInterrupted:
    """The stop a signal ``name`` makes at simulated time ``at`` (exit 128 + its number)."""
    stop = RunInterrupted(f"interrupted by {name} at {format_duration(at)} simulated",
                          reason=f"interrupted by {name}", at=at)
    stop.signal = name
    return stop


@contextlib.contextmanager
def interrupt_on_signals(sims: Sequence[Simulation]) -> Iterator[None]:
    """While the runs are driven, SIGINT and SIGTERM ask them to stop; a second one stops now.

    The handler only sets a flag the runs read at their next budget check (a few
    milliseconds), so a run never stops halfway through writing an event. Asked twice, or
    with no run left to stop (the runs' last events still being written, e.g. a slow trace
    receiver taking the final export), it stops the command at once, naming the signal;
    the audit log is then sealed as incomplete, since the last event may not be in it.
    """
    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        running = [sim for sim in sims if not sim.done]
        if not running or any(sim.watch.interrupted for sim in running):
            raise _interrupted(name, max((sim.now for sim in sims), default=0.0))
        for sim in running:
            sim.interrupt(name)

    with _handled_by(handler):
        yield


@contextlib.contextmanager
def _handled_by(handler: Callable[[int, object], None]) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` for the block; the previous handlers come back after.

    Only on the main thread: elsewhere ``signal.signal`` raises ValueError, so a command run
    from another thread keeps the handlers it has.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
