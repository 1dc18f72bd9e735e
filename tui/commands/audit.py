"""``agentrange audit verify`` and ``audit show``: check a decision log and read it back."""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import Any

from rich.console import Console

from engine.audit.canonical import canonical_json
from engine.audit.errors import AuditFileError
from engine.audit.query import fields, iter_records
from engine.audit.signing import load_public_key
from engine.audit.verdict import Problem
from engine.audit.verifier import verify_log
from engine.durations import DURATION_HELP, format_duration, parse_duration
from tui.render.stream_table import Cell, Column, StreamTable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2

_EFFECT_STYLE = {"allow": "green", "deny": "bold red", "require_approval": "yellow"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command and its ``verify`` and ``show`` subcommands."""
    audit = subparsers.add_parser(
        "audit",
        help="verify or read a tamper-evident decision log",
        description="Verify a decision log's hash chain and signed checkpoints, or list its "
        "records with filters.",
    )
    commands = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    verify = commands.add_parser(
        "verify",
        help="check a log; exit 1 on any tampering or truncation",
        description="Check every record's hash chain and every checkpoint signature. Prints "
        "'OK: N records, M checkpoints', or the first bad line and why (exit 1). Without --key "
        "the log is checked against the key in its own header, which proves integrity but not "
        "who signed: a forger could re-sign. --key pins the signer.",
    )
    verify.add_argument("file", metavar="FILE", help="the audit log (JSON Lines)")
    verify.add_argument(
        "--key", metavar="PUBKEY.pem", help="the run's public key (PEM) to pin the signer"
    )
    verify.set_defaults(func=run_verify)

    show = commands.add_parser(
        "show",
        help="list a log's records, filtered",
        description="List the records of a log (it is not verified; use 'audit verify').",
    )
    show.add_argument("file", metavar="FILE", help="the audit log (JSON Lines)")
    show.add_argument("--agent", help="the acting agent's SPIFFE ID or name")
    show.add_argument("--effect", help="decision effect, e.g. allow, deny, require_approval")
    show.add_argument("--rule", help="a rule that decided or matched")
    show.add_argument("--chain", help="an actor anywhere in the delegation chain")
    show.add_argument(
        "--since",
        type=_duration,
        metavar="DURATION",
        help=f"from this simulated time ({DURATION_HELP})",
    )
    show.add_argument(
        "--until", type=_duration, metavar="DURATION", help="up to this simulated time, inclusive"
    )
    show.add_argument("--kind", default="decision",
                      help="event kind to show (default: decision; 'all' for every event)")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(func=run_show)


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _unusable(command: str, exc: AuditFileError) -> int:
    print(f"agentrange audit {command}: error: {exc}", file=sys.stderr)
    return EXIT_UNUSABLE


def run_verify(args: argparse.Namespace) -> int:
    """Verify the log; 0 when intact and closed, 1 on any failure, 2 when unusable."""
    try:
        key = load_public_key(args.key) if args.key else None
        report = verify_log(args.file, key)
    except AuditFileError as exc:
        return _unusable("verify", exc)
    if report.ok:
        print(report.message)
        if not report.key_pinned:
            print(
                "note: checked against the key in the log's own header (integrity only); "
                "pass --key to pin the signer"
            )
        return EXIT_OK
    where = f"line {report.first_bad_line}" if report.first_bad_line else "end of file"
    if report.first_bad_seq is not None:
        where += f", seq {report.first_bad_seq}"
    print(f"FAIL: {args.file}: {where}: {report.problem.value}: {report.message}")
    if report.problem is not Problem.TRUNCATED and report.records:
        signed = (
            f"signed through seq {report.signed_through}"
            if report.signed_through
            else "none of them yet covered by a signed checkpoint"
        )
        print(f"records 1..{report.records} before it are intact ({signed})")
    return EXIT_FAILED


def _short(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("spiffe_id") or value.get("id") or value.get("name")
    if value is None:
        return ""
    text = str(value)
    return text.removeprefix("spiffe://")


def _cell(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return "" if value is None else str(value)


_SHOW_COLUMNS = (
    Column("event", justify="right", style="dim", min_width=6),
    Column("time", min_width=6),
    Column("agent", style="cyan"),
    Column("tool"),
    Column("resource"),
    Column("data"),
    Column("effect"),
    Column("rule"),
    Column("outcome"),
)


def _row(logged: dict[str, Any]) -> tuple[Cell, ...]:
    """A record's cells, as plain text: log content is not ours to trust (no markup)."""
    record = fields(logged)
    decision = record.get("decision")
    decision = decision if isinstance(decision, dict) else {}
    effect = str(decision.get("effect", ""))
    when = record.get("time")
    return (
        str(record.get("event", record.get("seq", ""))),
        format_duration(when) if isinstance(when, int | float) else "",
        str(record.get("agent_name") or _short(record.get("agent")) or ""),
        _cell(record, "tool"),
        _cell(record, "resource"),
        _cell(record, "data_class"),
        (effect, _EFFECT_STYLE.get(effect, "")),
        str(decision.get("rule") or ""),
        _cell(record, "outcome"),
    )


def run_show(args: argparse.Namespace) -> int:
    """Print the matching records as a table or as JSON Lines; 2 when the log is unusable.

    Both stream: each record is printed as it is read (the table's widths are fixed by its
    first rows, see :mod:`tui.render.stream_table`), so memory stays flat on any log.
    """
    records = iter_records(
        args.file,
        agent=args.agent,
        effect=args.effect,
        rule=args.rule,
        chain=args.chain,
        since=args.since,
        until=args.until,
        kind=None if args.kind == "all" else args.kind,
    )
    if args.format == "json":
        try:
            for record in records:
                sys.stdout.write(canonical_json(record) + "\n")
        except AuditFileError as exc:
            return _unusable("show", exc)
        return EXIT_OK
    try:
        first = next(records, None)  # the file is a log, or nothing goes to stdout
    except AuditFileError as exc:
        return _unusable("show", exc)
    console = Console()
    table = StreamTable(_SHOW_COLUMNS, title=f"Audit log {args.file}")
    rows = map(_row, itertools.chain([first] if first is not None else [], records))
    try:
        table.print(console, rows)
    except AuditFileError as exc:
        table.caption(console, f"{_records(table.rows)} before the error")
        return _unusable("show", exc)
    table.caption(console, _records(table.rows))
    return EXIT_OK


def _records(count: int) -> str:
    return f"{count:,} matching record{'s' if count != 1 else ''}"

