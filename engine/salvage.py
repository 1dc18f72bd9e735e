"""Validate a document in one pass: every structural problem, and a model of what is sound.

Pydantic builds no model once any part of a document fails, so references, bounds and
policies could only be checked on a second run, after the structure is fixed. Instead the
parts that fail are cut out and the rest is validated again, until it validates: a bad key is
removed (its default applies, or its mapping is then missing a required key), and a mapping
missing a required key, or a bad list item, is removed from its parent. Only the first pass
is reported; later passes only repair. What was cut is remembered, in the document's own
paths, so later checks can leave alone what a cut could have caused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from engine.messages import PathT, Problem, document_path, has, plain_problems

M = TypeVar("M", bound=BaseModel)

MAX_PASSES = 32
"""Repair passes before giving up on a model (each cut can expose the mapping above it)."""


@dataclass
class Salvaged(Generic[M]):
    """The outcome of validating a document: its problems, and the model of what was sound.

    Attributes:
        model: The model of the document, validated with the failing parts cut out; None
            when no model could be salvaged (the top level itself fails).
        problems: Every structural problem, in the document's paths.
        cuts: The document paths cut out to validate the rest.
    """

    model: M | None
    problems: list[Problem]
    cuts: list[PathT] = field(default_factory=list)
    _data: Any = None
    _origin: dict[int, list[int]] = field(default_factory=dict)
    _cut_set: set[PathT] = field(default_factory=set)
    _cut_prefixes: set[PathT] = field(default_factory=set)

    @property
    def whole(self) -> bool:
        """Whether the document validated as it is (nothing was cut)."""
        return self.model is not None and not self.cuts

    def original(self, path: PathT) -> PathT:
        """Where a path of the model is in the document (list items cut before it shift it)."""
        out: list[str | int] = []
        cur = self._data
        for part in path:
            if isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
                origin = self._origin.get(id(cur))
                out.append(origin[part] if origin is not None else part)
                cur = cur[part]
            elif isinstance(cur, dict) and part in cur:
                out.append(part)
                cur = cur[part]
            else:
                out.append(part)
                cur = None
        return tuple(out)

    def touched(self, path: PathT) -> bool:
        """Whether anything at, under or around ``path`` (a document path) was cut."""
        if not self.cuts:
            return False
        if len(self._cut_set) != len(self.cuts):
            self._cut_set = set(self.cuts)
            self._cut_prefixes = {c[:k] for c in self.cuts for k in range(len(c) + 1)}
        return path in self._cut_prefixes or any(
            path[:k] in self._cut_set for k in range(1, len(path)))


def salvage(data: Any, model: type[M], placeholders: Mapping[str, Any] | None = None
            ) -> Salvaged[M]:
    """Validate ``data`` against ``model``, reporting every problem and keeping what is sound.

    Args:
        data: Plain data from a YAML document (dicts, lists, scalars).
        model: The pydantic model of the document.
        placeholders: Stand-ins for required top-level keys that fail (the document itself
            cannot be cut out, so a bad ``duration`` would otherwise leave nothing to check).
    """
    try:
        return Salvaged(model.model_validate(as_tuples(data)), [], _data=data)
    except ValidationError as exc:
        first = exc.errors()
    problems = plain_problems(data, list(first), model)
    work = _copy(data)
    result: Salvaged[M] = Salvaged(None, problems, _data=work)
    errors = first
    for _ in range(MAX_PASSES):
        if not _repair(result, work, errors, placeholders or {}):
            return result
        try:
            result.model = model.model_validate(as_tuples(work))
            return result
        except ValidationError as exc:
            errors = exc.errors()
    return result


def as_tuples(value: Any) -> Any:
    """Plain data with every list turned into a tuple, recursively, for model validation.

    The models hold tuples (they are frozen), and strict validation does not coerce lists.
    """
    if isinstance(value, list):
        return tuple(as_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: as_tuples(v) for k, v in value.items()}
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _repair(result: Salvaged[Any], work: Any, errors: list[Any],
            placeholders: Mapping[str, Any]) -> bool:
    """Cut out the parts of ``work`` the errors are about; False when nothing could be cut."""
    found = [(err["type"], document_path(work, err["loc"], missing=err["type"] == "missing"))
             for err in errors]
    above = {p[:k] for _, p in found for k in range(len(p))}  # proper prefixes of each path
    targets: set[PathT] = set()
    for kind, path in found:
        if kind == "too_short" and path in above:
            continue  # pydantic counts a list short of its own bad items: cut the items
        if (len(path) == 1 and path[0] in placeholders and kind != "extra_forbidden"
                and isinstance(work, dict)):
            if (path[0],) in result.cuts:
                return False  # the stand-in failed too
            work[path[0]] = placeholders[str(path[0])]
            result.cuts.append((path[0],))
            continue
        if kind == "missing":
            path = path[:-1]
        while path and not has(work, path):
            path = path[:-1]
        if not path:
            return False  # the document itself is what fails
        targets.add(path)
    if not targets:
        return bool(found)
    # List items are dropped last, highest index first, so that every path of this pass
    # still names what it named when it was found.
    drops: dict[int, tuple[list[Any], set[int]]] = {}
    for path in sorted(targets, key=len):
        if any(path[:k] in targets for k in range(1, len(path))):
            continue  # inside another cut
        parent = work
        for part in path[:-1]:
            parent = parent[part]
        result.cuts.append(result.original(path))
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            drops.setdefault(id(parent), (parent, set()))[1].add(int(path[-1]))
    for items, indices in drops.values():
        origin = result._origin.setdefault(id(items), list(range(len(items))))
        for i in sorted(indices, reverse=True):
            del items[i]
            del origin[i]
    return bool(targets)
