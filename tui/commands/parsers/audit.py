"""The options of ``agentrange audit verify``, ``audit anchor`` and ``audit show``.

Their handlers are in :mod:`tui.commands.audit_verify` (verify, anchor) and
:mod:`tui.commands.audit` (show).
"""

from __future__ import annotations

import argparse

from engine.durations import DURATION_HELP, parse_duration
from tui.commands.parsers import Handler


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command and its ``verify``, ``anchor`` and ``show`` subcommands."""
    audit = subparsers.add_parser(
        "audit",
        help="verify or read a tamper-evident decision log",
        description="Verify a decision log's hash chain and signed checkpoints, or list its "
        "records with filters.",
    )
    commands = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    verify = commands.add_parser(
        "verify",
        help="check a log; exit 1 on any tampering, truncation or incomplete run",
        description="Check every record's hash chain and every checkpoint signature. Says how "
        "many records are proven (by the last valid signed checkpoint), how many after them "
        "are unverified, and the first problem with its label (altered, missing, inserted, "
        "reordered, duplicated, truncated ...); then which run the log is of and which key "
        "was trusted. Without --key (or --anchor) the key in the log's own header is used, "
        "which proves integrity but not who signed: the signer is not pinned. Exit 0 when "
        "the log is whole and the run complete, 1 otherwise, 2 when the file is unusable.",
    )
    verify.add_argument("file", metavar="FILE", help="the audit log (JSON Lines)")
    verify.add_argument(
        "--key",
        metavar="PUBKEY.pem",
        help="the signer's public key (PEM), kept where the log's writers cannot reach it; the "
        "FILE.pub.pem beside the log does not pin the signer",
    )
    verify.add_argument(
        "--anchor",
        metavar="HEAD.json",
        help="a head printed earlier by `agentrange audit anchor`; fail unless the log "
        "extends it",
    )
    verify.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 for a log that verifies but whose run stopped early (interrupted, "
        "failed or cut short by a budget); it is still reported as incomplete",
    )
    verify.set_defaults(func=Handler("tui.commands.audit_verify", "run_verify"))

    anchor = commands.add_parser(
        "anchor",
        help="print a log's head (run, seq, chain hash, signature) as JSON to keep elsewhere",
        description="Verify the log and print its last valid signed checkpoint as a small "
        "JSON document. Store it where the log's writers cannot reach (a ticket, another "
        "machine); later, `agentrange audit verify FILE --anchor HEAD.json` shows the log was "
        "not rewritten up to that head. A log still being written can be anchored: its last "
        "checkpoint is the head.",
    )
    anchor.add_argument("file", metavar="FILE", help="the audit log (JSON Lines)")
    anchor.add_argument("--key", metavar="PUBKEY.pem", help="the signer's public key (PEM)")
    anchor.set_defaults(func=Handler("tui.commands.audit_verify", "run_anchor"))

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
