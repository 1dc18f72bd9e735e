"""Signing keys: a run's key from its seed, the public key as a JWK and its id, key files.

The log is signed with Ed25519 (docs/audit-log.md says why). The PEM key-file functions stay
here until the project's key files share one module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine import keyfiles
from engine.audit.canonical import canonical_bytes
from engine.audit.errors import AuditError, AuditFileError

ALGORITHM = "Ed25519"
_KEY_CONTEXT = b"agentrange/audit-signing-key/v1\x00"

def derive_signing_key(seed: int | str) -> Ed25519PrivateKey:
    """Derive a run's audit signing key from its seed, so the same seed signs the same way.

    A seed-derived key is only as secret as the seed: fine for a reproducible simulation, not
    for protecting a real log (use ``Ed25519PrivateKey.generate()`` and :func:`save_private_key`
    there).

    Args:
        seed: The run's seed.
    """
    material = hashlib.sha256(_KEY_CONTEXT + str(seed).encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(material)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWKs and the checkpoint signatures write bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url.

    Raises:
        binascii.Error: when the text is not base64url.
    """
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_SIG = re.compile(r"[A-Za-z0-9_-]{86}")
"""An Ed25519 signature (64 bytes) as unpadded base64url: 86 characters."""


def signature_holds(key: Ed25519PublicKey, body: object, sig: object) -> bool:
    """Whether ``sig`` is the key's signature over the canonical encoding of ``body``.

    The signature must be written exactly as the writer writes it (86 base64url characters,
    no padding, no other spelling of the same bytes); a body that cannot be encoded fails.
    """
    if not isinstance(sig, str) or _B64_SIG.fullmatch(sig) is None:
        return False
    try:
        raw = b64url_decode(sig)
        if b64url(raw) != sig:
            return False
        key.verify(raw, canonical_bytes(body))
    except (InvalidSignature, ValueError, binascii.Error, AuditError):
        return False
    return True


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 8037 ``OKP``/``Ed25519``)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}


def key_id(key: Ed25519PublicKey) -> str:
    """The key's id: its RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    return b64url(hashlib.sha256(canonical_bytes(public_jwk(key))).digest())


def public_key_from_jwk(jwk: object) -> Ed25519PublicKey | None:
    """The Ed25519 public key a JWK holds, or None when it is not exactly such a JWK."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    x = jwk.get("x")
    if not isinstance(x, str):
        return None
    try:
        raw = b64url_decode(x)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        return None
    return key if public_jwk(key)["x"] == x else None


@contextmanager
def _as_audit_error(path: str | os.PathLike[str]) -> Iterator[None]:
    """Report a key file refused by :mod:`engine.keyfiles` as the audit log's own error."""
    try:
        yield
    except keyfiles.KeyFileError as exc:
        raise AuditFileError(path, exc.problem) from None


def _is_ed25519_private(key: object) -> TypeGuard[Ed25519PrivateKey]:
    return isinstance(key, Ed25519PrivateKey)


def _is_ed25519_public(key: object) -> TypeGuard[Ed25519PublicKey]:
    return isinstance(key, Ed25519PublicKey)


def save_private_key(key: Ed25519PrivateKey, path: str | os.PathLike[str]) -> None:
    """Write a private key as unencrypted PKCS#8 PEM, readable by its owner only (mode 0600).

    Raises:
        AuditFileError: when the file cannot be written.
    """
    with _as_audit_error(path):
        keyfiles.save_private_key(key, path)


def save_public_key(key: Ed25519PublicKey, path: str | os.PathLike[str]) -> None:
    """Write a public key as PEM (SubjectPublicKeyInfo), the format ``audit verify --key`` reads.

    Raises:
        AuditFileError: when the file cannot be written.
    """
    with _as_audit_error(path):
        keyfiles.save_public_key(key, path)


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PEM, refusing a file that group or others can access.

    Raises:
        AuditFileError: when the file is missing, too open, or not an Ed25519 private key.
    """
    with _as_audit_error(path):
        return keyfiles.load_private_key(path, "an Ed25519 private key", _is_ed25519_private)


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Load an Ed25519 public key from PEM (as written by :func:`save_public_key`).

    Raises:
        AuditFileError: when the file is missing or not an Ed25519 public key.
    """
    with _as_audit_error(path):
        try:
            return keyfiles.load_public_key(path, "an Ed25519 public key", _is_ed25519_public)
        except keyfiles.KeyFileError:
            if _holds_private_key(path):
                # The run's --audit-key file is the one a user has at hand; say what to do.
                raise keyfiles.KeyFileError(
                    path, "is a private key; --key takes the public key (openssl pkey -in KEY "
                    "-pubout), kept where the log's writers cannot reach") from None
            raise


def _holds_private_key(path: str | os.PathLike[str]) -> bool:
    """Whether a file's first bytes open a PEM private key (read no further)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(4096)
    except OSError:
        return False
    return start.lstrip().startswith(b"-----BEGIN") and b"PRIVATE KEY-----" in start
