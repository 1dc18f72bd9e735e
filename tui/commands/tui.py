"""``agentrange tui``: open the dashboard (also what ``agentrange`` with no command does)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.audit.chain import DEFAULT_CHECKPOINT_EVERY
from engine.audit.writer import AuditWriter
from engine.errors import AgentrangeError
from engine.model import Scenario
from sim.events import Sink
from tui.commands.run import open_audit_log


class TerminalError(AgentrangeError):
    """The dashboard was asked for where there is no terminal to draw it on."""


def open_dashboard(args: argparse.Namespace) -> int:
    """Build the app from the arguments (all optional) and run it until the user quits.

    Raises:
        LoadError: the scenario does not load.
        UnknownProfileError: a profile named is not in the scenario.
        TerminalError: standard input or output is not a terminal.
    """
    from tui.app import DEFAULT_SCENARIO, make_app

    if getattr(args, "sweep", None):
        return run_app(make_app(None, sweep=_sweep(args.sweep)))
    pick = bool(getattr(args, "pick", False))
    scenario = getattr(args, "scenario", None)
    if scenario is None and not pick:
        scenario = DEFAULT_SCENARIO
    budget = {"max_events": getattr(args, "max_events", None),
              "max_memory_mb": getattr(args, "max_memory", None)}
    audited = None
    simulation: BudgetedSimulation | TracedSimulation | None = None
    if getattr(args, "audit_log", None):
        simulation = audited = AuditedSimulation(
            args.audit_log, getattr(args, "audit_key", None),
            checkpoint_every=getattr(args, "checkpoint_every", DEFAULT_CHECKPOINT_EVERY),
            **budget)
    elif budget["max_events"] is not None or budget["max_memory_mb"] is not None:
        simulation = BudgetedSimulation(**budget)
    traced: TracedSimulation | None = None
    if getattr(args, "otlp", None) or getattr(args, "otlp_endpoint", None):
        simulation = traced = TracedSimulation(simulation or BudgetedSimulation(**budget),
                                               args.otlp, args.otlp_endpoint)
    app = make_app(
        scenario=Path(scenario) if scenario and Path(scenario).exists() else scenario,
        profile=getattr(args, "profile", None),
        compare=getattr(args, "compare", None),
        pick=pick,
        speed=getattr(args, "speed", None),
        autoplay=not getattr(args, "paused", False),
        seed=getattr(args, "seed", None),
        simulation=simulation,
        blind=bool(getattr(args, "blind", False)),
        scores=Path(args.scores) if getattr(args, "scores", None) else None,
        **_theme(args),
    )
    return run_app(app, audited, traced)


def served() -> bool:
    """True when textual-serve runs the dashboard for a browser (no terminal is needed)."""
    return os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver")


def run_app(app: Any, audited: AuditedSimulation | None = None,
            traced: TracedSimulation | None = None) -> int:
    """Run a built dashboard until the user quits; returns its exit code.

    Raises:
        TerminalError: standard input or output is not a terminal (and no browser serves it).
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()) and not served():
        raise TerminalError("the dashboard needs an interactive terminal; for a headless "
                            "run use `agentrange run`")
    stopped_by: list[str] = []
    try:
        with _exit_on_signals(app, stopped_by):
            app.run()
    finally:
        if audited is not None:
            audited.close(f"interrupted by {stopped_by[0]}" if stopped_by else None)
        if traced is not None:
            traced.close()
    return int(app.return_code or 0)


@contextlib.contextmanager
def _exit_on_signals(app: Any, stopped_by: list[str]) -> Iterator[None]:
    """SIGTERM and SIGHUP (the terminal closing) end the dashboard as quitting does.

    Their default would kill the process with its audit log unsealed; instead the app exits
    (exit code 128 + the signal's number) and the log is sealed as incomplete, naming the
    signal. A second signal, or one before the app's loop runs, stops at once by an exception.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        stopped_by.append(signal.Signals(signum).name)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or len(stopped_by) > 1:
            raise KeyboardInterrupt
        # Safe from a signal handler: it only queues the call and wakes the loop.
        loop.call_soon_threadsafe(functools.partial(app.exit, None, 128 + signum))

    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)


def _sweep(path: str) -> tuple[Any, str]:
    """A saved sweep's trade-off and title (its plot library checked before the app starts)."""
    from sim.tradeoff import TradeOffError, load_sweep_file

    try:
        import textual_plotext  # noqa: F401
    except ImportError:
        raise TradeOffError("--sweep: the chart needs the optional extra agentrange[plot] "
                            "(pip install 'agentrange[plot]')") from None
    return load_sweep_file(path)


def _theme(args: argparse.Namespace) -> dict[str, Any]:
    """``--theme`` (remembered from now on), else the theme remembered from an earlier run."""
    from tui.settings import load_theme

    chosen = getattr(args, "theme", None)
    if chosen is not None:
        return {"theme": chosen, "remember_theme": True}
    remembered, warning = load_theme()
    if warning is not None:
        print(f"agentrange: warning: {warning}", file=sys.stderr)
    return {"theme": remembered, "remember_theme": True}


class SerialAuditWriter(AuditWriter):
    """An audit log the simulation worker thread appends to and the main thread closes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> int:
        """Append one record (never interleaved with closing)."""
        with self._lock:
            return super().append(record)

    def close(self, *, incomplete: str | None = None, at: float | None = None) -> None:
        """Write the final checkpoint once no append is in flight."""
        with self._lock:
            super().close(incomplete=incomplete, at=at)


class BudgetedSimulation:
    """Builds the dashboard's simulations with the budget of ``--max-events``/``--max-memory``.

    A run over its budget stops; the screen says so in a notice (see
    :meth:`tui.screens.room.RunRoom.on_playback_failed`).
    """

    def __init__(self, *, max_events: int | None = None,
                 max_memory_mb: int | None = None) -> None:
        self.max_events = max_events
        self.max_memory_mb = max_memory_mb

    def __call__(self, scenario: Scenario, profile: str, seed: int, sink: Sink, *,
                 record_decisions: bool = True, audit: AuditWriter | None = None) -> Any:
        """A real simulation with the budget."""
        from sim.runner import Simulation

        return Simulation(scenario, profile, seed=seed, sink=sink, audit=audit,
                          record_decisions=record_decisions, max_events=self.max_events,
                          max_memory_mb=self.max_memory_mb)


class AuditedSimulation(BudgetedSimulation):
    """Builds the dashboard's simulations; the first one writes a signed audit log.

    Later runs (a comparison, a scenario from the picker, the debrief's baseline) play
    unaudited: one log holds one run.
    """

    def __init__(self, path: str, key_path: str | None, *,
                 checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
                 max_events: int | None = None, max_memory_mb: int | None = None) -> None:
        super().__init__(max_events=max_events, max_memory_mb=max_memory_mb)
        self.path = path
        self.key_path = key_path
        self.checkpoint_every = checkpoint_every
        self.writer: AuditWriter | None = None
        self.audited: Any = None

    def __call__(self, scenario: Scenario, profile: str, seed: int, sink: Sink, *,
                 record_decisions: bool = True, audit: AuditWriter | None = None) -> Any:
        """A real simulation, audited when it is the first."""
        if self.writer is not None:
            return super().__call__(scenario, profile, seed, sink,
                                    record_decisions=record_decisions)
        self.writer = open_audit_log(self.path, self.key_path, scenario, profile, seed,
                                     checkpoint_every=self.checkpoint_every,
                                     writer=SerialAuditWriter)
        self.audited = super().__call__(scenario, profile, seed, sink,
                                        record_decisions=record_decisions, audit=self.writer)
        return self.audited

    def close(self, interrupted: str | None = None) -> None:
        """Close the log with its final checkpoint (it holds every event the run emitted).

        A run the dashboard left before its end is sealed as incomplete, with the simulated
        time it had reached (and ``interrupted``, what stopped the dashboard, as the reason
        when given); a run stopped by its budget, with the budget it crossed.
        """
        if self.writer is None or self.writer.closed:
            return
        sim = self.audited
        stopped = getattr(sim, "stopped", None)
        if stopped is not None:
            self.writer.close(incomplete=stopped.reason, at=stopped.at)
        elif sim is not None and sim.now < sim.end:
            self.writer.close(
                incomplete=interrupted or "the dashboard was closed before the run ended",
                at=sim.now)
        else:
            self.writer.close()


class TracedSimulation:
    """Wraps the dashboard's simulation factory: every run is exported as OTLP traces.

    Each run (the first, a comparison's others, one picked later) gets its own resource in
    the same file or receiver; :meth:`close` ends the spans still open when the dashboard
    quits (marked unfinished) and reports a receiver's failure.
    """

    def __init__(self, inner: Any, path: str | None,
                 endpoint: str | None) -> None:
        from tui.commands.otlp_out import TraceExport

        self.inner = inner
        self._stack = contextlib.ExitStack()
        self.export = TraceExport(self._stack, path, endpoint)
        self._lock = threading.Lock()

    def __call__(self, scenario: Scenario, profile: str, seed: int, sink: Sink, *,
                 record_decisions: bool = True, audit: AuditWriter | None = None) -> Any:
        """The inner factory's simulation, its events also folded into traces."""
        from tui.commands.otlp_out import tee

        with self._lock:
            otlp = self.export.sink()

        def locked(event: Any) -> None:
            with self._lock:  # runs play in worker threads; one writer between them
                otlp(event)

        both = tee(sink, locked)
        assert both is not None
        return self.inner(scenario, profile, seed, both, record_decisions=record_decisions)

    def close(self) -> None:
        """Write what is still open, close the file, raise a receiver's failure."""
        try:
            with self._lock:
                self.export.finish()
        finally:
            self._stack.close()
