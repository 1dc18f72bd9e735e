"""Compact JWS pieces shared by the broker and the verifier: base64url, compact JSON, ECDSA.

Only what JWT-SVIDs need (RFC 7515 compact serialisation, RFC 7518 §3.4 ECDSA): the
algorithms a verifier may allow, the ES256 signer the broker uses, and strict base64url.

Signing is deterministic (RFC 6979), so a token is a pure function of its key and claims
(the broker remembers the tokens it encoded), and a verification of given bytes under a
public key is remembered here (process-wide, bounded): a sweep's runs that issue the same
tokens under the same seed's keys sign and verify each distinct token once. Every signature
is a real ECDSA signature, and every token is verified with ECDSA the first time its bytes
are seen.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUES = {c: i for i, c in enumerate(_ALPHABET)}
"""A base64url character's 6-bit value (its low bits are unused when it ends a segment)."""
_TO_URL = bytes.maketrans(b"+/", b"-_")


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

MEMO_SIZE = 8192
"""How many encoded tokens, and how many verified (key, token) pairs, are remembered."""

_VERIFIED: dict[tuple[bytes, str], None] = {}
_POINTS: dict[int, tuple[ec.EllipticCurvePublicKey, bytes]] = {}  # id -> (key kept, point)
_ES256_DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def evict_oldest(memo: dict[Any, Any]) -> None:
    """Drop a process-wide memo's oldest entry, in O(1).

    Never raises, even when threads (the TUI's simulations) race to evict the same entry: a
    raised error in the verifier would refuse a good token as ``internal_error``.
    """
    oldest = next(iter(memo), None)
    if oldest is not None:
        memo.pop(oldest, None)


def _point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The key's public point (X9.62, uncompressed), remembered by the key object."""
    known = _POINTS.get(id(public_key))
    if known is not None and known[0] is public_key:
        return known[1]
    point = public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    if len(_POINTS) >= 1024:
        _POINTS.clear()
    _POINTS[id(public_key)] = (public_key, point)
    return point


class Es256Signer:
    """Signs with one P-256 key: deterministic ECDSA (RFC 6979), r || s (RFC 7518 §3.4).

    Args:
        key: The P-256 private key.
    """

    __slots__ = ("_key", "id")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.id = _point(key.public_key())
        """The public point (X9.62, uncompressed): it names the key pair."""

    def sign(self, signing_input: bytes) -> bytes:
        """The raw signature (r || s, 64 bytes) of ``signing_input``."""
        r, s = decode_dss_signature(self._key.sign(signing_input, _ES256_DETERMINISTIC))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_signature(
    public_key: ec.EllipticCurvePublicKey, algorithm: Algorithm, token: str, signed_end: int,
) -> str | None:
    """Check a compact JWS's signature: None when it verifies, else why not.

    Args:
        public_key: The key the header names (on ``algorithm``'s curve).
        algorithm: The header's algorithm.
        token: The compact JWS; its signing input is ``token[:signed_end]`` and its
            signature segment follows the dot at ``signed_end``.
        signed_end: Where the signing input ends.

    Returns:
        None, or ``"malformed"`` (not base64url), ``"size"`` (not r || s of the curve's
        size) or ``"bad"`` (does not verify).
    """
    memo_key = (_point(public_key), token)
    if memo_key in _VERIFIED:
        return None
    try:
        signature = b64decode(token[signed_end + 1:])
    except ValueError:
        return "malformed"
    size = algorithm.coordinate_bytes
    if len(signature) != 2 * size:
        return "size"
    der = encode_dss_signature(
        int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
    )
    try:
        public_key.verify(der, token[:signed_end].encode("ascii"), algorithm.ecdsa)
    except InvalidSignature:
        return "bad"
    if len(_VERIFIED) >= MEMO_SIZE:
        evict_oldest(_VERIFIED)
    _VERIFIED[memo_key] = None
    return None

# json.dumps with non-default options builds a new encoder per call; build it once.
compact_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
"""JSON without whitespace (and refusing NaN), as a JWS header or payload is encoded."""


def b64encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=").decode(
        "ascii")


def b64decode(segment: str) -> bytes:
    """Strict base64url (RFC 7515 §2): no padding, no stray characters, canonical last bits.

    Raises:
        ValueError: the segment is not canonical base64url.
    """
    tail = len(segment) % 4
    if tail == 1 or _B64URL.fullmatch(segment) is None:
        raise ValueError("not base64url")
    # Decoders ignore a final character's unused bits (4 of them after 2 characters, 2
    # after 3); a token that differs only there must not verify as the original.
    if tail and _VALUES[segment[-1]] & (0x0F if tail == 2 else 0x03):
        raise ValueError("non-canonical base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-tail % 4))


def decode_json(segment: str) -> Any:
    """A JWS segment's JSON value.

    Raises:
        ValueError: the segment is not strict base64url or not JSON.
        RecursionError: the JSON nests too deeply.
    """
    return json.loads(b64decode(segment))
