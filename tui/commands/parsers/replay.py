"""The options of ``agentrange replay`` (its handler is in :mod:`tui.commands.replay`)."""

from __future__ import annotations

from typing import Any

from tui.commands.parsers import Handler


def register(sub: Any) -> None:
    """Add the ``replay`` command to the CLI."""
    p = sub.add_parser(
        "replay", help="re-decide recorded requests (a run's events or OTLP traces) under a "
        "policy",
        description="Re-decide every request of a recorded run (the --events output of "
        "'agentrange run') under another policy, without re-simulating, and report the "
        "decision diff: how many changed, from what to what, grouped by rule, with examples. "
        "Given OpenTelemetry GenAI traces (OTLP/JSON, one ExportTraceServiceRequest per line; "
        "recognised by their 'resourceSpans', or forced with --otlp), every execute_tool span "
        "is judged under the policy: the diff against what happened, the calls that would now "
        "be denied and why, and each recorded agent's blast radius had it been compromised. "
        "Exit 0 whatever changed unless --fail-on-change.")
    p.add_argument("events", metavar="EVENTS.jsonl|TRACES.jsonl",
                   help="the events file of a run, or OTLP/JSON traces")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--policy", metavar="NEW.yaml",
                       help="the policy file to replay the requests under")
    which.add_argument("--profile", metavar="P",
                       help="replay under this profile's policy (of the scenario)")
    p.add_argument("--scenario", metavar="SCENARIO",
                   help="the scenario the requests are judged in (default: the built-in named "
                   "in the events file's header or the traces' agentrange.scenario)")
    p.add_argument("--otlp", action="store_true",
                   help="read EVENTS as OTLP/JSON traces whatever its first line looks like")
    p.add_argument("--recorded-profile", metavar="P",
                   help="for traces of several runs (agentrange compare --otlp): judge the run "
                   "of this profile")
    p.add_argument("--mapping", metavar="MAP.yaml",
                   help="for traces: recorded agent and tool names -> the scenario's "
                   "(agents: {name: agent}, tools: {name: tool}); unmatched names are listed")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("--examples", type=int, default=5, metavar="N",
                   help="example requests per group of changes (default 5)")
    p.add_argument("--fail-on-change", action="store_true",
                   help="exit 1 when any decision changes")
    p.set_defaults(func=Handler("tui.commands.replay", "replay_command"))
