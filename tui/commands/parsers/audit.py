"""The options of ``agentrange audit verify`` and ``audit show``.

Their handlers are in :mod:`tui.commands.audit`.
"""

from __future__ import annotations

import argparse

from engine.durations import DURATION_HELP, parse_duration
from tui.commands.parsers import Handler


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
    verify.set_defaults(func=Handler("tui.commands.audit", "run_verify"))

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
    show.set_defaults(func=Handler("tui.commands.audit", "run_show"))


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
