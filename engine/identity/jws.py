"""Compact JWS pieces shared by the broker and the verifier: base64url, compact JSON, ECDSA.

Only what JWT-SVIDs need (RFC 7515 compact serialisation, RFC 7518 §3.4 ECDSA): the
algorithms a verifier may allow, the ES256 signer the broker uses, and strict base64url.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class Algorithm:
    """An ECDSA JWS algorithm (RFC 7518 §3.4): curve, hash, and the r || s size.

    Attributes:
        name: The ``alg`` header value (``ES256``...).
        curve: The curve its keys must be on.
        ecdsa: The signature algorithm (ECDSA with the hash).
        coordinate_bytes: The size of r and of s in the raw signature.
    """

    name: str
    curve: type[ec.EllipticCurve]
    ecdsa: ec.ECDSA
    coordinate_bytes: int


SUPPORTED_ALGORITHMS: Mapping[str, Algorithm] = {
    "ES256": Algorithm("ES256", ec.SECP256R1, ec.ECDSA(hashes.SHA256()), 32),
    "ES384": Algorithm("ES384", ec.SECP384R1, ec.ECDSA(hashes.SHA384()), 48),
    "ES512": Algorithm("ES512", ec.SECP521R1, ec.ECDSA(hashes.SHA512()), 66),
}
"""Algorithms a verifier may allow: asymmetric ones JWT-SVID §2.1 permits and we can check."""

ES256_SIGNER = ECAlgorithm(ECAlgorithm.SHA256)
"""pyjwt's ES256 signer: signs with a P-256 key and returns r || s (RFC 7518)."""

# json.dumps with non-default options builds a new encoder per call; build it once.
compact_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
"""JSON without whitespace (and refusing NaN), as a JWS header or payload is encoded."""


def b64encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(segment: str) -> bytes:
    """Strict base64url (RFC 7515 §2): no padding, no stray characters, canonical last bits.

    Raises:
        ValueError: the segment is not canonical base64url.
    """
    if len(segment) % 4 == 1 or _B64URL.fullmatch(segment) is None:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    # Decoders ignore a final character's unused bits; a token that differs only there must
    # not verify as the original.
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode("ascii"):
        raise ValueError("non-canonical base64url")
    return raw


def decode_json(segment: str) -> Any:
    """A JWS segment's JSON value.

    Raises:
        ValueError: the segment is not strict base64url or not JSON.
        RecursionError: the JSON nests too deeply.
    """
    return json.loads(b64decode(segment))
