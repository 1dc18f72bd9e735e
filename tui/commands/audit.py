"""``agentrange audit show``: read a decision log back (``verify`` and ``anchor``: audit_verify).

The handlers of ``audit verify`` and ``audit anchor`` are in :mod:`tui.commands.audit_verify`.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import Any

from rich.console import Console

from engine.audit.canonical import canonical_json
from engine.audit.errors import AuditFileError
from engine.audit.query import fields, iter_records
from engine.durations import format_duration

# The command's options; re-exported so a caller can build a parser of this command alone.
from tui.commands.parsers.audit import register as register
from tui.render.stream_table import Cell, Column, StreamTable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2

_EFFECT_STYLE = {"allow": "green", "deny": "bold red", "require_approval": "yellow"}


def _unusable(command: str, exc: AuditFileError) -> int:
    print(f"agentrange audit {command}: error: {exc}", file=sys.stderr)
    return EXIT_UNUSABLE


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

