"""The options of ``agentrange run`` and ``compare`` (handlers in :mod:`tui.commands.run`)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.bounds import DEFAULT_MAX_EVENTS, DEFAULT_MAX_MEMORY_MB
from engine.durations import DURATION_HELP
from tui.commands.parsers import Handler
from tui.commands.parsers.cedar import add_engine_option

FORMATS = ("table", "json", "markdown")
DEFAULT_CHECKPOINT_EVERY = 1000
"""engine.audit.chain's default, which a parser module may not import (it is not light);
tests/tui/test_cli_audit.py checks that the two agree."""


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
    add_checkpoint_option(p)
    p.set_defaults(func=Handler("tui.commands.run", "run_command"))

    p = sub.add_parser(
        "compare", help="run a scenario under several profiles side by side",
        description="Run the same scenario and seed under several profiles and print their "
        "metrics side by side with the decisions that changed between them.")
    _common(p)
    p.add_argument("--profiles", metavar="A,B,...",
                   help="comma-separated profile ids (default: all of the scenario's)")
    p.add_argument("--examples", type=int, default=10, metavar="N",
                   help="changed decisions to list (default 10)")
    p.set_defaults(func=Handler("tui.commands.run", "compare_command"))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO",
                   help="a scenario file, a directory holding scenario.yaml, or a built-in name")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default: the scenario's)")
    p.add_argument("--until", metavar="T",
                   help=f"stop at this simulated time ({DURATION_HELP})")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="output format (default: table)")
    add_budget_options(p)
    add_engine_option(p)
    add_otlp_options(p)


def add_otlp_options(p: argparse.ArgumentParser) -> None:
    """``--otlp FILE`` and ``--otlp-endpoint URL``: the run as OpenTelemetry GenAI traces."""
    p.add_argument("--otlp", metavar="FILE.jsonl",
                   help="write the run as OTLP/JSON traces (OpenTelemetry GenAI spans), one "
                        "ExportTraceServiceRequest per line")
    p.add_argument("--otlp-endpoint", metavar="URL",
                   help="POST the same traces to an OTLP/HTTP JSON receiver, e.g. "
                        "http://127.0.0.1:4318 (sent to /v1/traces)")


def add_budget_options(p: argparse.ArgumentParser, *, each: str = "the run") -> None:
    """``--max-events`` and ``--max-memory``: a run's budget (see :mod:`sim.budget`)."""
    p.add_argument("--max-events", type=_positive_int, metavar="N",
                   help=f"stop {each} once it has emitted N events (default "
                        f"{DEFAULT_MAX_EVENTS:,})")
    p.add_argument("--max-memory", type=_megabytes, metavar="MB",
                   help=f"stop {each} once it has grown its process's resident memory by "
                        f"more than MB mebibytes, e.g. 2048 or 2G (default "
                        f"{DEFAULT_MAX_MEMORY_MB:,})")


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, found {text!r}")
    return value


def _megabytes(text: str) -> int:
    scale = {"m": 1, "mb": 1, "mib": 1, "g": 1024, "gb": 1024, "gib": 1024}
    lowered = text.strip().lower()
    number = lowered.rstrip("bgimk")
    unit = lowered[len(number):] or "m"
    try:
        value = float(number) * scale[unit]
    except (ValueError, KeyError):
        value = 0.0
    if not 1 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected mebibytes above 0 such as 512, 512M or 2G, found {text!r}")
    return int(value)


def add_checkpoint_option(p: argparse.ArgumentParser) -> None:
    """``--checkpoint-every N``: records between the audit log's signed checkpoints."""
    p.add_argument("--checkpoint-every", type=_positive, default=DEFAULT_CHECKPOINT_EVERY,
                   metavar="N",
                   help="with --audit-log: sign a checkpoint every N records (default "
                        f"{DEFAULT_CHECKPOINT_EVERY:,}); a run killed outright loses the proof of "
                        "at most the records after the last one")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, found {text!r}")
    return value
