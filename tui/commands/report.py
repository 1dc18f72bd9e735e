"""``agentrange report``: the accountability report of a run, in Markdown or printable HTML.

Two sources: ``agentrange report SCENARIO`` plays the scenario (under ``--profile``, with
``--seed``) into a temporary audit log and reports that; ``agentrange report --audit-log FILE``
reports an existing log, reading the scenario, profile and seed from its header (``agentrange
run --audit`` writes them) unless ``--scenario`` names the scenario. See :mod:`engine.report`
for what the report says and how out-of-scope attempts are defined.

Exit codes: 0 report written; 1 report written, but the log failed verification (the report
opens with a warning); 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.audit import (
    AuditFileError,
    AuditWriter,
    derive_signing_key,
    iter_records,
    load_public_key,
    verify_log,
)
from engine.errors import AgentrangeError, LoadError
from engine.model import Scenario
from engine.report import (
    AccountabilityReport,
    LogStatus,
    StepFacts,
    build_report,
    read_log_header,
)
from scenarios.library import load_scenario
from sim.events import Event, EventKind
from sim.runner import Simulation

FORMATS = ("markdown", "html")
EXIT_OK = 0
EXIT_LOG_FAILED = 1


class ReportCommandError(AgentrangeError):
    """A bad combination of ``report`` options or an unusable input."""


def register(sub: Any) -> None:
    """Add the ``report`` command to the CLI."""
    p = sub.add_parser(
        "report", help="accountability report of a run or an audit log (Markdown or HTML)",
        description="For every out-of-scope attempt and every incident: which agent, on whose "
        "behalf, which envelope it broke, the owners accountable, whether it was stopped and "
        "by what, and the framework references. Agents missing owners come first. Give a "
        "SCENARIO to run it now, or --audit-log FILE to report an existing log.")
    p.add_argument("scenario", metavar="SCENARIO", nargs="?",
                   help="a scenario file, a directory holding scenario.yaml, or a built-in name "
                   "(runs it and reports the run)")
    p.add_argument("--audit-log", metavar="FILE",
                   help="report this audit log instead of running a scenario")
    p.add_argument("--scenario", dest="log_scenario", metavar="S",
                   help="with --audit-log: the scenario it came from (default: the one its "
                   "header names)")
    p.add_argument("--profile", metavar="P",
                   help="profile id (default: the scenario's, or the one the log names)")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default: the scenario's)")
    p.add_argument("--key", metavar="PUBKEY.pem",
                   help="with --audit-log: pin the signer's public key when verifying")
    p.add_argument("--format", choices=FORMATS, default="markdown",
                   help="output format (default: markdown)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    """Build the report from a fresh run or an existing log and write it."""
    if args.audit_log and args.scenario:
        raise ReportCommandError("give a SCENARIO to run or --audit-log FILE, not both "
                                 "(name the log's scenario with --scenario)")
    if not args.audit_log and not args.scenario:
        raise ReportCommandError("give a SCENARIO to run, or --audit-log FILE")
    if args.audit_log:
        if args.seed is not None:
            raise ReportCommandError("--seed applies to a run; a log's seed is in its header")
        report = _from_log(args)
    else:
        if args.log_scenario or args.key:
            raise ReportCommandError("--scenario and --key apply to --audit-log")
        report = _from_run(args)
    text = report.to_html() if args.format == "html" else report.to_markdown()
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReportCommandError(f"{args.output}: cannot write: "
                                     f"{exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    if report.log is not None and not report.log.ok:
        print(f"agentrange report: warning: the audit log failed verification: "
              f"{report.log.message}", file=sys.stderr)
        return EXIT_LOG_FAILED
    return EXIT_OK


def _status(path: str | Path, key_file: str | None = None) -> LogStatus:
    key = load_public_key(key_file) if key_file else None
    verdict = verify_log(path, key)
    return LogStatus(verdict.ok, verdict.records, verdict.checkpoints, verdict.message,
                     verdict.key_pinned)


def _records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The log's records up to the first line that is not JSON (a damaged log still reports)."""
    try:
        yield from iter_records(path)
    except AuditFileError:
        return


def _check_profile(scenario: Scenario, profile: str) -> None:
    known = [p.id for p in scenario.profiles]
    if profile not in known:
        raise ReportCommandError(f"scenario {scenario.name} has no profile {profile!r} "
                                 f"(profiles: {', '.join(known)})")


def _from_run(args: argparse.Namespace) -> AccountabilityReport:
    scenario = load_scenario(args.scenario)
    profile = args.profile or scenario.default_profile_id
    _check_profile(scenario, profile)
    seed = scenario.seed if args.seed is None else args.seed
    facts: dict[int, StepFacts] = {}

    def sink(event: Event) -> None:
        # Only the event stream knows plan conformance, the token verdict and how an
        # approval ended; the report joins them to the audit records by event number.
        if event.kind == EventKind.DECISION:
            data = event.data
            facts[event.seq] = StepFacts(bool(data.get("approved")),
                                         _str(data.get("token_reason")))
        elif event.kind == EventKind.APPROVAL_RESOLVED:
            seq = event.data.get("decision")
            if isinstance(seq, int) and seq in facts:
                old = facts[seq]
                facts[seq] = StepFacts(old.approved, old.token_reason,
                                       _str(event.data.get("outcome")))

    run_id = f"{scenario.name}/{profile}/{seed}"
    with tempfile.TemporaryDirectory(prefix="agentrange-report-") as tmp:
        path = Path(tmp) / "audit.jsonl"
        key = derive_signing_key(f"{scenario.name}:{profile}:{seed}")
        with AuditWriter(path, key, run_id=run_id,
                         meta={"scenario": scenario.name, "profile": profile,
                               "seed": seed}) as audit:
            result = Simulation(scenario, profile, seed=seed, sink=sink, audit=audit).run()
        return build_report(_records(path), scenario=scenario, profile=profile, seed=seed,
                            run=run_id, log=_status(path), result=result.to_dict(),
                            facts=facts)


def _from_log(args: argparse.Namespace) -> AccountabilityReport:
    path = args.audit_log
    if not Path(path).is_file():
        raise ReportCommandError(f"{path}: no such audit log")
    header = read_log_header(path)
    meta = header.get("meta") if isinstance(header.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    scenario: Scenario | None = None
    if args.log_scenario:
        scenario = load_scenario(args.log_scenario)
    else:
        named = meta.get("source") or meta.get("scenario")
        if isinstance(named, str) and named:
            try:
                scenario = load_scenario(named.removeprefix("builtin:"))
            except LoadError:
                print(f"agentrange report: note: cannot load scenario {named!r} named in the "
                      "log header; reporting from the log alone (pass --scenario FILE for "
                      "owners, incidents and rule references)", file=sys.stderr)
    profile = args.profile or _str(meta.get("profile"))
    if scenario is not None:
        if profile is None:
            profile = scenario.default_profile_id
        _check_profile(scenario, profile)
    seed = meta.get("seed")
    status = _status(path, args.key)
    return build_report(_records(path), scenario=scenario, profile=profile,
                        seed=seed if isinstance(seed, int) else None,
                        run=_str(header.get("run")), log=status)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
