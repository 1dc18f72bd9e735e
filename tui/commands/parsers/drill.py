"""The options of ``agentrange drill new|join|scoreboard`` (handlers: :mod:`tui.commands.drill`)."""

from __future__ import annotations

from typing import Any

from tui.commands.parsers import Handler
from tui.commands.parsers.tui import _speed


def register(sub: Any) -> None:
    """Add the ``drill`` command and its three subcommands to the CLI."""
    p = sub.add_parser(
        "drill", help="run a drill: one incident, a room of responders, a scoreboard",
        description="A drill is a directory: its definition (scenario, profile, seed, "
        "incident time) and the results every participant's run appends to.")
    drill = p.add_subparsers(dest="drill_command", metavar="SUBCOMMAND", required=True)

    new = drill.add_parser("new", help="define a drill in a new directory")
    new.add_argument("scenario", metavar="SCENARIO",
                     help="a built-in name or a scenario path")
    new.add_argument("--profile", help="the profile everyone plays (default: the scenario's)")
    new.add_argument("--seed", type=int, help="the seed everyone plays (default: the "
                     "scenario's)")
    new.add_argument("--incident-at", metavar="T",
                     help="when the first incident strikes, e.g. 2h or 7200 (default: as "
                     "the scenario says)")
    new.add_argument("-o", "--output", metavar="DRILL_DIR", required=True,
                     help="the drill's directory (created; must not hold a drill yet)")
    new.set_defaults(func=Handler("tui.commands.drill", "new"))

    join = drill.add_parser("join", help="play a drill in this terminal, blind")
    join.add_argument("directory", metavar="DRILL_DIR")
    join.add_argument("--name", help="your name on the scoreboard (default: asked for)")
    join.add_argument("--speed", type=_speed, metavar="N",
                      help="simulated seconds per second, or max (default: the first "
                      "incident shows within about 15 seconds)")
    join.add_argument("--paused", action="store_true", help="open paused at time zero")
    join.add_argument("--scores", metavar="FILE.jsonl",
                      help="also keep your debrief's scores in this JSON Lines file")
    join.set_defaults(func=Handler("tui.commands.drill", "join"))

    board = drill.add_parser("scoreboard", help="rank the drill's participants")
    board.add_argument("directory", metavar="DRILL_DIR")
    board.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                       help="a Rich table (default), JSON or a Markdown table")
    board.add_argument("--watch", action="store_true",
                       help="redraw the table as results arrive (Ctrl-C stops)")
    board.set_defaults(func=Handler("tui.commands.drill", "scoreboard"))
