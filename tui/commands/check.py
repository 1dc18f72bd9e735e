"""``agentrange check``: the readiness gate over scenarios' agents, profiles and policies.

Findings come from :mod:`engine.readiness` as data; this module finds the scenarios, prints
the findings as a Rich table, or as JSON or SARIF 2.1.0 (shaped by :mod:`tui.render.findings`),
and turns ``--fail-on`` into the exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.durations import DURATION_HELP, parse_duration
from engine.errors import AgentrangeError, LoadError
from engine.loader import SCENARIO_FILE
from engine.readiness.findings import SEVERITIES, Finding, fails
from engine.readiness.registry import REGISTRY, run_checks
from engine.readiness.subject import DEFAULT_MAX_TTL, load_subject
from scenarios import library
from tui.render.findings import to_json, to_sarif

SEVERITY_STYLE = {"info": "dim", "low": "cyan", "medium": "yellow", "high": "bold red",
                  "critical": "bold white on red"}


class CheckCommandError(AgentrangeError):
    """A bad option of ``check`` (an unknown check id, a bad duration)."""


def scenario_refs(paths: Sequence[str]) -> list[str]:
    """Expand command-line paths into scenario references (default: every built-in).

    A directory holding ``scenario.yaml`` is one scenario; any other directory means every
    ``*/scenario.yaml`` directly under it. Anything else is passed on as is (a file or a
    built-in name) for the loader to resolve or report.

    Raises:
        LoadError: for a directory with no scenario in it.
    """
    if not paths:
        return library.names()
    refs: list[str] = []
    for text in paths:
        path = Path(text)
        if path.is_dir() and not (path / SCENARIO_FILE).is_file():
            found = sorted(str(f.parent) for f in path.glob(f"*/{SCENARIO_FILE}"))
            if not found:
                raise LoadError(text, f"a directory holding {SCENARIO_FILE} or "
                                f"*/{SCENARIO_FILE}", found="no scenario in it")
            refs.extend(found)
        else:
            refs.append(text)
    return refs


def _base(paths: Sequence[str]) -> str | None:
    """The directory SARIF URIs are relative to: the one directory scanned, else the cwd."""
    dirs = [p for p in paths if Path(p).is_dir()]
    if len(paths) == 1 and dirs:
        path = Path(dirs[0])
        return str(path.parent if (path / SCENARIO_FILE).is_file() else path)
    return "."


def check_command(args: argparse.Namespace) -> int:
    """Run the readiness checks and print the findings; the exit code is the gate."""
    if args.list_checks:
        return _list_checks(args)
    only = None
    if args.checks:
        only = [c.strip().upper() for c in args.checks.split(",") if c.strip()]
        unknown = [c for c in only if c not in REGISTRY]
        if unknown:
            raise CheckCommandError(f"unknown check(s) {', '.join(unknown)} (known: "
                                    f"{', '.join(REGISTRY)})")
    max_ttl = DEFAULT_MAX_TTL
    if args.max_ttl is not None:
        try:
            max_ttl = parse_duration(args.max_ttl)
        except ValueError:
            raise CheckCommandError(f"--max-ttl: expected {DURATION_HELP}, found "
                                    f"{args.max_ttl!r}") from None
    refs = scenario_refs(args.paths)
    findings: list[Finding] = []
    for ref in refs:
        findings.extend(run_checks(load_subject(library.locate(ref), max_ttl=max_ttl), only))
    failed = args.fail_on != "never" and fails(findings, args.fail_on,
                                               all_profiles=args.all_profiles)
    out = sys.stdout if args.output is None else _open(args.output)
    try:
        if args.format == "json":
            doc = to_json(findings, scanned=refs)
            doc["gate"] = {"fail_on": args.fail_on, "all_profiles": args.all_profiles,
                           "failed": failed}
            out.write(json.dumps(doc, indent=2) + "\n")
        elif args.format == "sarif":
            from tui.cli import package_version

            out.write(json.dumps(to_sarif(findings, base=_base(args.paths or []),
                                          version=package_version()), indent=2) + "\n")
        else:
            _table(findings, refs, args, failed, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 1 if failed else 0


def _open(name: str) -> Any:
    try:
        return open(name, "w", encoding="utf-8")
    except OSError as exc:
        raise CheckCommandError(f"{name}: cannot write ({exc.strerror})") from None


def _table(findings: Sequence[Finding], refs: Sequence[str], args: argparse.Namespace,
           failed: bool, out: Any) -> None:
    wide = out is not sys.stdout or not out.isatty()
    console = Console(file=out, highlight=False, width=140 if wide else None)
    if findings:
        table = Table(title=f"agentrange check: {len(refs)} scenario(s)", title_justify="left",
                      show_lines=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("location", overflow="fold", max_width=56)
        table.add_column("finding")
        for f in findings:
            scope = "" if not f.profiles else (
                f" [dim](profile{'s' if len(f.profiles) > 1 else ''} "
                f"{', '.join(f.profiles)}; {'production' if f.production else 'not production'})"
                "[/]")
            table.add_row(f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]",
                          f"{f.check}\n[dim]{f.name}[/]", _display(f.where),
                          f"{_escape(f.message)}{scope}\n[green]fix:[/] {_escape(f.remediation)}"
                          f"\n[dim]refs: {', '.join(f.frameworks)}[/]")
        console.print(table)
    counts = ", ".join(f"{sum(1 for f in findings if f.severity == s)} {s}"
                       for s in reversed(SEVERITIES))
    scope = "all profiles" if args.all_profiles else "production profiles and scenario-wide"
    verdict = "FAIL" if failed else "pass"
    gate = ("gate off (--fail-on never)" if args.fail_on == "never"
            else f"gate: {verdict} (fail on {args.fail_on} or above, {scope})")
    console.print(f"{len(findings)} finding(s): {counts}; {gate}")


def _display(where: str) -> str:
    """A location relative to the working directory when it is under it (shorter to read)."""
    if where.startswith("builtin:") or not os.path.isabs(where):
        return where
    rel = os.path.relpath(where)
    return where if rel.startswith("..") else rel


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def _list_checks(args: argparse.Namespace) -> int:
    if args.format == "json":
        print(json.dumps([{"id": c.id, "name": c.name, "severity": c.severity,
                           "summary": c.summary, "help": c.help,
                           "frameworks": list(c.frameworks)} for c in REGISTRY.values()],
                         indent=2))
        return 0
    table = Table(title="readiness checks", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("what it checks")
    table.add_column("frameworks")
    for c in REGISTRY.values():
        table.add_row(c.id, c.name, f"[{SEVERITY_STYLE[c.severity]}]{c.severity}[/]",
                      c.summary, ", ".join(c.frameworks))
    Console(highlight=False, width=None if sys.stdout.isatty() else 140).print(table)
    return 0
