"""``agentrange tui``: open the dashboard (also what ``agentrange`` with no command does)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from engine.errors import AgentrangeError


class TerminalError(AgentrangeError):
    """The dashboard was asked for where there is no terminal to draw it on."""


def _speed(text: str) -> float:
    if text.lower() in ("max", "inf"):
        return math.inf
    try:
        value = float(text.lower().rstrip("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected simulated seconds per second such as 60, 600x or max, found {text!r}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a speed above 0, found {text!r}")
    return value


def register(sub: Any) -> None:
    """Add the ``tui`` command to the CLI."""
    p = sub.add_parser(
        "tui", help="open the live dashboard",
        description="Open the dashboard on a scenario, already playing. Keys: space pause, "
        ". step, +/- speed, f filter, a next alert, c compare, s scenarios, i inject, "
        "r revoke, x quarantine, q quit; Enter on a decision shows its details; ctrl+p "
        "lists every command.")
    p.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO",
                   help="a built-in name, a scenario file or a directory holding "
                   "scenario.yaml (default: support-pii-injection)")
    p.add_argument("--profile", help="the profile to run (default: the scenario's default)")
    p.add_argument("--compare", metavar="A,B",
                   help="run these profiles side by side on the same seed")
    p.add_argument("--pick", action="store_true", help="open the scenario picker first")
    p.add_argument("--seed", type=int, help="the run's seed (default: the scenario's)")
    p.add_argument("--speed", type=_speed, metavar="N",
                   help="simulated seconds per second, e.g. 60 or 600x, or max "
                   "(default: the first incident shows within about 15 seconds)")
    p.add_argument("--paused", action="store_true", help="open paused at time zero")
    p.set_defaults(func=open_dashboard)


def open_dashboard(args: argparse.Namespace) -> int:
    """Build the app from the arguments (all optional) and run it until the user quits.

    Raises:
        LoadError: the scenario does not load.
        UnknownProfileError: a profile named is not in the scenario.
        TerminalError: standard input or output is not a terminal.
    """
    from tui.app import DEFAULT_SCENARIO, make_app

    pick = bool(getattr(args, "pick", False))
    scenario = getattr(args, "scenario", None)
    if scenario is None and not pick:
        scenario = DEFAULT_SCENARIO
    app = make_app(
        scenario=Path(scenario) if scenario and Path(scenario).exists() else scenario,
        profile=getattr(args, "profile", None),
        compare=getattr(args, "compare", None),
        pick=pick,
        speed=getattr(args, "speed", None),
        autoplay=not getattr(args, "paused", False),
        seed=getattr(args, "seed", None),
    )
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise TerminalError("the dashboard needs an interactive terminal; for a headless "
                            "run use `agentrange run`")
    app.run()
    return app.return_code or 0
