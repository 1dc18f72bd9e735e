"""The policy document model: rules, sequences, counters and delegation settings (pydantic).

Strict, ``extra="forbid"`` and frozen like the scenario model. This module checks the shape
of a document; :mod:`engine.policy.compiler` checks it against a scenario (attribute paths,
operator types, declared tools, roles, agents and data classes) and compiles it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from engine.fields import Base, Glob, Id, PositiveDuration, Scalar

EnvelopeName = Literal["business", "security", "legal"]
EffectName = Literal["allow", "deny", "require_approval"]
Mode = Literal["enforce", "shadow"]
Operator = Literal["eq", "ne", "in", "not_in", "contains", "lt", "lte", "gt", "gte", "glob",
                   "exists"]
OPERATORS: tuple[str, ...] = ("eq", "ne", "in", "not_in", "contains", "lt", "lte", "gt", "gte",
                              "glob", "exists")

AttrPath = Annotated[
    str, StringConstraints(pattern=r"^[a-z]+(\.[A-Za-z0-9_-]+)*$", min_length=1, max_length=200)
]
"""An attribute path such as ``request.records`` or ``counter.pii-records``."""

PrincipalPattern = Annotated[
    str, StringConstraints(pattern=r"^((agent|role|kind):)?[A-Za-z0-9*?\[\]._-]+$",
                           max_length=140)
]
"""``role:<glob>``, ``kind:<glob>``, ``agent:<glob>`` or a bare agent-name glob."""

Value = Scalar | None | tuple[Scalar, ...]

RESERVED_PREFIX = "delegation."
"""Rule ids starting with this are reserved for the engine's built-in limits."""


class Target(Base):
    """Which requests a rule is about. Every facet given must match; omitted = any.

    Within a facet the patterns are alternatives (any may match); patterns are globs
    (``*``, ``?``, ``[...]``) over the ids the scenario declares.
    """

    principals: tuple[PrincipalPattern, ...] | None = Field(default=None, min_length=1)
    """Agent names, ``role:<id>`` or ``kind:<agent kind>``."""
    actions: tuple[Glob, ...] | None = Field(default=None, min_length=1)
    tools: tuple[Glob, ...] | None = Field(default=None, min_length=1)
    resources: tuple[Glob, ...] | None = Field(default=None, min_length=1)
    """Resource ids; a request touching no resource never matches this facet."""
    data_classes: tuple[Glob, ...] | None = Field(default=None, min_length=1)
    """Data class ids of the resource; a request touching no resource never matches."""


class Compare(Base):
    """One typed comparison: ``{attr: <path>, <operator>: <value>}``, exactly one operator."""

    attr: AttrPath
    eq: Value = None
    ne: Value = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Scalar, ...] | None = None
    contains: Scalar | None = None
    lt: Scalar | None = None
    lte: Scalar | None = None
    gt: Scalar | None = None
    gte: Scalar | None = None
    glob: str | None = None
    exists: bool | None = None

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _one_operator(cls, data: Any) -> Any:
        if isinstance(data, dict):
            ops = [k for k in data if k in OPERATORS]
            if len(ops) != 1:
                found = ", ".join(ops) if ops else "none"
                raise ValueError(f"exactly one operator of {', '.join(OPERATORS)} "
                                 f"(found {found})")
        return data

    @property
    def op(self) -> str:
        """The operator used."""
        for name in OPERATORS:
            field = "in_" if name == "in" else name
            if field in self.model_fields_set:
                return name
        raise AssertionError("validated to have one operator")

    @property
    def value(self) -> Any:
        """The operand (``None`` is a valid operand of ``eq``/``ne``)."""
        op = self.op
        return getattr(self, "in_" if op == "in" else op)


class AllOf(Base):
    """Every condition holds (``all: [...]``)."""

    all: tuple[Condition, ...] = Field(min_length=1)


class AnyOf(Base):
    """At least one condition holds (``any: [...]``)."""

    any: tuple[Condition, ...] = Field(min_length=1)


class NotOf(Base):
    """The condition does not hold (``not: {...}``)."""

    not_: Condition = Field(alias="not")

    model_config = ConfigDict(populate_by_name=True)


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "compare"
    kinds: dict[type, str] = {Compare: "compare", AllOf: "all", AnyOf: "any", NotOf: "not"}
    return kinds.get(type(value))


Condition = Annotated[
    Annotated[Compare, Tag("compare")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(_condition_kind, custom_error_type="condition",
                  custom_error_message="a condition: {attr: <path>, <operator>: <value>}, "
                                       "{all: [...]}, {any: [...]} or {not: {...}}"),
]

When = Annotated[
    Annotated[Condition, Tag("condition")] | Annotated[tuple[Condition, ...], Tag("list")],
    Discriminator(lambda v: "list" if isinstance(v, list | tuple) else "condition"),
]
"""A condition, or a list of conditions that must all hold."""


class Rule(Base):
    """A rule: whose envelope, what it does, to which requests, and under which conditions."""

    id: Id
    description: str = ""
    envelope: EnvelopeName
    effect: EffectName
    mode: Mode = "enforce"
    """``shadow``: evaluated and reported, never enforced."""
    target: Target = Target()
    when: When | None = None
    obligations: tuple[Id, ...] = ()
    """Duties attached to the decision when this rule produces its effect."""
    frameworks: tuple[str, ...] = ()


class SequenceStep(Base):
    """One step pattern of a sequence: a target and optional conditions."""

    target: Target = Target()
    when: When | None = None
    label: str = ""


class SequenceRule(Base):
    """A multi-step escalation chain applied to the request that would complete it.

    Earlier steps are matched against executed requests (allowed, or committed after
    approval) in order, within ``window`` of the first step, in one scope.
    """

    id: Id
    description: str = ""
    envelope: EnvelopeName
    effect: Literal["deny", "require_approval"]
    mode: Mode = "enforce"
    scope: Literal["session", "chain", "agent"] = "session"
    window: PositiveDuration
    steps: tuple[SequenceStep, ...] = Field(min_length=2)
    obligations: tuple[Id, ...] = ()
    frameworks: tuple[str, ...] = ()


class CounterDef(Base):
    """A rate limit or cumulative cap, readable in conditions as ``counter.<id>``.

    Counts executed requests matching ``target`` (allowed ones, and approved ones once
    committed); the value a condition reads includes the request being decided.
    """

    id: Id
    description: str = ""
    scope: Literal["session", "chain", "agent", "task"]
    """session: the task run; chain: the delegation chain; agent: the principal;
    task: the principal's task (by task id, across runs)."""
    measure: Literal["count"] | AttrPath = "count"
    """``count`` (1 per request) or a numeric request attribute such as ``request.records``."""
    window: PositiveDuration | None = None
    """Sliding window (e.g. ``1m``, ``1d``); None: cumulative."""
    target: Target = Target()


class Delegation(Base):
    """How delegation chains (RFC 8693 ``act``) are treated."""

    max_depth: int | None = Field(default=None, ge=0)
    """Deny requests whose chain has more delegation hops than this."""
    attenuation: bool = False
    """Decide the request for every actor in the chain; the most restrictive effect wins."""


class PolicyDocument(Base):
    """A policy file: rules, sequence rules, counters, delegation settings, legal owner."""

    policy: Id
    description: str = ""
    legal_owner: Id | None = None
    """Accountable owner of legal-envelope rules (an owner id from the scenario)."""
    delegation: Delegation = Delegation()
    counters: tuple[CounterDef, ...] = ()
    rules: tuple[Rule, ...] = ()
    sequences: tuple[SequenceRule, ...] = ()


for _model in (AllOf, AnyOf, NotOf, SequenceStep, Rule, PolicyDocument):
    _model.model_rebuild()

__all__ = [
    "OPERATORS",
    "RESERVED_PREFIX",
    "AllOf",
    "AnyOf",
    "AttrPath",
    "Compare",
    "Condition",
    "CounterDef",
    "Delegation",
    "PolicyDocument",
    "Rule",
    "SequenceRule",
    "SequenceStep",
    "Target",
    "When",
]
