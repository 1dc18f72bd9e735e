"""``agentrange audit verify`` and ``audit anchor``: what a log proves, and its head to keep.

``verify`` states three things and never blurs them: the records proven (by the last valid
signed checkpoint), the unverified records after them (a count, never called intact), and the
first problem with its label; then which run the log proves and which key it trusted, and
whether that key pins the signer. ``anchor`` prints a log's head as JSON to be stored
elsewhere; ``verify --anchor`` fails a log that does not extend it. See docs/audit-log.md.
Their options are in :mod:`tui.commands.parsers.audit`.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.audit.anchor import anchor_of, read_anchor
from engine.audit.errors import AuditFileError
from engine.audit.trust import key_from_file
from engine.audit.verdict import Problem, VerifyReport
from engine.audit.verifier import verify_log
from engine.durations import format_duration

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2

UNPINNED = "signer not pinned"
UNPINNED_WHY = (
    "(a forger who rewrites the log re-signs it with a key of their own: pass --key with a "
    "copy of the public key kept elsewhere, or --anchor)"
)


def _unusable(command: str, message: str) -> int:
    print(f"agentrange audit {command}: error: {message}", file=sys.stderr)
    return EXIT_UNUSABLE


def _verify(args: argparse.Namespace, anchor_path: str | None) -> VerifyReport:
    key = key_from_file(args.key, args.file) if args.key else None
    anchor = read_anchor(anchor_path) if anchor_path else None
    return verify_log(args.file, key, anchor=anchor)


def run_verify(args: argparse.Namespace) -> int:
    """Verify the log; 0 when whole and complete, 1 on any failure, 2 when unusable."""
    try:
        report = _verify(args, args.anchor)
    except AuditFileError as exc:
        return _unusable("verify", str(exc))
    if report.problem is Problem.UNSUPPORTED:
        return _unusable("verify", f"{args.file}: {report.message}")
    code, lines = verdict_lines(args.file, report, allow_incomplete=args.allow_incomplete)
    print("\n".join(lines))
    return code


def verdict_lines(
    file: str, report: VerifyReport, *, allow_incomplete: bool = False
) -> tuple[int, list[str]]:
    """The exit code and the lines ``audit verify`` prints for a verdict."""
    records = report.proven + report.unverified
    if report.ok:
        shortened = report.identity.shortened_from if report.identity else None
        complete = "the run is complete"
        if shortened is not None and report.identity is not None:
            planned = report.identity.planned_end
            assert planned is not None
            complete += (f" to its planned end, {format_duration(planned)} of the scenario's "
                         f"{format_duration(shortened)} (cut short by --until)")
        lines = [
            f"OK: {file}: {_count(records, 'record')}, all proven by "
            f"{_count(report.checkpoints, 'signed checkpoint')}; {complete}"
        ]
        code = EXIT_OK
    elif report.problem is Problem.INCOMPLETE and report.incomplete is not None:
        lines = [_incomplete_line(file, report, allow_incomplete)]
        code = EXIT_OK if allow_incomplete else EXIT_FAILED
    else:
        lines = [_fail_line(file, report), *_states(report)]
        code = EXIT_FAILED
    return code, [*lines, *_run_lines(report), *_signer_lines(report)]


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _incomplete_line(file: str, report: VerifyReport, allowed: bool) -> str:
    assert report.incomplete is not None
    mark = report.incomplete
    planned = report.identity.planned_end if report.identity else None
    if mark.at is not None:
        when = f" at {format_duration(mark.at)} (simulated)"
        before = "" if planned is None else f" of its planned {format_duration(planned)}"
    else:
        when = ""
        before = (" before its end" if planned is None
                  else f" before its planned end ({format_duration(planned)})")
    head = "INCOMPLETE (allowed)" if allowed else "INCOMPLETE"
    tail = "" if allowed else " (exit 1; --allow-incomplete accepts it)"
    return (
        f"{head}: {file}: the run stopped{when}{before}: {mark.reason}; "
        f"{_count(report.proven, 'record')} proven by "
        f"{_count(report.checkpoints, 'signed checkpoint')}{tail}"
    )


def _fail_line(file: str, report: VerifyReport) -> str:
    where = f"line {report.first_bad_line}" if report.first_bad_line else "end of file"
    if report.first_bad_seq is not None:
        where += f", seq {report.first_bad_seq}"
    elif report.suspect is not None:
        first, last = report.suspect
        where += f", seq {first}" if first == last else f", seqs {first}..{last}"
    return f"FAIL: {file}: {where}: {report.problem.value}: {report.message}"


def _states(report: VerifyReport) -> list[str]:
    """The proven records and the unverified tail, in words that never call the tail intact."""
    if report.proven:
        head = report.head
        where = f" (signed checkpoint at line {head.line})" if head is not None else ""
        proven = f"proven:     records 1..{report.proven}{where}"
    else:
        proven = "proven:     none (no valid signed checkpoint before the problem)"
    if report.unverified:
        first = report.proven + 1
        last = report.proven + report.unverified
        span = f"seq {first}" if first == last else f"seqs {first}..{last}"
        after = " after them" if report.proven else ""
        tail = (
            f"unverified: {_count(report.unverified, 'record')}{after} ({span}) hash-chain "
            "but no valid signature covers them: not proven"
        )
    else:
        tail = "unverified: none"
    return [proven, tail]


def _run_lines(report: VerifyReport) -> list[str]:
    who = report.identity
    if who is None:
        return []
    facts = [
        f"{name} {value}"
        for name in ("scenario", "profile", "seed")
        if (value := who.fact(name)) is not None
    ]
    run = f"run:        {who.run}" + (f" ({', '.join(facts)})" if facts else "")
    planned = "not stated" if who.planned_end is None else format_duration(who.planned_end)
    shortened = who.shortened_from
    when = ("(simulated)" if shortened is None else
            f"of the scenario's {format_duration(shortened)} (simulated; cut short by --until)")
    out = [run, f"            planned end {planned} {when}, nonce {who.nonce}"]
    out += [f"            {role} {name} sha256 {digest}" for role, name, digest in who.documents]
    return out


def _signer_lines(report: VerifyReport) -> list[str]:
    signer = report.signer
    if signer is None:
        return []
    trust = "pinned" if signer.pinned else UNPINNED
    lines = [f"signer:     key {signer.kid} from {signer.source}: {trust}"]
    if not signer.pinned:
        lines.append(f"            {UNPINNED_WHY}")
    if report.anchored is True:
        lines.append("anchor:     the log extends the anchored head")
    return lines


def run_anchor(args: argparse.Namespace) -> int:
    """Print the log's head as JSON; 1 when the log fails verification, 2 when unusable."""
    try:
        report = _verify(args, None)
    except AuditFileError as exc:
        return _unusable("anchor", str(exc))
    if report.problem is Problem.UNSUPPORTED:
        return _unusable("anchor", f"{args.file}: {report.message}")
    if report.problem not in (Problem.OK, Problem.INCOMPLETE, Problem.TRUNCATED):
        print(f"agentrange audit anchor: refusing to anchor a log that fails verification: "
              f"{_fail_line(args.file, report)}", file=sys.stderr)
        return EXIT_FAILED
    anchor = anchor_of(report)
    if anchor is None:
        why = "" if report.problem is not Problem.TRUNCATED else f" ({report.message})"
        print(f"agentrange audit anchor: {args.file}: no signed checkpoint yet, nothing to "
              f"anchor{why}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(anchor.to_document(), indent=2, sort_keys=True))
    if report.problem is Problem.TRUNCATED:
        print(f"agentrange audit anchor: note: the log has no closing checkpoint (still being "
              f"written, or cut); anchored its last signed checkpoint, seq {anchor.seq}",
              file=sys.stderr)
    if report.signer is not None and not report.signer.pinned:
        print(f"agentrange audit anchor: note: {UNPINNED} (key {report.signer.kid} from the "
              "log itself); the anchor records that key id", file=sys.stderr)
    return EXIT_OK
