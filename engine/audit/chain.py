"""The hash chain's lines: the format's constants, how a chained line is built and read back.

The writer builds every header and record line with :func:`chained_line`; the verifier checks
well-formed lines by their bytes alone (:data:`MARK_AT`, :data:`DIGEST_AT`) and parses the
others with :func:`parse_line`. The format is described in docs/audit-log.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.audit.canonical import canonical_bytes
from engine.audit.errors import AuditError

FORMAT = "agentrange-audit"
VERSION = 2
"""Version 2 added the run's identity to the header and the incomplete mark to checkpoints."""
GENESIS = "0" * 64
"""The ``prev`` of the header line, the first link of every chain."""
DEFAULT_CHECKPOINT_EVERY = 1000
CHECKPOINT_FIELDS = frozenset({"final", "hash", "header", "incomplete", "kid", "run", "seq"})
"""The members of a checkpoint's signed body (docs/audit-log.md, "Lines")."""

HASH_MARK = b',"hash":"'
# Every chained line ends with ',"hash":"' + 64 hex digits + '"}\n'.
TAIL_LEN = len(HASH_MARK) + 64 + 3
MARK_AT = slice(-TAIL_LEN, -67)
DIGEST_AT = slice(-67, -3)
CHECKPOINT_START = b'{"checkpoint":'


def chained_line(body: Mapping[str, Any]) -> tuple[bytes, str]:
    """Return the line (with newline) and the hash for a body that has seq and prev.

    Raises:
        AuditError: when the body is not JSON-compatible.
    """
    data = canonical_bytes(body)
    digest = hashlib.sha256(data).hexdigest()
    return data[:-1] + HASH_MARK + digest.encode() + b'"}\n', digest


@dataclass(frozen=True, slots=True)
class Line:
    """One parsed line, for the slow path and the look-around that classifies a problem.

    Attributes:
        number: 1-based line number in the file.
        raw: The line's bytes, newline included.
        obj: The line parsed, or None when it is not a JSON object.
        consistent: Whether it is a canonical chained line whose hash matches its content.
    """

    number: int
    raw: bytes
    obj: dict[str, Any] | None
    consistent: bool

    @property
    def seq(self) -> object:
        """The line's ``seq`` member, whatever its type (None when absent)."""
        return None if self.obj is None else self.obj.get("seq")

    @property
    def is_checkpoint(self) -> bool:
        """Whether the line is a checkpoint (an object with a ``checkpoint`` member)."""
        return self.obj is not None and "checkpoint" in self.obj


def parse_line(number: int, raw: bytes) -> Line:
    """Parse one line and check whether it is a consistent chained line.

    Args:
        number: The line's 1-based number.
        raw: The line's bytes, newline included.
    """
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return Line(number, raw, None, False)
    if not isinstance(obj, dict):
        return Line(number, raw, None, False)
    consistent = False
    digest = obj.get("hash")
    if isinstance(digest, str) and "checkpoint" not in obj:
        body = {k: v for k, v in obj.items() if k != "hash"}
        try:
            line, real = chained_line(body)
        except AuditError:
            return Line(number, raw, obj, False)
        consistent = real == digest and line == raw
    return Line(number, raw, obj, consistent)


def well_formed_checkpoint(body: object) -> bool:
    """Whether a checkpoint body has exactly the members of the format, each of its type."""
    if not isinstance(body, dict) or set(body) != CHECKPOINT_FIELDS:
        return False
    seq, mark = body["seq"], body["incomplete"]
    if not (
        isinstance(seq, int)
        and not isinstance(seq, bool)
        and seq >= 0
        and isinstance(body["final"], bool)
        and all(isinstance(body[k], str) for k in ("hash", "header", "kid", "run"))
    ):
        return False
    if mark is None:
        return True
    if not (body["final"] and isinstance(mark, dict) and set(mark) == {"at", "reason"}):
        return False
    at = mark["at"]
    return (
        isinstance(mark["reason"], str)
        and bool(mark["reason"])
        and (at is None or (isinstance(at, int | float) and not isinstance(at, bool)))
    )
