"""Native attribute values as Cedar JSON values, checked against their slot's type.

The request encoder (:mod:`engine.cedar.context`) and the entities (:mod:`engine.cedar.entities`)
both encode through :func:`value_json`, so a value reaches Cedar only in the type the schema
declares: a value of another type is refused (:class:`NotInSchema`) instead of being compared
under Cedar's rules, which differ from the native engine's for mistyped values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.cedar.schema import Slot, encode_decimal, encode_long


class NotInSchema(ValueError):
    """A value does not fit the Cedar type its slot declares."""


def value_json(slot: Slot, value: Any) -> Any:
    """The Cedar JSON form of ``value`` for ``slot`` (not None: absence is the caller's).

    Raises:
        NotInSchema: when the value is not of the slot's type (or not one of its enum's
            members, or a number Cedar cannot hold).
    """
    kind = slot.type
    if kind == "String":
        if type(value) is not str:
            raise NotInSchema(f"{slot.path} is {value!r}, not a string")
        if slot.values and value not in slot.values:
            raise NotInSchema(f"{slot.path} is {value!r}, not one of {', '.join(slot.values)}")
        return value
    if kind == "Bool":
        if type(value) is not bool:
            raise NotInSchema(f"{slot.path} is {value!r}, not true or false")
        return value
    if kind == "Long":
        number = encode_long(value)
        if number is None:
            raise NotInSchema(f"{slot.path} is {value!r}, not a whole number")
        return number
    if kind == "Decimal":
        text = encode_decimal(value)
        if text is None:
            raise NotInSchema(f"{slot.path} is {value!r}, not a number Cedar's decimal holds")
        return {"__extn": {"fn": "decimal", "arg": text}}
    if not isinstance(value, tuple | list | frozenset | set) or not all(
            type(v) is str for v in value):
        raise NotInSchema(f"{slot.path} is {value!r}, not a list of strings")
    return sorted(set(value))


def entity_json(kind: str, eid: str) -> dict[str, Any]:
    """A reference to an entity, as a Cedar JSON value."""
    return {"__entity": {"type": kind, "id": eid}}


def plain(value: Any) -> Any:
    """A read-only namespace as plain data (mappings to dicts, lists to tuples)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(plain(v) for v in value)
    return value
