"""Key material for workload identity: seeded EC keys, RFC 7638 thumbprints, JWKs, key files."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engine.errors import AgentrangeError

# Order of the P-256 group (SEC 2 §2.4.2): private scalars live in [1, n-1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
CURVE_NAME = "P-256"
COORDINATE_BYTES = 32


class KeyFileError(AgentrangeError):
    """A key file could not be written or was refused on load (permissions, format, curve).

    The message names the file and the problem; it never contains key material.
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


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


def write_private_key(key: ec.EllipticCurvePrivateKey, path: Path | str) -> Path:
    """Write a private key as unencrypted PKCS#8 PEM with mode 0600, atomically.

    The file is created 0600 from the start (never briefly world-readable) in the target
    directory and renamed into place; a missing directory is created with mode 0700.

    Raises:
        KeyFileError: the file could not be written.
    """
    target = Path(path)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600 regardless of umask widening.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".key-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise KeyFileError(target, f"cannot write private key: {exc.strerror or exc}") from None
    return target


def load_private_key(path: Path | str) -> ec.EllipticCurvePrivateKey:
    """Load a P-256 private key written by :func:`write_private_key`.

    A key file that group or others may read or write is refused, the way ssh refuses
    an unprotected identity file: a key that others could read may already be someone
    else's key.

    Raises:
        KeyFileError: missing file, loose permissions, not a PEM private key, or not P-256.
    """
    target = Path(path)
    try:
        fd = os.open(target, os.O_RDONLY)
    except OSError as exc:
        raise KeyFileError(target, f"cannot read private key: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        # fstat on the open descriptor: the permissions checked are those of the file read.
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(target, "is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise KeyFileError(
                target,
                f"has permissions {mode:04o}; a private key file must be readable by its "
                f"owner only (chmod 600 {target})",
            )
        data = fh.read()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(target, "is not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise KeyFileError(target, "is not an EC P-256 private key (ES256 needs P-256)")
    return key
