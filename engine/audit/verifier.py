"""verify_log: walks a log's hash chain and checks its signed checkpoints, line by line.

Well-formed lines are checked by their bytes alone on a fast path; any other line takes a
careful path that parses it, and the first that does not fit is handed to
:mod:`engine.audit.diagnosis` to say what happened to it. Only a valid signed checkpoint proves
the records before it (:mod:`engine.audit.verdict`). The format is described in
docs/audit-log.md.
"""

from __future__ import annotations

import hashlib
import os
import stat
from functools import partial
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from engine.audit.anchor import Anchor
from engine.audit.canonical import canonical_bytes
from engine.audit.chain import (
    CHECKPOINT_START,
    DEFAULT_CHECKPOINT_EVERY,
    DIGEST_AT,
    FORMAT,
    GENESIS,
    HASH_MARK,
    MARK_AT,
    TAIL_LEN,
    VERSION,
    Line,
    parse_line,
    well_formed_checkpoint,
)
from engine.audit.checkpoint_diagnosis import CheckpointDiagnosis
from engine.audit.diagnosis import Finding, unhashed
from engine.audit.errors import AuditError, AuditFileError
from engine.audit.identity import RunIdentity
from engine.audit.lines import MAX_LINE_BYTES
from engine.audit.signing import ALGORITHM, key_id, public_key_from_jwk, signature_holds
from engine.audit.trust import TrustedKey, signer_for
from engine.audit.verdict import Head, Incomplete, Problem, Signer, VerifyReport


def verify_log(
    path: str | os.PathLike[str],
    public_key: Ed25519PublicKey | TrustedKey | None = None,
    *,
    anchor: Anchor | None = None,
) -> VerifyReport:
    """Verify a log's hash chain and checkpoint signatures; find the first bad line.

    Never raises on a bad log: every defect becomes a :class:`VerifyReport` with ``ok`` false,
    which says how many records are proven (by the last valid signed checkpoint before the
    problem) and how many after them were read but are not proven.

    Args:
        path: The log file.
        public_key: The key to check signatures with: a key the caller holds (pinned), or a
            :class:`~engine.audit.trust.TrustedKey` saying where it came from. When omitted,
            the header's own key is used, which proves integrity but not who signed (a forger
            could re-sign), unless an anchor pins it.
        anchor: A head recorded earlier (``audit anchor``); the log must extend it.

    Raises:
        AuditFileError: when the file cannot be opened or read, or is not a regular file.
    """
    trusted = (
        TrustedKey(public_key, "the caller's key")
        if isinstance(public_key, Ed25519PublicKey)
        else public_key
    )
    try:
        # Non-blocking, so a FIFO is refused instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise AuditFileError(path, "is not a regular file (an audit log is a file)")
            os.set_blocking(fd, True)
            return _Verifier(Path(path), handle, trusted, anchor).run()
    except OSError as exc:
        raise AuditFileError(path, f"cannot read the log: {exc.strerror}") from None


class _Verifier:
    """One pass over a log: a fast path for well-formed lines, a careful path for the rest."""

    def __init__(
        self, path: Path, handle: IO[bytes], trusted: TrustedKey | None, anchor: Anchor | None
    ) -> None:
        self.handle = handle
        self.trusted = trusted
        self.anchor = anchor
        self.anchor_line = anchor.line() if anchor is not None else b""
        self.anchored = False
        self.key: Ed25519PublicKey | None = None
        self.signer: Signer | None = None
        self.kid = ""
        self.identity: RunIdentity | None = None
        self.header_hash = ""
        self.every = DEFAULT_CHECKPOINT_EVERY
        self.expect = 1  # next record seq
        self.prev = GENESIS.encode()  # hash of the last accepted chain link
        self.prev_line = 0  # line of the last accepted record
        self.due = False  # a checkpoint must come next
        self.closed = False
        self.checkpoints = 0
        self.proven = 0
        self.head: Head | None = None
        self.incomplete: Incomplete | None = None
        self.last_checkpoint_raw = b""
        self.diagnosis = CheckpointDiagnosis(path, self._signed)

    # -- main loop

    def run(self) -> VerifyReport:
        handle = self.handle
        readline, limit = handle.readline, MAX_LINE_BYTES + 1
        first = readline(limit)
        if len(first) == limit and first[-1:] != b"\n":
            return self._overlong(1)
        if not first:
            return self._fail(Problem.TRUNCATED, 1, None, "the log is empty: it has no header")
        if first[-1:] != b"\n":
            return self._partial_line(1, first)
        bad = self._header(first)
        if bad is not None:
            return bad
        # The loop keeps the chain state in locals (this is the hot path) and hands it to the
        # careful path through self whenever a line needs more than the fast check.
        sha256 = hashlib.sha256
        mark, mark_at, digest_at = HASH_MARK, MARK_AT, DIGEST_AT
        tail, checkpoint_start = TAIL_LEN, CHECKPOINT_START
        every = self.every
        prev, expect, prev_line, fast = self.prev, self.expect, 0, True
        number = 1
        for raw in iter(partial(readline, limit), b""):
            number += 1
            # Fast path: the line's bytes hash to its hash, and it has exactly one "prev" and
            # one "seq" member, holding the expected values. Exactly one means it is the
            # top-level member the writer put there; anything unusual takes the careful path.
            if fast and raw[mark_at] == mark and raw[-3:] == b'"}\n':
                body = raw[:-tail] + b"}"
                digest = sha256(body).hexdigest().encode()
                if digest == raw[digest_at]:
                    at = body.find(b'"prev":')
                    if (
                        body.startswith(b'"prev":"' + prev + b'"', at)
                        and body.rfind(b'"prev":') == at
                    ):
                        token = b'"seq":%d' % expect
                        at = body.rfind(b'"seq":')
                        if (
                            body.startswith(token, at)
                            and body[at + len(token)] in b",}"
                            and body.find(b'"seq":') == at
                            and not raw.startswith(checkpoint_start)
                        ):
                            prev, prev_line = digest, number
                            if expect % every == 0:
                                fast = False
                                self.due = True
                            expect += 1
                            continue
            self.prev, self.expect, self.prev_line = prev, expect, prev_line
            if raw[-1:] != b"\n":
                if len(raw) == limit:
                    return self._overlong(number)
                return self._partial_line(number, raw)
            line = parse_line(number, raw)
            bad = self._checkpoint(line) if line.is_checkpoint else self._record(line)
            if bad is not None:
                return bad
            prev, expect, prev_line = self.prev, self.expect, self.prev_line
            fast = not (self.due or self.closed)
        self.prev, self.expect, self.prev_line = prev, expect, prev_line
        if not self.closed:
            return self._fail(
                Problem.TRUNCATED,
                number + 1,
                None,
                f"the log ends at line {number} without its closing checkpoint (the run was "
                "killed, a write failed, or the end was cut off)",
            )
        return self._closed()

    # -- results

    def _report_of(self, problem: Problem, message: str, **fields: Any) -> VerifyReport:
        return VerifyReport(
            ok=problem is Problem.OK,
            problem=problem,
            message=message,
            proven=self.proven,
            checkpoints=self.checkpoints,
            identity=self.identity,
            signer=self.signer,
            incomplete=self.incomplete,
            anchored=None if self.anchor is None else self.anchored,
            head=self.head,
            **fields,
        )

    def _closed(self) -> VerifyReport:
        """The verdict on a log that verified through its closing checkpoint."""
        if self.anchor is not None and not self.anchored:
            return self._report_of(
                Problem.NOT_ANCHORED,
                f"the log does not hold the anchored checkpoint for seq {self.anchor.seq}: it "
                f"was rewritten after it was anchored"
                if self.anchor.seq <= self.proven
                else f"the log ends at seq {self.proven}, before the anchored seq "
                f"{self.anchor.seq}: records were removed after it was anchored",
                unverified=0,
            )
        records = self.expect - 1
        if self.incomplete is not None:
            when = "" if self.incomplete.at is None else f" at {self.incomplete.at:g}s"
            return self._report_of(
                Problem.INCOMPLETE,
                f"the run stopped{when} before its end ({self.incomplete.reason}); its "
                f"{records} records are proven",
                unverified=0,
            )
        return self._report_of(
            Problem.OK,
            f"OK: {_count(records, 'record')}, all proven by "
            f"{_count(self.checkpoints, 'signed checkpoint')}",
            unverified=0,
        )

    def _fail(
        self,
        problem: Problem,
        line: int | None,
        seq: int | None,
        message: str,
        *,
        accepted: int | None = None,
        suspect: tuple[int, int] | None = None,
    ) -> VerifyReport:
        read = self.expect - 1 if accepted is None else accepted
        return self._report_of(
            problem,
            message,
            unverified=max(0, read - self.proven),
            first_bad_line=line,
            first_bad_seq=seq,
            suspect=suspect,
        )

    def _report(self, finding: Finding) -> VerifyReport:
        if finding.proof is not None:
            self._prove(finding.proof)
        return self._fail(
            finding.problem,
            finding.line,
            finding.seq,
            finding.message,
            accepted=finding.accepted,
            suspect=finding.suspect,
        )

    def _overlong(self, number: int) -> VerifyReport:
        return self._fail(
            Problem.MALFORMED,
            number,
            None,
            f"line {number} is longer than {MAX_LINE_BYTES:,} bytes, the readers' bound (the "
            "writer refuses such records): not a line the writer wrote; it was not read further",
        )

    def _partial_line(self, number: int, raw: bytes) -> VerifyReport:
        if number == 1:
            message = "the log ends inside its header line (line 1 has no newline)"
        else:
            message = (
                f"line {number} is incomplete ({len(raw)} bytes, no newline), as when a run is "
                "killed mid-write or the disk fills"
            )
        return self._fail(Problem.TRUNCATED, number, None, message)

    # -- header

    def _header(self, raw: bytes) -> VerifyReport | None:
        line = parse_line(1, raw)
        obj = line.obj

        def malformed(why: str) -> VerifyReport:
            return self._fail(Problem.MALFORMED, 1, None, f"line 1 (header): {why}")

        if obj is None:
            return malformed("not a JSON object")
        header = obj.get("header")
        if not isinstance(header, dict):
            return malformed(f"not an {FORMAT} log header")
        if not line.consistent:
            return self._report(unhashed(line, 0))
        if header.get("format") != FORMAT:
            return malformed(f"not an {FORMAT} log header")
        if obj.get("seq") != 0 or obj.get("prev") != GENESIS:
            return malformed("the header must have seq 0 and the genesis prev")
        version = header.get("version")
        if version != VERSION:
            why = (
                "it was written before logs carried the run's identity (nonce, planned end, "
                "document digests) and incomplete-run marks"
                if version == 1
                else "it is not a version this agentrange knows"
            )
            return self._fail(
                Problem.UNSUPPORTED,
                1,
                None,
                f"format version {version!r}: {why}; this agentrange verifies version "
                f"{VERSION} logs only (run the scenario again to get one)",
            )
        if header.get("alg") != ALGORITHM:
            return malformed(f"unsupported signature algorithm {header.get('alg')!r}")
        key = public_key_from_jwk(header.get("jwk"))
        if key is None:
            return malformed("jwk is not an Ed25519 public key")
        kid = header.get("kid")
        if kid != key_id(key):
            return malformed("kid is not the thumbprint of the header's key")
        try:
            self.identity = RunIdentity.of_header(header, obj["hash"])
        except ValueError as exc:
            return malformed(str(exc))
        self.kid = kid
        self.every = self.identity.checkpoint_every
        self.header_hash = self.diagnosis.header_hash = obj["hash"]
        self.prev = obj["hash"].encode()
        return self._trust(key, kid)

    def _trust(self, header_key: Ed25519PublicKey, kid: str) -> VerifyReport | None:
        """Choose the key to check signatures with, and say how far it can be trusted."""
        self.signer, self.key = signer_for(self.trusted, self.anchor, header_key, kid)
        if self.signer.kid != kid:
            return self._fail(
                Problem.WRONG_KEY,
                1,
                None,
                f"the log was signed with key {kid}, not with the trusted key {self.signer.kid}",
            )
        assert self.identity is not None
        why = None if self.anchor is None else self.anchor.mismatch(kid, self.identity)
        if why is not None:
            return self._fail(Problem.NOT_ANCHORED, 1, None, why)
        return None

    # -- records

    def _record(self, line: Line) -> VerifyReport | None:
        obj = line.obj
        n = line.number
        if obj is None:
            return self._fail(
                Problem.MALFORMED, n, None, f"line {n} is not a JSON object (damaged or injected)"
            )
        seq = obj.get("seq")
        seq_or_none = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        if "hash" not in obj or not isinstance(obj.get("prev"), str) or seq_or_none is None:
            return self._fail(
                Problem.MALFORMED, n, None, f"line {n} is not an audit record (no seq/prev/hash)"
            )
        if not line.consistent:
            return self._report(unhashed(line, seq_or_none))
        assert seq_or_none is not None
        if "header" in obj:
            return self._report(self.diagnosis.extra(line, "a second header"))
        if seq == self.expect and obj["prev"].encode() == self.prev:
            if self.closed:
                return self._fail(
                    Problem.INSERTED,
                    n,
                    seq,
                    f"line {n} (seq {seq}) comes after the closing checkpoint",
                )
            if self.due:
                return self._missing_checkpoint(n)
            self.prev = obj["hash"].encode()
            self.prev_line = n
            self.expect = seq + 1
            self.due = seq % self.every == 0
            return None
        return self._report(
            self.diagnosis.misplaced(
                line, seq_or_none, expect=self.expect, prev=self.prev, prev_line=self.prev_line
            )
        )

    def _missing_checkpoint(self, n: int) -> VerifyReport:
        """A record where the checkpoint after seq ``expect - 1`` belongs: which is wrong?"""
        return self._report(
            self.diagnosis.due(n, self.expect - 1, self.prev.decode(), self.proven)
        )

    # -- checkpoints

    def _signed(self, body: dict[str, Any], sig: str) -> bool:
        assert self.key is not None
        return signature_holds(self.key, body, sig)

    def _prove(self, line: Line) -> None:
        """Count a genuine checkpoint: the records up to its seq are proven."""
        assert line.obj is not None
        self.checkpoints += 1
        self.head = Head(line.obj["checkpoint"], line.obj["sig"], line.number)
        self.proven = self.head.seq
        if line.raw == self.anchor_line:
            self.anchored = True

    def _checkpoint(self, line: Line) -> VerifyReport | None:
        n = line.number
        obj = line.obj
        assert obj is not None
        body = obj.get("checkpoint")
        sig = obj.get("sig")
        if not (
            set(obj) == {"checkpoint", "sig"}
            and well_formed_checkpoint(body)
            and isinstance(sig, str)
        ):
            return self._fail(Problem.MALFORMED, n, None, f"line {n} is not a valid checkpoint")
        assert isinstance(body, dict) and isinstance(sig, str)
        try:
            canonical = canonical_bytes(obj) + b"\n"
        except AuditError:
            canonical = b""
        if canonical != line.raw:
            return self._fail(
                Problem.MALFORMED, n, None, f"line {n} (checkpoint) is not in canonical form"
            )
        cp_seq: int = body["seq"]
        if not self._signed(body, sig):
            assert self.signer is not None
            return self._fail(
                Problem.BAD_SIGNATURE,
                n,
                None,
                f"line {n}: the checkpoint signature (seq {cp_seq}) does not verify with "
                f"{self.signer.source}",
            )
        if body["kid"] != self.kid:
            return self._fail(Problem.MALFORMED, n, None, f"line {n}: checkpoint kid is not the "
                              "header's")
        if body["header"] != self.header_hash or body["run"] != (
            self.identity.run if self.identity else None
        ):
            return self._fail(
                Problem.INSERTED,
                n,
                None,
                f"line {n} is a checkpoint of another run (run {body['run']!r}, another header)",
            )
        last = self.expect - 1
        if self.closed or line.raw == self.last_checkpoint_raw:
            return self._report(self.diagnosis.extra(line, f"a checkpoint for seq {cp_seq}"))
        if cp_seq == last and body["hash"].encode() != self.prev:
            return self._report(self.diagnosis.rehashed(n, cp_seq, self.proven))
        if cp_seq > last:
            return self._report(self.diagnosis.ahead(line, body, last, self.proven))
        if cp_seq < last:
            return self._report(
                self.diagnosis.behind(line, body, last, self.proven, self.head)
            )
        if not (self.due or body["final"]):
            return self._fail(
                Problem.MALFORMED,
                n,
                None,
                f"line {n}: checkpoint at seq {cp_seq} is off the interval of {self.every}",
            )
        self._prove(line)
        self.due = False
        self.closed = body["final"]
        self.last_checkpoint_raw = line.raw
        mark = body["incomplete"]
        if mark is not None:
            self.incomplete = Incomplete(mark["reason"], mark["at"])
        return None


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"
