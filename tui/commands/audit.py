"""``agentrange audit show``: read a decision log back (``verify`` and ``anchor``: audit_verify).

The handlers of ``audit verify`` and ``audit anchor`` are in :mod:`tui.commands.audit_verify`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.audit.canonical import canonical_json
from engine.audit.errors import AuditFileError
from engine.audit.query import fields, iter_records
from engine.durations import format_duration

# The command's options; re-exported so a caller can build a parser of this command alone.
from tui.commands.parsers.audit import register as register

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


def _cell(record: dict[str, Any], name: str) -> Text:
    # Text, not a str: log content is not ours to trust, and a str would be read as markup.
    value = record.get(name)
    return Text("" if value is None else str(value))


def run_show(args: argparse.Namespace) -> int:
    """Print the matching records as a table or as JSON Lines; 2 when the log is unusable."""
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
    try:
        if args.format == "json":
            for record in records:
                sys.stdout.write(canonical_json(record) + "\n")
            return EXIT_OK
        table = Table(title=f"Audit log {args.file}", title_justify="left")
        for column, style in (
            ("event", "dim"),
            ("time", ""),
            ("agent", "cyan"),
            ("tool", ""),
            ("resource", ""),
            ("data", ""),
            ("effect", ""),
            ("rule", ""),
            ("outcome", ""),
        ):
            table.add_column(
                column,
                style=style,
                justify="right" if column == "event" else "left",
                overflow="fold",
            )
        count = 0
        for logged in records:
            count += 1
            record = fields(logged)
            decision = record.get("decision")
            decision = decision if isinstance(decision, dict) else {}
            effect = str(decision.get("effect", ""))
            when = record.get("time")
            table.add_row(
                Text(str(record.get("event", record.get("seq", "")))),
                Text(format_duration(when) if isinstance(when, int | float) else ""),
                Text(str(record.get("agent_name") or _short(record.get("agent")) or "")),
                _cell(record, "tool"),
                _cell(record, "resource"),
                _cell(record, "data_class"),
                Text(effect, style=_EFFECT_STYLE.get(effect, "")),
                Text(str(decision.get("rule") or "")),
                _cell(record, "outcome"),
            )
    except AuditFileError as exc:
        return _unusable("show", exc)
    table.caption = f"{count} matching record{'s' if count != 1 else ''}"
    Console().print(table)
    return EXIT_OK
