"""The Cedar data model of a scenario: entity types, the request context and value encoding.

Every attribute path a native condition can read (:data:`engine.policy.attributes.CATALOGUE`,
``request.attributes.<name>``, ``counter.<id>``) has one :class:`Slot`: where it lives in a
Cedar request (an entity attribute or a field of ``context``), its Cedar type and whether the
simulator always supplies it. The schema (:func:`schema_json`), the exporter, the import check
and the request encoder (:mod:`engine.cedar.context`) all read this one table, so they cannot
disagree. The mapping is documented in ``docs/cedar.md``.

Numbers: counts (records, steps, depths, hours) are Cedar ``Long``; amounts and seconds are
``decimal``. Cedar decimals hold four fractional digits, so a number is encoded exactly when it
is on the 0.001 grid and otherwise as the midpoint of its 0.001 interval (``12.3456789`` ->
``12.3455``): compared with any constant on the 0.001 grid -- the only constants the exporter
accepts -- the encoded value orders exactly as the number does.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine.model import DelegateStep, Scenario, ToolStep
from engine.policy.attributes import (
    AGENT_KIND,
    CATALOGUE,
    COUNTER_PREFIX,
    DESTINATION,
    EGRESS,
    FREE_PREFIX,
    RISK,
    SENSITIVITY,
    TOKEN_MODE,
    AttrType,
)

AGENT, ROLE, TOOL, RESOURCE = "Agent", "Role", "Tool", "Resource"
SYSTEM, DATA_CLASS, ABSENT = "System", "DataClass", "Absent"
ENTITY_TYPES = (AGENT, ROLE, TOOL, RESOURCE, SYSTEM, DATA_CLASS, ABSENT)

CedarType = Literal["String", "Long", "Decimal", "Bool", "Set"]
"""Cedar types an attribute may have (``Set`` is a set of strings)."""

GRID = decimal.Decimal("0.001")
HALF = decimal.Decimal("0.0005")
DECIMAL_LIMIT = decimal.Decimal("900000000000000")
"""Cedar decimals stop at about 9.22e14; numbers this large or larger are not encoded."""
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = frozenset({"true", "false", "if", "then", "else", "in", "is", "like", "has",
                       "permit", "forbid", "when", "unless", "principal", "action",
                       "resource", "context", "__cedar"})


@dataclass(frozen=True)
class Slot:
    """Where one native attribute path lives in a Cedar request.

    Attributes:
        path: The native path (``request.amount``).
        holder: The Cedar expression holding it (``context.request``, ``principal``).
        attr: Its attribute name there.
        type: Its Cedar type.
        required: The simulator always supplies it, so the schema declares it required and
            conditions read it without a presence test.
        values: The members of an enum (in order when ``ordered``), else empty.
        ordered: lt/lte/gt/gte compare the enum by member position.
        in_resource: The attribute of the request's resource, present only when the call
            touches one (``resource is Resource``).
    """

    path: str
    holder: str
    attr: str
    type: CedarType
    required: bool = True
    values: tuple[str, ...] = ()
    ordered: bool = False
    in_resource: bool = False

    @property
    def expr(self) -> str:
        """The Cedar expression reading the attribute."""
        return access(self.holder, self.attr)

    @property
    def present(self) -> str:
        """A Cedar expression true exactly when the attribute is present."""
        if self.in_resource:
            return f"resource is {RESOURCE}"
        if self.required:
            return "true"
        return f"{self.holder} has {attr_name(self.attr)}"


def attr_name(name: str) -> str:
    """An attribute name as Cedar writes it after ``has``: bare, or a quoted string."""
    return name if _IDENT.match(name) and name not in _RESERVED else quote(name)


def access(holder: str, name: str) -> str:
    """``holder.name``, or ``holder["name"]`` when the name is not a Cedar identifier."""
    if _IDENT.match(name) and name not in _RESERVED:
        return f"{holder}.{name}"
    return f"{holder}[{quote(name)}]"


def quote(text: str) -> str:
    """A Cedar string literal."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _enum(t: AttrType) -> tuple[tuple[str, ...], bool]:
    return t.values, t.ordered


def _fixed_slots() -> dict[str, Slot]:
    s: dict[str, Slot] = {}

    def add(path: str, holder: str, attr: str, kind: CedarType, required: bool = True,
            enum: AttrType | None = None, in_resource: bool = False) -> None:
        values, ordered = _enum(enum) if enum is not None else ((), False)
        s[path] = Slot(path, holder, attr, kind, required, values, ordered, in_resource)

    for name in ("id", "spiffe_id", "trust_domain"):
        add(f"principal.{name}", "principal", name, "String")
    add("principal.kind", "principal", "kind", "String", enum=AGENT_KIND)
    add("principal.roles", "principal", "roles", "Set")
    add("principal.vendor", "principal", "vendor", "String", required=False)
    for name in ("business", "security", "incident"):
        add(f"principal.owners.{name}", "principal.owners", name, "String", required=False)
    add("action", "context.tool", "action", "String")
    add("tool.id", "context.tool", "id", "String")
    add("tool.action", "context.tool", "action", "String")
    add("tool.egress", "context.tool", "egress", "String", enum=EGRESS)
    add("tool.customer_facing", "context.tool", "customer_facing", "Bool")
    add("tool.risk", "context.tool", "risk", "String", enum=RISK)
    for name in ("id", "system", "data_class"):
        add(f"resource.{name}", "resource", name, "String", in_resource=True)
    add("resource.sensitivity", "resource", "sensitivity", "String", enum=SENSITIVITY,
        in_resource=True)
    add("resource.records", "resource", "records", "Long", in_resource=True)
    add("request.records", "context.request", "records", "Long")
    add("request.amount", "context.request", "amount", "Decimal", required=False)
    add("request.destination", "context.request", "destination", "String", required=False,
        enum=DESTINATION)
    add("request.recipient", "context.request", "recipient", "String", required=False)
    for name in ("id", "intent", "run"):
        add(f"task.{name}", "context.task", name, "String")
    add("task.approved", "context.task", "approved", "Bool")
    add("task.step", "context.task", "step", "Long")
    add("token.valid", "context.token", "valid", "Bool")
    for name in ("reason", "jti", "task_id", "issuer", "trust_domain"):
        add(f"token.{name}", "context.token", name, "String", required=False)
    add("token.mode", "context.token", "mode", "String", required=False, enum=TOKEN_MODE)
    add("token.ttl_remaining", "context.token", "ttl_remaining", "Decimal", required=False)
    add("token.age", "context.token", "age", "Decimal", required=False)
    add("token.scope", "context.token", "scope", "Set", required=False)
    add("token.sender_constrained", "context.token", "sender_constrained", "Bool",
        required=False)
    add("token.chain_depth", "context.token", "chain_depth", "Long", required=False)
    add("session.id", "context.session", "id", "String")
    for name in ("id", "origin"):
        add(f"chain.{name}", "context.chain", name, "String")
    add("chain.actors", "context.chain", "actors", "Set")
    add("chain.depth", "context.chain", "depth", "Long")
    add("time.now", "context.time", "now", "Decimal")
    add("time.hour", "context.time", "hour", "Long")
    add("time.weekday", "context.time", "weekday", "Long")
    return s


FIXED: Mapping[str, Slot] = _fixed_slots()
assert set(FIXED) == set(CATALOGUE), "every catalogue path has a Cedar slot"

CONTEXT_FIELDS = ("tool", "request", "task", "token", "session", "chain", "time", "counter")
"""The fields of a Cedar request's ``context``, in order."""


def type_of_value(value: Any) -> CedarType | None:
    """The Cedar type a scalar from a scenario file takes (None for anything else)."""
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Long"
    if isinstance(value, float):
        return "Decimal"
    if isinstance(value, str):
        return "String"
    return None


def _steps(scenario: Scenario) -> Iterable[ToolStep]:
    for agent in scenario.agents:
        for task in agent.tasks:
            for step in task.steps:
                if not isinstance(step, DelegateStep):
                    yield step
    for incident in scenario.incidents:
        for step in incident.plan:
            if not isinstance(step, DelegateStep):
                yield step


def free_attributes(scenario: Scenario) -> dict[str, CedarType | None]:
    """The free request attributes the scenario's steps set, with their one Cedar type.

    Integers and fractions together are decimals; any other mix of types gives None (the
    attribute has no single Cedar type, so no Cedar policy can read it).
    """
    seen: dict[str, set[CedarType]] = {}
    for step in _steps(scenario):
        for name, value in step.attributes.items():
            kind = type_of_value(value)
            seen.setdefault(name, set()).add(kind if kind is not None else "String")
    out: dict[str, CedarType | None] = {}
    for name, kinds in sorted(seen.items()):
        if kinds == {"Long", "Decimal"}:
            out[name] = "Decimal"
        elif len(kinds) == 1:
            out[name] = next(iter(kinds))
        else:
            out[name] = None
    return out


@dataclass(frozen=True)
class Model:
    """The Cedar data model of one scenario and one policy's counters.

    Attributes:
        scenario: The scenario.
        free: Free request attributes the scenario sets, with their Cedar types (None: mixed).
        counters: Counter id -> its Cedar type (``Long`` for counts, else by its measure).
    """

    scenario: Scenario
    free: Mapping[str, CedarType | None]
    counters: Mapping[str, CedarType]

    def slot(self, path: str) -> Slot | None:
        """The slot of a native attribute path; None when Cedar has none for it."""
        found = FIXED.get(path)
        if found is not None:
            return found
        if path.startswith(FREE_PREFIX):
            name = path[len(FREE_PREFIX):]
            kind = self.free.get(name)
            if kind is None:
                return None
            return Slot(path, "context.request.attributes", name, kind, required=False)
        if path.startswith(COUNTER_PREFIX):
            cid = path[len(COUNTER_PREFIX):]
            ckind = self.counters.get(cid)
            if ckind is None:
                return None
            return Slot(path, "context.counter", cid, ckind, required=False)
        return None

    def slots(self) -> list[Slot]:
        """Every slot: the fixed ones, the free attributes with one type, the counters."""
        out = list(FIXED.values())
        out += [s for n in self.free if (s := self.slot(FREE_PREFIX + n)) is not None]
        out += [s for c in self.counters if (s := self.slot(COUNTER_PREFIX + c)) is not None]
        return out

    def verbs(self) -> list[str]:
        """The tools' actions (``read``, ``send``...): Cedar action groups."""
        return sorted({t.action for t in self.scenario.tools})


def counter_type(measure: str) -> CedarType:
    """The Cedar type of a counter by what it measures (``count`` or a numeric path)."""
    if measure == "count":
        return "Long"
    slot = FIXED.get(measure)
    return "Long" if slot is not None and slot.type == "Long" else "Decimal"


def model_of(scenario: Scenario, counters: Iterable[tuple[str, str]] = ()) -> Model:
    """The data model of a scenario with a policy's counters ((id, measure) pairs)."""
    return Model(scenario, free_attributes(scenario),
                 {cid: counter_type(measure) for cid, measure in counters})


# --- the schema ------------------------------------------------------------------------------


def _type_json(kind: CedarType, required: bool = True) -> dict[str, Any]:
    body: dict[str, Any]
    if kind == "Decimal":
        body = {"type": "Extension", "name": "decimal"}
    elif kind == "Set":
        body = {"type": "Set", "element": {"type": "String"}}
    elif kind == "Bool":
        body = {"type": "Boolean"}
    else:
        body = {"type": kind}
    if not required:
        body["required"] = False
    return body


def _record(slots: Iterable[Slot]) -> dict[str, Any]:
    return {"type": "Record", "attributes": {
        s.attr: _type_json(s.type, s.required or s.in_resource) for s in slots}}


def schema_json(model: Model) -> dict[str, Any]:
    """The Cedar JSON schema of the model (the empty namespace).

    Agents are members of their roles, resources of their system and data class; one action
    per tool, each a member of its verb's action group; every request has the same context.
    ``Absent`` has no entities: reading one fails a policy, which is how an exported
    condition on an absent attribute fails closed as the native engine's does.
    """
    slots = model.slots()

    def under(holder: str) -> list[Slot]:
        return [s for s in slots if s.holder == holder]

    principal = _record([s for s in under("principal")])
    principal["attributes"]["owners"] = _record(under("principal.owners"))
    context: dict[str, Any] = {"type": "Record", "attributes": {
        "tool": {"type": "Entity", "name": TOOL}}}
    for name in CONTEXT_FIELDS[1:]:
        record = _record(under(f"context.{name}"))
        if name == "request":
            record["attributes"]["attributes"] = _record(under("context.request.attributes"))
        context["attributes"][name] = record
    tool_slots = [s for s in under("context.tool") if s.path != "action"]
    actions: dict[str, Any] = {verb: {} for verb in model.verbs()}
    for tool in model.scenario.tools:
        actions[tool.id] = {
            "memberOf": [{"id": tool.action}],
            "appliesTo": {"principalTypes": [AGENT], "resourceTypes": [RESOURCE, TOOL],
                          "context": {"type": "Context"}},
        }
    return {"": {
        "commonTypes": {"Context": context},
        "entityTypes": {
            AGENT: {"memberOfTypes": [ROLE], "shape": principal},
            ROLE: {},
            TOOL: {"shape": _record(tool_slots)},
            RESOURCE: {"memberOfTypes": [SYSTEM, DATA_CLASS], "shape": _record(under("resource"))},
            SYSTEM: {},
            DATA_CLASS: {"shape": _record([Slot("", "", "sensitivity", "String")])},
            ABSENT: {"shape": _record([Slot("", "", "fail", "Bool")])},
        },
        "actions": actions,
    }}


# --- numbers ---------------------------------------------------------------------------------


def exact_decimal(value: Any) -> decimal.Decimal | None:
    """A number as the decimal its shortest repr spells (None when not a finite number).

    Floats compare as their shortest reprs do (distinct floats have distinct, ordered reprs),
    and ints exactly, so the decimals order as the numbers.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return decimal.Decimal(repr(value))
    return decimal.Decimal(value)


def on_grid(value: decimal.Decimal) -> bool:
    """Whether a decimal is a multiple of 0.001 within Cedar's decimal range."""
    return abs(value) < DECIMAL_LIMIT and value == value.quantize(GRID, decimal.ROUND_FLOOR)


def decimal_text(value: decimal.Decimal) -> str:
    """A decimal as a Cedar ``decimal("...")`` argument (one to four fractional digits)."""
    text = format(value.quantize(decimal.Decimal("0.0001")), "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0") or "0"
    return f"{whole}.{frac}"


def encode_decimal(value: Any) -> str | None:
    """The Cedar decimal text a number is encoded as (None: not a number, or out of range).

    On the 0.001 grid the number itself; between two grid points, their midpoint.
    """
    exact = exact_decimal(value)
    if exact is None or abs(exact) >= DECIMAL_LIMIT:
        return None
    low = exact.quantize(GRID, decimal.ROUND_FLOOR)
    return decimal_text(low if low == exact else low + HALF)


def encode_long(value: Any) -> int | None:
    """A number as a Cedar Long (None when it is not an integer in range)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and LONG_MIN <= value <= LONG_MAX:
        return value
    return None
