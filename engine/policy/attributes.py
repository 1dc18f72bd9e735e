"""The attribute catalogue: every path a condition may name, its type, and how to read it."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine.model import SENSITIVITY_RANK

Kind = Literal["str", "number", "bool", "list", "enum", "any"]

NAMESPACES: tuple[str, ...] = ("principal", "action", "tool", "resource", "request", "task",
                               "token", "session", "chain", "time", "counter")


@dataclass(frozen=True)
class AttrType:
    """The declared type of an attribute path.

    Attributes:
        kind: str, number, bool, list (of strings), enum (one of ``values``) or any scalar.
        values: The members of an enum, in order when ``ordered``.
        ordered: lt/lte/gt/gte compare an enum by the position of its members.
        duration: A number of seconds; condition operands may be written as "5m".
    """

    kind: Kind
    values: tuple[str, ...] = ()
    ordered: bool = False
    duration: bool = False

    def describe(self) -> str:
        """How the type reads in error messages."""
        if self.kind == "enum":
            sep = " < " if self.ordered else ", "
            return f"{'ordered ' if self.ordered else ''}enum ({sep.join(self.values)})"
        if self.kind == "number" and self.duration:
            return "number (seconds)"
        return {"str": "string", "list": "list of strings", "any": "any scalar"}.get(
            self.kind, self.kind)


STR = AttrType("str")
NUM = AttrType("number")
SECONDS = AttrType("number", duration=True)
BOOL = AttrType("bool")
LIST = AttrType("list")
ANY = AttrType("any")

SENSITIVITY = AttrType("enum", tuple(sorted(SENSITIVITY_RANK, key=SENSITIVITY_RANK.__getitem__)),
                       ordered=True)
RISK = AttrType("enum", ("low", "medium", "high", "critical"), ordered=True)
EGRESS = AttrType("enum", ("none", "internal", "external"), ordered=True)
AGENT_KIND = AttrType("enum", ("internal", "vendor_hosted", "delegated_admin", "customer_facing"))
DESTINATION = AttrType("enum", ("internal", "external"))
TOKEN_MODE = AttrType("enum", ("static", "jit"))

CATALOGUE: dict[str, AttrType] = {
    "principal.id": STR,
    "principal.spiffe_id": STR,
    "principal.kind": AGENT_KIND,
    "principal.roles": LIST,
    "principal.vendor": STR,
    "principal.trust_domain": STR,
    "principal.owners.business": STR,
    "principal.owners.security": STR,
    "principal.owners.incident": STR,
    "action": STR,
    "tool.id": STR,
    "tool.action": STR,
    "tool.egress": EGRESS,
    "tool.customer_facing": BOOL,
    "tool.risk": RISK,
    "resource.id": STR,
    "resource.system": STR,
    "resource.data_class": STR,
    "resource.sensitivity": SENSITIVITY,
    "resource.records": NUM,
    "request.records": NUM,
    "request.amount": NUM,
    "request.destination": DESTINATION,
    "request.recipient": STR,
    "task.id": STR,
    "task.intent": STR,
    "task.approved": BOOL,
    "task.step": NUM,
    "task.run": STR,
    "token.valid": BOOL,
    "token.reason": STR,
    "token.jti": STR,
    "token.mode": TOKEN_MODE,
    "token.task_id": STR,
    "token.ttl_remaining": SECONDS,
    "token.age": SECONDS,
    "token.scope": LIST,
    "token.sender_constrained": BOOL,
    "token.chain_depth": NUM,
    "token.issuer": STR,
    "token.trust_domain": STR,
    "session.id": STR,
    "chain.id": STR,
    "chain.origin": STR,
    "chain.actors": LIST,
    "chain.depth": NUM,
    "time.now": SECONDS,
    "time.hour": NUM,
    "time.weekday": NUM,
}
"""Every fixed attribute path and its type. Besides these: ``request.attributes.<name>``
(any scalar: the step's free attributes) and ``counter.<id>`` (a number) for declared
counters."""

FREE_PREFIX = "request.attributes."
COUNTER_PREFIX = "counter."


def attribute_type(path: str, counters: frozenset[str] | set[str]) -> AttrType | None:
    """The type of ``path``, or None when no such attribute exists."""
    found = CATALOGUE.get(path)
    if found is not None:
        return found
    if path.startswith(FREE_PREFIX) and len(path) > len(FREE_PREFIX):
        return ANY
    if path.startswith(COUNTER_PREFIX) and path[len(COUNTER_PREFIX):] in counters:
        return NUM
    return None


def unknown_path_hint(path: str, counters: frozenset[str] | set[str]) -> str:
    """What to say about an unknown path: a close match or the valid namespace."""
    known = [*CATALOGUE, *(COUNTER_PREFIX + c for c in sorted(counters))]
    close = difflib.get_close_matches(path, known, n=1)
    if close:
        return f"a known attribute path; did you mean {close[0]!r}?"
    if path.startswith(COUNTER_PREFIX):
        declared = ", ".join(sorted(counters)) or "none declared"
        return f"a declared counter (counter.<id>; counters: {declared})"
    if path.startswith("request.attributes"):
        return "request.attributes.<name> for a step's free attribute"
    ns = path.split(".", 1)[0]
    if ns in NAMESPACES:
        fields = sorted(p.split(".", 1)[1] for p in CATALOGUE if p.startswith(ns + "."))
        return f"a known attribute of {ns}: {', '.join(fields)}"
    return f"an attribute path in one of the namespaces {', '.join(NAMESPACES)}"


Getter = Callable[[Any, Mapping[str, Any]], Any]
"""Reads one attribute from a request (and the counter values); None when absent."""


def getter(path: str) -> Getter:
    """A function reading ``path`` from a :class:`~engine.policy.request.Request`.

    Absent values (missing namespace, missing key, explicit None) all read as None.
    """
    if path == "action":
        return lambda req, cv: req.action
    ns, _, rest = path.partition(".")
    if ns == "counter":
        return lambda req, cv: cv.get(rest)
    # Free attribute names may contain dots: split off only the "attributes" level.
    keys = rest.split(".", 1) if path.startswith(FREE_PREFIX) else rest.split(".")
    if len(keys) == 1:
        key = keys[0]

        def get1(req: Any, cv: Mapping[str, Any]) -> Any:
            m = getattr(req, ns)
            if m is None:
                return None
            return m.get(key)

        return get1
    first, second = keys[0], keys[1]

    def get2(req: Any, cv: Mapping[str, Any]) -> Any:
        m = getattr(req, ns)
        if m is None:
            return None
        inner = m.get(first)
        if inner is None or not isinstance(inner, Mapping):
            return None
        return inner.get(second)

    return get2

