"""What happened where the chain breaks: a line altered, inserted, removed, duplicated or moved.

The verifier's chain walk (:mod:`engine.audit.verifier`) stops at the first line that does not
continue the chain. This module says what happened there, looking at the lines around it; it
re-reads the log file to do so, which is fine because it runs only on the failure path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.audit.chain import Line, chained_line, parse_line
from engine.audit.errors import AuditError
from engine.audit.verdict import Problem


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place in the log; the verifier adds its counts to make the verdict.

    Attributes:
        problem: The kind of problem.
        line: 1-based number of the first bad line.
        seq: Sequence number of the first bad record, or None when it is not a record's.
        message: One sentence saying what is wrong and where.
        accepted: Records the chain walk can keep before the problem, when that is not every
            record it accepted (None: all of them). Whether they are proven is the verifier's
            business: only a signed checkpoint proves records.
        suspect: The seqs the problem lies in, when it cannot be pinned to one record.
        proof: A genuine signed checkpoint found while looking around, which still proves the
            records it signs (the verifier counts it).
    """

    problem: Problem
    line: int | None
    seq: int | None
    message: str
    accepted: int | None = None
    suspect: tuple[int, int] | None = None
    proof: Line | None = None


def span(what: str, first: int, last: int) -> str:
    """``seq 5`` or ``seqs 5..9`` (``line``/``lines`` alike)."""
    return f"{what} {first}" if first == last else f"{what}s {first}..{last}"


def _prev_of(obj: dict[str, Any] | None) -> bytes | None:
    prev = None if obj is None else obj.get("prev")
    return prev.encode() if isinstance(prev, str) else None


def unhashed(line: Line, seq: int | None) -> Finding:
    """Classify a parseable chained line that is not what its hash says: edited or re-encoded.

    Args:
        line: The line, parsed (``obj`` is not None).
        seq: Its sequence number (0 for the header), or None when it has none.
    """
    assert line.obj is not None
    body = {k: v for k, v in line.obj.items() if k != "hash"}
    try:
        _, real = chained_line(body)
    except AuditError as exc:
        return Finding(Problem.MALFORMED, line.number, seq, f"line {line.number}: {exc}")
    what = "header" if line.number == 1 else f"seq {seq}" if seq is not None else "record"
    if real != line.obj.get("hash"):
        return Finding(
            Problem.ALTERED,
            line.number,
            seq,
            f"line {line.number} ({what}) was altered: its content does not match its hash",
        )
    return Finding(
        Problem.MALFORMED,
        line.number,
        seq,
        f"line {line.number} ({what}) is not in canonical form (re-encoded or altered)",
    )


class Diagnosis:
    """Looks at the lines around one that breaks the chain to say what happened to it.

    Args:
        path: The log file, re-read on each look.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def extra(self, line: Line, what: str) -> Finding:
        """Classify a line that has no place in the chain: a duplicate of another line, or inserted.

        Args:
            line: The line.
            what: What it holds, for the message (e.g. ``a second header``).
        """
        dup = self.find(lambda o: o.number != line.number, hint=line.raw)
        if dup is not None:
            return Finding(
                Problem.DUPLICATED,
                line.number,
                None,
                f"line {line.number} repeats line {dup.number} ({what})",
            )
        return Finding(
            Problem.INSERTED, line.number, None, f"line {line.number} holds {what} (inserted)"
        )

    def misplaced(
        self, line: Line, seq: int, *, expect: int, prev: bytes, prev_line: int
    ) -> Finding:
        """Classify a self-consistent record that does not continue the chain.

        Args:
            line: The record's line.
            seq: Its sequence number.
            expect: The seq the chain expected next.
            prev: Hash of the last record (or header) the chain accepted.
            prev_line: Line of the last record the chain accepted (0 when none).
        """
        n, e = line.number, expect
        obj = line.obj
        assert obj is not None
        if seq < e:
            earlier = self.find(
                lambda o: o.consistent and o.seq == seq and not o.is_checkpoint,
                before=n,
                hint=b'"seq":%d' % seq,
            )
            if earlier is not None and earlier.obj is not None:
                if earlier.obj["hash"] == obj["hash"]:
                    return Finding(
                        Problem.DUPLICATED,
                        n,
                        seq,
                        f"line {n} repeats line {earlier.number} (seq {seq})",
                    )
                # Two records claim the same predecessor; the chain after them says which one
                # the writer wrote. If it continues from this line, the earlier one is the fake.
                if (
                    seq == e - 1
                    and earlier.number == prev_line
                    and earlier.obj.get("prev") == obj["prev"]
                    and self._continues(line)
                ):
                    return Finding(
                        Problem.INSERTED,
                        earlier.number,
                        seq,
                        f"line {earlier.number} (seq {seq}) was inserted: line {n} carries the "
                        f"same seq and the chain continues from line {n}",
                        accepted=seq - 1,
                    )
                where = f" already used at line {earlier.number}"
            else:
                where = ""
            return Finding(
                Problem.INSERTED,
                n,
                seq,
                f"line {n} (seq {seq}) was inserted: it reuses a sequence number{where}",
            )
        after = self._next_line(n)
        if (
            after is not None
            and after.consistent
            and not after.is_checkpoint
            and after.seq == e
            and _prev_of(after.obj) == prev
            and self._continues(after)
        ):
            # The chain goes on as if this line were not there: it is extra.
            same = self.find(
                lambda o: o.consistent and o.seq == seq,
                after=after.number,
                hint=b'"seq":%d' % seq,
            )
            if same is not None and same.raw == line.raw:
                return Finding(
                    Problem.DUPLICATED,
                    n,
                    seq,
                    f"line {n} repeats line {same.number} (seq {seq}) ahead of its place",
                )
            if seq > e and same is None and self._linked_later(line):
                return Finding(
                    Problem.REORDERED,
                    n,
                    seq,
                    f"line {n} holds seq {seq} ahead of its place (records reordered)",
                )
            return Finding(
                Problem.INSERTED,
                n,
                seq,
                f"line {n} (seq {seq}) was inserted: the chain continues without it",
            )
        if seq == e:
            if prev_line and self._continues(line):
                # This line is the writer's (the chain goes on from it): the record before it
                # is the one that changed, and was re-hashed to hide it.
                return Finding(
                    Problem.ALTERED,
                    prev_line,
                    e - 1,
                    f"line {prev_line} (seq {e - 1}) was altered and re-hashed: line {n} "
                    f"(seq {e}) links to a different record",
                    accepted=e - 2,
                )
            return Finding(
                Problem.MISSING,
                n,
                seq,
                f"line {n} (seq {seq}) does not link to seq {e - 1} (its prev hash differs): "
                "a record before it was removed and the rest renumbered",
            )
        later = self.find(
            lambda o: o.consistent and o.seq == e and not o.is_checkpoint,
            after=n,
            hint=b'"seq":%d' % e,
        )
        if later is not None:
            return Finding(
                Problem.REORDERED,
                n,
                seq,
                f"line {n} holds seq {seq} but seq {e} comes later at line {later.number} "
                "(records reordered)",
            )
        missing = f"seq {e}" if seq == e + 1 else f"seq {e}..{seq - 1}"
        return Finding(Problem.MISSING, n, e, f"{missing} missing before line {n} (deleted)")

    # -- look-around

    def find(
        self,
        predicate: Callable[[Line], bool],
        *,
        after: int = 1,
        before: int | None = None,
        hint: bytes = b"",
    ) -> Line | None:
        """The first complete line in (after, before) containing ``hint`` that satisfies predicate.

        Only lines containing the hint are parsed, so a scan of a large log stays cheap.
        """
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                if raw[-1:] != b"\n" or (before is not None and number >= before):
                    return None
                if number > after and hint in raw:
                    line = parse_line(number, raw)
                    if predicate(line):
                        return line
        return None

    def _next_line(self, number: int) -> Line | None:
        return self.find(lambda o: True, after=number, before=number + 2)

    def _linked_later(self, line: Line) -> bool:
        """Whether a later line links to ``line`` (a genuine record moved, not a forged one)."""
        assert line.obj is not None
        digest = line.obj["hash"]

        def links(other: Line) -> bool:
            if other.is_checkpoint and other.obj is not None:
                cp = other.obj.get("checkpoint")
                return isinstance(cp, dict) and cp.get("hash") == digest
            return other.consistent and other.obj is not None and other.obj.get("prev") == digest

        return self.find(links, after=line.number, hint=digest.encode()) is not None

    def _continues(self, line: Line) -> bool:
        """Whether the line after ``line`` links to it (or the file ends there)."""
        assert line.obj is not None
        after = self._next_line(line.number)
        if after is None:
            return True
        if after.obj is None:
            return False
        if after.is_checkpoint:
            cp = after.obj.get("checkpoint")
            return (
                isinstance(cp, dict)
                and cp.get("seq") == line.obj.get("seq")
                and cp.get("hash") == line.obj.get("hash")
            )
        return after.consistent and after.obj.get("prev") == line.obj.get("hash")

