"""``agentrange replay TRACES``: recorded agent traffic (OTLP/JSON GenAI traces) under a policy.

Reads the traces (:mod:`sim.otlp.traces`), matches agents and tools to the scenario by name
and ``--mapping`` (:mod:`sim.otlp.calls`), re-decides every call (:mod:`sim.otlp.judge`) and
prints: what could not be matched, partial traces, the decision diff against what happened,
the calls that would now be denied and why, and each recorded agent's blast radius.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scenarios.library import load_scenario
from sim.otlp.calls import NO_MAPPING, load_mapping, match_calls, unmatched_error
from sim.otlp.judge import Judgement, judge
from sim.otlp.traces import TraceFileError, read_traces
from tui.commands.replay_diff import policy_of, print_table
from tui.render.formatting import count, seconds


def replay_traces(args: argparse.Namespace) -> int:
    """Judge the traces under the policy and print the result."""
    traces = read_traces(args.events)
    runs = traces.runs()
    chosen = getattr(args, "recorded_profile", None)
    if chosen is not None:
        if chosen not in runs:
            raise TraceFileError(traces.source, f"the run of profile {chosen!r} (--recorded-"
                                 "profile)", found=f"runs of {', '.join(runs) or 'no profile'}")
        traces = traces.of_run(chosen)
    elif len(runs) > 1:
        raise TraceFileError(traces.source, "the traces of one run, or --recorded-profile "
                             "naming the run to judge", found=f"the runs of profiles "
                             f"{', '.join(runs)} (agentrange compare --otlp)")
    name = args.scenario or traces.spans[0].resource.get("agentrange.scenario")
    if not isinstance(name, str) or not name:
        raise TraceFileError(traces.source, "traces of agentrange (agentrange.scenario on "
                             "their resource), or --scenario naming the scenario to judge "
                             "them in", line=traces.spans[0].line, found="neither")
    scenario = load_scenario(name)
    policy = policy_of(args, scenario)
    mapping = load_mapping(args.mapping, scenario) if args.mapping else NO_MAPPING
    matched = match_calls(traces, scenario, mapping)
    nothing = unmatched_error(traces.source, matched)
    if nothing is not None:
        raise nothing
    result = judge(traces, matched, policy)
    examples = max(args.examples, 0)
    if args.format == "json":
        print(json.dumps(result.to_dict(examples), indent=2))
    else:
        print_judgement(result, examples)
    return 1 if args.fail_on_change and result.replay.changes else 0


def print_judgement(result: Judgement, examples: int) -> None:
    """The judgement for people."""
    console = Console(highlight=False, soft_wrap=True,
                      width=None if sys.stdout.isatty() else 140)
    start, end = result.window
    console.print(f"[bold]{result.calls}[/] recorded tool calls over {seconds(end - start)}; "
                  f"{result.decided} matched to scenario {escape(result.replay.scenario)} "
                  f"({result.exact} with the request agentrange recorded)")
    for kind, names in (("agents", result.agents_unmatched), ("tools", result.tools_unmatched)):
        if names:
            listed = ", ".join(f"{escape(n)} ({c} calls)" for n, c in sorted(names.items()))
            console.print(f"[yellow]unmatched {kind}[/] (not judged; name them in --mapping): "
                          f"{listed}")
    for note in result.partial[:10]:
        console.print(f"[yellow]partial trace:[/] {escape(note)}")
    if len(result.partial) > 10:
        console.print(f"[yellow]partial trace:[/] ... and {len(result.partial) - 10} more")
    print_table(result.replay, examples)
    denied = [c for c in result.replay.changes
              if c.old_effect == "allow" and c.new_effect == "deny"]
    if denied:
        table = Table(title=f"allowed when recorded, denied under {result.replay.new_policy}",
                      title_justify="left")
        for column in ("time", "agent", "session", "tool", "rule", "why"):
            table.add_column(column)
        for c in denied[: max(examples, 1) * 4]:
            table.add_row(f"{c.time:.0f}s", escape(c.agent), escape(c.run), escape(c.tool),
                          escape(c.new_rule or "(default deny)"),
                          escape(c.why))
        console.print(table)
    blast = Table(title="blast radius if one recorded agent had been compromised over the "
                  "window", title_justify="left")
    for column in ("agent", "calls", "allowed", "could reach", "touched", "sent out",
                   "money", "data classes touched"):
        blast.add_column(column, justify="left" if column in ("agent", "data classes touched")
                         else "right")
    for row in result.blast:
        touched = row["touched"]
        blast.add_row(escape(row["agent"]), str(row["calls"]), str(row["allowed"]),
                      f"{count(row['could_reach']['records'])} records",
                      f"{count(touched['records'])} records", count(touched["egress_records"]),
                      count(touched["amount"]), escape(", ".join(touched["data_classes"]) or "-"))
    console.print(blast)
