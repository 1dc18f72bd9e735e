"""Hypothesis: mutated scenario documents either load or raise LoadError, nothing else."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import LoadError
from engine.loader import load_scenario
from engine.model import Scenario

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=12), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def mutate(data: dict[str, Any], where: tuple[Any, ...], how: str, junk: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    if not where:
        return data
    parent: Any = data
    for part in where[:-1]:
        parent = parent[part]
    last = where[-1]
    if how == "drop":
        del parent[last]
    elif how == "swap":
        parent[last] = junk
    elif how == "insert" and isinstance(parent, dict):
        parent[f"junk_{len(parent)}"] = junk
    elif how == "insert":
        parent.insert(last, junk)
    return data


@st.composite
def mutations(draw: Any, base: dict[str, Any]) -> dict[str, Any]:
    data = base
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)))
        how = draw(st.sampled_from(["drop", "swap", "insert"]))
        data = mutate(data, where, how, draw(JUNK))
    return data


def test_mutated_documents_load_or_raise_load_error(
    scenario_data: dict[str, Any], write_scenario: Callable[[Any], Path]
) -> None:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(mutations(scenario_data))
    def check(doc: dict[str, Any]) -> None:
        path = write_scenario(json.dumps(doc))
        try:
            result = load_scenario(path)
        except LoadError as exc:
            assert exc.file == str(path)
            assert str(exc)
        else:
            assert isinstance(result, Scenario)

    check()


def test_random_bytes_load_or_raise_load_error(write_scenario: Callable[[Any], Path]) -> None:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.binary(max_size=200))
    def check(raw: bytes) -> None:
        path = write_scenario("")
        path.write_bytes(raw)
        try:
            load_scenario(path)
        except LoadError as exc:
            assert exc.file == str(path)

    check()
