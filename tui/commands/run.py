"""``agentrange run`` and ``agentrange compare``: headless runs as tables, Markdown or JSON.

``run`` plays one scenario under one profile and prints its metrics; ``--events`` writes the
event stream as JSON Lines and ``--audit`` a tamper-evident decision log. ``compare`` plays
the same scenario and seed under several profiles (all by default) and prints them side by
side with the decision diff. ``--format json`` prints ``RunResult.to_dict()`` (see
:mod:`sim.result`) or ``Comparison.to_dict()`` (see :mod:`sim.compare`).

Each run has a budget (``--max-events``, ``--max-memory``; see :mod:`sim.budget`). A run over
it, or interrupted by Ctrl-C (SIGINT) or SIGTERM, stops where it is with a one-line message:
exit 2 for a budget, 130 for SIGINT, 143 for SIGTERM; its audit log is closed with a signed
checkpoint marked incomplete (the reason and the simulated time), as it is when the run fails
with an error. A second signal stops at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.audit.chain import DEFAULT_CHECKPOINT_EVERY
from engine.audit.errors import AuditFileError
from engine.audit.identity import document
from engine.audit.signing import load_private_key, save_private_key, save_public_key
from engine.audit.trust import PUBLIC_KEY_SUFFIX
from engine.audit.writer import AuditWriter, ignore_file_size_signal, incomplete_reason
from engine.errors import AgentrangeError
from engine.model import Scenario
from engine.policy.loading import profile_policy_file
from scenarios.library import load_scenario
from sim.budget import RunInterrupted, RunStopped
from sim.compare import Comparison, comparison_of
from sim.events import JsonlSink, Sink
from sim.result import RunResult
from sim.runner import Simulation, fewer_gc_passes
from tui.commands.cedar import engine_factory
from tui.commands.options import PROGRESS_AFTER, RunCommandError, parse_profiles, parse_until
from tui.commands.otlp_out import TraceExport, tee
from tui.commands.run_signals import interrupt_on_signals, signals_held, stop_on_signals
from tui.render.formatting import count, markdown_table, metric, seconds
from tui.render.metrics import metric_cells

PROGRESS_EVERY = 0.1
"""Wall seconds between two updates of the progress bar."""
PLAIN_PROGRESS_EVERY = 10.0
"""Wall seconds between two progress lines when standard error is not a terminal."""
CHUNKS = 200
"""Steps a run is driven in (the progress bar also moves within a step)."""
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}
"""Exit codes of a run stopped by a signal (128 + the signal's number, as shells report)."""


# --- commands ---------------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """Run one scenario under one profile and print its result."""
    scenario = load_scenario(args.scenario)
    until = parse_until(args.until)
    with contextlib.ExitStack() as stack:
        sink: Sink | None = None
        if args.events:
            sink = JsonlSink(_open(stack, args.events))
        traces = TraceExport(stack, args.otlp, args.otlp_endpoint)
        if traces.active:
            sink = tee(sink, traces.sink())
        sim_seed = scenario.seed if args.seed is None else args.seed
        profile = args.profile or scenario.default_profile_id
        audit = None
        sim: Simulation | None = None
        try:
            with stop_on_signals(lambda: 0.0 if sim is None else sim.now):
                if args.audit:
                    with signals_held():  # until the log is ours to seal
                        audit = open_audit_log(args.audit, args.audit_key, scenario, profile,
                                               sim_seed, until=until,
                                               checkpoint_every=args.checkpoint_every)
                        stack.enter_context(audit)  # an exception (Ctrl-C too) seals it
                sim = Simulation(scenario, profile, seed=sim_seed, sink=sink, until=until,
                                 audit=audit, max_events=args.max_events,
                                 max_memory_mb=args.max_memory,
                                 engine=engine_factory(args, scenario, profile))
                result = _drive([(profile, sim)])[0]
        except RunStopped as stop:
            traces.finish()  # the spans up to the stop, the open ones marked unfinished
            if audit is None:
                return _stopped(stop)
            _seal_incomplete(audit, stop.reason, stop.at)
            return _stopped(stop, f"audit log {args.audit} closed as incomplete")
        except BaseException as exc:
            # As the log's own context does, with the simulated time the run had reached.
            if audit is not None:
                _seal_incomplete(audit, incomplete_reason(type(exc), exc),
                                 0.0 if sim is None else sim.now)
            raise
        traces.finish()
    out = Console(highlight=False, soft_wrap=True)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2, sort_keys=False))
    elif args.format == "markdown":
        print(f"## {scenario.name} under {result.profile} (seed {result.seed})\n")
        print(markdown_table(["metric", result.profile], _metric_rows([result])))
        incidents = result.data.get("incidents") or []
        if incidents:
            print()
            print(markdown_table(*_incident_rows(incidents)))
    else:
        out.print(_rich_table(f"{scenario.name} under {result.profile} (seed {result.seed})",
                              ["metric", result.profile], _metric_rows([result])))
        for incident in result.data.get("incidents") or []:
            out.print(_rich_table(
                f"incident {incident.get('id')}: {incident.get('kind')} on "
                f"{incident.get('agent')}", ["", "value"], _incident_facts(incident)))
        if args.events:
            out.print(f"events: {args.events}")
        if traces.active:
            out.print(traces.note())
        if audit is not None:
            out.print(audit_log_note(args.audit, audit.kid))
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """Run one scenario under several profiles and print them side by side."""
    scenario = load_scenario(args.scenario)
    until = parse_until(args.until)
    profiles = parse_profiles(scenario, args.profiles)
    seed = scenario.seed if args.seed is None else args.seed
    if args.examples < 0:
        raise RunCommandError("--examples must be 0 or more")
    with contextlib.ExitStack() as stack:
        traces = TraceExport(stack, args.otlp, args.otlp_endpoint)
        sims = [(p, Simulation(scenario, p, seed=seed, until=until,
                               max_events=args.max_events, max_memory_mb=args.max_memory,
                               engine=engine_factory(args, scenario, p),
                               sink=traces.sink() if traces.active else None))
                for p in profiles]
        try:
            results = _drive(sims)
        except RunStopped as stop:
            traces.finish()
            label = next((p for p, sim in sims if sim.stopped is stop), None)
            return _stopped(stop, prefix=f"{label}: " if label else "")
        traces.finish()
    comparison = comparison_of(scenario, profiles, seed, results)
    if args.format == "json":
        print(json.dumps(comparison.to_dict(args.examples), indent=2))
    elif args.format == "markdown":
        print(f"## {scenario.name}: {', '.join(profiles)} (seed {seed})\n")
        print(markdown_table(["metric", *profiles], _metric_rows(results)))
        print(f"\n**{comparison.summary}**\n")
        if comparison.diff and args.examples:
            print(markdown_table(*_diff_rows(comparison, args.examples)))
    else:
        out = Console(highlight=False, soft_wrap=True)
        out.print(_rich_table(f"{scenario.name} (seed {seed})", ["metric", *profiles],
                              _metric_rows(results)))
        out.print(comparison.summary)
        if comparison.diff and args.examples:
            out.print(_rich_table("changed decisions", *_diff_rows(comparison,
                                                                    args.examples)))
        if traces.active:
            out.print(traces.note())
    return 0


def _stopped(stop: RunStopped, note: str = "", *, prefix: str = "") -> int:
    """Say why a run stopped, in one line; the exit code (2 for a budget, 128 + signal)."""
    message = f"{prefix}{stop}" + (f"; {note}" if note else "")
    if isinstance(stop, RunInterrupted):
        print(f"agentrange: {message}", file=sys.stderr)
        return EXIT_SIGNAL.get(stop.signal, 130)
    print(f"agentrange: error: {message}", file=sys.stderr)
    return 2


def _seal_incomplete(audit: AuditWriter, reason: str, at: float) -> None:
    """Close an audit log with a signed checkpoint marked incomplete (reason, simulated time).

    A log that cannot be written any more is left as it is (it verifies as truncated): the
    error that stopped the run is the one to report.
    """
    with contextlib.suppress(AgentrangeError, OSError):
        audit.close(incomplete=reason, at=at)


# --- options ------------------------------------------------------------------------------------


def _open(stack: contextlib.ExitStack, path: str) -> IO[str]:
    try:
        return stack.enter_context(open(path, "w", encoding="utf-8"))
    except OSError as exc:
        raise RunCommandError(f"{path}: cannot write: {exc.strerror or exc}") from None


def audit_log_note(path: str, kid: str) -> str:
    """What a run says about the audit log it wrote: where, who signed, how to pin the signer."""
    return (f"audit log: {path}, signed by key {kid} (public key also written to "
            f"{path}{PUBLIC_KEY_SUFFIX}).\n"
            "  A key kept beside the log proves nothing: whoever can rewrite the log can rewrite "
            "it. Keep a copy of the key, or the log's head (agentrange audit anchor "
            f"{path} > head.json), where the log's writers cannot reach; verify with --key COPY "
            "or --anchor head.json.")


def run_documents(scenario: Scenario, profile: str) -> dict[str, dict[str, str]]:
    """The scenario and policy documents a run is made from, with the SHA-256 of their bytes.

    The scenario file as found (a path, or ``builtin:NAME/scenario.yaml``) and the profile's
    policy file named as the scenario names it, relative to the scenario's directory, so a
    verifier holding the scenario can hash the same two files (docs/audit-log.md, "Run
    identity"). Empty for a scenario not loaded from files.

    Raises:
        RunCommandError: when a file cannot be read again.
    """
    if scenario.base is None:
        return {}
    files = {
        "scenario": (scenario.source, scenario.base / PurePosixPath(scenario.source).name),
        "policy": (scenario.profile(profile).policy, profile_policy_file(scenario, profile)[0]),
    }
    out = {}
    for role, (name, file) in files.items():
        try:
            out[role] = document(name, file.read_bytes())
        except OSError as exc:
            raise RunCommandError(f"{name}: cannot read the {role} document to record its "
                                  f"digest: {exc.strerror or exc}") from None
    return out


def open_audit_log(path: str, key_path: str | None, scenario: Scenario, profile: str,
                   seed: int, *, until: float | None = None,
                   checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
                   writer: type[AuditWriter] = AuditWriter) -> AuditWriter:
    """Open a new audit log signed with the given key, or with a fresh one.

    The header names the run: scenario, profile, seed, the planned end (``until`` or the
    scenario's duration) and the digests of the scenario and policy documents. The public half
    of the key is written next to the log as ``FILE.pub.pem``: a convenience, not a pin.

    A key derived from public facts (scenario, seed) would let anyone re-sign an edited log,
    so the signing key is either the caller's or generated for this run.
    """
    # A file-size limit then fails a write (reported in one line) instead of killing the run.
    ignore_file_size_signal()
    if Path(path).exists():
        raise RunCommandError(f"{path}: already exists; refusing to overwrite an audit log")
    if key_path is not None and Path(key_path).exists():
        key = load_private_key(key_path)
    else:
        key = Ed25519PrivateKey.generate()
        if key_path is not None:
            save_private_key(key, key_path)
    documents = run_documents(scenario, profile)
    public = f"{path}{PUBLIC_KEY_SUFFIX}"
    save_public_key(key.public_key(), public)
    meta: dict[str, Any] = {"scenario": scenario.name, "profile": profile, "seed": seed,
                            "duration": scenario.duration}
    if until is not None:
        meta["until"] = until
    if not scenario.source.startswith("builtin:"):
        # A scenario file, so `agentrange report --audit-log` can find it from anywhere.
        meta["source"] = str(Path(scenario.source).resolve())
    # As the simulation computes its end (sim.runner.Simulation): --until, within the scenario.
    planned_end = scenario.duration if until is None else max(0.0, min(until,
                                                                       scenario.duration))
    try:
        return writer(path, key, run_id=f"{scenario.name}/{profile}/{seed}",
                      planned_end=planned_end, documents=documents,
                      checkpoint_every=checkpoint_every, meta=meta)
    except AuditFileError:
        Path(public).unlink(missing_ok=True)  # no log, so no key for it either
        raise


# --- driving with a progress bar -----------------------------------------------------------


def _drive(sims: Sequence[tuple[str, Simulation]]) -> list[RunResult]:
    """Run simulations in lock-step chunks, showing progress once they take over a second.

    SIGINT and SIGTERM stop the runs at their next budget check (``RunInterrupted``).
    """
    console = Console(stderr=True)
    # As Simulation.run does: the hot path makes no cycles, so young-generation passes
    # would only cost time.
    with fewer_gc_passes(), _LazyProgress(console, sims) as progress, \
            interrupt_on_signals([sim for _label, sim in sims]):
        for i in range(1, CHUNKS + 1):
            for _label, sim in sims:
                sim.step_until(sim.end * i / CHUNKS)
            progress.poll()
        for _label, sim in sims:
            sim.step_until(sim.end)
    return [sim.result() for _label, sim in sims]


class _LazyProgress:
    """Progress of the runs on standard error, once they have taken over a second.

    On a terminal, a Rich bar per run (simulated time and events so far), moved from the
    runs' budget checks, so that it moves even while simulated time stands still; elsewhere
    a plain line every :data:`PLAIN_PROGRESS_EVERY` seconds.
    """

    def __init__(self, console: Console, sims: Sequence[tuple[str, Simulation]]) -> None:
        self.console = console
        self.sims = sims
        self.started = time.monotonic()
        self.last = self.started
        self.lines = 0
        self.progress: Progress | None = None
        self.tasks: list[Any] = []

    def __enter__(self) -> _LazyProgress:
        for _label, sim in self.sims:
            sim.watch.progress = self.poll
        return self

    def __exit__(self, *exc: object) -> None:
        for _label, sim in self.sims:
            sim.watch.progress = None
        if self.progress is not None:
            self.progress.stop()

    def poll(self) -> None:
        """Show the runs' progress if it is time to (cheap when it is not)."""
        wall = time.monotonic()
        if wall - self.last < PROGRESS_EVERY or wall - self.started < PROGRESS_AFTER:
            return
        self.last = wall
        if not self.console.is_terminal:
            if wall - self.started >= PLAIN_PROGRESS_EVERY * (self.lines + 1):
                self.lines += 1
                self.console.print(self._line(), highlight=False, soft_wrap=True)
            return
        if self.progress is None:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.percentage:>3.0f}%"),
                                     TextColumn("{task.fields[events]} events"),
                                     TimeElapsedColumn(), console=self.console,
                                     transient=True)
            self.tasks = [self.progress.add_task(label, total=1.0, events="0")
                          for label, _sim in self.sims]
            self.progress.start()
        for task, (_label, sim) in zip(self.tasks, self.sims, strict=True):
            self.progress.update(task, completed=sim.now / sim.end if sim.end else 1.0,
                                 events=f"{sim.events:,}")

    def _line(self) -> str:
        runs = "; ".join(f"{label} at {seconds(sim.now)} of {seconds(sim.end)} simulated, "
                         f"{sim.events:,} events" for label, sim in self.sims)
        return f"agentrange: running for {seconds(time.monotonic() - self.started)}: {runs}"


# --- rendering -------------------------------------------------------------------------------


def _metric_rows(results: Sequence[RunResult]) -> list[list[str]]:
    return metric_cells([r.data for r in results])


def _incident_rows(incidents: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["incident", "kind", "agent", "records", "exposure", "detected", "contained",
              "how"]
    rows = [[str(i.get("id")), str(i.get("kind")), str(i.get("agent")),
             count(metric(i, "blast_radius.records")), seconds(i.get("exposure_window")),
             seconds(i.get("time_to_detect")), seconds(i.get("time_to_contain")),
             str(i.get("how") or "-")] for i in incidents]
    return header, rows


def _incident_facts(incident: Mapping[str, Any]) -> list[list[str]]:
    blast = incident.get("blast_radius") or {}
    return [
        ["records touched", count(blast.get("records"))],
        ["records sent out", count(blast.get("egress_records"))],
        ["money moved", count(blast.get("amount"))],
        ["data classes", ", ".join(blast.get("data_classes") or ()) or "-"],
        ["systems", ", ".join(blast.get("systems") or ()) or "-"],
        ["could reach", f"{count(blast.get('potential_records'))} records"],
        ["exposure window", seconds(incident.get("exposure_window"))],
        ["time to detect", seconds(incident.get("time_to_detect"))],
        ["time to contain", seconds(incident.get("time_to_contain"))
         + (f" ({incident.get('how')})" if incident.get("how") else "")],
    ]


def _diff_rows(comparison: Comparison, n: int) -> tuple[list[str], list[list[str]]]:
    header = ["request", *comparison.profiles]
    rows = [[d.request, *(e or "not made" for e in d.effects)] for d in comparison.examples(n)]
    return header, rows


def _rich_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, style="bold" if i == 0 else None, justify="left" if i == 0
                         else "right")
    for row in rows:
        table.add_row(*row)
    return table
