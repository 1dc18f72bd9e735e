"""The options of ``agentrange replay`` (its handler is in :mod:`tui.commands.replay`)."""

from __future__ import annotations

from typing import Any

from tui.commands.parsers import Handler


def register(sub: Any) -> None:
    """Add the ``replay`` command to the CLI."""
    p = sub.add_parser(
        "replay", help="re-decide a recorded run's requests under another policy",
        description="Re-decide every request of a recorded run (the --events output of "
        "'agentrange run') under another policy, without re-simulating, and report the "
        "decision diff: how many changed, from what to what, grouped by rule, with examples. "
        "Exit 0 whatever changed unless --fail-on-change.")
    p.add_argument("events", metavar="EVENTS.jsonl", help="the events file of a run")
    p.add_argument("--policy", required=True, metavar="NEW.yaml",
                   help="the policy file to replay the requests under")
    p.add_argument("--scenario", metavar="SCENARIO",
                   help="the scenario the run was of (default: the built-in named in the "
                   "events file's header)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("--examples", type=int, default=5, metavar="N",
                   help="example requests per group of changes (default 5)")
    p.add_argument("--fail-on-change", action="store_true",
                   help="exit 1 when any decision changes")
    p.set_defaults(func=Handler("tui.commands.replay", "replay_command"))
