"""``agentrange run`` and ``agentrange compare``: headless runs as tables, Markdown or JSON.

``run`` plays one scenario under one profile and prints its metrics; ``--events`` writes the
event stream as JSON Lines and ``--audit`` a tamper-evident decision log. ``compare`` plays
the same scenario and seed under several profiles (all by default) and prints them side by
side with the decision diff. ``--format json`` prints ``RunResult.to_dict()`` (see
:mod:`sim.result`) or ``Comparison.to_dict()`` (see :mod:`sim.compare`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.audit.signing import load_private_key, save_private_key, save_public_key
from engine.audit.writer import AuditWriter
from engine.durations import DURATION_HELP, parse_duration
from engine.errors import AgentrangeError
from engine.model import Scenario
from scenarios.library import load_scenario
from sim.compare import Comparison, comparison_of
from sim.events import JsonlSink
from sim.result import RunResult
from sim.runner import Simulation, fewer_gc_passes
from tui.commands.cedar import add_engine_option, engine_factory
from tui.render.formatting import count, metric, seconds
from tui.render.metrics import metric_cells

FORMATS = ("table", "json", "markdown")
PROGRESS_AFTER = 1.0
"""Wall seconds a run may take before a progress bar appears."""
CHUNKS = 200
"""Steps a run is driven in (progress granularity)."""


class RunCommandError(AgentrangeError):
    """A bad option value for ``run`` or ``compare`` (a duration, a file, a profile list)."""


def register(sub: Any) -> None:
    """Add the ``run`` and ``compare`` commands to the CLI."""
    p = sub.add_parser(
        "run", help="run a scenario headless and print its metrics",
        description="Run a scenario under one profile and print decisions, blast radius, "
        "time to detect and contain, and delivery overhead.")
    _common(p)
    p.add_argument("--profile", metavar="P", help="profile id (default: the scenario's)")
    p.add_argument("--events", metavar="FILE.jsonl",
                   help="write every event as one JSON line to this file")
    p.add_argument("--audit-log", "--audit", dest="audit", metavar="FILE.jsonl",
                   help="write a hash-chained, signed decision log to this file")
    p.add_argument("--audit-key", metavar="KEY.pem",
                   help="Ed25519 private key that signs the log's checkpoints; created (mode "
                        "0600) when missing. Default: a fresh key for this run, whose public "
                        "half is written next to the log as FILE.jsonl.pub.pem")
    p.set_defaults(func=run_command)

    p = sub.add_parser(
        "compare", help="run a scenario under several profiles side by side",
        description="Run the same scenario and seed under several profiles and print their "
        "metrics side by side with the decisions that changed between them.")
    _common(p)
    p.add_argument("--profiles", metavar="A,B,...",
                   help="comma-separated profile ids (default: all of the scenario's)")
    p.add_argument("--examples", type=int, default=10, metavar="N",
                   help="changed decisions to list (default 10)")
    p.set_defaults(func=compare_command)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO",
                   help="a scenario file, a directory holding scenario.yaml, or a built-in name")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default: the scenario's)")
    p.add_argument("--until", metavar="T",
                   help=f"stop at this simulated time ({DURATION_HELP})")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="output format (default: table)")
    add_engine_option(p)


# --- commands ---------------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """Run one scenario under one profile and print its result."""
    scenario = load_scenario(args.scenario)
    until = parse_until(args.until)
    with contextlib.ExitStack() as stack:
        sink = None
        if args.events:
            sink = JsonlSink(_open(stack, args.events))
        sim_seed = scenario.seed if args.seed is None else args.seed
        profile = args.profile or scenario.default_profile_id
        audit = None
        if args.audit:
            audit = open_audit_log(args.audit, args.audit_key, scenario, profile, sim_seed)
            stack.callback(audit.close)
        sim = Simulation(scenario, profile, seed=sim_seed, sink=sink, until=until,
                         audit=audit, engine=engine_factory(args, scenario, profile))
        result = _drive([(profile, sim)])[0]
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
        if args.audit:
            out.print(f"audit log: {args.audit} (check it with: agentrange audit verify "
                      f"{args.audit} --key {args.audit}.pub.pem)")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """Run one scenario under several profiles and print them side by side."""
    scenario = load_scenario(args.scenario)
    until = parse_until(args.until)
    profiles = parse_profiles(scenario, args.profiles)
    seed = scenario.seed if args.seed is None else args.seed
    if args.examples < 0:
        raise RunCommandError("--examples must be 0 or more")
    sims = [(p, Simulation(scenario, p, seed=seed, until=until,
                           engine=engine_factory(args, scenario, p))) for p in profiles]
    results = _drive(sims)
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
    return 0


# --- options ------------------------------------------------------------------------------------


def parse_until(text: str | None) -> float | None:
    """``--until``: a positive simulated duration, or None when not given."""
    if text is None:
        return None
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise RunCommandError(f"--until: {exc}") from None
    if value <= 0:
        raise RunCommandError(f"--until: expected a positive duration, found {text!r}")
    return value


def parse_profiles(scenario: Scenario, text: str | None) -> list[str]:
    """``--profiles A,B``: known profile ids in the order given (default: all of them)."""
    if text is None:
        return [p.id for p in scenario.profiles]
    ids = [p.strip() for p in text.split(",") if p.strip()]
    if not ids:
        raise RunCommandError("--profiles: name at least one profile")
    known = {p.id for p in scenario.profiles}
    unknown = [p for p in ids if p not in known]
    if unknown:
        raise RunCommandError(f"--profiles: scenario {scenario.name} has no profile "
                              f"{', '.join(map(repr, unknown))} (profiles: "
                              f"{', '.join(p.id for p in scenario.profiles)})")
    return list(dict.fromkeys(ids))


def _open(stack: contextlib.ExitStack, path: str) -> IO[str]:
    try:
        return stack.enter_context(open(path, "w", encoding="utf-8"))
    except OSError as exc:
        raise RunCommandError(f"{path}: cannot write: {exc.strerror or exc}") from None


def open_audit_log(path: str, key_path: str | None, scenario: Scenario, profile: str,
                   seed: int, *, writer: type[AuditWriter] = AuditWriter) -> AuditWriter:
    """Open a new audit log signed with the given key, or with a fresh one.

    The public half is always written next to the log as ``FILE.pub.pem``.

    A key derived from public facts (scenario, seed) would let anyone re-sign an edited log,
    so the signing key is either the caller's or generated for this run; its public half is
    saved so ``agentrange audit verify --key`` can pin the signer.
    """
    if Path(path).exists():
        raise RunCommandError(f"{path}: already exists; refusing to overwrite an audit log")
    if key_path is not None and Path(key_path).exists():
        key = load_private_key(key_path)
    else:
        key = Ed25519PrivateKey.generate()
        if key_path is not None:
            save_private_key(key, key_path)
    # Kept next to the log for convenience; a verifier that wants to pin the signer should
    # hold its own copy (whoever can rewrite the log can rewrite this file too).
    save_public_key(key.public_key(), f"{path}.pub.pem")
    meta: dict[str, Any] = {"scenario": scenario.name, "profile": profile, "seed": seed}
    if not scenario.source.startswith("builtin:"):
        # A scenario file, so `agentrange report --audit-log` can find it from anywhere.
        meta["source"] = str(Path(scenario.source).resolve())
    return writer(path, key, run_id=f"{scenario.name}/{profile}/{seed}", meta=meta)


# --- driving with a progress bar -----------------------------------------------------------


def _drive(sims: Sequence[tuple[str, Simulation]]) -> list[RunResult]:
    """Run simulations in lock-step chunks; a progress bar appears after a second."""
    console = Console(stderr=True)
    started = time.monotonic()
    # As Simulation.run does: the hot path makes no cycles, so young-generation passes
    # would only cost time.
    with fewer_gc_passes(), _LazyProgress(console, [label for label, _ in sims]) as progress:
        for i in range(1, CHUNKS + 1):
            for n, (_label, sim) in enumerate(sims):
                sim.step_until(sim.end * i / CHUNKS)
                progress.update(n, sim.now / sim.end if sim.end else 1.0,
                                time.monotonic() - started)
        for _label, sim in sims:
            sim.step_until(sim.end)
    return [sim.result() for _label, sim in sims]


class _LazyProgress:
    """A Rich progress bar that only shows once a run has taken over a second."""

    def __init__(self, console: Console, labels: Sequence[str]) -> None:
        self.console = console
        self.labels = labels
        self.progress: Progress | None = None
        self.tasks: list[Any] = []

    def __enter__(self) -> _LazyProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, index: int, fraction: float, elapsed: float) -> None:
        """Report one run's progress (0..1)."""
        if self.progress is None:
            if elapsed < PROGRESS_AFTER or not self.console.is_terminal:
                return
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.percentage:>3.0f}%"),
                                     TimeRemainingColumn(), console=self.console,
                                     transient=True)
            self.tasks = [self.progress.add_task(label, total=1.0) for label in self.labels]
            self.progress.start()
        self.progress.update(self.tasks[index], completed=fraction)


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


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
