"""The options of ``agentrange sweep`` (its handler is in :mod:`tui.commands.sweep`)."""

from __future__ import annotations

from typing import Any

from engine.durations import DURATION_HELP
from tui.commands.parsers import Handler
from tui.commands.parsers.run import add_budget_options

FORMATS = ("table", "json", "markdown", "csv")


def register(sub: Any) -> None:
    """Add the ``sweep`` command to the CLI."""
    p = sub.add_parser(
        "sweep", help="run a scenario over many seeds, profiles and parameter values",
        description="Run a scenario under every profile and combination of parameter values, "
        "once per seed, in parallel, and summarise each metric per combination: median, "
        "range, and the runs where it had no value.",
        epilog="examples: agentrange sweep refunds-customer-facing --seeds 1-20 "
        "--vary approvers.count=1,2,4;  agentrange sweep devops-static-keys --profiles "
        "jit-context --vary profile.credentials.ttl=5m,15m,1h --metric "
        "blast_radius.exposure_window")
    p.add_argument("scenario", metavar="SCENARIO",
                   help="a scenario file, a directory holding scenario.yaml, or a built-in name")
    p.add_argument("--profiles", metavar="A,B,...",
                   help="comma-separated profile ids (default: all of the scenario's)")
    p.add_argument("--seeds", metavar="SEEDS",
                   help="seeds as a range or a list, e.g. 1-20 or 3,7,11 (default: ten seeds "
                        "from the scenario's own)")
    p.add_argument("--vary", action="append", default=[], metavar="PATH=V1,V2,...",
                   help="a parameter and the values to try; profile.PATH changes each profile "
                        "(profile.credentials.ttl=5m,1h), policy.PATH each profile's policy "
                        "(policy.rules.RULE-ID.when.gt=250,500), any other PATH the scenario "
                        "(approvers.count=1,2); list elements by index or id; repeat for a "
                        "grid")
    p.add_argument("--metric", action="append", default=[], metavar="PATH",
                   help="a result metric to summarise, e.g. time_to_contain (repeatable; "
                        "default: blast radius, exposure, time to contain and delivery cost)")
    p.add_argument("--until", metavar="T", help=f"stop each run at this simulated time "
                                                f"({DURATION_HELP})")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="worker processes (default: one per CPU; 1 runs here)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="output format (default: table)")
    add_budget_options(p, each="each run (and the sweep)")
    p.set_defaults(func=Handler("tui.commands.sweep", "sweep_command"))
