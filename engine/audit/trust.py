"""Which key a verifier trusts, and whether that key pins the signer.

A key taken from the log's own header proves only that the log is internally consistent: a
forger who rewrites the log re-signs it with a key of their own. The same holds for the
``FILE.pub.pem`` the run writes beside its log, which the forger can rewrite too. Only a key
kept elsewhere (or the key id in an anchor kept elsewhere) pins the signer. See
docs/audit-log.md ("Trust").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from engine.audit.anchor import Anchor
from engine.audit.signing import key_id, load_public_key
from engine.audit.verdict import Signer

PUBLIC_KEY_SUFFIX = ".pub.pem"
"""What a run appends to the log's file name for the public key it writes beside the log."""


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key to check a log's signatures against, with where it came from.

    Attributes:
        key: The Ed25519 public key.
        source: Where it came from, in words, for the verdict (``--key keys/audit.pub.pem``).
        pinned: Whether it came from somewhere the log's writer does not control.
    """

    key: Ed25519PublicKey
    source: str
    pinned: bool = True


def beside_log(key_path: str | os.PathLike[str], log_path: str | os.PathLike[str]) -> bool:
    """Whether a key file is the one a run writes beside its log (``LOG.pub.pem``).

    Compared as files, so a symbolic link or another spelling of the same path counts.
    """
    sibling = Path(os.fspath(log_path) + PUBLIC_KEY_SUFFIX)
    try:
        return os.path.samefile(key_path, sibling)
    except OSError:
        return Path(key_path).resolve() == sibling.resolve()


def key_from_file(
    key_path: str | os.PathLike[str], log_path: str | os.PathLike[str]
) -> TrustedKey:
    """Load a public key file to verify a log with, noting whether it pins the signer.

    Raises:
        AuditFileError: when the file is missing or not an Ed25519 public key.
    """
    key = load_public_key(key_path)
    if beside_log(key_path, log_path):
        return TrustedKey(key, f"--key {os.fspath(key_path)}, the file beside the log", False)
    return TrustedKey(key, f"--key {os.fspath(key_path)}", True)


def signer_for(
    trusted: TrustedKey | None, anchor: Anchor | None, header_key: Ed25519PublicKey, kid: str
) -> tuple[Signer, Ed25519PublicKey]:
    """The key to check a log's signatures with, and how far it is trusted.

    The caller's key when one is given (pinned or not, as it says); else the header's own key,
    pinned only when an anchor kept elsewhere names the same key id.

    Args:
        trusted: The key the caller gave, if any.
        anchor: The anchor the caller gave, if any.
        header_key: The public key in the log's header.
        kid: The header's key id (the thumbprint of ``header_key``).
    """
    if trusted is not None:
        return Signer(key_id(trusted.key), trusted.source, trusted.pinned), trusted.key
    if anchor is not None and anchor.kid == kid:
        return Signer(kid, "the log's own header, matching the anchor's key id", True), header_key
    return Signer(kid, "the log's own header", False), header_key
