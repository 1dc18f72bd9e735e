"""Native targets and conditions as Cedar expressions with the same meaning, or refusals.

Each comparison keeps the native engine's three outcomes: true, false, and *cannot be
evaluated* (an absent attribute under an operator that needs a value), which Cedar reaches by
reading an entity that does not exist (``Absent::"request.amount".fail``): a Cedar policy
that errors is skipped and reported, as a native rule whose condition raised. ``&&``, ``||``
and ``!`` evaluate left to right and stop early exactly as ``all``, ``any`` and ``not`` do,
so errors propagate the same way. What Cedar cannot say with the same meaning is refused with
the reason (:class:`Refusal`); the exporter names the rule. See ``docs/cedar.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

from engine.cedar.schema import (
    ABSENT,
    AGENT,
    DATA_CLASS,
    LONG_MAX,
    LONG_MIN,
    RESOURCE,
    ROLE,
    Model,
    Slot,
    decimal_text,
    exact_decimal,
    on_grid,
    quote,
    type_of_value,
)
from engine.durations import parse_duration
from engine.policy.attributes import CATALOGUE
from engine.policy.model import AllOf, AnyOf, Compare, Condition, NotOf, Target, When

AGENT_KINDS = ("internal", "vendor_hosted", "delegated_admin", "customer_facing")


class Refusal(Exception):
    """A construct Cedar cannot express with the same meaning (the message says why)."""


def uid_text(kind: str, eid: str) -> str:
    """An entity uid in Cedar syntax: ``Agent::"support-bot"``."""
    return f"{kind}::{quote(eid)}"


def entity_set(kind: str, ids: Sequence[str]) -> str:
    """``[Kind::"a", Kind::"b"]``."""
    return "[" + ", ".join(uid_text(kind, i) for i in ids) + "]"


def expand(patterns: Sequence[str], universe: Sequence[str]) -> list[str]:
    """The declared ids any of the glob patterns match, in the universe's order."""
    return [u for u in universe if any(fnmatchcase(u, p) for p in patterns)]


# --- targets -----------------------------------------------------------------------------------


class Scope:
    """A rule's target as a Cedar scope plus the target conditions the scope cannot hold."""

    def __init__(self, model: Model, target: Target) -> None:
        sc = model.scenario
        self.principal = "principal"
        self.action = "action"
        self.resource = "resource"
        self.conditions: list[str] = []
        if target.principals is not None:
            self._principals(target.principals, [a.name for a in sc.agents],
                             [r.id for r in sc.roles])
        tools = [t.id for t in sc.tools]
        if target.tools is not None:
            chosen = expand(target.tools, tools)
            if not chosen:
                self.conditions.append("false")
            else:
                self.action = _in("action", "Action", chosen, leaf=True)
        if target.actions is not None:
            verbs = expand(target.actions, model.verbs())
            if not verbs:
                self.conditions.append("false")
            elif self.action == "action":
                self.action = _in("action", "Action", verbs)
            else:
                self.conditions.append(_in("action", "Action", verbs))
        if target.resources is not None:
            chosen = expand(target.resources, [r.id for r in sc.resources])
            if not chosen:
                self.conditions.append("false")
            elif len(chosen) == 1:
                self.resource = f"resource == {uid_text(RESOURCE, chosen[0])}"
            else:
                self.conditions.append(f"resource in {entity_set(RESOURCE, chosen)}")
        if target.data_classes is not None:
            chosen = expand(target.data_classes, [d.id for d in sc.data_classes])
            if not chosen:
                self.conditions.append("false")
            elif len(chosen) == 1 and self.resource == "resource":
                self.resource = f"resource in {uid_text(DATA_CLASS, chosen[0])}"
            else:
                self.conditions.append(_in("resource", DATA_CLASS, chosen))

    def _principals(self, patterns: Sequence[str], agents: list[str], roles: list[str]) -> None:
        split: dict[str, list[str]] = {"agent": [], "role": [], "kind": []}
        for pattern in patterns:
            prefix, sep, rest = pattern.partition(":")
            split[prefix if sep else "agent"].append(rest if sep else pattern)
        parts: list[str] = []
        scope: str | None = None
        chosen_agents = expand(split["agent"], agents) if split["agent"] else []
        chosen_roles = expand(split["role"], roles) if split["role"] else []
        kinds = expand(split["kind"], list(AGENT_KINDS)) if split["kind"] else []
        if chosen_agents:
            text = (f"principal == {uid_text(AGENT, chosen_agents[0])}"
                    if len(chosen_agents) == 1
                    else f"principal in {entity_set(AGENT, chosen_agents)}")
            parts.append(text)
            if len(chosen_agents) == 1:
                scope = text
        if chosen_roles:
            text = _in("principal", ROLE, chosen_roles)
            parts.append(text)
            if len(chosen_roles) == 1:
                scope = text
        if kinds:
            parts.append(f"principal.kind == {quote(kinds[0])}" if len(kinds) == 1 else
                         "[" + ", ".join(quote(k) for k in kinds) + "].contains(principal.kind)")
        if not parts:
            self.conditions.append("false")
        elif len(parts) == 1 and scope is not None:
            self.principal = scope
        elif len(parts) == 1:
            self.conditions.append(parts[0])
        else:
            self.conditions.append("(" + " || ".join(parts) + ")")


def _in(var: str, kind: str, ids: Sequence[str], *, leaf: bool = False) -> str:
    """``var in Kind::"a"`` (``==`` for a leaf entity), or ``var in [...]`` for several."""
    if len(ids) == 1:
        return f"{var} {'==' if leaf else 'in'} {uid_text(kind, ids[0])}"
    return f"{var} in {entity_set(kind, ids)}"


# --- conditions --------------------------------------------------------------------------------


def render_when(model: Model, when: When | None) -> str | None:
    """A ``when`` as one Cedar boolean expression (None when there is none).

    Raises:
        Refusal: for a comparison Cedar cannot express with the same meaning.
    """
    if when is None:
        return None
    if isinstance(when, tuple):
        return join(" && ", [render(model, c) for c in when])
    return render(model, when)


def join(op: str, parts: list[str]) -> str:
    """Parts joined by ``&&`` or ``||``, each parenthesised where precedence needs it."""
    if len(parts) == 1:
        return parts[0]
    return op.join(operand(op, p) for p in parts)


def operand(op: str, part: str) -> str:
    """``part`` as an operand of ``&&`` or ``||``: parenthesised where precedence needs it."""
    inner = "||" if op.strip() == "&&" else "&&"
    top = _top_level(part)
    return f"({part})" if top.startswith("if ") or f" {inner} " in top else part


def _top_level(text: str) -> str:
    """The characters of ``text`` outside strings, parentheses and brackets."""
    out: list[str] = []
    depth = 0
    in_str = escape = False
    for ch in text:
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _seconds(path: str, value: Any) -> Any:
    """Durations written as text ("5m") in seconds, as the native compiler reads them."""
    kind = CATALOGUE.get(path)
    if kind is None or not kind.duration:
        return value
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, tuple):
        return tuple(parse_duration(v) if isinstance(v, str) else v for v in value)
    return value


def negate(text: str) -> str:
    """``!text``, parenthesised unless ``text`` is one primary expression."""
    if text == "true":
        return "false"
    if text == "false":
        return "true"
    if " " in _top_level(text):
        return f"!({text})"
    return f"!{text}"


def render(model: Model, cond: Condition) -> str:
    """One condition as a Cedar expression (raises :class:`Refusal`)."""
    if isinstance(cond, AllOf):
        return join(" && ", [render(model, c) for c in cond.all])
    if isinstance(cond, AnyOf):
        return join(" || ", [render(model, c) for c in cond.any])
    if isinstance(cond, NotOf):
        return negate(render(model, cond.not_))
    assert isinstance(cond, Compare)
    return compare(model, cond)


def compare(model: Model, c: Compare) -> str:
    """One comparison (see the module docstring for how absence and errors carry over)."""
    slot = model.slot(c.attr)
    if slot is None:
        if c.attr.startswith("request.attributes."):
            name = c.attr.split(".", 2)[2]
            if name not in model.free:
                raise Refusal(f"{c.attr}: no step of the scenario sets attribute {name!r}, so "
                              "its Cedar type is unknown")
            raise Refusal(f"{c.attr}: the scenario's steps set it with different types; a "
                          "Cedar attribute has one")
        raise Refusal(f"{c.attr}: no Cedar attribute holds it")
    op, value = c.op, _seconds(c.attr, c.value)
    if op == "exists":
        return slot.present if value else negate(slot.present)
    if op in ("eq", "ne"):
        if value is None:
            return slot.present if op == "ne" else negate(slot.present)
        hit = _equal(slot, value)
        return _maybe(slot, hit) if op == "eq" else negate(_maybe(slot, hit))
    if op in ("in", "not_in"):
        hit = _member(slot, value)
        return _maybe(slot, hit) if op == "in" else negate(_maybe(slot, hit))
    if op == "contains":
        return _need(slot, _contains(slot, value))
    if op == "glob":
        return _need(slot, _glob(slot, value))
    return _need(slot, _ordered(slot, op, value))


def _maybe(slot: Slot, present: str) -> str:
    """``present`` where the attribute is present; false where it is absent (no error)."""
    if (slot.required and not slot.in_resource) or present == "false":
        return present
    return join(" && ", [slot.present, present])


def _need(slot: Slot, present: str) -> str:
    """``present`` where the attribute is present; an evaluation error where it is absent."""
    if slot.required and not slot.in_resource:
        return present
    return f"if {slot.present} then {present} else {uid_text(ABSENT, slot.path)}.fail"


def _family(slot: Slot) -> str:
    return {"String": "str", "Long": "number", "Decimal": "number", "Bool": "bool",
            "Set": "list"}[slot.type]


def _value_family(value: Any) -> str:
    kind = type_of_value(value)
    return {"String": "str", "Long": "number", "Decimal": "number", "Bool": "bool"}.get(
        kind or "", "list" if isinstance(value, tuple) else "other")


def _literal(slot: Slot, value: Any) -> str | None:
    """A constant as a Cedar literal of the slot's type; None when no value of it is equal.

    Raises:
        Refusal: for a number Cedar cannot hold exactly.
    """
    if slot.type == "String":
        return quote(value) if not slot.values or value in slot.values else None
    if slot.type == "Bool":
        return "true" if value else "false"
    exact = exact_decimal(value)
    assert exact is not None
    if slot.type == "Long":
        if exact != exact.to_integral_value():
            return None  # a whole number never equals it
        return _long(int(exact))
    if not on_grid(exact):
        raise Refusal(f"{slot.path}: {value!r} has more than three decimal places (or is too "
                      "large); Cedar compares decimals of the scenario's precision exactly "
                      "only against constants on the 0.001 grid")
    return f'decimal("{decimal_text(exact)}")'


def _long(number: int) -> str:
    if not LONG_MIN < number <= LONG_MAX:
        raise Refusal(f"{number} is outside Cedar's 64-bit integers")
    return str(number)


def _same_family(slot: Slot, value: Any) -> bool:
    return _value_family(value) == _family(slot)


def _equal(slot: Slot, value: Any) -> str:
    if slot.type == "Set":
        raise Refusal(f"{slot.path} eq/ne a list: agentrange compares lists in order, Cedar "
                      "sets have none")
    if not _same_family(slot, value):
        raise Refusal(f"{slot.path} is a {slot.type} in Cedar; comparing it with {value!r} "
                      "fails on every request that has it")
    lit = _literal(slot, value)
    return "false" if lit is None else f"{slot.expr} == {lit}"


def _member(slot: Slot, values: tuple[Any, ...]) -> str:
    same = [v for v in values if _same_family(slot, v)]
    if not same:
        raise Refusal(f"{slot.path} is a {slot.type} in Cedar and no value of "
                      f"{list(values)!r} is one: the comparison fails on every request that "
                      "has it")
    lits = list(dict.fromkeys(lit for v in same if (lit := _literal(slot, v)) is not None))
    if not lits:
        return "false"
    if len(lits) == 1:
        return f"{slot.expr} == {lits[0]}"
    return "[" + ", ".join(lits) + f"].contains({slot.expr})"


def _contains(slot: Slot, value: Any) -> str:
    if slot.type == "Set":
        return f"{slot.expr}.contains({quote(value)})" if isinstance(value, str) else "false"
    if slot.type == "String" and isinstance(value, str):
        return f"{slot.expr} like {_pattern('*' + _escape(value) + '*')}"
    raise Refusal(f"{slot.path} contains {value!r}: contains needs a list, or a string and a "
                  f"string operand ({slot.path} is a {slot.type} in Cedar)")


def _escape(text: str) -> str:
    return text.replace("*", "\0")


def _pattern(text: str) -> str:
    """A Cedar ``like`` pattern: ``*`` a wildcard, NUL a literal star."""
    return quote(text).replace("\\u{0}", "\\*")


def _glob(slot: Slot, pattern: str) -> str:
    if slot.type != "String":
        raise Refusal(f"{slot.path} glob: {slot.path} is a {slot.type} in Cedar, so the glob "
                      "fails on every request that has it")
    if "?" in pattern or "[" in pattern:
        raise Refusal(f"{slot.path} glob {pattern!r}: Cedar's like has only the * wildcard "
                      "(no ? or [...])")
    return f"{slot.expr} like {_pattern(pattern)}"


def _ordered(slot: Slot, op: str, value: Any) -> str:
    if slot.values:
        if not slot.ordered:
            raise Refusal(f"{slot.path} {op}: {slot.path} is not ordered")
        rank = slot.values.index(value)
        keep = {"lt": lambda i: i < rank, "lte": lambda i: i <= rank,
                "gt": lambda i: i > rank, "gte": lambda i: i >= rank}[op]
        members = [m for i, m in enumerate(slot.values) if keep(i)]
        if not members:
            return "false"
        if len(members) == 1:
            return f"{slot.expr} == {quote(members[0])}"
        return "[" + ", ".join(quote(m) for m in members) + f"].contains({slot.expr})"
    if slot.type not in ("Long", "Decimal") or not _same_family(slot, value):
        raise Refusal(f"{slot.path} {op} {value!r}: {slot.path} is a {slot.type} in Cedar, so "
                      "the comparison fails on every request that has it")
    exact = exact_decimal(value)
    assert exact is not None
    if slot.type == "Long":
        # A whole number compares with a fraction as with its floor or ceiling.
        if op in ("lt", "gte"):
            bound = math.ceil(exact)
        else:
            bound = math.floor(exact)
        symbol = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
        return f"{slot.expr} {symbol} {_long(int(bound))}"
    lit = _literal(slot, value)
    method = {"lt": "lessThan", "lte": "lessThanOrEqual", "gt": "greaterThan",
              "gte": "greaterThanOrEqual"}[op]
    return f"{slot.expr}.{method}({lit})"


__all__ = ["Refusal", "Scope", "compare", "expand", "join", "negate", "operand", "render",
           "render_when", "uid_text"]
