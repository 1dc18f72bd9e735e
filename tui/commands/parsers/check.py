"""The options of ``agentrange check`` (its handler is in :mod:`tui.commands.check`)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.durations import DURATION_HELP
from engine.readiness.severities import SEVERITIES
from tui.commands.parsers import Handler


def register(sub: Any) -> None:
    """Add the ``check`` command to the CLI."""
    p = sub.add_parser(
        "check", help="lint agents, profiles and policies before production",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Readiness gate: lint each scenario's agents, credential profiles and "
        "compiled policies.\nEach finding has a check id, severity, file:line, message, "
        "remediation and framework references.\n\n"
        "Findings about profiles NOT marked 'production: true' are reported too (they show "
        "why a\nbaseline is weak) but --fail-on considers only production profiles and "
        "scenario-wide\nfindings, unless --all-profiles is given.")
    p.add_argument("paths", nargs="*", metavar="SCENARIO|DIR",
                   help="scenario files, directories (a scenario.yaml in it, or every "
                   "*/scenario.yaml under it) or built-in names (default: every built-in)")
    p.add_argument("--format", choices=("table", "json", "sarif"), default="table",
                   help="output format (default: table)")
    p.add_argument("--fail-on", choices=(*SEVERITIES, "never"), default="high",
                   metavar="SEVERITY",
                   help="exit 1 if a finding at or above this severity counts "
                   f"({', '.join(SEVERITIES)} or never; default: high)")
    p.add_argument("--all-profiles", action="store_true",
                   help="let findings about non-production profiles fail the gate too")
    p.add_argument("--checks", metavar="ID,...",
                   help="run only these checks (default: all; see --list-checks)")
    p.add_argument("--max-ttl", metavar="T", default=None,
                   help=f"credential lifetime above which AR002 reports ({DURATION_HELP}; "
                   "default 1h)")
    p.add_argument("--output", "-o", metavar="FILE",
                   help="write the report to FILE instead of standard output")
    p.add_argument("--list-checks", action="store_true",
                   help="list every check with its severity and framework references, and exit")
    p.set_defaults(func=Handler("tui.commands.check", "check_command"))
