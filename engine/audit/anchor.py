"""Anchors: a log's head (run, seq, chain hash, signature) kept elsewhere, to prove it later.

``agentrange audit anchor LOG`` prints the last valid signed checkpoint of a log as a small
JSON document; stored somewhere the log's writer cannot reach (a ticket, another machine, a
transparency log), it lets ``audit verify --anchor HEAD`` show later that the log still
extends that head: nothing up to it was rewritten, and the log is signed by the same key.
The document is described in docs/audit-log.md ("Anchors").
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from engine.audit.canonical import canonical_bytes
from engine.audit.chain import CHECKPOINT_FIELDS, CHECKPOINT_START
from engine.audit.errors import AuditError, AuditFileError
from engine.audit.identity import RunIdentity, is_nonce
from engine.audit.verdict import Head, VerifyReport

ANCHOR_FORMAT = "agentrange-audit-anchor"
ANCHOR_VERSION = 1
MAX_ANCHOR_BYTES = 64 * 1024
"""An anchor is a few hundred bytes; a larger file is refused unread."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A log's head as stored elsewhere.

    Attributes:
        nonce: The run's nonce (from the log's header).
        checkpoint: The signed checkpoint body (seq, hash, header, run, kid, final, incomplete).
        sig: Its signature.
    """

    nonce: str
    checkpoint: dict[str, Any]
    sig: str

    @property
    def seq(self) -> int:
        """The seq the anchored checkpoint covers."""
        seq = self.checkpoint["seq"]
        assert isinstance(seq, int)
        return seq

    @property
    def kid(self) -> str:
        """The fingerprint of the key that signed the anchored checkpoint."""
        return str(self.checkpoint["kid"])

    def line(self) -> bytes:
        """The checkpoint line, byte for byte as the log holds it."""
        return CHECKPOINT_START + canonical_bytes(self.checkpoint) + b',"sig":"' + \
            self.sig.encode() + b'"}\n'

    def to_document(self) -> dict[str, Any]:
        """The anchor as JSON data (what ``audit anchor`` prints)."""
        return {
            "format": ANCHOR_FORMAT,
            "version": ANCHOR_VERSION,
            "run": self.checkpoint["run"],
            "nonce": self.nonce,
            "seq": self.checkpoint["seq"],
            "hash": self.checkpoint["hash"],
            "header": self.checkpoint["header"],
            "kid": self.checkpoint["kid"],
            "final": self.checkpoint["final"],
            "incomplete": self.checkpoint["incomplete"],
            "sig": self.sig,
        }


    def mismatch(self, kid: str, identity: RunIdentity) -> str | None:
        """Why a log with this header cannot extend the anchored head (None when it can).

        Args:
            kid: The key id the log's header names.
            identity: The run the log's header states (its nonce and header hash).
        """
        if self.checkpoint["header"] == identity.header_hash:
            return None
        if self.kid != kid:
            return f"the log is signed by key {kid}, the anchored head by key {self.kid}"
        if self.nonce != identity.nonce:
            return "the log is of another run than the anchored head (its nonce differs)"
        return "the log's header differs from the anchored one (rewritten)"

def anchor_of(report: VerifyReport) -> Anchor | None:
    """The anchor of a verified log's head: its last valid signed checkpoint (None if none)."""
    head: Head | None = report.head
    if head is None or report.identity is None:
        return None
    return Anchor(report.identity.nonce, dict(head.body), head.sig)


def read_anchor(path: str | os.PathLike[str]) -> Anchor:
    """Read an anchor document written by :meth:`Anchor.to_document` (as JSON).

    Raises:
        AuditFileError: when the file cannot be read or is not an anchor, naming what is wrong.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ANCHOR_BYTES + 1)
    except OSError as exc:
        raise AuditFileError(path, f"cannot read the anchor: {exc.strerror or exc}") from None
    if len(data) > MAX_ANCHOR_BYTES:
        raise AuditFileError(path, f"is not an anchor: larger than {MAX_ANCHOR_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise AuditFileError(path, "is not an anchor: not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != ANCHOR_FORMAT:
        raise AuditFileError(path, f"is not an anchor: expected a JSON object with format "
                                   f"{ANCHOR_FORMAT!r} (as `agentrange audit anchor` prints)")
    if doc.get("version") != ANCHOR_VERSION:
        raise AuditFileError(path, f"unsupported anchor version {doc.get('version')!r}")
    expected = CHECKPOINT_FIELDS | {"format", "version", "nonce", "sig"}
    if set(doc) != expected:
        raise AuditFileError(path, f"is not an anchor: expected the members "
                                   f"{', '.join(sorted(expected))}")
    checkpoint = {k: doc[k] for k in CHECKPOINT_FIELDS}
    kinds = {"run": str, "seq": int, "hash": str, "header": str, "kid": str, "final": bool}
    for name, kind in kinds.items():
        value = checkpoint[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise AuditFileError(path, f"anchor member {name} must be a {kind.__name__}")
    if not is_nonce(doc["nonce"]) or not isinstance(doc["sig"], str):
        raise AuditFileError(path, "anchor members nonce and sig must be strings (nonce: 32 hex)")
    anchor = Anchor(doc["nonce"], checkpoint, doc["sig"])
    try:
        anchor.line()
    except AuditError:
        raise AuditFileError(path, "anchor member incomplete is not JSON data") from None
    return anchor
