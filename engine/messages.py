"""Pydantic's validation errors in the user's words: what was expected, what was found, where.

The scenario and policy models are checked by pydantic, whose messages speak of its own types
("Tuple should have at least 1 item after validation", "a valid dictionary or instance of
Rule"). :func:`plain_problems` turns its error list into problems a person writing YAML reads:
the document path (union tags and validator names dropped), what was expected in plain
words, and a short rendering of what was found (long values cut). Several errors pydantic
gives for one value (one per member of a union) become one problem.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from engine.durations import format_duration
from engine.errors import CUT_AT, cut

PathT = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a document, ready to be located and reported.

    Attributes:
        path: Where in the document (as the YAML has it).
        expected: What was expected there, in plain words.
        found: What was found, short (None when there is nothing to show).
        key: Point at the mapping key rather than its value (an unknown key).
    """

    path: PathT
    expected: str
    found: str | None = None
    key: bool = False


# The patterns of the identifier-like fields (engine.fields, engine.policy.model), in words.
# A test checks that every pattern the two schemas use is described here.
PATTERNS = {
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$":
        "an identifier: letters, digits, '.', '-' and '_', starting with a letter or digit",
    r"^[A-Za-z0-9*?\[\]._-]+$":
        "a name or glob: letters, digits, '.', '-', '_' and the wildcards *, ? and [...]",
    r"^[a-z]+(\.[A-Za-z0-9_-]+)*$":
        "an attribute path such as request.records: a lowercase namespace, then names after "
        "dots",
    r"^((agent|role|kind):)?[A-Za-z0-9*?\[\]._-]+$":
        "an agent name or glob, or role:<glob>, kind:<glob> or agent:<glob>",
    r"^[a-z0-9_.]+$": "a metric name: lowercase letters, digits, '_' and '.'",
}

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}
_NOT_MERGED = ("missing", "extra_forbidden")
_SAID_FOUND = re.compile(r"(.+) \(found ([^()]+)\)")


def describe(value: Any) -> str:
    """A short rendering of a found value (long text is cut: the first characters and a count).

    Examples: ``null``, ``boolean true``, ``a mapping``, ``an empty list``, ``a list of 3
    items``, ``string 'abc'``, ``integer 5``, ``number 0.5``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "an empty mapping" if not value else "a mapping"
    if isinstance(value, list | tuple):
        n = len(value)
        return "an empty list" if n == 0 else f"a list of {n} item{'s' if n > 1 else ''}"
    if isinstance(value, str):
        if len(value) > CUT_AT:
            return f"string {value[:CUT_AT]!r}… ({len(value):,} characters)"
        return f"string {value!r}"
    if isinstance(value, int):
        text = str(value) if value.bit_length() < 200 else cut(str(value), 20)
        return f"integer {text}"
    if isinstance(value, float):
        return f"number {value!r}"
    return cut(type(value).__name__)


def quote(value: Any) -> str:
    """``repr`` of a value a message names (a key, an id), cut when long."""
    text = str(value)
    if len(text) > CUT_AT:
        return f"{text[:CUT_AT]!r}… ({len(text):,} characters)"
    return repr(text)


def plain_problems(data: Any, errors: Iterable[Any],
                   model: type[BaseModel]) -> list[Problem]:
    """Pydantic's errors for ``data`` as plain problems, one per place, in document order.

    Args:
        data: The document that failed validation (plain data).
        errors: ``ValidationError.errors()``.
        model: The model validated against (for the known keys of a mapping).
    """
    grouped: dict[PathT, list[dict[str, Any]]] = {}
    order: list[tuple[PathT, dict[str, Any] | None]] = []
    for err in errors:
        path = document_path(data, err["loc"], missing=err["type"] == "missing")
        if err["type"] in _NOT_MERGED:
            order.append((path, err))
        elif path not in grouped:
            grouped[path] = [err]
            order.append((path, None))
        else:
            grouped[path].append(err)
    extra: dict[PathT, set[str]] = {}
    for path, single in order:
        if single is not None and single["type"] == "extra_forbidden":
            extra.setdefault(path[:-1], set()).add(str(path[-1]))
    above = {p[:k] for p in grouped for k in range(len(p))}  # proper prefixes of each path
    problems: list[Problem] = []
    for path, single in order:
        if single is not None:
            if single["type"] == "missing":
                problems.append(Problem(path[:-1], f"required key {quote(path[-1])} is missing"))
            else:
                problems.append(_unknown_key(model, data, path, extra[path[:-1]]))
            continue
        errs = grouped[path]
        if errs[0]["type"] == "too_short" and path in above:
            continue  # a list emptied by its own bad items: the items are reported
        found = describe(lookup(data, path)) if has(data, path) else None
        expected = list(dict.fromkeys(_expected(e, data, path) for e in errs))
        if "a whole number" in expected and "a number" in expected:
            expected.remove("a whole number")
        where = path
        if errs[0]["type"] == "union_tag_invalid" and len(errs) == 1:
            name = str(errs[0]["ctx"]["discriminator"]).strip("'")
            where = (*path, name)
            found = describe(lookup(data, where)) if has(data, where) else found
        if len(errs) == 1 and errs[0]["type"] in ("value_error", "assertion_error"):
            said = _SAID_FOUND.fullmatch(expected[0])
            if said is not None:  # the validator said what it found: more telling
                expected, found = [said.group(1)], said.group(2)
        problems.append(Problem(where, _join(expected), found))
    return problems


def _join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    parts = ["a boolean" if p == "true or false" else p for p in parts]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def _expected(err: dict[str, Any], data: Any, path: PathT) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    if kind == "model_type":
        return f"a mapping for {_article(_words(str(ctx.get('class_name', ''))))}".rstrip()
    if kind == "literal_error":
        options = str(ctx.get("expected", "")).replace(" or ", ", ")
        return f"one of {options}" if "," in options else options
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        n = ctx.get("max_length", 0)
        return f"at most {n} item{'s' if n != 1 else ''}"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return "a non-empty string" if n == 1 else f"a string of at least {n} characters"
    if kind == "string_too_long":
        return f"a string of at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return PATTERNS.get(pattern, f"a string matching {pattern}")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return _bound(kind, ctx, lookup(data, path) if has(data, path) else None)
    if kind == "union_tag_invalid":
        return f"one of {ctx.get('expected_tags', '')}"
    if kind == "union_tag_not_found":
        name = str(ctx.get("discriminator", "")).strip("'")
        return f"a mapping with a {name!r} key"
    if kind in ("value_error", "assertion_error"):
        return _clean(err["msg"])
    return _clean(err["msg"])


def _bound(kind: str, ctx: dict[str, Any], raw: Any) -> str:
    op, key, span = {
        "greater_than": ("greater than", "gt", "longer than"),
        "greater_than_equal": ("of at least", "ge", "of at least"),
        "less_than": ("less than", "lt", "shorter than"),
        "less_than_equal": ("of at most", "le", "of at most")}[kind]
    limit = ctx.get(key)
    if isinstance(raw, str):  # a duration written as text
        return f"a duration {span} {format_duration(float(limit or 0))}"
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    return f"a number {op} {limit}"


def _clean(msg: str) -> str:
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = msg.replace("Input should be", "expected").replace("String should", "a string should")
    return msg.removeprefix("expected ")


def _words(class_name: str) -> str:
    return " ".join(w.lower() for w in re.findall(r"[A-Z][a-z0-9]*", class_name))


def _article(words: str) -> str:
    if not words or words.endswith("s"):
        return words
    return ("an " if words[0] in "aeiou" else "a ") + words


def _unknown_key(model: type[BaseModel], data: Any, path: PathT, unknown: set[str]) -> Problem:
    mapping = lookup(data, path[:-1]) if has(data, path[:-1]) else {}
    present = {str(k) for k in mapping} - unknown if isinstance(mapping, dict) else set()
    known = known_keys(model, path[:-1], present)
    expected = "a known key"
    if known:
        name = str(path[-1])
        close = difflib.get_close_matches(name, known, n=1) if len(name) <= 64 else []
        expected = (f"did you mean {close[0]!r}? known keys: " if close
                    else "one of the known keys: ") + ", ".join(known)
    return Problem(path, expected, f"unknown key {quote(path[-1])}", key=True)


def document_path(data: Any, loc: tuple[Any, ...], *, missing: bool = False) -> PathT:
    """Drop the parts of a pydantic location that are not in the document (union tags).

    Args:
        data: The document.
        loc: Pydantic's location of an error.
        missing: The error is a missing key: keep its name, the last part, though absent.
    """
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
        elif missing and last and isinstance(cur, dict):
            path.append(part)
        # otherwise: a union tag or validator name pydantic adds; not part of the document
    return tuple(path)


def has(data: Any, path: PathT) -> bool:
    """Whether ``path`` leads to a value in ``data``."""
    cur = data
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list | tuple) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            return False
    return True


def lookup(data: Any, path: PathT) -> Any:
    """The value at ``path`` (which must exist: see :func:`has`)."""
    cur = data
    for part in path:
        cur = cur[part]
    return cur


@cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def known_keys(model: type[BaseModel], path: PathT, present: set[str] | None = None
               ) -> list[str]:
    """The keys the schema allows for the mapping at ``path`` (best effort).

    Args:
        model: The document's model.
        path: Where the mapping is.
        present: The mapping's valid keys: where it can be one of several kinds (a metric or
            a decision expectation), only the kinds that allow them all count.
    """
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
    if present:
        nodes = [n for n in nodes if present <= set(n.get("properties", {}))] or nodes
    keys: list[str] = []
    for node in nodes:
        for key in node.get("properties", {}):
            if key not in keys:
                keys.append(key)
    return keys


__all__ = ["PATTERNS", "Problem", "describe", "document_path", "has",
           "known_keys", "lookup", "plain_problems", "quote"]
