"""The log's canonical JSON encoding: the bytes that are hashed and signed.

One documented form (see docs/audit-log.md, "Canonical encoding"), written by orjson where it
writes exactly that form and by the standard library's encoder otherwise.
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import orjson

from engine.audit.errors import AuditError


def _not_json(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON-compatible")


# Built once: json.dumps builds a fresh C encoder (with a circular-reference map) on every call,
# which costs ~20% of the append path. Without the map a cyclic record ends in RecursionError,
# which the callers turn into a clear message.
_C_ENCODER = (
    c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", True, False, False)
    if c_make_encoder is not None
    else None
)
_PY_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_SCALARS = frozenset({str, int, bool, type(None)})
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS


def _string_keys(value: object) -> None:
    """Refuse a non-string key anywhere (the stdlib encoder would write ``1`` as ``"1"``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            _string_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _string_keys(item)


def _reference_bytes(value: object) -> bytes:
    """The canonical encoding by the standard library: the definition, for any accepted value."""
    _string_keys(value)
    if _C_ENCODER is not None:
        text = "".join(_C_ENCODER(value, 0))
    else:  # pragma: no cover - CPython ships the C encoder
        text = _PY_ENCODER.encode(value)
    return text.encode("utf-8")


def _orjson_safe(value: object) -> bool:
    """Whether orjson writes ``value`` exactly as the canonical form does.

    True when the value is built from dicts, lists, tuples, str, int, bool and None of exactly
    those types and floats with 1e-4 <= abs(x) < 1e16 or 0.0: there orjson and ``repr`` both write
    the shortest round-trip digits positionally. Outside that range orjson writes ``1e-7``
    where ``repr`` writes ``1e-07``, and it writes NaN and infinities as ``null`` instead of
    refusing them; it would also accept plain enums and UUIDs. Integers beyond 64 bits, non-string
    keys and lone surrogates make orjson raise, which sends the value to the reference encoder.
    """
    kind = type(value)
    if kind is dict:
        items: Any = value.values()  # type: ignore[attr-defined]
    elif kind is list or kind is tuple:
        items = value
    elif kind is float:
        return 1e-4 <= abs(value) < 1e16 or value == 0.0  # type: ignore[arg-type]
    else:
        return kind in _SCALARS
    scalars = _SCALARS
    for item in items:
        kind = type(item)
        if kind in scalars:
            continue
        if kind is float:
            if not (1e-4 <= abs(item) < 1e16 or item == 0.0):
                return False
        elif kind is dict or kind is list or kind is tuple:
            if not _orjson_safe(item):
                return False
        else:
            return False
    return True


def canonical_bytes(value: object) -> bytes:
    """Encode a JSON-compatible value in the log's canonical form (docs/audit-log.md).

    The writer hashes and signs these bytes and the verifier re-encodes with this function, so
    the two cannot disagree. A pure function: equal JSON values give equal bytes (dict order,
    list or tuple, and which encoder ran make no difference).

    Raises:
        AuditError: when the value is not JSON-compatible (NaN, infinity, a non-string key, a
            lone surrogate, a set, a cycle, ...).
    """
    try:
        if _orjson_safe(value):
            try:
                return orjson.dumps(value, option=_ORJSON_OPTIONS)
            except TypeError:
                pass  # big integer, lone surrogate, nesting deeper than orjson's 254 levels
        return _reference_bytes(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise AuditError(f"not JSON-compatible: {exc}") from None


def canonical_json(value: object) -> str:
    """The canonical encoding (:func:`canonical_bytes`) as text.

    Raises:
        AuditError: when the value is not JSON-compatible (or is cyclic).
    """
    return canonical_bytes(value).decode("utf-8")
