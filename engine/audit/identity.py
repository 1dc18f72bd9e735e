"""A run's identity in its log: the header's nonce, planned end and document digests, read back.

The writer puts them in the header (link 0 of the hash chain) and every checkpoint signs the
header's hash, so no checkpoint of one run can vouch for another, and a shorter or differently
parameterised run cannot pass as this one. What the digests cover, so that a verifier holding
the scenario can check them, is in docs/audit-log.md ("Run identity").
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NONCE_BYTES = 16
_NONCE = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def new_nonce() -> str:
    """A fresh random run nonce: 128 bits from the operating system, as 32 lowercase hex digits."""
    return secrets.token_hex(NONCE_BYTES)


def is_nonce(value: object) -> bool:
    """Whether a value is a well-formed run nonce (32 lowercase hex digits)."""
    return isinstance(value, str) and _NONCE.fullmatch(value) is not None


def document(name: str, data: bytes) -> dict[str, str]:
    """A document's entry for the header: its name and the SHA-256 of its bytes as read.

    Args:
        name: How the document is named (a path, or the name a finder gave it).
        data: The file's bytes, exactly as on disk (no decoding, no normalisation), so that
            ``sha256sum FILE`` gives the same digest.
    """
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest()}


def documents_problem(value: object) -> str | None:
    """Why a header's ``documents`` member is not well-formed, or None when it is."""
    if not isinstance(value, dict):
        return "documents must be an object"
    for role, entry in value.items():
        if (
            not isinstance(entry, dict)
            or set(entry) != {"name", "sha256"}
            or not isinstance(entry["name"], str)
            or not isinstance(entry["sha256"], str)
            or _SHA256.fullmatch(entry["sha256"]) is None
        ):
            return f"documents.{role} must be {{name, sha256 (64 lowercase hex digits)}}"
    return None


ROLES = ("scenario", "policy")
"""The documents a simulator run is made from, in the order they are shown."""


def _by_role(item: tuple[str, object]) -> tuple[int, str]:
    role = item[0]
    return (ROLES.index(role) if role in ROLES else len(ROLES), role)


def _is_time(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """What run a log is of, as its header states it (proven once a checkpoint verifies).

    Attributes:
        run: The run id (``scenario/profile/seed`` for the simulator's runs).
        nonce: The random nonce drawn when the log was created: two runs never share it.
        created: Simulated time at which the run started.
        planned_end: Simulated time at which the run was planned to end (None: not stated).
        documents: (role, name, sha256) of each document the run was made from, by role.
        meta: Other facts the writer recorded (scenario, profile, seed, ...).
        header_hash: The header's chain hash, which every checkpoint signs.
        checkpoint_every: Records between the periodic checkpoints.
    """

    run: str
    nonce: str
    created: float
    planned_end: float | None
    documents: tuple[tuple[str, str, str], ...]
    meta: Mapping[str, Any]
    header_hash: str
    checkpoint_every: int

    @classmethod
    def of_header(cls, header: Mapping[str, Any], header_hash: str) -> RunIdentity:
        """Read the identity from a version 2 header.

        Raises:
            ValueError: naming the member that is missing or not well-formed.
        """
        run = header.get("run")
        if not isinstance(run, str):
            raise ValueError("run must be a string")
        nonce = header.get("nonce")
        if not is_nonce(nonce):
            raise ValueError("nonce must be 32 lowercase hex digits")
        created = header.get("created")
        if not _is_time(created):
            raise ValueError("created must be a number")
        planned_end = header.get("planned_end")
        if planned_end is not None and not _is_time(planned_end):
            raise ValueError("planned_end must be a number or null")
        docs = header.get("documents")
        problem = documents_problem(docs)
        if problem is not None:
            raise ValueError(problem)
        assert isinstance(docs, dict)
        meta = header.get("meta", {})
        if not isinstance(meta, dict):
            raise ValueError("meta must be an object")
        every = header.get("checkpoint_every")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError("checkpoint_every must be a positive integer")
        assert isinstance(nonce, str) and isinstance(created, int | float)
        return cls(
            run=run,
            nonce=nonce,
            created=float(created),
            planned_end=None if planned_end is None else float(planned_end),
            documents=tuple(
                (role, e["name"], e["sha256"]) for role, e in sorted(docs.items(), key=_by_role)
            ),
            meta=meta,
            header_hash=header_hash,
            checkpoint_every=every,
        )

    def fact(self, name: str) -> object:
        """A fact from ``meta`` (``scenario``, ``profile``, ``seed`` ...), None when absent."""
        return self.meta.get(name)

    @property
    def shortened_from(self) -> float | None:
        """The scenario's own duration, when the run was planned to end before it.

        A run cut short with ``--until`` states both (``planned_end`` and ``meta.duration``);
        None when it was planned to run the whole scenario or the header does not say.
        """
        duration = self.meta.get("duration")
        if self.planned_end is None or not _is_time(duration):
            return None
        assert isinstance(duration, int | float)
        return float(duration) if self.planned_end < duration else None
