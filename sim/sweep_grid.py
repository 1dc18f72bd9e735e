"""The grid of a sweep: its options (varied parameters, seeds) and the variants they make.

Parameters are varied by dotted path (``--vary`` on the command line):

- ``profile.<path>`` changes each swept profile, e.g. ``profile.credentials.ttl=5m,15m,1h``;
- ``policy.<path>`` changes each swept profile's policy document, e.g. an approval threshold:
  ``policy.rules.large-refund-approval.when.gt=250,500,1000``;
- any other path changes the scenario document, e.g. ``approvers.count=1,2,4`` or
  ``approvers.fatigue.per_queued=0.02,0.06``.

In a list, a segment is an index (``incidents.0.at=1h,3h``) or the ``id`` (or ``name``) of an
element (``rules.large-refund-approval``). Each variant is re-validated like a loaded scenario
and its policies compiled against it before anything runs, so a bad value is an error naming
the parameter and what was expected (for a policy value, with the file and line it replaces).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from engine.errors import AgentrangeError, LoadError
from engine.loader import as_tuples, read_document
from engine.model import Scenario
from engine.policy import (
    CompiledPolicy,
    compile_document,
    load_profile_policy,
    profile_policy_file,
)
from engine.references import reference_problems

DEFAULT_SEEDS = 10
"""Seeds swept when none are given: the scenario's own and the next ones."""

MAX_RUNS = 10_000
"""Runs one sweep may ask for (a typo in a seed range should not start a million runs)."""


class SweepError(AgentrangeError):
    """A bad sweep option: a parameter path or value, a seed list, a metric, a profile."""


@dataclass(frozen=True)
class Variation:
    """One varied parameter: where (a dotted path) and the values to try.

    Attributes:
        name: The path as written (``profile.credentials.ttl``).
        path: Its segments after the ``profile.`` or ``policy.`` prefix (indexes as ints).
        target: ``scenario``, ``profile`` (each swept profile) or ``policy`` (each swept
            profile's policy document).
        values: The values to try, in order.
    """

    name: str
    path: tuple[str | int, ...]
    target: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a profile and one value of each variation."""

    profile: str
    values: tuple[tuple[str, Any], ...]
    """(variation name, value), in the variations' order."""

    @property
    def label(self) -> str:
        """``jit-context ttl=5m``: the profile, then each varied value by its last segment."""
        parts = [self.profile]
        parts += [f"{name.rsplit('.', 1)[-1]}={_text(v)}" for name, v in self.values]
        return " ".join(parts)


# --- options ------------------------------------------------------------------------------------


def parse_variation(text: str) -> Variation:
    """Parse ``path=v1,v2,...``; values are numbers, booleans, ``null`` or text.

    Raises:
        SweepError: when it is not of that form.
    """
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise SweepError(f"--vary {text!r}: expected PATH=VALUE[,VALUE...], e.g. "
                         "profile.credentials.ttl=5m,15m,1h")
    parts = name.split(".")
    if any(not p for p in parts):
        raise SweepError(f"--vary {text!r}: the path {name!r} has an empty segment")
    target = parts[0] if parts[0] in ("profile", "policy") else "scenario"
    segments = parts[1:] if target != "scenario" else parts
    if not segments:
        raise SweepError(f"--vary {text!r}: name a field of the {target}, e.g. "
                         + ("profile.credentials.ttl" if target == "profile"
                            else "policy.rules.RULE-ID.when.gt"))
    path = tuple(int(p) if p.isdigit() else p for p in segments)
    items = tuple(_scalar(v.strip()) for v in values.split(","))
    if any(v == "" for v in items):
        raise SweepError(f"--vary {text!r}: an empty value")
    unique = {(type(v), v): v for v in items}  # 1 and True are different values here
    return Variation(name, path, target, tuple(unique.values()))


def parse_seeds(text: str | None, first: int) -> tuple[int, ...]:
    """``1-20`` (inclusive), ``3,7,11`` or one seed; None: DEFAULT_SEEDS from ``first``.

    Raises:
        SweepError: on anything else, an empty or reversed range, or too many seeds.
    """
    if text is None:
        return tuple(range(first, first + DEFAULT_SEEDS))
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            if dash and lo:
                start, end = int(lo), int(hi)
                if end < start:
                    raise SweepError(f"--seeds {text!r}: the range {part!r} runs backwards")
                if end - start >= MAX_RUNS:
                    raise SweepError(f"--seeds {text!r}: more than {MAX_RUNS:,} seeds")
                seeds.extend(range(start, end + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise SweepError(f"--seeds {text!r}: expected seeds such as 1-20 or 3,7,11, "
                             f"found {part!r}") from None
    return tuple(dict.fromkeys(seeds))


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- variants -----------------------------------------------------------------------------------


def variant(base: Scenario, profile: str, assignment: Iterable[tuple[Variation, Any]]
            ) -> Scenario:
    """``base`` with each variation set to its value (profile paths in ``profile`` only).

    Policy variations are left to :func:`policy_variant`.

    The result is validated like a loaded scenario and keeps the base's source, so its
    profiles' policy files are found next to it.

    Raises:
        SweepError: a path that names no field, or a value the field does not accept.
    """
    assignment = tuple((v, value) for v, value in assignment if v.target != "policy")
    if not assignment:
        return base
    data = _mutable(base.model_dump())
    for var, value in assignment:
        if var.target == "profile":
            target = next((p for p in data["profiles"] if p["id"] == profile), None)
            if target is None:
                raise SweepError(f"--vary {_assignment(assignment)}: the scenario no longer "
                                 f"has a profile {profile!r} to change")
            where = f"profile {profile}"
        else:
            target, where = data, f"scenario {base.name}"
        _assign(target, var, value, where)
    try:
        scenario = Scenario.model_validate(as_tuples(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ").replace("Input should be",
                                                                   "expected")
        raise SweepError(f"--vary {_assignment(assignment)}: scenario {base.name} under "
                         f"{profile} does not validate at {loc}: {msg}") from None
    problems = reference_problems(scenario)
    if problems:
        path, expected, found = problems[0]
        loc = ".".join(str(p) for p in path)
        raise SweepError(f"--vary {_assignment(assignment)}: at {loc} expected {expected}"
                         + (f", found {found}" if found else ""))
    if profile not in {p.id for p in scenario.profiles}:
        raise SweepError(f"--vary {_assignment(assignment)}: the variant has no profile "
                         f"{profile!r} left to run")
    scenario._source = base._source
    scenario._base = base._base
    return scenario


def _assignment(assignment: Sequence[tuple[Variation, Any]]) -> str:
    return " ".join(f"{v.name}={_text(value)}" for v, value in assignment)


def _assign(data: Any, var: Variation, value: Any, where: str) -> None:
    """Set ``var``'s path in ``data`` to ``value`` (list elements by index, id or name)."""
    node = data
    for depth, key in enumerate(var.path):
        at = ".".join(str(k) for k in var.path[:depth]) or "the top level"
        if isinstance(node, dict):
            if key not in node:
                known = ", ".join(sorted(map(str, node)))
                raise SweepError(f"--vary {var.name}: {where} has no field {key!r} at {at} "
                                 f"(fields: {known})")
        elif isinstance(node, list):
            key = _element(node, key, var, at)
        else:
            raise SweepError(f"--vary {var.name}: {at} is a single value, not a mapping or "
                             "a list")
        if depth == len(var.path) - 1:
            node[key] = value
        else:
            node = node[key]


def _element(items: list[Any], key: str | int, var: Variation, at: str) -> int:
    """The index of list element ``key``: an index, or the element whose id (or name) it is."""
    if isinstance(key, int):
        if key < len(items):
            return key
        raise SweepError(f"--vary {var.name}: {at} is a list of {len(items)}; expected an "
                         f"index from 0 to {len(items) - 1} or an element's id, found {key}")
    for field in ("id", "name"):
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get(field) == key:
                return i
    ids = [str(item.get("id", item.get("name"))) for item in items if isinstance(item, dict)]
    raise SweepError(f"--vary {var.name}: {at} has no element {key!r}"
                     + (f" (ids: {', '.join(ids)})" if ids else ""))


def _mutable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_mutable(v) for v in value]
    if isinstance(value, dict):
        return {k: _mutable(v) for k, v in value.items()}
    return value


def policy_variant(scenario: Scenario, profile: str,
                   assignment: Iterable[tuple[Variation, Any]]
                   ) -> tuple[dict[str, Any] | None, CompiledPolicy]:
    """The profile's policy with each ``policy.`` variation set, compiled against ``scenario``.

    Returns:
        (the varied policy document as plain data, or None when nothing in it varies; the
        compiled policy).

    Raises:
        SweepError: a path that names nothing in the policy file, or a value that does not
            validate or compile (with the file and line of the value it replaces).
    """
    everything = tuple(assignment)
    label = _assignment(everything)  # errors name the whole cell: any variation may be why
    assignment = tuple((v, value) for v, value in everything if v.target == "policy")
    try:
        if not assignment:
            return None, load_profile_policy(scenario, profile)
        if scenario.base is None:
            raise SweepError(f"--vary {label}: the scenario was not loaded from a file; its "
                             "policies cannot be varied")
        file = scenario.profile(profile).policy
        doc = read_document(*profile_policy_file(scenario, profile))
        data = copy.deepcopy(doc.data)
        for var, value in assignment:
            _assign(data, var, value, f"policy {file} of {profile}")
        return data, compile_document(dataclasses.replace(doc, data=data), scenario)
    except LoadError as exc:
        detail = f"--vary {label}: " if everything else ""
        raise SweepError(f"{detail}{profile}: {exc}") from None
