"""``agentrange replay``: what a policy change would have done to a recorded run's traffic.

Reads the ``--events`` output of ``agentrange run``, re-decides every request under another
policy (:mod:`sim.replay`, no re-simulation) and prints the decision diff: how many changed,
a from -> to matrix, and the changes grouped by old and new deciding rule with examples. A file
of OTLP/JSON traces (its first line an object with ``resourceSpans``, or ``--otlp``) goes to
:mod:`tui.commands.replay_traces` instead.
"""

from __future__ import annotations

import argparse
import json

from scenarios.library import load_scenario
from sim.replay import read_events, replay
from tui.commands.replay_diff import ReplayCommandError, policy_of, print_table
from tui.commands.replay_traces import replay_traces


def replay_command(args: argparse.Namespace) -> int:
    """Replay the events (or judge the traces) under the policy and print the diff."""
    if getattr(args, "otlp", False) or looks_like_otlp(args.events):
        return replay_traces(args)
    if getattr(args, "mapping", None):
        raise ReplayCommandError("--mapping applies to OTLP traces; an events file names the "
                                 "scenario's own agents and tools")
    recorded = read_events(args.events)
    name = str(recorded.header.get("scenario"))
    scenario = load_scenario(args.scenario or name)
    if scenario.name != name:
        raise ReplayCommandError(
            f"{args.events}: recorded for scenario {name!r}, but {args.scenario or name} "
            f"is scenario {scenario.name!r}")
    policy = policy_of(args, scenario)
    result = replay(recorded, policy)
    if args.format == "json":
        print(json.dumps(result.to_dict(max(args.examples, 0)), indent=2))
    else:
        print_table(result, max(args.examples, 0))
    return 1 if args.fail_on_change and result.changes else 0


def looks_like_otlp(path: str) -> bool:
    """True when the file's first bytes are an OTLP/JSON request (``{"resourceSpans"``).

    Reads at most 4 KB; anything unreadable is left to the reader that reports it.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and b'"resourceSpans"' in head.split(b"\n", 1)[0]
