"""The OTLP/JSON wire form: attribute values, deterministic ids, nanosecond times, requests.

OTLP's JSON mapping of its protobuf messages (opentelemetry-proto): ids are lowercase hex,
64-bit integers and nanosecond times are JSON strings, enums are their integer values. This
module writes and reads that form and nothing else; :mod:`sim.otlp.export` decides what the
spans say and :mod:`sim.otlp.traces` reads spans back. The mapping is described in
docs/otlp.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SPAN_KIND_INTERNAL = 1
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
SCOPE_NAME = "agentrange"
NANOS = 1_000_000_000


def hex_id(seed_key: str, key: str, size: int) -> str:
    """A deterministic id of ``size`` bytes as lowercase hex (never all zeros).

    Args:
        seed_key: What makes the run unique (scenario, profile and seed).
        key: What makes the span or trace unique within the run.
        size: 16 for a trace id, 8 for a span id.
    """
    digest = hashlib.sha256(f"{seed_key}\x00{key}".encode()).hexdigest()[: size * 2]
    if set(digest) == {"0"}:  # an invalid id in OTLP; as likely as a hash collision
        digest = "0" * (size * 2 - 1) + "1"
    return digest


def unix_nanos(epoch: float, seconds: float) -> str:
    """Simulated ``seconds`` after ``epoch`` (Unix seconds) as OTLP's nanosecond string."""
    whole = int(epoch)
    return str(whole * NANOS + round((epoch - whole + seconds) * NANOS))


def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP ``AnyValue`` (lists become arrays, mappings kvlists)."""
    kind = type(value)  # exact types first: this runs for every attribute written
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int:
        return {"intValue": str(value)}
    if kind is float:
        return {"doubleValue": value}
    if kind is list or kind is tuple:
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": attributes(value)}}
    if isinstance(value, str):  # subclasses: StrEnum members (outcomes, effects)
        return {"stringValue": str(value)}
    if isinstance(value, bool):
        return {"boolValue": bool(value)}
    if isinstance(value, int):
        return {"intValue": str(int(value))}
    if isinstance(value, float):
        return {"doubleValue": float(value)}
    if isinstance(value, Sequence | set | frozenset):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def attributes(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Key-value pairs in OTLP form; None values are left out (OTLP has no null)."""
    return [{"key": k, "value": any_value(v)} for k, v in values.items() if v is not None]


def python_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value (what :func:`any_value` wrote, and more).

    Raises:
        ValueError: for a value that is not an AnyValue object.
    """
    # Exact type checks: this runs for every attribute of every span read.
    if type(value) is not dict:
        raise ValueError("an attribute value is not an object")
    if "stringValue" in value:
        text = value["stringValue"]
        return text if type(text) is str else str(text)
    if "intValue" in value:
        return int(value["intValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        items = (value["arrayValue"] or {}).get("values") or []
        return [python_value(v) for v in _list(items)]
    if "kvlistValue" in value:
        return python_attributes((value["kvlistValue"] or {}).get("values") or [])
    if "bytesValue" in value:
        return str(value["bytesValue"])
    if not value:
        return None
    raise ValueError(f"an attribute value of unknown type {', '.join(map(repr, sorted(value)))}")


def python_attributes(pairs: Any) -> dict[str, Any]:
    """OTLP key-value pairs as a dict (a later duplicate key wins, as collectors do).

    Raises:
        ValueError: for pairs of another shape.
    """
    out: dict[str, Any] = {}
    for pair in _list(pairs):
        key = pair.get("key") if type(pair) is dict else None
        if type(key) is not str:
            raise ValueError("an attribute without a string 'key'")
        value = pair.get("value")
        out[key] = None if value is None else python_value(value)
    return out


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise ValueError(f"expected a list, found {type(value).__name__}")
    return value


def export_request(resource: Mapping[str, Any], version: str,
                   spans: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One ``ExportTraceServiceRequest``: one resource, one instrumentation scope."""
    return {"resourceSpans": [{
        "resource": {"attributes": attributes(resource)},
        "scopeSpans": [{"scope": {"name": SCOPE_NAME, "version": version},
                        "spans": list(spans)}],
    }]}
