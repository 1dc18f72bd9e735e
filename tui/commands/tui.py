"""``agentrange tui``: open the dashboard (also what ``agentrange`` with no command does)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Mapping
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

    pick = bool(getattr(args, "pick", False))
    scenario = getattr(args, "scenario", None)
    if scenario is None and not pick:
        scenario = DEFAULT_SCENARIO
    budget = {"max_events": getattr(args, "max_events", None),
              "max_memory_mb": getattr(args, "max_memory", None)}
    audited = None
    simulation: BudgetedSimulation | None = None
    if getattr(args, "audit_log", None):
        simulation = audited = AuditedSimulation(
            args.audit_log, getattr(args, "audit_key", None),
            checkpoint_every=getattr(args, "checkpoint_every", DEFAULT_CHECKPOINT_EVERY),
            **budget)
    elif budget["max_events"] is not None or budget["max_memory_mb"] is not None:
        simulation = BudgetedSimulation(**budget)
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
    )
    return run_app(app, audited)


def served() -> bool:
    """True when textual-serve runs the dashboard for a browser (no terminal is needed)."""
    return os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver")


def run_app(app: Any, audited: AuditedSimulation | None = None) -> int:
    """Run a built dashboard until the user quits; returns its exit code.

    Raises:
        TerminalError: standard input or output is not a terminal (and no browser serves it).
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()) and not served():
        raise TerminalError("the dashboard needs an interactive terminal; for a headless "
                            "run use `agentrange run`")
    try:
        app.run()
    finally:
        if audited is not None:
            audited.close()
    return app.return_code or 0


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

    def close(self) -> None:
        """Close the log with its final checkpoint (it holds every event the run emitted).

        A run the dashboard left before its end is sealed as incomplete, with the simulated
        time it had reached; a run stopped by its budget, with the budget it crossed.
        """
        if self.writer is None or self.writer.closed:
            return
        sim = self.audited
        stopped = getattr(sim, "stopped", None)
        if stopped is not None:
            self.writer.close(incomplete=stopped.reason, at=stopped.at)
        elif sim is not None and sim.now < sim.end:
            self.writer.close(incomplete="the dashboard was closed before the run ended",
                              at=sim.now)
        else:
            self.writer.close()
