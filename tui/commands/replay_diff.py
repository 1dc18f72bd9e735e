"""The decision diff of a replay, shared by events and traces: the policy chosen, the tables.

``--policy FILE`` or ``--profile P`` picks the policy (:func:`policy_of`); :func:`print_table`
prints a :class:`sim.replay.ReplayResult` for people: a summary line, the from -> to matrix and
the changes grouped by rule.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.errors import AgentrangeError
from engine.model import Scenario
from engine.policy import CompiledPolicy, load_policy
from engine.policy.loading import load_profile_policy
from sim.replay import ReplayResult

EFFECTS = ("allow", "require_approval", "deny")


class ReplayCommandError(AgentrangeError):
    """Events and scenario that do not belong together, or options that do not apply."""


def policy_of(args: argparse.Namespace, scenario: Scenario) -> CompiledPolicy:
    """``--policy FILE`` or ``--profile P`` (that profile's policy), compiled for the scenario.

    Raises:
        ReplayCommandError: for a profile the scenario does not have.
    """
    if getattr(args, "profile", None):
        if args.profile not in {p.id for p in scenario.profiles}:
            raise ReplayCommandError(
                f"--profile: scenario {scenario.name} has no profile {args.profile!r} "
                f"(profiles: {', '.join(p.id for p in scenario.profiles)})")
        return load_profile_policy(scenario, args.profile)
    return load_policy(args.policy, scenario)


def print_table(result: ReplayResult, examples: int) -> None:
    """The diff for people: a summary line, the from -> to matrix and the groups."""
    console = Console(highlight=False, soft_wrap=True,
                      width=None if sys.stdout.isatty() else 140)
    share = 100.0 * len(result.changes) / result.total if result.total else 0.0
    console.print(
        f"[bold]{escape(result.scenario)}[/]: {result.total} requests recorded under profile "
        f"{escape(result.profile)} (policy {escape(result.old_policy)}), re-decided under "
        f"policy {escape(result.new_policy)}: [bold]{len(result.changes)} changed[/] "
        f"({share:.1f}%); {result.rule_changes} kept their effect under another rule")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if not result.changes:
        return
    matrix = result.matrix()
    table = Table(title="decisions: recorded (rows) -> replayed (columns)",
                  title_justify="left")
    table.add_column("recorded \\ new")
    for effect in EFFECTS:
        table.add_column(effect, justify="right")
    for old in EFFECTS:
        cells = []
        for new in EFFECTS:
            if old == new:
                cells.append("[dim]-[/]")
            else:
                n = matrix.get((old, new), 0)
                cells.append(str(n) if n else "[dim]0[/]")
        table.add_row(old, *cells)
    console.print(table)
    groups = Table(title="changes by deciding rule", title_justify="left", show_lines=True)
    groups.add_column("recorded rule")
    groups.add_column("new rule")
    groups.add_column("count", justify="right")
    groups.add_column("examples (seq time agent run step tool: old -> new)")
    for (old_rule, new_rule), changes in result.groups().items():
        lines = [f"#{c.seq} {c.time:.0f}s {c.agent} {c.run} step {c.step} {c.tool}: "
                 f"{c.old_effect} -> {c.new_effect}" for c in changes[:examples]]
        if len(changes) > examples:
            lines.append(f"... and {len(changes) - examples} more")
        groups.add_row(escape(old_rule or "(default deny)"),
                       escape(new_rule or "(default deny)"), str(len(changes)),
                       escape("\n".join(lines)))
    console.print(groups)
