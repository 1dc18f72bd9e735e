"""What the verifier reports: the kinds of problem a log can have and the verdict on one log."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Problem(StrEnum):
    """What the verifier found wrong with a log (``ok`` when nothing)."""

    OK = "ok"
    EDITED = "edited"
    """A line's content does not match its hash, or a signed hash no longer matches the chain."""
    DELETED = "deleted"
    """A record or checkpoint is missing: a seq gap, or a record not linked to its predecessor."""
    REORDERED = "reordered"
    """Records (or a checkpoint) appear out of order."""
    INSERTED = "inserted"
    """A line that the writer did not write in that place (including after the close)."""
    DUPLICATED = "duplicated"
    """A line repeats an earlier (or later) one."""
    BAD_SIGNATURE = "bad_signature"
    """A checkpoint's signature does not verify."""
    WRONG_KEY = "wrong_key"
    """The log was signed with a key other than the pinned one."""
    TRUNCATED = "truncated"
    """The log ends early: a partial last line, or no closing checkpoint."""
    MALFORMED = "malformed"
    """A line is not JSON, not canonical, or lacks what the format requires."""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The verdict on one log file.

    Attributes:
        ok: True when the whole log verifies and ends with its closing checkpoint.
        records: Records verified intact and in order before the first problem (all of them
            when ``ok``); in a truncated log these are exactly the records 1..records.
        checkpoints: Valid checkpoints seen before the first problem.
        first_bad_line: 1-based line number of the first bad line; for a log that simply ends
            without its closing checkpoint, the line after the last one. None when ``ok``.
        first_bad_seq: Sequence number of the first bad record (for a deletion, the first
            missing one); None when ``ok`` or when the problem is not a record's.
        problem: The kind of problem.
        message: One human-readable sentence saying what is wrong and where.
        signed_through: Last seq covered by a valid signed checkpoint (None if none verified).
        key_pinned: Whether signatures were checked against a key the caller supplied.
        run: The run id from the header, when the header could be read.
    """

    ok: bool
    records: int
    checkpoints: int
    first_bad_line: int | None
    first_bad_seq: int | None
    problem: Problem
    message: str
    signed_through: int | None = None
    key_pinned: bool = False
    run: str | None = None
