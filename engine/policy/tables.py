"""Condition tables: for each attribute value, which rule conditions it stops, as bitsets.

Most rule conditions are a conjunction of items (nested ``all`` flattened) that each read
one attribute path: ``request.records lte 100``, ``any(time.hour gte 19; time.hour lt 7)``.
Whether such an item holds depends on its path's value alone, so the decision point need not
evaluate rules one by one: per path it looks up, once per distinct value (for numbers: once
per position among the thresholds the policy compares the path with, which decides every
comparison equally), a Python integer used as a bitset over (item position, rule):

- bit ``c * N + r`` (N rules in the policy) is set when item ``c`` of rule ``r`` reads this
  path and does not hold for the value — it fails, or raises :class:`EvalError`;
- bit ``W + c * N + r`` (``W = L * N``, L the most items any rule has) is set when it raised.

ORing the entries of the paths a request carries and masking with its candidate rules gives
the *stop set* of the request: for every candidate rule, every item that did not hold. A
rule matched when none of its items stopped; otherwise the first item that stopped is its
first failed condition (items are evaluated left to right and stop at the first false one,
so items after it are never evaluated — exactly what the bits say when read lowest position
first). When any error bit is set the caller falls back to evaluating rule by rule, which
reproduces where each error happens and what it says.

Rules with an item reading several paths (or none) are *slow*: the decision point runs their
generated check for each request and ORs in the bit of the item it reports. Everything here
depends on the compiled rules alone, so the tables are exact for every request.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from engine.policy.codegen import condition_items, item_test
from engine.policy.conditions import Atom, EvalError, Node, family
from engine.policy.rules import CompiledRule

MAX_VALUES = 4096
"""Distinct values whose entry is cached per path before the cache starts afresh."""

ItemTest = Callable[[Any], bool]


def _item_key(item: Node) -> tuple[Any, ...]:
    """Identifies an item's semantics: its text and every operand with its type."""
    return (item.text, tuple((a.path, a.op, type(a.value).__name__, repr(a.value))
                             for a in item.atoms))


class PathTable:
    """The classes of one attribute path's values and each class's entry.

    A value's *class* is a small serial number: equal for values that every item on the
    path treats alike, so a decision point can key its memo on the classes of a request's
    values and only combine entries for a combination it has not seen.

    Attributes:
        path: The attribute path.
        numeric: Numbers are classed by their position among ``thresholds`` (every
            comparison on the path is with a number, so the position decides each of them).
        by_number: Number -> class (numeric paths; 1 and 1.0 share one, as they compare
            equally).
        by_key: Value key (a str itself, anything else ``(type, value)``; on a numeric path
            a number's position) -> class.
        entries: Class -> entry: the bitset of the items the class stops (and errors).
    """

    __slots__ = ("by_key", "by_number", "entries", "exact", "last", "lookup", "numeric", "path",
                 "tests", "thresholds", "width")

    def __init__(self, path: str, tests: list[tuple[ItemTest, int]], width: int,
                 spec: tuple[list[Any], frozenset[Any]] | None) -> None:
        self.path = path
        self.tests = tests
        """(item test, bits of every (position, rule) where that item is used)."""
        self.width = width
        self.numeric = spec is not None
        self.thresholds, self.exact = spec if spec is not None else ([], frozenset())
        self.by_number: dict[Any, int] = {}
        self.by_key: dict[Any, int] = {}
        self.lookup = self.by_key.get
        """``by_key.get``, bound once: every probe reading this table shares it."""
        self.entries: dict[int, int] = {}
        self.last = 0

    def fresh(self) -> PathTable:
        """The same table with its own copy of the caches (each decision point fills its own).

        What was classed ahead (see :meth:`Tables.prefill`) is copied, not recomputed.
        """
        spec = (self.thresholds, self.exact) if self.numeric else None
        copy = PathTable(self.path, self.tests, self.width, spec)
        copy.by_number = dict(self.by_number)
        copy.by_key = dict(self.by_key)
        copy.lookup = copy.by_key.get
        copy.entries = dict(self.entries)
        copy.last = self.last
        return copy

    def samples(self) -> list[Any]:
        """A value of every class of a numeric path: each threshold, each gap between, NaN."""
        t = self.thresholds
        if not t:
            return [0, math.nan]
        out: list[Any] = [t[0] - 1, t[-1] + 1, math.nan, *t]
        out += [(a + b) / 2 for a, b in itertools.pairwise(t)]
        return out

    def classify(self, value: Any) -> int:
        """The class of ``value`` (its entry is computed the first time the class is seen).

        Classes are never reused for other values: when the cache of a path with too many
        distinct values starts afresh, new classes get new numbers.

        Raises:
            TypeError: when the value is unhashable (the caller evaluates rule by rule).
        """
        t = type(value)
        if self.numeric and (t is int or t is float):
            found = self.by_number.get(value)
            if found is not None:
                return found
            if value != value:  # NaN compares false with everything: its own class
                key: Any = ("nan",)
            else:
                key = bisect_left(self.thresholds, value) * 2 + (value in self.exact)
            found = self.by_key.get(key)
            if found is None:
                found = self._new(key, value)
            if value == value:
                self.remember(value, found)
            return found
        key = value if t is str else (t, value)
        found = self.by_key.get(key)
        if found is None:
            found = self._new(key, value)
        return found

    def remember(self, number: Any, found: int) -> None:
        """Keep the class of a number (not NaN) placed among the thresholds by a probe."""
        if len(self.by_number) >= MAX_VALUES:
            self.by_number.clear()
        self.by_number[number] = found

    def _new(self, key: Any, value: Any) -> int:
        if len(self.by_key) >= MAX_VALUES:
            # Numbers cached by value refer to classes too: they go with the entries.
            self.by_key.clear()
            self.entries.clear()
            self.by_number.clear()
        self.last += 1  # never reused: a memo may still hold a class of before the clear
        self.by_key[key] = self.last
        self.entries[self.last] = self._compute(value)
        return self.last

    def _compute(self, value: Any) -> int:
        stop = err = 0
        for test, bits in self.tests:
            try:
                if test(value):
                    continue
            except EvalError:
                err |= bits
            stop |= bits
        return stop | (err << self.width)


class Tables:
    """The condition tables of one list of rules (a compiled policy's, in document order).

    Attributes:
        n: Number of rules (bits per item position).
        positions: L, the most items any rule's condition has (at least 1).
        width: ``L * n``: error bits start here.
        paths: Path -> its table, for every path a fast rule's item reads.
        slow: Rule index -> True for rules evaluated by their generated check.
    """

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        n = len(rules)
        split = {r.index: condition_items(r.cond) for r in rules if r.cond is not None}
        slow = {i for i, its in split.items()
                if any(len({a.path for a in it.atoms}) != 1 for it in its)}
        positions = max((len(its) for its in split.values()), default=1) or 1
        self.n = n
        self.positions = positions
        self.width = positions * n
        self.slow = frozenset(slow)
        self.item_paths = {i: frozenset(it.atoms[0].path for it in its)
                           for i, its in split.items() if i not in slow}
        """Rule index -> the paths its items read (fast rules)."""
        self.rule_paths = {r.index: tuple(dict.fromkeys(a.path for a in r.cond.atoms))
                           for r in rules if r.cond is not None}
        """Rule index -> every path its condition reads, in first-read order."""
        # Items with the same semantics share one test; each test carries the bits of
        # every place it is used.
        by_path: dict[str, dict[tuple[Any, ...], list[Any]]] = {}
        atoms: dict[str, list[Atom]] = {}
        for i, its in split.items():
            if i in slow:
                continue
            for c, item in enumerate(its):
                path = item.atoms[0].path
                atoms.setdefault(path, []).extend(item.atoms)
                slot = by_path.setdefault(path, {}).setdefault(_item_key(item), [item, 0])
                slot[1] |= 1 << (c * n + i)
        self.paths: dict[str, PathTable] = {
            path: PathTable(path, [(item_test(item), bits) for item, bits in found.values()],
                            self.width, bucket_spec(atoms[path]))
            for path, found in by_path.items()
        }
        self._operands = {path: _operands(found) for path, found in atoms.items()}
        """Path -> the values its conditions name (what :meth:`prefill` classes)."""

    def fresh(self) -> Tables:
        """The same tables with their own value caches (each decision point fills its own)."""
        copy = object.__new__(Tables)
        copy.__dict__.update(self.__dict__)
        copy.paths = {path: table.fresh() for path, table in self.paths.items()}
        return copy

    def prefill(self) -> None:
        """Class ahead what any request is likely to bring, so no decision computes it.

        Numeric paths: every class there is (each threshold, each gap, NaN). Other paths:
        the values their conditions name, an enum's members, both booleans and absence.
        """
        for path, table in self.paths.items():
            values = table.samples() if table.numeric else self._operands.get(path, [])
            for value in values:
                try:
                    table.classify(value)
                except TypeError:
                    continue


def _operands(atoms: list[Atom]) -> list[Any]:
    """The values a path's comparisons name, its enum's members, booleans and absence."""
    out: list[Any] = [None]
    for a in atoms:
        if a.type.kind == "enum":
            out += a.type.values
        elif a.type.kind == "bool":
            out += [True, False]
        value = a.value
        if isinstance(value, tuple) and a.op in ("in", "not_in"):
            out += value
        elif a.op in ("eq", "ne"):
            out.append(value)
    unique: dict[tuple[type, Any], Any] = {}
    for v in out:  # by type too: True and 1 are one dictionary key, not one class
        try:
            unique.setdefault((type(v), v), v)
        except TypeError:
            continue
    return list(unique.values())


def bucket_spec(atoms: list[Atom]) -> tuple[list[Any], frozenset[Any]] | None:
    """Thresholds when every comparison on a path depends only on a number's position.

    None when some comparison on the path is not with numbers (an enum, a string, a glob):
    then each distinct value is its own class.
    """
    thresholds: set[Any] = set()
    for a in atoms:
        if a.type.kind == "enum":
            return None
        if a.op == "exists":
            continue
        c = a.value
        if a.op in ("lt", "lte", "gt", "gte"):
            if family(c) != "number":
                return None
            thresholds.add(c)
        elif a.op in ("eq", "ne"):
            if c is None:
                continue
            if family(c) != "number":
                return None
            thresholds.add(c)
        elif a.op in ("in", "not_in"):
            numbers = [x for x in c if family(x) == "number"]
            if not numbers:
                return None
            thresholds.update(numbers)
        else:
            return None
    return sorted(thresholds), frozenset(thresholds)
