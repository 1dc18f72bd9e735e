"""Strict base64url (engine/identity/jws.py) against the rule it implements, on any input."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.identity.jws import b64decode, b64encode

_URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _reference(segment: str) -> bytes | None:
    """RFC 7515 §2 strictly: alphabet only, no padding, and re-encoding gives the segment."""
    if len(segment) % 4 == 1 or re.fullmatch(r"[A-Za-z0-9_-]*", segment) is None:
        return None
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return raw if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == segment else None


def _decoded(segment: str) -> bytes | None:
    try:
        return b64decode(segment)
    except ValueError:
        return None


@given(st.text(alphabet=_URL + "=+/ .", max_size=12))
def test_b64decode_accepts_exactly_the_canonical_segments(segment: str) -> None:
    assert _decoded(segment) == _reference(segment)


@given(st.binary(max_size=80))
def test_b64encode_round_trips_and_writes_no_padding(data: bytes) -> None:
    text = b64encode(data)
    assert "=" not in text and b64decode(text) == data


@pytest.mark.parametrize("segment", ["QQ", "QR", "QUI", "QUJ", "QUJD"])
def test_a_last_character_with_unused_bits_set_is_refused(segment: str) -> None:
    # "QQ" and "QUI" are canonical; "QR" and "QUJ" decode to the same bytes with unused bits set.
    canonical = {"QQ", "QUI", "QUJD"}
    assert (_decoded(segment) is not None) == (segment in canonical)
