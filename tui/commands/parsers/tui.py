"""The options of ``agentrange tui`` (its handler is in :mod:`tui.commands.tui`)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from tui.commands.parsers import Handler
from tui.commands.parsers.run import (
    add_budget_options,
    add_checkpoint_option,
    add_otlp_options,
)


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
        "r revoke, x quarantine, q quit, ? help; Enter on a decision shows its details; "
        "ctrl+p lists every command.")
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
    p.add_argument("--sweep", metavar="RESULT.json",
                   help="open the trade-off chart of a saved sweep (agentrange sweep "
                        "--format json > RESULT.json); needs agentrange[plot]")
    p.add_argument("--theme", metavar="NAME",
                   help="a Textual theme (e.g. textual-light for a projector, nord, "
                   "gruvbox); remembered for the next runs, as is a theme chosen in the "
                   "palette (ctrl+p)")
    p.add_argument("--blind", action="store_true",
                   help="show what a SOC would see: alerts, decisions and tokens, but not "
                   "which agent is compromised until an alert detects it")
    p.add_argument("--scores", metavar="FILE.jsonl",
                   help="append each debrief's scores (and both baselines') to this JSON "
                   "Lines file, a local history of your rehearsals")
    p.add_argument("--audit-log", metavar="FILE.jsonl",
                   help="write the first run's decisions to a signed audit log (closed, with "
                        "its final checkpoint, when the dashboard quits; marked incomplete if "
                        "the run had not ended)")
    p.add_argument("--audit-key", metavar="KEY.pem",
                   help="Ed25519 key that signs the audit log (as for `agentrange run`)")
    add_checkpoint_option(p)
    add_budget_options(p, each="each run")
    add_otlp_options(p)
    p.set_defaults(func=Handler("tui.commands.tui", "open_dashboard"))
