"""The one scope type: which tools and data classes a credential allows.

The broker puts it in a token's ``scope`` claim, the verifier checks requests against it, the
simulator computes it per task, role or profile, and the blast radius follows it to the
resources it reaches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.identity.errors import ScopeError

_SCOPE_ID = re.compile(r"[^\s*:][^\s]*")


def _check_ids(kind: str, values: frozenset[str]) -> None:
    for value in values:
        if value != "*" and (not isinstance(value, str) or _SCOPE_ID.fullmatch(value) is None):
            raise ScopeError(f"invalid {kind} in scope: {value!r}")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a token allows: tools and data classes; ``*`` in either set means all of them.

    Rendered in the ``scope`` claim as space-separated ``tool:<id>`` and ``data:<class>``
    entries (``tool:*``, ``data:*``), or ``*`` alone when both sets are unlimited.

    Attributes:
        tools: Tool ids, or ``{"*"}`` for every tool.
        data_classes: Data class ids, or ``{"*"}`` for every data class.
        entries: The claim entries, sorted (the ``token.scope`` attribute).
        claim: The ``scope`` claim string.
    """

    tools: frozenset[str] = frozenset()
    data_classes: frozenset[str] = frozenset()
    entries: tuple[str, ...] = field(init=False, repr=False, compare=False)
    claim: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tools, frozenset):
            object.__setattr__(self, "tools", frozenset(self.tools))
        if not isinstance(self.data_classes, frozenset):
            object.__setattr__(self, "data_classes", frozenset(self.data_classes))
        _check_ids("tool", self.tools)
        _check_ids("data class", self.data_classes)
        all_tools = "*" in self.tools
        all_data = "*" in self.data_classes
        if all_tools and all_data:
            entries: tuple[str, ...] = ("*",)
        else:
            tools = ["tool:*"] if all_tools else sorted(f"tool:{t}" for t in self.tools)
            data = ["data:*"] if all_data else sorted(f"data:{d}" for d in self.data_classes)
            entries = (*tools, *data)
        object.__setattr__(self, "entries", entries)
        object.__setattr__(self, "claim", " ".join(entries))

    @classmethod
    def of(cls, tools: Iterable[str] = (), data_classes: Iterable[str] = ()) -> Scope:
        """A scope from any iterables of tool ids and data classes."""
        return cls(frozenset(tools), frozenset(data_classes))

    @classmethod
    def union(cls, scopes: Iterable[Scope]) -> Scope:
        """The scope that allows what any of ``scopes`` allows (one credential for several)."""
        tools: set[str] = set()
        data: set[str] = set()
        for scope in scopes:
            tools |= scope.tools
            data |= scope.data_classes
        return cls(frozenset(tools), frozenset(data))

    @classmethod
    def everything(cls) -> Scope:
        """The unlimited scope ``*`` (what an over-broad static profile grants)."""
        return EVERYTHING

    @classmethod
    def parse(cls, claim: str) -> Scope:
        """Parse a ``scope`` claim.

        Raises:
            ScopeError: an entry is neither ``*``, ``tool:<id>`` nor ``data:<class>``.
        """
        if not isinstance(claim, str):
            raise ScopeError("scope claim must be a string")
        tools: set[str] = set()
        data: set[str] = set()
        if claim:
            for entry in claim.split(" "):
                if entry == "*":
                    tools.add("*")
                    data.add("*")
                elif entry.startswith("tool:"):
                    tools.add(entry[5:])
                elif entry.startswith("data:"):
                    data.add(entry[5:])
                else:
                    raise ScopeError(f"scope entry {entry[:40]!r} is not tool:<id> or data:<class>")
        return cls(frozenset(tools), frozenset(data))

    @property
    def is_wildcard(self) -> bool:
        """True when the scope grants all tools or all data classes (over-broad)."""
        return "*" in self.tools or "*" in self.data_classes

    def covers(self, tool: str, data_class: str | None = None) -> bool:
        """Whether a call of ``tool`` touching ``data_class`` (None: no data) is in scope."""
        tools = self.tools
        if tool not in tools and "*" not in tools:
            return False
        if data_class is None:
            return True
        data = self.data_classes
        return data_class in data or "*" in data

    def intersect(self, other: Scope) -> Scope:
        """The scope both allow (delegation attenuation)."""
        key = (self, other)
        found = _MEETS.get(key)
        if found is None:
            # Every delegated task run asks again for the same few pairs: build each once.
            if len(_MEETS) >= _MEETS_SIZE:
                _MEETS.clear()
            found = _MEETS[key] = Scope(
                _meet(self.tools, other.tools), _meet(self.data_classes, other.data_classes)
            )
        return found


def _meet(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    if "*" in a:
        return b
    if "*" in b:
        return a
    return a & b


_MEETS: dict[tuple[Scope, Scope], Scope] = {}
_MEETS_SIZE = 4096


EVERYTHING = Scope(frozenset({"*"}), frozenset({"*"}))
"""The unlimited scope ``*`` (what an over-broad static profile grants)."""
