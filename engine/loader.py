"""Load scenario files and directories into validated models.

Stages: read (size limit, UTF-8) → parse YAML safely with positions → validate with pydantic
→ check cross-references. Every failure raises :class:`~engine.errors.LoadError` naming the
file, line, column and document path, what was found and what was expected.

The loader reads what it is given: a YAML file, a directory holding ``scenario.yaml``, or a
:class:`ScenarioDir` a caller found elsewhere (the built-in library resolves its names in
:mod:`scenarios.library`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.errors import LoadError, LoadErrors
from engine.model import Scenario
from engine.references import reference_problems
from engine.yamldoc import PathT, YamlDocument, decode, describe, load_yaml, read_text

SCENARIO_FILE = "scenario.yaml"
MAX_ERRORS = 20

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ScenarioDir:
    """A scenario directory a caller found (in package data, say), with its names for messages.

    Attributes:
        path: The directory holding ``scenario.yaml`` and the policy files it names: a Path,
            or an importlib Traversable.
        name: The reference it was found by (e.g. a built-in scenario's name).
        source: How messages and :attr:`Scenario.source` name its scenario file.
    """

    path: Traversable
    name: str
    source: str


def resolve(ref: str | Path | ScenarioDir) -> tuple[str, Traversable | Path, str]:
    """Find a scenario file: a YAML file, a directory holding scenario.yaml, or a ScenarioDir.

    Returns:
        (display name, the scenario file, display name of the file).

    Raises:
        LoadError: when there is no such file.
    """
    if isinstance(ref, ScenarioDir):
        return ref.name, ref.path / SCENARIO_FILE, ref.source
    text = str(ref)
    path = Path(text)
    if path.is_dir() and (path / SCENARIO_FILE).is_file():
        path = path / SCENARIO_FILE
    if path.is_file():
        return text, path, str(path)
    raise LoadError(text, "an existing scenario file", found="no such file")


def read_document(file: Traversable | Path, source: str) -> YamlDocument:
    """Read and parse one YAML document from disk or package data."""
    if isinstance(file, Path):
        text = read_text(file, source)
    else:
        text = decode(file.read_bytes(), source)
    return load_yaml(text, source)


def load_scenario(ref: str | Path | ScenarioDir) -> Scenario:
    """Load and validate a scenario from a file, a directory or a :class:`ScenarioDir`.

    Raises:
        LoadError: (or LoadErrors, its subclass listing several) for any problem.
    """
    _name, file, source = resolve(ref)
    doc = read_document(file, source)
    scenario = validate_document(doc, Scenario)
    problems = reference_problems(scenario)
    errors = [doc.error(path, expected, found) for path, expected, found in problems]
    base: Traversable | Path = ref.path if isinstance(ref, ScenarioDir) else Path(str(file)).parent
    for i, profile in enumerate(scenario.profiles):
        policy = base / profile.policy
        if not policy.is_file():
            errors.append(doc.error(("profiles", i, "policy"),
                                    "a policy file next to the scenario",
                                    f"no file {profile.policy!r}"))
    if errors:
        raise LoadErrors(errors[:MAX_ERRORS])
    scenario._source = source
    scenario._base = base
    return scenario


def policy_source(scenario: Scenario, policy: str) -> str:
    """How messages name a profile's policy file: next to the scenario's own source."""
    return f"{scenario.source.rsplit('/', 1)[0]}/{policy}"


def validate_document(doc: YamlDocument, model: type[M]) -> M:
    """Validate a parsed document against a pydantic model, mapping errors to positions.

    Raises:
        LoadErrors: one entry per validation error (at most MAX_ERRORS).
    """
    if not isinstance(doc.data, dict):
        raise doc.error((), "a YAML mapping at the top level", describe(doc.data))
    try:
        return model.model_validate(as_tuples(doc.data))
    except ValidationError as exc:
        raise LoadErrors([_to_load_error(doc, model, e) for e in exc.errors()[:MAX_ERRORS]]
                         ) from None


def as_tuples(value: Any) -> Any:
    """Plain data with every list turned into a tuple, recursively, for model validation.

    The models hold tuples (they are frozen), and strict validation does not coerce lists.
    """
    if isinstance(value, list):
        return tuple(as_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: as_tuples(v) for k, v in value.items()}
    return value


def _to_load_error(doc: YamlDocument, model: type[BaseModel], err: Any) -> LoadError:
    path = _document_path(doc.data, err["loc"])
    kind = err["type"]
    msg = _clean(err["msg"])
    if kind == "missing":
        parent = path[:-1]
        return doc.error(parent, f"required key {path[-1]!r} is missing")
    if kind == "extra_forbidden":
        known = _known_keys(model, path[:-1])
        expected = "a known key"
        if known:
            close = difflib.get_close_matches(str(path[-1]), known, n=1)
            expected = (f"did you mean {close[0]!r}? known keys: " if close
                        else "one of the known keys: ") + ", ".join(known)
        return doc.error(path, expected, f"unknown key {path[-1]!r}", key=True)
    found = describe(_lookup(doc.data, path)) if _has(doc.data, path) else None
    return doc.error(path, msg, found)


def _clean(msg: str) -> str:
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = msg.replace("Input should be", "expected").replace("String should", "a string should")
    return msg


def _document_path(data: Any, loc: tuple[Any, ...]) -> PathT:
    """Drop the parts of a pydantic location that are not in the document (union tags)."""
    path: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, list | tuple) and isinstance(part, int) and 0 <= part < len(cur):
            path.append(part)
            cur = cur[part]
        elif last and isinstance(part, str | int) and isinstance(cur, dict):
            path.append(part)
        # otherwise: a union tag or validator name pydantic adds; not part of the document
    return tuple(path)


def _has(data: Any, path: PathT) -> bool:
    cur = data
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list | tuple) and isinstance(part, int) and part < len(cur):
            cur = cur[part]
        else:
            return False
    return True


def _lookup(data: Any, path: PathT) -> Any:
    cur = data
    for part in path:
        cur = cur[part]
    return cur


@cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _known_keys(model: type[BaseModel], path: PathT) -> list[str]:
    """The keys the schema allows for the mapping at ``path`` (best effort)."""
    schema = _schema(model)
    defs = schema.get("$defs", {})

    def deref(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            return deref(defs[node["$ref"].rsplit("/", 1)[-1]])
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                return [n for sub in node[key] for n in deref(sub)]
        return [node]

    nodes = deref(schema)
    for part in path:
        nxt: list[dict[str, Any]] = []
        for node in nodes:
            if isinstance(part, int):
                if "items" in node:
                    nxt.extend(deref(node["items"]))
                for item in node.get("prefixItems", []):
                    nxt.extend(deref(item))
            elif part in node.get("properties", {}):
                nxt.extend(deref(node["properties"][part]))
        nodes = nxt
    keys: list[str] = []
    for node in nodes:
        for key in node.get("properties", {}):
            if key not in keys:
                keys.append(key)
    return keys
