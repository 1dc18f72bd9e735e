"""verify_log: walks a log's hash chain and checks its signed checkpoints, line by line.

Well-formed lines are checked by their bytes alone on a fast path; any other line takes a
careful path that parses it, and the first that does not fit is handed to
:mod:`engine.audit.diagnosis` to say what happened to it. The format is described in
docs/audit-log.md.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import re
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

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
)
from engine.audit.diagnosis import Diagnosis, Finding, unhashed
from engine.audit.errors import AuditError, AuditFileError
from engine.audit.signing import ALGORITHM, b64url, b64url_decode, key_id, public_key_from_jwk
from engine.audit.verdict import Problem, VerifyReport

_B64_SIG = re.compile(r"[A-Za-z0-9_-]{86}")


def verify_log(
    path: str | os.PathLike[str], public_key: Ed25519PublicKey | None = None
) -> VerifyReport:
    """Verify a log's hash chain and checkpoint signatures; find the first bad line.

    Never raises on a bad log: every defect becomes a :class:`VerifyReport` with ``ok`` false.
    A log without its closing checkpoint is a failure (``truncated``), but the report says how
    many records before the cut are intact.

    Args:
        path: The log file.
        public_key: The signer's key. When given, the header must name this key and every
            checkpoint must verify with it; when omitted, the header's own key is used, which
            proves integrity but not who signed (a forger could re-sign).

    Raises:
        AuditFileError: when the file cannot be opened or read.
    """
    try:
        with open(path, "rb") as handle:
            return _Verifier(Path(path), handle, public_key).run()
    except OSError as exc:
        raise AuditFileError(path, f"cannot read the log: {exc.strerror}") from None


class _Verifier:
    """One pass over a log: a fast path for well-formed lines, a careful path for the rest."""

    def __init__(self, path: Path, handle: IO[bytes], pinned: Ed25519PublicKey | None) -> None:
        self.handle = handle
        self.pinned = pinned
        self.key: Ed25519PublicKey | None = pinned
        self.kid = ""
        self.run_id: str | None = None
        self.every = DEFAULT_CHECKPOINT_EVERY
        self.expect = 1  # next record seq
        self.prev = GENESIS.encode()  # hash of the last accepted chain link
        self.prev_line = 0  # line of the last accepted record
        self.due = False  # a checkpoint must come next
        self.closed = False
        self.checkpoints = 0
        self.signed_through: int | None = None
        self.last_checkpoint_raw = b""
        self.diagnosis = Diagnosis(path)

    # -- main loop

    def run(self) -> VerifyReport:
        handle = self.handle
        first = handle.readline()
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
        for raw in handle:
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
                f"truncated after seq {self.expect - 1}: the log ends at line {number} without "
                f"its closing checkpoint{self._intact_suffix()}",
            )
        return VerifyReport(
            ok=True,
            records=self.expect - 1,
            checkpoints=self.checkpoints,
            first_bad_line=None,
            first_bad_seq=None,
            problem=Problem.OK,
            message=f"OK: {self.expect - 1} records, {self.checkpoints} checkpoints",
            signed_through=self.signed_through,
            key_pinned=self.pinned is not None,
            run=self.run_id,
        )

    # -- results

    def _intact_suffix(self) -> str:
        records = self.expect - 1
        if records == 0:
            return ""
        signed = self.signed_through or 0
        if signed >= records:
            return f"; records 1..{records} are intact and signed"
        if signed:
            return f"; records 1..{records} are intact (signed through seq {signed})"
        return f"; records 1..{records} are intact (none covered by a signed checkpoint yet)"

    def _fail(
        self,
        problem: Problem,
        line: int | None,
        seq: int | None,
        message: str,
        *,
        records: int | None = None,
    ) -> VerifyReport:
        return VerifyReport(
            ok=False,
            records=self.expect - 1 if records is None else records,
            checkpoints=self.checkpoints,
            first_bad_line=line,
            first_bad_seq=seq,
            problem=problem,
            message=message,
            signed_through=self.signed_through,
            key_pinned=self.pinned is not None,
            run=self.run_id,
        )

    def _report(self, finding: Finding) -> VerifyReport:
        return self._fail(
            finding.problem,
            finding.line,
            finding.seq,
            finding.message,
            records=finding.records,
        )

    def _partial_line(self, number: int, raw: bytes) -> VerifyReport:
        if number == 1:
            message = "the log ends inside its header line (line 1 has no newline)"
        else:
            message = (
                f"truncated after seq {self.expect - 1}: line {number} is incomplete "
                f"({len(raw)} bytes, no newline), as when a run is killed mid-write"
                f"{self._intact_suffix()}"
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
        if header.get("version") != VERSION:
            return malformed(f"unsupported format version {header.get('version')!r}")
        if header.get("alg") != ALGORITHM:
            return malformed(f"unsupported signature algorithm {header.get('alg')!r}")
        key = public_key_from_jwk(header.get("jwk"))
        if key is None:
            return malformed("jwk is not an Ed25519 public key")
        kid = header.get("kid")
        if kid != key_id(key):
            return malformed("kid is not the thumbprint of the header's key")
        every = header.get("checkpoint_every")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            return malformed("checkpoint_every must be a positive integer")
        run = header.get("run")
        if not isinstance(run, str):
            return malformed("run must be a string")
        self.run_id = run
        if self.pinned is not None and key_id(self.pinned) != kid:
            return self._fail(
                Problem.WRONG_KEY,
                1,
                None,
                f"the log was signed with key {kid}, not with the pinned key {key_id(self.pinned)}",
            )
        self.key = self.pinned or key
        self.kid = kid
        self.every = every
        self.prev = obj["hash"].encode()
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
        return self._fail(
            Problem.DELETED,
            n,
            None,
            f"the checkpoint after seq {self.expect - 1} is missing before line {n} "
            f"(deleted or moved){self._intact_suffix()}",
        )

    # -- checkpoints

    def _checkpoint(self, line: Line) -> VerifyReport | None:
        n = line.number
        obj = line.obj
        assert obj is not None
        body = obj.get("checkpoint")
        sig = obj.get("sig")
        shape_ok = (
            set(obj) == {"checkpoint", "sig"}
            and isinstance(body, dict)
            and set(body) == {"count", "final", "hash", "kid", "run", "seq"}
            and isinstance(sig, str)
            and isinstance(body["seq"], int)
            and not isinstance(body["seq"], bool)
            and isinstance(body["final"], bool)
            and isinstance(body["hash"], str)
        )
        if not shape_ok:
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
        assert self.key is not None
        whose = "the pinned key" if self.pinned is not None else "the header's key"
        try:
            if _B64_SIG.fullmatch(sig) is None or b64url(b64url_decode(sig)) != sig:
                raise InvalidSignature
            self.key.verify(b64url_decode(sig), canonical_bytes(body))
        except (InvalidSignature, ValueError, binascii.Error):
            return self._fail(
                Problem.BAD_SIGNATURE,
                n,
                None,
                f"line {n}: the checkpoint signature (seq {body['seq']}) does not verify with "
                f"{whose}{self._intact_suffix()}",
            )
        if body["kid"] != self.kid or body["count"] != body["seq"]:
            return self._fail(
                Problem.MALFORMED, n, None, f"line {n}: checkpoint kid or count is inconsistent"
            )
        if body["run"] != self.run_id:
            return self._fail(
                Problem.INSERTED, n, None, f"line {n} is a checkpoint from run {body['run']!r}"
            )
        cp_seq: int = body["seq"]
        last = self.expect - 1
        if self.closed or line.raw == self.last_checkpoint_raw:
            return self._report(self.diagnosis.extra(line, f"a checkpoint for seq {cp_seq}"))
        if cp_seq == last and body["hash"].encode() != self.prev:
            return self._fail(
                Problem.EDITED,
                n,
                None,
                f"line {n}: the signed checkpoint for seq {cp_seq} does not match the chain: "
                "records before it were altered and re-hashed",
            )
        if cp_seq > last:
            later = self.diagnosis.find(
                lambda o: o.consistent and o.seq == self.expect and not o.is_checkpoint,
                after=n,
                hint=b'"seq":%d' % self.expect,
            )
            if later is not None:
                return self._fail(
                    Problem.REORDERED,
                    n,
                    None,
                    f"line {n}: the checkpoint for seq {cp_seq} comes before seq {self.expect} "
                    f"(line {later.number})",
                )
            missing = f"seq {self.expect}"
            if cp_seq > self.expect:
                missing += f"..{cp_seq}"
            return self._fail(
                Problem.DELETED,
                n,
                self.expect,
                f"{missing} missing before the checkpoint at line {n} (deleted)",
            )
        if cp_seq < last:
            return self._report(
                self.diagnosis.extra(line, f"a checkpoint for seq {cp_seq} out of place")
            )
        if not (self.due or body["final"]):
            return self._fail(
                Problem.MALFORMED,
                n,
                None,
                f"line {n}: checkpoint at seq {cp_seq} is off the interval of {self.every}",
            )
        self.checkpoints += 1
        self.signed_through = cp_seq
        self.due = False
        self.closed = body["final"]
        self.last_checkpoint_raw = line.raw
        return None

