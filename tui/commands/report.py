"""``agentrange report``: the accountability report of a run, in Markdown, HTML or JSON.

Two sources, one fold (:func:`sim.collectors.report.build_report`): ``agentrange report
SCENARIO`` plays the scenario (under ``--profile``, with ``--seed``) and folds its events as
they happen; ``agentrange report --audit-log FILE`` verifies the log and folds the events it
holds (an audit log is the run's event stream, hash-chained). The same run gives the same
report either way; see :mod:`sim.collectors.report` for what it says and how out-of-scope
attempts are defined, and docs/report.md for the JSON shape.

Exit codes: 0 report written; 1 report written, but the log failed verification (the report
opens with a warning); 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from engine.audit.errors import AuditFileError
from engine.audit.lines import LineLimitError
from engine.audit.trust import key_from_file
from engine.audit.verifier import verify_log
from engine.errors import AgentrangeError
from scenarios.library import load_scenario
from sim.audit_sink import AuditLogError, log_header, read_events
from sim.collectors.report import ReportCollector
from sim.collectors.report_model import AccountabilityReport, LogStatus
from sim.events import Event
from sim.runner import Simulation
from tui.render.report import to_html, to_markdown

EXIT_OK = 0
EXIT_LOG_FAILED = 1


class ReportCommandError(AgentrangeError):
    """A bad combination of ``report`` options or an unusable input."""


def render(report: AccountabilityReport, fmt: str) -> str:
    """The report in one of :data:`tui.commands.parsers.report.FORMATS`."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n"
    return to_html(report) if fmt == "html" else to_markdown(report)


def report_command(args: argparse.Namespace) -> int:
    """Build the report from a fresh run or an existing log and write it."""
    if getattr(args, "coverage", False):
        return _coverage(args)
    if args.audit_log and args.scenario:
        raise ReportCommandError("give a SCENARIO to run or --audit-log FILE, not both")
    if not args.audit_log and not args.scenario:
        raise ReportCommandError("give a SCENARIO to run, or --audit-log FILE")
    if args.audit_log:
        if args.seed is not None or args.profile is not None:
            raise ReportCommandError("--seed and --profile apply to a run; a log's are in its "
                                     "events")
        report = from_log(args.audit_log, args.key)
    else:
        if args.key:
            raise ReportCommandError("--key applies to --audit-log")
        report = from_run(args.scenario, args.profile, args.seed)
    _write(render(report, args.format), args.output)
    if report.log is not None and not report.log.ok:
        print(f"agentrange report: warning: the audit log failed verification: "
              f"{report.log.message}", file=sys.stderr)
        return EXIT_LOG_FAILED
    return EXIT_OK


def _coverage(args: argparse.Namespace) -> int:
    """``report --coverage``: the framework coverage of a scenario set."""
    from sim.collectors.report_coverage import coverage
    from tui.commands.check import scenario_refs
    from tui.render.report import coverage_markdown

    if args.audit_log or args.profile is not None or args.seed is not None or args.key:
        raise ReportCommandError("--coverage reads scenarios: --audit-log, --profile, --seed "
                                 "and --key do not apply")
    if args.format == "html":
        raise ReportCommandError("--coverage is written as markdown or json")
    refs = scenario_refs([args.scenario] if args.scenario else [])
    cov = coverage(load_scenario(ref) for ref in refs)
    text = (json.dumps(cov.to_dict(), indent=2, sort_keys=True) + "\n"
            if args.format == "json" else coverage_markdown(cov))
    _write(text, args.output)
    return EXIT_OK


def _write(text: str, output: str | None) -> None:
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReportCommandError(f"{output}: cannot write: "
                                     f"{exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)


def from_run(ref: str, profile: str | None, seed: int | None) -> AccountabilityReport:
    """Play a scenario and fold its events into the report as they happen."""
    scenario = load_scenario(ref)
    profile = profile or scenario.default_profile_id
    known = [p.id for p in scenario.profiles]
    if profile not in known:
        raise ReportCommandError(f"scenario {scenario.name} has no profile {profile!r} "
                                 f"(profiles: {', '.join(known)})")
    seed = scenario.seed if seed is None else seed
    collector = ReportCollector()
    Simulation(scenario, profile, seed=seed, sink=collector, record_decisions=False).run()
    return collector.report(run=f"{scenario.name}/{profile}/{seed}")


def from_log(path: str, key_file: str | None = None) -> AccountabilityReport:
    """Fold the events an audit log holds into the report, and verify the log.

    A log that fails verification is still reported, up to its first line that is not a
    record, with what the verifier found. The events are folded before the log is verified:
    the fold reads every line with a bound, so a file no reader should read (a line longer
    than :data:`engine.audit.lines.MAX_LINE_BYTES`, nesting deeper than
    :data:`~engine.audit.lines.MAX_DEPTH`) is refused before anything reads it whole.
    """
    if not os.path.lexists(path):
        raise ReportCommandError(f"{path}: no such audit log")
    header = log_header(path)
    key = key_from_file(key_file, path) if key_file else None
    collector = ReportCollector()
    for event in _readable(path):
        collector(event)
    verdict = verify_log(path, key)
    status = LogStatus.of(verdict)
    run = header.get("run")
    return collector.report(run=run if isinstance(run, str) else None, log=status)


def _readable(path: str) -> Iterator[Event]:
    """The log's events up to its first line that is not a record (a damaged log reports).

    A line beyond the readers' bounds is an error instead: nothing should read past it.
    """
    try:
        yield from read_events(path)
    except LineLimitError:
        raise
    except AuditFileError:
        return
    except AuditLogError as exc:
        raise ReportCommandError(str(exc)) from None
