"""Key material for workload identity: seeded EC keys, RFC 7638 thumbprints, JWKs.

Reading and writing key files is :mod:`engine.keyfiles`' job; :func:`load_signing_key` only
says which keys a broker signs with (P-256, for ES256).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from engine.keyfiles import KeyFileError, KeyPath, load_private_key

# Order of the P-256 group (SEC 2 §2.4.2): private scalars live in [1, n-1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
CURVE_NAME = "P-256"
COORDINATE_BYTES = 32


def derive_private_key(seed: int, label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key derived deterministically from a seed and a label.

    The same (seed, label) always gives the same key, so runs are reproducible. These keys
    are for simulation; a seed is not a secret.

    Args:
        seed: The run's seed.
        label: What the key is for, e.g. ``"acme.example:0"`` (trust domain and generation).
    """
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def signing_key(seed: int, trust_domain: str, generation: int) -> ec.EllipticCurvePrivateKey:
    """The deterministic signing key of a trust domain's broker at a key generation."""
    return derive_private_key(seed, f"{trust_domain}:{generation}")


def workload_key(seed: int, spiffe_id: str) -> ec.EllipticCurvePrivateKey:
    """The deterministic holder key pair of a workload (for sender-constrained tokens)."""
    return derive_private_key(seed, f"workload:{spiffe_id}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk_members(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The required JWK members of a P-256 public key: ``crv``, ``kty``, ``x``, ``y``.

    Raises:
        KeyFileError: the key is not on P-256 (the only curve ES256 allows).
    """
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise KeyFileError("<key>", f"expected a P-256 key, found curve {public_key.curve.name}")
    numbers = public_key.public_numbers()
    return {
        "crv": CURVE_NAME,
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(COORDINATE_BYTES, "big")),
        "y": _b64url(numbers.y.to_bytes(COORDINATE_BYTES, "big")),
    }


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 JWK SHA-256 thumbprint of a P-256 public key, base64url without padding.

    RFC 7638 §3: hash the required members only, keys in lexicographic order, no whitespace.
    This is the value of ``cnf.jkt`` (RFC 7800 / RFC 9449) for sender-constrained tokens.
    """
    canonical = json.dumps(public_jwk_members(public_key), separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(public_key: ec.EllipticCurvePublicKey, kid: str) -> dict[str, Any]:
    """A JWT-SVID bundle entry (SPIFFE JWT-SVID §6.1): the public JWK with ``use`` and ``kid``."""
    jwk: dict[str, Any] = dict(public_jwk_members(public_key))
    jwk["use"] = "jwt-svid"
    jwk["kid"] = kid
    jwk["alg"] = "ES256"
    return jwk


def public_key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """Rebuild a P-256 public key from its JWK.

    Raises:
        ValueError: the JWK is not a valid P-256 public key.
    """
    if jwk.get("kty") != "EC" or jwk.get("crv") != CURVE_NAME:
        raise ValueError("expected an EC P-256 JWK")
    coords = []
    for member in ("x", "y"):
        text = jwk.get(member)
        if not isinstance(text, str):
            raise ValueError(f"JWK member {member!r} missing")
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if len(raw) != COORDINATE_BYTES:
            raise ValueError(f"JWK member {member!r} has the wrong length")
        coords.append(int.from_bytes(raw, "big"))
    return ec.EllipticCurvePublicNumbers(coords[0], coords[1], ec.SECP256R1()).public_key()


def is_p256_private_key(key: PrivateKeyTypes) -> TypeGuard[ec.EllipticCurvePrivateKey]:
    """Whether a private key is an EC key on P-256, the only curve ES256 allows."""
    return isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)


def load_signing_key(path: KeyPath) -> ec.EllipticCurvePrivateKey:
    """Load a broker's P-256 signing key from a PEM file (see :mod:`engine.keyfiles`).

    Raises:
        KeyFileError: missing file, loose permissions, not a PEM private key, or not P-256.
    """
    return load_private_key(
        path, "an EC P-256 private key (ES256 needs P-256)", is_p256_private_key
    )
