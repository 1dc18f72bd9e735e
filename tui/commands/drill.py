"""``agentrange drill new|join|scoreboard``: define a drill, play it blind, rank the room.

The drill's files and the ranking live in :mod:`sim.drill`; the score each participant's run
appends is :class:`sim.score.Score`, the same fold the debrief shows. Rendering (the Rich
table, Markdown, JSON) is here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.durations import parse_duration
from sim.drill import Drill, DrillError, ranking
from tui.render.formatting import clock, count, duration

WATCH_EVERY = 1.0
"""Seconds between looks at the results file under ``--watch``."""


def new(args: argparse.Namespace) -> int:
    """Write a drill definition after checking it loads and stages.

    Raises:
        LoadError: the scenario does not load.
        DrillError: the profile, incident time or directory does not fit.
    """
    from scenarios.library import load_scenario

    scenario = load_scenario(args.scenario)
    known = [p.id for p in scenario.profiles]
    profile = args.profile or scenario.default_profile_id
    if profile not in known:
        raise DrillError(f"{scenario.source}: no profile {profile!r}; the scenario has "
                         f"{', '.join(known)}")
    at: float | None = None
    if args.incident_at is not None:
        try:
            at = parse_duration(args.incident_at)
        except ValueError as exc:
            raise DrillError(f"--incident-at: {exc}") from None
    ref = args.scenario if not Path(args.scenario).exists() else str(
        Path(args.scenario).resolve())
    drill = Drill(Path(args.output), ref, profile,
                  scenario.seed if args.seed is None else args.seed, at)
    staged = drill.staged(scenario)
    path = drill.save()
    first = min((i.at for i in staged.incidents), default=None)
    print(f"drill written to {path}")
    print(f"  scenario {scenario.name}, profile {profile}, seed {drill.seed}, first incident "
          f"at {clock(first) if first is not None else 'none'}")
    print(f"  join:       agentrange drill join {args.output} --name YOUR-NAME")
    print(f"  serve:      agentrange serve --drill {args.output}")
    print(f"  scoreboard: agentrange drill scoreboard {args.output} --watch")
    return 0


def join(args: argparse.Namespace) -> int:
    """Play the drill blind in this terminal; the score is appended when the run ends.

    Raises:
        DrillError: not a drill directory, or its definition does not stage.
        LoadError: the drill's scenario does not load.
        TerminalError: there is no terminal (and no browser) to draw on.
    """
    from tui.app import make_app
    from tui.commands.tui import run_app

    drill = Drill.load(Path(args.directory))
    name = args.name.strip() if args.name else None
    if args.name is not None and not name:
        raise DrillError("--name: expected a name, found nothing")
    app = make_app(drill=drill, participant=name, speed=args.speed,
                   autoplay=not args.paused,
                   scores=Path(args.scores) if args.scores else None)
    return run_app(app)


def scoreboard(args: argparse.Namespace) -> int:
    """Print the ranking (a Rich table, Markdown or JSON); ``--watch`` redraws it.

    Raises:
        DrillError: not a drill directory.
        ScoreLogError: the results file cannot be read or holds a malformed line.
    """
    drill = Drill.load(Path(args.directory))
    if args.format == "json":
        json.dump(ranking(drill.entries()), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.format == "markdown":
        sys.stdout.write(markdown(drill, ranking(drill.entries())))
        return 0
    from rich.console import Console

    console = Console()
    if not args.watch:
        console.print(table(drill, ranking(drill.entries())))
        return 0
    from rich.live import Live

    seen = -1
    try:
        with Live(table(drill, []), console=console, auto_refresh=False) as live:
            while True:
                entries = drill.entries()
                if len(entries) != seen:
                    seen = len(entries)
                    live.update(table(drill, ranking(entries)), refresh=True)
                time.sleep(WATCH_EVERY)
    except KeyboardInterrupt:  # Ctrl-C is how --watch ends
        return 0


COLUMNS: tuple[str, ...] = ("#", "participant", "records exposed", "to contain",
                            "to detect", "benign denied", "actions (simulated time)")
"""The scoreboard's columns, in order."""

_LEFT = frozenset({"participant", "actions (simulated time)"})

VERBS = {"quarantine_agent": "quarantine", "revoke_token": "revoke",
         "tighten_rule": "tighten", "distrust_vendor": "distrust"}
"""How each live response reads on the scoreboard."""


def row(entry: Mapping[str, Any]) -> list[str]:
    """A result's cells, in :data:`COLUMNS` order."""
    actions = entry.get("actions") or []
    done = ", ".join(f"{clock(float(a.get('time', 0)))} "
                     f"{VERBS.get(str(a.get('kind')), str(a.get('kind')))} {a.get('target', '?')}"
                     for a in actions[:3])
    if len(actions) > 3:
        done += f" (+{len(actions) - 3})"
    return [str(entry.get("rank", "")), str(entry.get("participant", "?")),
            count(entry.get("records_exposed")), duration(entry.get("time_to_contain")),
            duration(entry.get("time_to_detect")), count(entry.get("benign_denied")),
            done or "none"]


def _title(drill: Drill) -> str:
    return f"drill {drill.directory.name}: {drill.scenario}, profile {drill.profile}, " \
           f"seed {drill.seed}"


def table(drill: Drill, ranked: Sequence[Mapping[str, Any]]) -> Any:
    """The ranking as a Rich table."""
    from rich.table import Table

    grid = Table(title=_title(drill), caption=None if ranked else "no results yet",
                 header_style="bold")
    for column in COLUMNS:
        left = column in _LEFT
        grid.add_column(column, justify="left" if left else "right",
                        no_wrap=column == "participant", overflow="fold",
                        ratio=3 if column.startswith("actions") else None)
    for entry in ranked:
        grid.add_row(*row(entry))
    return grid


def markdown(drill: Drill, ranked: Sequence[Mapping[str, Any]]) -> str:
    """The ranking as a Markdown table (with the drill as its heading)."""
    lines = [f"### {_title(drill)}", "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" if c in _LEFT else "---:" for c in COLUMNS) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row(e)) + " |"
              for e in ranked]
    if not ranked:
        lines.append("")
        lines.append("No results yet.")
    return "\n".join(lines) + "\n"

