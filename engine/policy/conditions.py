"""Conditions compiled into closures, type-checked against the attribute catalogue at load.

Semantics (the reference evaluator in the tests states the same in the plain way):

- An attribute is *absent* when its namespace, its key or its value is missing/None.
  ``exists`` tests presence; ``eq``/``ne``/``in``/``not_in`` treat an absent value as null
  (``eq: null`` matches it, any other operand does not); every other operator raises
  :class:`EvalError` on an absent value.
- Values compare within a type family: numbers (int or float, never bool), strings,
  booleans, lists. Comparing across families raises :class:`EvalError` (a type mismatch).
- ``lt``/``lte``/``gt``/``gte`` work on numbers and on ordered enums (by member position);
  ``glob`` on strings (``fnmatch`` rules, case-sensitive); ``contains`` on lists (member)
  and strings (substring).
- ``all`` and ``any`` evaluate left to right and stop at the first false (``all``) or true
  (``any``) child; an error in a child evaluated before that propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from engine.durations import parse_duration
from engine.fields import Scalar
from engine.policy.attributes import AttrType, Getter, attribute_type, getter, unknown_path_hint
from engine.policy.model import AllOf, AnyOf, Compare, Condition, NotOf, When
from engine.yamldoc import PathT, describe

Problem = tuple[PathT, str, str]
"""(document path, what was expected, what was found) — a load-time problem."""

Test = Callable[[Any, Mapping[str, Any]], bool]


class EvalError(Exception):
    """A condition could not be evaluated for a request (absent attribute, type mismatch)."""


def family(value: Any) -> str:
    """The comparison family of a runtime value: number, str, bool, list or other."""
    t = type(value)
    if t is bool:
        return "bool"
    if t is int or t is float:
        return "number"
    if t is str:
        return "str"
    if t is tuple or t is list:
        return "list"
    return "other"


def render_value(value: Any) -> str:
    """An operand as it reads in condition text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, eq=False)
class Node:
    """A compiled condition: a fast ``test`` plus what is needed to explain a failure.

    Attributes:
        text: The condition as text.
        paths: Attribute paths it reads, in first-read order.
        test: ``test(request, counter_values) -> bool``; raises EvalError.
        atoms: The comparisons inside, in order (for memo-key analysis).
    """

    text: str
    paths: tuple[str, ...]
    test: Test
    atoms: tuple[Atom, ...]
    kind: str
    children: tuple[Node, ...] = ()

    def failure(self, req: Any, cv: Mapping[str, Any]) -> tuple[str, str]:
        """The first failed condition and the path it reads; call only when test is False.

        For ``all`` it is the first child that failed; an ``any`` (every alternative failed)
        or a ``not`` (the inner condition held) is reported whole, at its first path.
        """
        if self.kind == "all":
            for child in self.children:
                if not child.test(req, cv):
                    return child.failure(req, cv)
        return self.text, self.atoms[0].path


@dataclass(frozen=True, eq=False)
class Atom:
    """One comparison: path, operator, normalised operand and the path's declared type."""

    path: str
    op: str
    value: Any
    type: AttrType
    get: Getter


def _mismatch(path: str, v: Any, c: Any) -> EvalError:
    return EvalError(f"type mismatch: {path} is {describe(v)}, compared with "
                     f"{describe(c)}")


def _absent(path: str, op: str) -> EvalError:
    return EvalError(f"{path} is absent (operator {op} needs a value)")


def _same(v: Any, c: Any) -> bool:
    fv = family(v)
    if fv == "list":
        return tuple(v) == tuple(c)
    return bool(v == c)


def _eq(path: str, v: Any, c: Any) -> bool:
    if v is None:
        return c is None
    if c is None:
        return False
    if family(v) != family(c):
        raise _mismatch(path, v, c)
    return _same(v, c)


def _in(path: str, v: Any, cs: tuple[Any, ...]) -> bool:
    if v is None:
        return False
    fv = family(v)
    hit = False
    seen_family = False
    for c in cs:
        if family(c) == fv:
            seen_family = True
            if _same(v, c):
                hit = True
                break
    if not seen_family:
        raise _mismatch(path, v, cs)
    return hit


def _contains(path: str, v: Any, c: Any) -> bool:
    if v is None:
        raise _absent(path, "contains")
    fv = family(v)
    if fv == "list":
        fc = family(c)
        for e in v:  # a loop, not any(): this runs for every role check
            if family(e) == fc and e == c:
                return True
        return False
    if fv == "str" and family(c) == "str":
        return c in v
    raise _mismatch(path, v, c)


def _ordered(path: str, op: str, v: Any, c: Any, ranks: Mapping[str, int] | None) -> bool:
    if v is None:
        raise _absent(path, op)
    if ranks is not None:
        if type(v) is not str or v not in ranks:
            raise EvalError(f"{path} is {describe(v)}, not one of {', '.join(ranks)}")
        left, right = ranks[v], ranks[c]
    else:
        if family(v) != "number":
            raise _mismatch(path, v, c)
        left, right = v, c
    if op == "lt":
        return bool(left < right)
    if op == "lte":
        return bool(left <= right)
    if op == "gt":
        return bool(left > right)
    return bool(left >= right)


def _glob(path: str, v: Any, c: str) -> bool:
    if v is None:
        raise _absent(path, "glob")
    if type(v) is not str:
        raise _mismatch(path, v, c)
    return fnmatchcase(v, c)


def atom_test(atom: Atom) -> Test:
    """A closure evaluating one comparison (fast paths for the common numeric cases)."""
    path, op, c, get = atom.path, atom.op, atom.value, atom.get
    if op == "exists":
        want = bool(c)
        return lambda req, cv: (get(req, cv) is not None) is want
    if op == "eq":
        return lambda req, cv: _eq(path, get(req, cv), c)
    if op == "ne":
        return lambda req, cv: not _eq(path, get(req, cv), c)
    if op == "in":
        return lambda req, cv: _in(path, get(req, cv), c)
    if op == "not_in":
        def not_in(req: Any, cv: Mapping[str, Any]) -> bool:
            v = get(req, cv)
            return v is None or not _in(path, v, c)
        return not_in
    if op == "contains":
        return lambda req, cv: _contains(path, get(req, cv), c)
    if op == "glob":
        return lambda req, cv: _glob(path, get(req, cv), c)
    ranks = ({m: i for i, m in enumerate(atom.type.values)}
             if atom.type.kind == "enum" else None)
    if ranks is None:
        # Numbers: the hot case; bool is excluded (it is an int in Python).
        if op == "lt":
            def lt(req: Any, cv: Mapping[str, Any]) -> bool:
                v = get(req, cv)
                t = type(v)
                if t is int or t is float:
                    return bool(v < c)
                return _ordered(path, op, v, c, None)
            return lt
        if op == "lte":
            def lte(req: Any, cv: Mapping[str, Any]) -> bool:
                v = get(req, cv)
                t = type(v)
                if t is int or t is float:
                    return bool(v <= c)
                return _ordered(path, op, v, c, None)
            return lte
        if op == "gt":
            def gt(req: Any, cv: Mapping[str, Any]) -> bool:
                v = get(req, cv)
                t = type(v)
                if t is int or t is float:
                    return bool(v > c)
                return _ordered(path, op, v, c, None)
            return gt

        def gte(req: Any, cv: Mapping[str, Any]) -> bool:
            v = get(req, cv)
            t = type(v)
            if t is int or t is float:
                return bool(v >= c)
            return _ordered(path, op, v, c, None)
        return gte
    return lambda req, cv: _ordered(path, op, get(req, cv), c, ranks)


# --- compilation with load-time checks ---------------------------------------------------


def compile_when(when: When | None, loc: PathT, counters: frozenset[str],
                 problems: list[Problem]) -> Node | None:
    """Compile a ``when`` (one condition or a list meaning all); None when there is none.

    Problems (unknown paths, impossible comparisons) are appended to ``problems`` with
    their document paths; the result is then meaningless and must not be used.
    """
    if when is None:
        return None
    if isinstance(when, tuple):
        children = [compile_condition(c, (*loc, i), counters, problems)
                    for i, c in enumerate(when)]
        if len(children) == 1:
            return children[0]
        return _combine("all", children)
    return compile_condition(when, loc, counters, problems)


def compile_condition(cond: Condition, loc: PathT, counters: frozenset[str],
                      problems: list[Problem]) -> Node:
    """Compile one condition (recursively), appending load-time problems."""
    if isinstance(cond, AllOf):
        return _combine("all", [compile_condition(c, (*loc, "all", i), counters, problems)
                                for i, c in enumerate(cond.all)])
    if isinstance(cond, AnyOf):
        return _combine("any", [compile_condition(c, (*loc, "any", i), counters, problems)
                                for i, c in enumerate(cond.any)])
    if isinstance(cond, NotOf):
        inner = compile_condition(cond.not_, (*loc, "not"), counters, problems)
        test = inner.test
        return Node(f"not ({inner.text})", inner.paths,
                    lambda req, cv: not test(req, cv), inner.atoms, "not", (inner,))
    assert isinstance(cond, Compare)
    return _compile_compare(cond, loc, counters, problems)


def _combine(kind: str, children: list[Node]) -> Node:
    tests = tuple(c.test for c in children)
    paths = tuple(dict.fromkeys(p for c in children for p in c.paths))
    atoms = tuple(a for c in children for a in c.atoms)
    if kind == "all":
        text = " and ".join(f"({c.text})" if c.kind in ("all", "any") else c.text
                            for c in children)

        def all_(req: Any, cv: Mapping[str, Any]) -> bool:
            for t in tests:
                if not t(req, cv):
                    return False
            return True
        return Node(text, paths, all_, atoms, "all", tuple(children))
    text = "any(" + "; ".join(c.text for c in children) + ")"

    def any_(req: Any, cv: Mapping[str, Any]) -> bool:
        for t in tests:
            if t(req, cv):
                return True
        return False
    return Node(text, paths, any_, atoms, "any", tuple(children))


def _compile_compare(cond: Compare, loc: PathT, counters: frozenset[str],
                     problems: list[Problem]) -> Node:
    path, op = cond.attr, cond.op
    key = "in" if op == "in" else op
    atype = attribute_type(path, counters)
    value = cond.value
    if atype is None:
        problems.append(((*loc, "attr"), unknown_path_hint(path, counters),
                         f"unknown attribute {path!r}"))
        atype = AttrType("any")
    else:
        value = _check_operand(path, atype, op, value, (*loc, key), problems)
    atom = Atom(path, op, value, atype, getter(path))
    text = f"{path} {op} {render_value(value)}"
    return Node(text, (path,), atom_test(atom), (atom,), "atom")


def _check_operand(path: str, t: AttrType, op: str, value: Any, loc: PathT,
                   problems: list[Problem]) -> Any:
    """Check that ``op value`` can ever hold for ``path`` of type ``t``; normalise the value."""

    def bad(expected: str) -> Any:
        problems.append((loc, f"{expected} ({path} is {t.describe()})",
                         f"{op} {describe(value)}"))
        return value

    if op == "exists":
        if not isinstance(value, bool):
            return bad("true or false for exists")
        return value
    if op in ("eq", "ne"):
        if value is None:
            return None
        return _scalar_for(t, value, bad, allow_list=True)
    if op in ("in", "not_in"):
        assert isinstance(value, tuple)
        return tuple(_scalar_for(t, v, bad, allow_list=False) for v in value)
    if op == "contains":
        if t.kind == "list" or t.kind == "str":
            if not isinstance(value, str):
                return bad("a string operand for contains")
            return value
        if t.kind == "any":
            return value
        return bad("contains on a list or string attribute")
    if op == "glob":
        if t.kind in ("str", "enum", "any"):
            if not isinstance(value, str):
                return bad("a string pattern for glob")
            return value
        return bad("glob on a string attribute")
    # lt, lte, gt, gte
    if t.kind == "enum":
        if not t.ordered:
            return bad(f"{op} on a number or an ordered enum")
        if value not in t.values:
            return bad(f"one of {', '.join(t.values)}")
        return value
    if t.kind in ("number", "any"):
        return _number(t, value, bad)
    return bad(f"{op} on a number or an ordered enum")


def _scalar_for(t: AttrType, value: Any, bad: Callable[[str], Any], *, allow_list: bool) -> Any:
    if t.kind == "any":
        return value
    if t.kind == "enum":
        if value not in t.values:
            return bad(f"one of {', '.join(t.values)}")
        return value
    if t.kind == "number":
        return _number(t, value, bad)
    if t.kind == "str":
        if not isinstance(value, str):
            return bad("a string")
        return value
    if t.kind == "bool":
        if not isinstance(value, bool):
            return bad("true or false")
        return value
    # list
    if allow_list and isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return value
    return bad("a list of strings")


def _number(t: AttrType, value: Scalar | tuple[Scalar, ...],
            bad: Callable[[str], Any]) -> Any:
    if isinstance(value, bool):
        return bad("a number")
    if isinstance(value, int | float):
        if value != value:
            return bad("a number (not NaN)")
        return value
    if isinstance(value, str) and t.duration:
        try:
            return parse_duration(value)
        except ValueError:
            return bad("a number of seconds or a duration such as \"5m\"")
    return bad("a number")
