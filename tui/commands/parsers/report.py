"""The options of ``agentrange report`` (its handler is in :mod:`tui.commands.report`)."""

from __future__ import annotations

from typing import Any

from tui.commands.parsers import Handler

FORMATS = ("markdown", "html", "json")


def register(sub: Any) -> None:
    """Add the ``report`` command to the CLI."""
    p = sub.add_parser(
        "report", help="accountability report of a run or an audit log (Markdown, HTML, JSON)",
        description="For every out-of-scope attempt and every incident: which agent, on whose "
        "behalf, which envelope it broke, the owners accountable, whether it was stopped and "
        "by what, and the framework references. Agents missing owners come first. Give a "
        "SCENARIO to run it now, or --audit-log FILE to report an existing log (it holds the "
        "run's events, so the report is the same).")
    p.add_argument("scenario", metavar="SCENARIO", nargs="?",
                   help="a scenario file, a directory holding scenario.yaml, or a built-in name "
                   "(runs it and reports the run)")
    p.add_argument("--audit-log", metavar="FILE",
                   help="report this audit log instead of running a scenario")
    p.add_argument("--profile", metavar="P", help="profile id (default: the scenario's)")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default: the scenario's)")
    p.add_argument("--key", metavar="PUBKEY.pem",
                   help="with --audit-log: pin the signer's public key when verifying")
    p.add_argument("--format", choices=FORMATS, default="markdown",
                   help="output format (default: markdown)")
    p.add_argument("--coverage", action="store_true",
                   help="instead of a run's report: which OWASP Agentic and NHI items the "
                   "scenarios reference, and which scenario rehearses each (SCENARIO may be a "
                   "directory of scenarios; default: every built-in; markdown or json)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=Handler("tui.commands.report", "report_command"))
