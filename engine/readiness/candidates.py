"""Candidate values: a finite set of attribute values complete for what conditions compare.

For the attributes a request carries at run time, the analysis tries a finite set of values
per attribute path that decides every comparison the conditions make on it (every threshold,
the points between and beyond them, every operand, a witness of each glob, absent). Trying
every combination is then a proof over all requests, not a sample. Nothing here knows the
scenario: conditions and synthetic requests in, verdicts out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from engine.policy.conditions import Atom, EvalError, Node
from engine.policy.request import EMPTY, Request

MAX_ASSIGNMENTS = 4096
"""Candidate assignments tried per call before an analysis gives up (and reports nothing)."""
STATIC_NAMESPACES = ("principal", "tool", "resource")
"""Namespaces fixed by the call itself; every other path varies from request to request."""


def is_static(path: str) -> bool:
    """Whether an attribute path is fixed by the call (action, principal, tool, resource)."""
    return path == "action" or path.split(".", 1)[0] in STATIC_NAMESPACES


def _glob_witness(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            pass
        elif ch == "?":
            out.append("x")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            body = pattern[i + 1:end] if end > i else ""
            if body.startswith("!"):
                out.append("\x01")
            else:
                out.append(body[:1] or "x")
            i = end if end > i else i
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _numbers(values: Iterable[Any]) -> list[float]:
    return sorted({v for v in values
                   if isinstance(v, int | float) and not isinstance(v, bool) and v == v})


def _split_points(thresholds: list[float]) -> list[float]:
    if not thresholds:
        return [0]
    points: list[float] = [thresholds[0] - 1]
    for a, b in itertools.pairwise(thresholds):
        points += [a, (a + b) / 2]
    points += [thresholds[-1], thresholds[-1] + 1]
    return points


def candidates(atoms: Sequence[Atom]) -> list[Any]:
    """Values of one attribute path that decide every comparison ``atoms`` make on it.

    Complete for the condition semantics: numbers are represented by each threshold and a
    point in every interval between and beyond them; strings by each operand, a witness of
    each glob and a fresh string; enums, booleans and lists by their distinct cases; and
    every path by absence (None).
    """
    operands: list[Any] = []
    for a in atoms:
        if isinstance(a.value, tuple):
            operands.extend(a.value)
        elif a.value is not None:
            operands.append(a.value)
    kind = atoms[0].type.kind if atoms else "any"
    out: list[Any] = [None]
    if kind == "number":
        out += _split_points(_numbers(operands))
    elif kind == "enum":
        out += list(atoms[0].type.values)
    elif kind == "bool":
        out += [True, False]
    elif kind == "list":
        strings = sorted({str(v) for v in operands if isinstance(v, str)})
        out += [(), tuple(strings), *((s,) for s in strings)]
        out += [tuple(v) for a in atoms if isinstance(a.value, tuple) and a.op in ("eq", "ne")
                for v in (a.value,)]
    else:
        strings = sorted({v for v in operands if isinstance(v, str)})
        globs = sorted({_glob_witness(a.value) for a in atoms
                        if a.op == "glob" and isinstance(a.value, str)})
        out += strings + globs + ["\x00fresh"]
        if kind == "any":
            out += [*_split_points(_numbers(operands)), True, False]
    seen: list[Any] = []
    for v in out:
        if not any(type(v) is type(s) and v == s for s in seen):
            seen.append(v)
    return seen


def set_path(spaces: dict[str, Any], cv: dict[str, Any], path: str, value: Any) -> None:
    """Set one attribute path of a synthetic request.

    Args:
        spaces: Namespace name -> nested attributes (``action`` directly), filled in place.
        cv: Counter values, filled in place for ``counter.*`` paths.
        path: The attribute path, e.g. ``request.amount`` or ``counter.exports``.
        value: Its value.
    """
    if path == "action":
        spaces["action"] = value
        return
    ns, _, rest = path.partition(".")
    if ns == "counter":
        cv[rest] = value
        return
    if path.startswith("request.attributes."):
        keys = ["attributes", rest[len("attributes."):]]
    else:
        keys = rest.split(".")
    target = spaces.setdefault(ns, {})
    for k in keys[:-1]:
        target = target.setdefault(k, {})
    target[keys[-1]] = value


def holds(node: Node | None, req: Request, cv: Mapping[str, Any]) -> bool:
    """Whether a compiled condition holds (an evaluation error means the rule is skipped)."""
    if node is None:
        return True
    try:
        return node.test(req, cv)
    except EvalError:
        return False


def outcome(node: Node | None, req: Request, cv: Mapping[str, Any]) -> bool | None:
    """True or False, or None when the condition cannot be evaluated (the rule is skipped)."""
    if node is None:
        return True
    try:
        return node.test(req, cv)
    except EvalError:
        return None


def assignments(nodes: Iterable[Node | None]) -> Iterator[dict[str, Any]] | None:
    """Every combination of candidate values of the dynamic paths ``nodes`` read.

    Returns None when there are more than :data:`MAX_ASSIGNMENTS` (the caller then reports
    nothing rather than guess).
    """
    atoms = (atom for node in nodes if node is not None for atom in node.atoms
             if not is_static(atom.path))
    grid = _value_grid(atoms)
    if grid is None:
        return None
    paths, values = grid
    return (dict(zip(paths, combo, strict=True)) for combo in itertools.product(*values))


def _value_grid(atoms: Iterable[Atom]) -> tuple[list[str], list[Any]] | None:
    """The paths the atoms read, sorted, and each path's candidate values.

    None when the grid would hold more than :data:`MAX_ASSIGNMENTS` combinations.
    """
    by_path: dict[str, list[Atom]] = {}
    for atom in atoms:
        by_path.setdefault(atom.path, []).append(atom)
    paths = sorted(by_path)
    values = [candidates(by_path[p]) for p in paths]
    if math.prod(len(v) for v in values) > MAX_ASSIGNMENTS:
        return None
    return paths, values


def contradictory(node: Node) -> bool:
    """Unsatisfiable even with static attributes free: the conditions exclude each other.

    False when the grid is too large to decide (unknown is not reported).
    """
    grid = _value_grid(node.atoms)
    if grid is None:
        return False
    paths, values = grid
    for combo in itertools.product(*values):
        spaces: dict[str, Any] = {}
        cv: dict[str, Any] = {}
        for path, value in zip(paths, combo, strict=True):
            set_path(spaces, cv, path, value)
        req = Request(principal=spaces.get("principal", EMPTY),
                      action=spaces.get("action", ""), tool=spaces.get("tool", EMPTY),
                      token=spaces.get("token", EMPTY), resource=spaces.get("resource"),
                      request=spaces.get("request", EMPTY), task=spaces.get("task", EMPTY),
                      session=spaces.get("session", EMPTY), chain=spaces.get("chain", EMPTY),
                      time=spaces.get("time", EMPTY))
        if holds(node, req, cv):
            return False
    return True
