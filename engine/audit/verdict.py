"""What the verifier reports: the kinds of problem a log can have and the verdict on one log.

A verdict states three things and never blurs them: the records **proven** (covered by the last
valid signed checkpoint the chain walk reached), the **unverified** records after them (read
and chained, but a forger who knows the format can re-hash a chain, so they are not proven),
and the **first problem** with its label. Nothing after the last valid signed checkpoint is
ever called intact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.audit.identity import RunIdentity


class Problem(StrEnum):
    """What the verifier found wrong with a log (``ok`` when nothing)."""

    OK = "ok"
    ALTERED = "altered"
    """A line's content does not match its hash, or a signed hash no longer matches the chain
    (records altered and the chain re-hashed)."""
    MISSING = "missing"
    """A record or checkpoint is missing: a seq gap, a broken link, or a signed checkpoint that
    counts more records than the chain holds (deleted, and the rest renumbered)."""
    REORDERED = "reordered"
    """Genuine records (or a checkpoint) appear out of order."""
    INSERTED = "inserted"
    """A line that the writer did not write in that place (including after the close)."""
    DUPLICATED = "duplicated"
    """A line repeats an earlier (or later) one."""
    TRUNCATED = "truncated"
    """The log ends early: a partial last line, or no closing checkpoint."""
    INCOMPLETE = "incomplete"
    """The log verifies, but its closing checkpoint says the run stopped before its end."""
    BAD_SIGNATURE = "bad_signature"
    """A checkpoint's signature does not verify."""
    WRONG_KEY = "wrong_key"
    """The log was signed with a key other than the trusted one."""
    NOT_ANCHORED = "not_anchored"
    """The log does not extend the head recorded in an anchor (rewritten or cut after it)."""
    MALFORMED = "malformed"
    """A line is not JSON, not canonical, or lacks what the format requires."""
    UNSUPPORTED = "unsupported"
    """A log of another format version (this verifier reads only its own)."""


@dataclass(frozen=True, slots=True)
class Signer:
    """The key the signatures were checked against, and how far it can be trusted.

    Attributes:
        kid: The key's fingerprint (its RFC 7638 JWK thumbprint).
        source: Where the key came from, in words (``--key keys/audit.pub.pem``, ``the log's
            own header`` ...).
        pinned: Whether the key came from somewhere the log's writer does not control. A key
            from the log itself, or from the ``.pub.pem`` beside it, is not pinned: whoever
            rewrites the log can rewrite those too.
    """

    kid: str
    source: str
    pinned: bool


@dataclass(frozen=True, slots=True)
class Incomplete:
    """Why a run's log was closed before the run's planned end.

    Attributes:
        reason: What stopped it (``interrupted by SIGINT``, an error, a budget).
        at: Simulated time at which it stopped, when the writer was told.
    """

    reason: str
    at: float | None


@dataclass(frozen=True, slots=True)
class Head:
    """A valid signed checkpoint: how far a log was proven, as an anchor records it.

    Attributes:
        body: The checkpoint's signed body (``seq``, ``hash``, ``header``, ``run`` ...).
        sig: Its signature (unpadded base64url Ed25519).
        line: Its line number in the log.
    """

    body: Mapping[str, Any]
    sig: str
    line: int

    @property
    def seq(self) -> int:
        """The seq of the last record the checkpoint covers."""
        seq = self.body["seq"]
        assert isinstance(seq, int)
        return seq


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The verdict on one log file.

    Attributes:
        ok: True when the whole log verifies, ends with its closing checkpoint and that
            checkpoint does not mark the run incomplete (and any anchor given is extended).
        problem: The kind of problem (``ok`` when none).
        message: One sentence saying what is wrong and where (or what was proven).
        proven: Records proven: 1..proven are covered by the last valid signed checkpoint the
            chain walk reached before any problem.
        unverified: Records after ``proven`` that the chain walk read before the problem (or the
            end of a truncated log). They hash-chain, but are not proven: never call them intact.
        checkpoints: Valid signed checkpoints seen before the first problem.
        first_bad_line: 1-based line number of the first bad line; for a log that ends without
            its closing checkpoint, the line after the last one. None when ``ok`` or incomplete.
        first_bad_seq: Sequence number of the first bad record when it can be named (for a
            deletion, the first missing one); None otherwise.
        suspect: The seqs the first problem lies in when it cannot be pinned to one record
            (records altered or removed and the chain re-hashed up to a signed checkpoint).
        identity: The run the log's header states, when the header could be read.
        signer: The key the signatures were checked against, when one was.
        incomplete: Why the run stopped early, when its closing checkpoint says so.
        anchored: Whether the log extends the anchor given (None when none was given).
        head: The last valid signed checkpoint before any problem (what ``audit anchor``
            records), None when there was none.
    """

    ok: bool
    problem: Problem
    message: str
    proven: int
    unverified: int
    checkpoints: int
    first_bad_line: int | None = None
    first_bad_seq: int | None = None
    suspect: tuple[int, int] | None = None
    identity: RunIdentity | None = None
    signer: Signer | None = None
    incomplete: Incomplete | None = None
    anchored: bool | None = None
    head: Head | None = None

    @property
    def records(self) -> int:
        """Records proven (the same as :attr:`proven`; every record when ``ok``)."""
        return self.proven

    @property
    def run(self) -> str | None:
        """The run id the header states, when it could be read."""
        return None if self.identity is None else self.identity.run

    @property
    def key_pinned(self) -> bool:
        """Whether the signatures were checked against a pinned key."""
        return self.signer is not None and self.signer.pinned
