"""Cache keys made by ``engine.policy.values.typed``: equal exactly when values and types are.

The engine's static stop sets and view-content keys rely on it: ``True == 1 == 1.0`` and they
hash alike, but conditions tell them apart, so a key that mixed them up would hand one value's
cached answer to the other (fail open). Checked against a plain recursive reference.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.policy.values import typed

_ATOMS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 2.5]),
                   st.sampled_from(["", "a", "1"]))
_VALUES = st.recursive(_ATOMS, lambda inner: st.lists(inner, max_size=4).map(tuple),
                       max_leaves=8)


def same(a: Any, b: Any) -> bool:
    """The reference: the same type at every level and equal atoms."""
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@given(_VALUES, _VALUES)
def test_keys_are_equal_exactly_when_values_and_types_are(a: Any, b: Any) -> None:
    ka, kb = typed(a), typed(b)
    assert (ka == kb) is same(a, b)
    if ka == kb:
        assert hash(ka) == hash(kb)


def _twin(value: Any, flips: list[bool]) -> Any:
    """``value`` with some atoms swapped for equal ones of another type (1 -> True, 2 -> 2.0)."""
    if type(value) is tuple:
        return tuple(_twin(v, flips) for v in value)
    flip = flips.pop() if flips else False
    if flip and type(value) is int and value in (0, 1):
        return bool(value)
    if flip and type(value) is int:
        return float(value)
    if flip and type(value) is bool:
        return int(value)
    return value


@given(_VALUES, st.lists(st.booleans(), max_size=8))
def test_keys_of_equal_values_of_other_types_differ(a: Any, flips: list[bool]) -> None:
    b = _twin(a, flips)
    assert a == b
    assert (typed(a) == typed(b)) is same(a, b)


def test_a_bool_and_a_number_equal_to_it_make_different_keys() -> None:
    assert typed((1, "x")) != typed((True, "x"))
    assert typed(((1,), "x")) != typed(((True,), "x"))
    assert typed(1.0) != typed(1)
    assert typed((None, 2)) == typed((None, 2))


def test_an_unhashable_item_still_makes_an_unhashable_key() -> None:
    # Callers fall back on rule-by-rule evaluation when hashing the key raises TypeError.
    key = typed((1, [2]))
    try:
        hash(key)
    except TypeError:
        return
    raise AssertionError("a key holding a list must not hash")
