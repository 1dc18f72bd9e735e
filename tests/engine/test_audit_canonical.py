"""The audit log's canonical encoding: one documented form, whichever encoder ran."""

from __future__ import annotations

import datetime
import enum
import json
import math
import random
import struct
import tempfile
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.canonical import _orjson_safe, canonical_bytes, canonical_json
from engine.audit.errors import AuditError
from engine.audit.query import iter_records
from engine.audit.signing import derive_signing_key
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter

KEY = derive_signing_key(3)


def stdlib(value: object) -> bytes:
    """The definition in docs/audit-log.md, spelled out with the standard library."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.encode("utf-8")


def shuffled(value: Any, rng: random.Random) -> Any:
    """An equal JSON value built differently: dict order shuffled, lists and tuples swapped."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return tuple(shuffled(v, rng) for v in value)
    if isinstance(value, tuple):
        return [shuffled(v, rng) for v in value]
    return value


FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-7, 2.5e-5, 1e-4, 9.999999999999999e-05, 1e15, 1e16, 1e22,
                     5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1e-300]),
)
INTS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(),  # unbounded: beyond 64 bits orjson refuses, the stdlib path takes over
    st.sampled_from([2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**100, -(10**100)]),
)
# Hypothesis text excludes lone surrogates; they have their own test below.
TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\x00\x1f\x7f", '"\\/', "\u2028\u2029\ufeff", "\U0001f600", "é", "\n\t\b\f\r"]
)
SCALARS = st.none() | st.booleans() | INTS | FLOATS | TEXT
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSONISH, st.randoms(use_true_random=False))
def test_canonical_bytes_are_the_documented_form_and_a_pure_function(
    value: Any, rng: random.Random
) -> None:
    data = canonical_bytes(value)
    assert data == stdlib(value)
    assert canonical_bytes(shuffled(value, rng)) == data
    # What a verifier parses back re-encodes to the same bytes.
    assert canonical_bytes(json.loads(data)) == data
    assert canonical_json(value) == data.decode("utf-8")


def unreserved(record: dict[str, Any]) -> dict[str, Any]:
    """The record with the log's reserved names moved aside (the writer refuses them)."""
    reserved = {"seq", "prev", "hash", "header", "checkpoint"}
    return {("_" + k if k in reserved else k): v for k, v in record.items()}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(TEXT, JSONISH, max_size=5), min_size=1, max_size=4))
def test_whatever_the_writer_accepts_verifies_and_reads_back(records: list[Any]) -> None:
    records = [unreserved(rec) for rec in records]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        # The header's meta holds arbitrary values too: the verifier re-encodes the header.
        meta = {"x": records[0]}
        with AuditWriter(path, KEY, run_id="prop", checkpoint_every=2, meta=meta) as log:
            for rec in records:
                log.append(rec)
        report = verify_log(path, KEY.public_key())
        assert report.ok, report.message
        assert report.records == len(records)
        back = list(iter_records(path))
        assert len(back) == len(records)
        for got, rec in zip(back, records, strict=True):
            got = {k: v for k, v in got.items() if k not in {"seq", "prev", "hash"}}
            assert canonical_bytes(got) == canonical_bytes(rec)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-7, "1e-07"),
        (2.5e-5, "2.5e-05"),
        (1e-4, "0.0001"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2**64, "18446744073709551616"),
        (-(2**63) - 1, "-9223372036854775809"),
        (True, "true"),
        ("\x00\x1f\x7f\u2028", '"\\u0000\\u001f\x7f\u2028"'),
    ],
)
def test_float_int_and_string_forms(value: object, text: str) -> None:
    assert canonical_json([value]) == f"[{text}]"


class Colour(enum.Enum):
    RED = "red"


class Effect(enum.StrEnum):
    ALLOW = "allow"


class Level(enum.IntEnum):
    HIGH = 3


class Seconds(float):
    pass


class Name(str):
    pass


def test_subclasses_of_json_types_encode_as_their_base_value() -> None:
    value = {Name("k"): [Effect.ALLOW, Level.HIGH, Seconds(1e-7), Seconds(2.5), Name("n")]}
    assert canonical_json(value) == '{"k":["allow",3,1e-07,2.5,"n"]}'


@pytest.mark.parametrize(
    "bad",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        {"ok": 1.5, "deep": [{"x": float("nan")}]},  # orjson alone would write null here
        "\ud800",
        {"\udfff": 1},
        {1: "x"},
        {True: "x"},
        {None: "x"},
        {"k": {(1, 2): "x"}},
        Colour.RED,  # orjson alone would write "red"
        uuid.UUID(int=1),  # orjson alone would write the UUID's string
        datetime.date(2026, 1, 1),
        {1, 2},
        b"bytes",
        orjson.Fragment(b"[1 ,2]"),  # orjson alone would copy these bytes verbatim
        pytest.param(10**5000, id="int-beyond-the-4300-digit-text-limit"),
    ],
)
def test_values_outside_the_form_are_refused_by_writer_and_encoder(
    bad: object, tmp_path: Path
) -> None:
    with pytest.raises(AuditError, match="not JSON-compatible"):
        canonical_bytes(bad)
    with AuditWriter(tmp_path / "x.jsonl", KEY, run_id="r") as log:
        log.append({"before": 1})
        with pytest.raises(AuditError, match="record 2 is not JSON-compatible"):
            log.append({"value": bad})
        log.append({"after": 2})
    report = verify_log(tmp_path / "x.jsonl")
    assert report.ok and report.records == 2


def test_nesting_deeper_than_orjson_allows_takes_the_stdlib_path() -> None:
    deep: Any = "leaf"
    for _ in range(300):
        deep = [deep]
    assert canonical_bytes({"d": deep}) == stdlib({"d": deep})


def test_orjson_float_digits_match_repr_across_the_fast_path_range() -> None:
    # The fast path relies on orjson writing floats in [1e-4, 1e16) exactly as repr does; an
    # orjson release that changed that would fail here rather than in someone's audit log.
    rng = random.Random(11)
    samples = [10 ** rng.uniform(-4, 16) * rng.choice((1, -1)) for _ in range(20_000)]
    samples += [round(rng.uniform(-1e6, 1e6), rng.randint(0, 12)) for _ in range(5_000)]
    while len(samples) < 35_000:
        f = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(f) and (f == 0 or 1e-4 <= abs(f) < 1e16):
            samples.append(f)
    for edge in (1e-4, 1e16):
        x = edge
        for _ in range(40):
            x = math.nextafter(x, 0.0)
        for _ in range(80):
            samples.append(x)
            x = math.nextafter(x, math.inf)
    for f in samples:
        assert canonical_bytes(f) == repr(f).encode(), f
        if _orjson_safe(f):
            assert orjson.dumps(f) == repr(f).encode(), f


def test_simulator_shaped_records_take_the_fast_path() -> None:
    # The speed-up depends on it; a record with a tuple chain, None and plain floats qualifies.
    record = {
        "time": 12.5, "agent": "spiffe://acme.example/agent/a", "chain": ("a", "b"),
        "incident": None, "attacker": False, "records": 3,
        "decision": {"effect": "allow", "matched": ["r1"], "envelope": None},
        "seq": 1, "prev": "0" * 64,
    }
    assert _orjson_safe(record)
    assert not _orjson_safe({**record, "time": 1e-7})
    assert not _orjson_safe({**record, "effect": Effect.ALLOW})
