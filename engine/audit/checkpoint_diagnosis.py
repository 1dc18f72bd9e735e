"""Where a genuine checkpoint and the chain disagree: records altered, removed, added or moved.

The chain walk (:mod:`engine.audit.verifier`) accepts a validly signed checkpoint only when it
signs the last record the walk reached, and expects one after every ``checkpoint_every``-th
record. When either fails, this module looks at the lines around (re-reading the log, on the
failure path only) and says what happened. Since the checkpoint is genuine, what it signs is
the truth: a forger who re-hashed the chain can hide *which* record changed, not *that* one
did. A genuine checkpoint found while looking still proves the records it signs
(:attr:`Finding.proof`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.audit.chain import Line
from engine.audit.diagnosis import Diagnosis, Finding, span
from engine.audit.verdict import Head, Problem

Signed = Callable[[dict[str, Any], str], bool]
"""Whether a checkpoint body's signature verifies with the trusted key."""


class CheckpointDiagnosis(Diagnosis):
    """Classifies a genuine checkpoint out of step with the chain.

    Args:
        path: The log file, re-read on each look.
        signed: Checks a checkpoint's signature with the trusted key.
    """

    def __init__(self, path: Path, signed: Signed) -> None:
        super().__init__(path)
        self.signed = signed
        self.header_hash = ""
        """The header's chain hash, once the header is read: a genuine checkpoint signs it."""

    def genuine(self, line: Line, seq: int, digest: str | None = None) -> bool:
        """Whether a line is this run's validly signed checkpoint for ``seq`` (at ``digest``)."""
        obj = line.obj
        body = None if obj is None else obj.get("checkpoint")
        return (
            obj is not None
            and isinstance(body, dict)
            and body.get("seq") == seq
            and (digest is None or body.get("hash") == digest)
            and body.get("header") == self.header_hash
            and isinstance(obj.get("sig"), str)
            and self.signed(body, obj["sig"])
        )

    def due(self, n: int, seq: int, digest: str, proven: int) -> Finding:
        """A record at line ``n`` where the checkpoint after ``seq`` (at ``digest``) belongs."""
        later = self.find(
            lambda o: o.is_checkpoint and self.genuine(o, seq, digest),
            after=n,
            hint=digest.encode(),
        )
        if later is None:
            renumbered = self._renumbered_past(n, seq, proven)
            if renumbered is not None:
                return renumbered
            return Finding(
                Problem.MISSING,
                n,
                None,
                f"the checkpoint after seq {seq} is missing before line {n} (deleted)",
            )
        # The genuine checkpoint is further down: it proves the records up to it. Either it
        # was moved past genuine records (the chain goes on from the record before it), or the
        # lines before it were inserted.
        before = self.find(lambda o: True, after=later.number - 2, before=later.number)
        following = self.find(lambda o: True, after=later.number, before=later.number + 2)
        moved = (
            before is not None
            and before.obj is not None
            and following is not None
            and following.consistent
            and following.obj is not None
            and following.obj.get("prev") == before.obj.get("hash")
        )
        if moved:
            return Finding(
                Problem.REORDERED,
                n,
                None,
                f"the checkpoint for seq {seq} was moved: it belongs before line {n} but comes "
                f"at line {later.number}",
                accepted=seq,
                proof=later,
            )
        last = later.number - 1
        return Finding(
            Problem.INSERTED,
            n,
            seq + 1,
            f"{span('line', n, last)} {'was' if last == n else 'were'} inserted before the "
            f"checkpoint signed for seq {seq} at line {later.number}",
            accepted=seq,
            proof=later,
        )

    def rehashed(self, n: int, cp_seq: int, proven: int) -> Finding:
        """The genuine checkpoint at line ``n`` signs a different chain up to ``cp_seq``."""
        first = min(proven + 1, cp_seq)
        return Finding(
            Problem.ALTERED,
            n,
            None,
            f"line {n}: the checkpoint signed for seq {cp_seq} does not match the chain: one "
            f"or more records in {span('seq', first, cp_seq)} were altered and the chain "
            "re-hashed to hide it",
            suspect=(first, cp_seq),
        )

    def ahead(self, line: Line, body: dict[str, Any], last: int, proven: int) -> Finding:
        """A genuine checkpoint for a seq the chain has not reached: moved up, or records gone."""
        n, cp_seq, signed = line.number, body["seq"], body["hash"]
        later = self.find(
            lambda o: o.consistent and o.seq == cp_seq and o.obj is not None
            and o.obj.get("hash") == signed,
            after=n,
            hint=signed.encode(),
        )
        if later is not None:
            return Finding(
                Problem.REORDERED,
                n,
                None,
                f"line {n}: the checkpoint for seq {cp_seq} comes before the record it signs "
                f"(line {later.number})",
            )
        gone, first = cp_seq - last, proven + 1
        return Finding(
            Problem.MISSING,
            n,
            None,
            f"{gone} record{'s' if gone > 1 else ''} missing in {span('seq', first, cp_seq)}: the "
            f"checkpoint at line {n} signs seq {cp_seq} but the chain holds seq {last} before "
            "it (removed, and any records after them renumbered and re-hashed)",
            suspect=(first, cp_seq),
        )

    def behind(
        self, line: Line, body: dict[str, Any], last: int, proven: int, head: Head | None
    ) -> Finding:
        """A genuine checkpoint for a seq the chain has passed: records added before it."""
        n, cp_seq, signed = line.number, body["seq"], body["hash"]
        if head is not None and head.seq == cp_seq and head.body["hash"] == signed:
            at: int | None = head.line  # the closing checkpoint repeats the periodic one's seq
        else:
            record = self.find(
                lambda o: o.consistent and o.seq == cp_seq and not o.is_checkpoint
                and o.obj is not None and o.obj.get("hash") == signed,
                after=head.line if head is not None else 1,
                before=n,
                hint=signed.encode(),
            )
            at = None if record is None else record.number
        if at is not None:
            # It signs a record the chain holds: it proves the records up to that one, and the
            # ones between that record and the checkpoint are not the writer's.
            extra = last - cp_seq
            return Finding(
                Problem.INSERTED,
                at + 1,
                cp_seq + 1,
                f"{extra} record{'s' if extra > 1 else ''} ({span('seq', cp_seq + 1, last)}, "
                f"{span('line', at + 1, n - 1)}) inserted before the checkpoint signed for seq "
                f"{cp_seq} at line {n}",
                accepted=cp_seq,
                proof=line,
            )
        finding = self.extra(line, f"a checkpoint for seq {cp_seq}")
        if finding.problem is Problem.DUPLICATED:
            return finding
        return self._renumbered_insertion(n, cp_seq, last, proven)

    def _renumbered_past(self, n: int, seq: int, proven: int) -> Finding | None:
        """Records inserted and renumbered: the checkpoint due at ``seq`` comes later, unmatched.

        None unless the next checkpoint after line ``n`` is this run's, validly signed, for
        ``seq``.
        """
        later = self.find(lambda o: o.is_checkpoint or o.obj is None, after=n - 1)
        if later is None or not self.genuine(later, seq):
            return None
        return self._renumbered_insertion(later.number, seq, seq + later.number - n, proven)

    def _renumbered_insertion(self, n: int, cp_seq: int, last: int, proven: int) -> Finding:
        """A genuine checkpoint at line ``n`` for ``cp_seq`` after a chain that reached ``last``."""
        extra, first = last - cp_seq, proven + 1
        return Finding(
            Problem.INSERTED,
            n,
            None,
            f"{extra} record{'s' if extra > 1 else ''} inserted in {span('seq', first, last)}: "
            f"the checkpoint at line {n} signs seq {cp_seq} but the chain holds seq {last} before "
            "it (the records after the insertion renumbered and re-hashed)",
            accepted=last,
            suspect=(first, last),
        )
