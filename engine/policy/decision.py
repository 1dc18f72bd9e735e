"""The policy decision: plain frozen data that every view renders and none recomputes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import FrozenInstanceError
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from engine.policy.values import actual_value


class Effect(StrEnum):
    """What the engine decided for a request (and what a rule asks for)."""

    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"


RESTRICTIVENESS: dict[str, int] = {Effect.ALLOW: 0, Effect.REQUIRE_APPROVAL: 1, Effect.DENY: 2}
"""Order of effects: deny overrides approval overrides allow."""


class Reason(StrEnum):
    """Why the effect was reached."""

    ALLOWED = "allowed"
    """An enforced allow rule matched and nothing more restrictive did."""
    EXPLICIT_DENY = "explicit_deny"
    """An enforced deny rule matched (or a built-in limit such as delegation depth)."""
    NO_MATCHING_ALLOW = "no_matching_allow"
    """Default deny: no enforced rule allowed the request."""
    APPROVAL_REQUIRED = "approval_required"
    """An enforced require_approval rule matched and no deny did."""
    INVALID_TOKEN = "invalid_token"
    """The request's token failed verification; no rule was evaluated."""
    ERROR = "error"
    """Fail-closed: a rule that could have restricted the request could not be evaluated."""
    SEQUENCE = "sequence"
    """An enforced sequence rule was completed by this request and decided the effect."""


class Envelope(StrEnum):
    """Whose envelope a rule belongs to; the decision's accountable owner follows from it."""

    BUSINESS = "business"
    """What the agent may attempt: owned by the agent's business owner."""
    SECURITY = "security"
    """What the agent may access: owned by the agent's security owner."""
    LEGAL = "legal"
    """What is out of bounds for every agent: owned by the policy's legal owner."""


def owner_of(envelope: Envelope | None, principal: Mapping[str, Any],
             legal_owner: str | None) -> str | None:
    """The accountable owner of a decision in ``envelope`` on a request by ``principal``.

    The legal envelope's owner is the policy's (``legal_owner``); the others are the agent's
    own, from its ``owners`` attribute. Read exactly as the generated probes read it, so
    memoised decisions compare equal.
    """
    if envelope is None:
        return None
    if envelope is Envelope.LEGAL:
        return legal_owner
    owners = principal.get("owners")
    owner: str | None = owners.get(envelope) if owners is not None else None
    return owner


class ShadowMatch(NamedTuple):
    """A shadow rule (or sequence) that matched, and the effect it would have had."""

    rule: str
    effect: Effect


class FailedCondition(NamedTuple):
    """A rule that targeted the request but did not match: its first failed condition."""

    rule: str
    condition: str
    """The failed condition as text, e.g. ``request.records lte 100``."""
    path: str
    """The attribute path the condition reads."""
    actual: Any
    """The attribute's actual value in the request (None when it is absent)."""


class StepRef(NamedTuple):
    """An earlier step of a matched sequence."""

    time: float
    tool: str | None
    ref: Any
    """The opaque reference the caller passed in that step's request (e.g. an event seq)."""


class SequenceMatch(NamedTuple):
    """A sequence rule this request completes, with the earlier steps that matched."""

    sequence: str
    effect: Effect
    shadow: bool
    steps: tuple[StepRef, ...]


def _json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list | frozenset | set):
        items = [_json(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    return str(value)


class _Core(NamedTuple):
    """The part of a decision shared by every request in one equivalence class."""

    effect: Effect
    reason: Reason
    rule: str | None
    matched: tuple[str, ...]
    shadow: tuple[ShadowMatch, ...]
    failed: tuple[tuple[str, str, str, int], ...]
    """(rule, condition, path, index of the actual value when the values are a tuple)."""
    sequences: tuple[SequenceMatch, ...]
    obligations: tuple[str, ...]
    envelope: Envelope | None
    errors: tuple[str, ...]
    chain: tuple[str, ...] = ()
    hop: str | None = None


class _Explanation(Protocol):
    """What a decision reads its shared fields from.

    A :class:`_Core`, or the engine's explanation read off a stop set (which spells its
    lists out as tuples when first read).
    """

    @property
    def effect(self) -> Effect: ...
    @property
    def reason(self) -> Reason: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def matched(self) -> tuple[str, ...]: ...
    @property
    def shadow(self) -> tuple[ShadowMatch, ...]: ...
    @property
    def failed(self) -> tuple[tuple[str, str, str, int], ...]: ...
    @property
    def sequences(self) -> tuple[SequenceMatch, ...]: ...
    @property
    def obligations(self) -> tuple[str, ...]: ...
    @property
    def envelope(self) -> Envelope | None: ...
    @property
    def errors(self) -> tuple[str, ...]: ...
    @property
    def chain(self) -> tuple[str, ...]: ...
    @property
    def hop(self) -> str | None: ...


_DOCS = {
    "effect": "allow, deny or require_approval.",
    "reason": "Why the effect was reached.",
    "rule": "The deciding rule or sequence id.",
    "matched": "Enforced rules that matched, in policy order.",
    "shadow": "Shadow rules and sequences that matched, with the effect each would have had.",
    "sequences": "Sequences this request completes, with the earlier steps.",
    "obligations": "Obligations of the enforced rules that produced the effect.",
    "envelope": "The envelope of the deciding rule.",
    "errors": "Problems met while deciding, as text.",
    "chain": "The delegation chain, current actor first (empty when not delegated).",
    "hop": "The earlier actor whose own decision restricted this one, or None.",
}
"""The fields a decision shows as its explanation holds them (all but ``failed``)."""


def _forward(namespace: dict[str, Any], via: str, names: Iterable[str]) -> None:
    """Add properties reading each field from attribute ``via``, with C-level getters.

    ``attrgetter`` runs no Python frame, and the simulator reads several fields per call.
    """
    for name in names:
        namespace[name] = property(attrgetter(f"{via}.{name}"), doc=_DOCS.get(name))


class _Fields:
    """The fields of :data:`_DOCS`, typed for the type checker (they are read-only)."""

    __slots__ = ()

    if TYPE_CHECKING:
        effect: Effect
        reason: Reason
        rule: str | None
        matched: tuple[str, ...]
        shadow: tuple[ShadowMatch, ...]
        sequences: tuple[SequenceMatch, ...]
        obligations: tuple[str, ...]
        envelope: Envelope | None
        errors: tuple[str, ...]
        chain: tuple[str, ...]
        hop: str | None


class _Chained(_Fields):
    """An explanation seen through a delegation chain: the same fields, plus chain and hop."""

    __slots__ = ("_of", "chain", "hop")

    if TYPE_CHECKING:
        failed: tuple[tuple[str, str, str, int], ...]
    else:
        _forward(locals(), "_of", [*(n for n in _DOCS if n not in ("chain", "hop")), "failed"])

    def __init__(self, of: _Explanation, chain: tuple[str, ...], hop: str | None) -> None:
        self._of = of
        self.chain = chain
        self.hop = hop


_FIELDS = ("effect", "reason", "rule", "matched", "shadow", "failed", "sequences", "obligations",
           "envelope", "owner", "errors", "chain", "hop")
_set = object.__setattr__


class _SharedFields(_Fields):
    """The fields a decision reads from its shared explanation (``_core``)."""

    __slots__ = ()

    if not TYPE_CHECKING:
        _forward(locals(), "_core", _DOCS)


class Decision(_SharedFields):
    """The outcome of deciding one request, with everything needed to explain it.

    Immutable (slots, no attribute can be set) and compared by value. Internally the parts
    that requests of one equivalence class share are held once (the explanation), and the
    actual values of failed conditions are read on demand from what they came from: a tuple
    of values, or the decided request itself (immutable by contract; with the counter values
    of the moment when conditions read counters). So the engine hands out a decision per
    request without copying anything out of it, and one shared decision when nothing failed.

    Attributes:
        effect: allow, deny or require_approval.
        reason: Why (see :class:`Reason`).
        rule: The deciding rule or sequence id (None for default deny or an invalid token).
        matched: Enforced rules that matched, in policy order.
        shadow: Shadow rules and sequences that matched, with the effect each would have had.
        failed: For each rule that targeted the request but did not match, its first failed
            condition with the attribute's actual value.
        sequences: Sequences completed by this request (enforced and shadow), with the
            earlier steps that matched.
        obligations: Obligations of the enforced rules that produced the effect.
        envelope: The envelope of the deciding rule.
        owner: The accountable owner for that envelope (business or security owner of the
            agent, or the policy's legal owner).
        errors: Rules skipped because a condition could not be evaluated, the token's failure
            reason and other problems, as text.
        chain: The delegation chain, current actor first and the origin last; empty when the
            request was not delegated.
        hop: The earlier actor in the chain whose own decision restricted this one
            (attenuation), or None.
    """

    __slots__ = ("_core", "_src", "_stops", "effect", "owner")

    _core: _Explanation
    _src: Any
    """The failed conditions' actual values: a tuple (by each one's index), a request, or a
    :class:`Captured` request."""
    _stops: int
    """Its stop set, if a :class:`~engine.policy.bitcore.StopDecision` (else unset)."""
    owner: str | None

    def __init__(
        self,
        effect: Effect,
        reason: Reason,
        rule: str | None = None,
        matched: tuple[str, ...] = (),
        shadow: tuple[ShadowMatch, ...] = (),
        failed: tuple[FailedCondition, ...] = (),
        sequences: tuple[SequenceMatch, ...] = (),
        obligations: tuple[str, ...] = (),
        envelope: Envelope | None = None,
        owner: str | None = None,
        errors: tuple[str, ...] = (),
        chain: tuple[str, ...] = (),
        hop: str | None = None,
    ) -> None:
        spec = tuple((f.rule, f.condition, f.path, i) for i, f in enumerate(failed))
        _set(self, "_core", _Core(Effect(effect), Reason(reason), rule, tuple(matched),
                                  tuple(shadow), spec, tuple(sequences), tuple(obligations),
                                  None if envelope is None else Envelope(envelope),
                                  tuple(errors), tuple(chain), hop))
        _set(self, "_src", tuple(f.actual for f in failed))
        _set(self, "effect", self._core.effect)
        _set(self, "owner", owner)

    def _explanation(self) -> _Explanation:
        """The explanation as one object (engine): what a chain or a sequence wraps."""
        return self._core

    def _in_chain(self, chain: tuple[str, ...], hop: str | None) -> Decision:
        """The same decision for a request made along a delegation chain (engine)."""
        if not chain and hop is None and not self._core.chain and self._core.hop is None:
            return self
        core = self._explanation()
        if type(core) is _Chained:
            core = core._of
        return _build(_Chained(core, chain, hop), self._src, self.owner)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    @property
    def failed(self) -> tuple[FailedCondition, ...]:
        """Targeted-but-unmatched rules: first failed condition and the actual value."""
        return with_values(self._core.failed, self._src)

    @property
    def allowed(self) -> bool:
        """True when the request may go ahead without approval."""
        return self._core.effect is Effect.ALLOW

    @property
    def origin(self) -> str | None:
        """The agent that started the delegation chain (None when not delegated)."""
        return self.chain[-1] if self.chain else None

    def fields(self) -> dict[str, Any]:
        """Every field by name, in declaration order."""
        return {name: getattr(self, name) for name in _FIELDS}

    def replace(self, **changes: Any) -> Decision:
        """A copy with some fields changed (like ``dataclasses.replace``)."""
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError(f"Decision has no field(s) {', '.join(sorted(unknown))}")
        return Decision(**{**self.fields(), **changes})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self is other or self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(tuple(self.fields().values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields().items())
        return f"Decision({inner})"

    def headline(self) -> str:
        """One line: the effect and why."""
        rule = self.rule
        match self.reason:
            case Reason.ALLOWED:
                text = f"ALLOW by rule {rule}"
            case Reason.EXPLICIT_DENY:
                text = f"DENY by rule {rule} (explicit deny)"
            case Reason.NO_MATCHING_ALLOW:
                text = "DENY: no rule allowed it (default deny)"
            case Reason.APPROVAL_REQUIRED:
                text = f"APPROVAL REQUIRED by rule {rule}"
            case Reason.INVALID_TOKEN:
                detail = next((e for e in self.errors if e.startswith("token")), "token invalid")
                text = f"DENY: invalid token ({detail})"
            case Reason.ERROR:
                by = f" because rule {rule} could not be evaluated" if rule else ""
                text = f"{self.effect.upper().replace('_', ' ')} (fail-closed){by}"
            case Reason.SEQUENCE:
                verb = "DENY" if self.effect is Effect.DENY else "APPROVAL REQUIRED"
                text = f"{verb} by sequence {rule}"
        if self.envelope is not None:
            text += f" [{self.envelope} envelope, owner {self.owner or 'unassigned'}]"
        return text

    def explain(self) -> str:
        """A multi-line, human explanation of the decision."""
        lines = [self.headline()]
        if self.chain:
            path = " -> ".join(reversed(self.chain))
            lines.append(f"  delegation chain (origin first): {path}")
            if self.hop is not None:
                lines.append(f"  restricted by the permissions of earlier actor {self.hop}")
        if self.matched:
            lines.append(f"  matched rules: {', '.join(self.matched)}")
        for s in self.sequences:
            kind = "shadow sequence" if s.shadow else "sequence"
            steps = "; ".join(
                f"t={step.time:g} {step.tool or '?'}"
                + (f" (ref {step.ref})" if step.ref is not None else "")
                for step in s.steps
            )
            lines.append(f"  {kind} {s.sequence} completed ({s.effect}); earlier steps: {steps}")
        for m in self.shadow:
            lines.append(f"  shadow rule {m.rule} matched: would {_verb(m.effect)}")
        for f in self.failed:
            lines.append(f"  rule {f.rule} not matched: {f.condition} "
                         f"(actual {f.path} = {_show(f.actual)})")
        if self.obligations:
            lines.append(f"  obligations: {', '.join(self.obligations)}")
        for e in self.errors:
            lines.append(f"  error: {e}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible rendering with a stable key order."""
        return {
            "effect": str(self.effect),
            "reason": str(self.reason),
            "rule": self.rule,
            "envelope": None if self.envelope is None else str(self.envelope),
            "owner": self.owner,
            "matched": list(self.matched),
            "shadow": [{"rule": m.rule, "effect": str(m.effect)} for m in self.shadow],
            "failed": [{"rule": f.rule, "condition": f.condition, "path": f.path,
                        "actual": _json(f.actual)} for f in self.failed],
            "sequences": [
                {"sequence": s.sequence, "effect": str(s.effect), "shadow": s.shadow,
                 "steps": [{"time": st.time, "tool": st.tool, "ref": _json(st.ref)}
                           for st in s.steps]}
                for s in self.sequences
            ],
            "obligations": list(self.obligations),
            "errors": list(self.errors),
            "chain": ({"origin": self.chain[-1], "actors": list(self.chain)}
                      if self.chain else None),
            "hop": self.hop,
        }


_new_tuple = tuple.__new__


def with_values(failed: tuple[tuple[str, str, str, int], ...], src: Any
                 ) -> tuple[FailedCondition, ...]:
    """Failed entries (rule, condition, path, value index) with their actual values."""
    new = _new_tuple  # NamedTuple's own __new__ is a Python lambda: 3x slower per item
    if type(src) is tuple:
        return tuple([new(FailedCondition, (r, c, p, src[i])) for r, c, p, i in failed])
    return tuple([new(FailedCondition, (r, c, p, actual_value(src, p)))
                  for r, c, p, _i in failed])


class _Building(_SharedFields):
    """A :class:`Decision` being built: the same slots, plain stores, then it becomes one.

    A decision's own ``__setattr__`` refuses every store, so the engine would set its slots
    through their descriptors' setters (a call each); this twin stores them directly and then
    takes the decision's class (same base, same slots). The effect is copied out of the
    explanation because the simulator reads it on every call (a slot, not a forwarded
    property); the other fields stay on the explanation, which may spell them out only when
    read.
    """

    __slots__ = Decision.__slots__

    def __init__(self, core: _Explanation, source: Any, owner: str | None) -> None:
        self._core = core
        self._src = source
        self.effect = core.effect
        self.owner = owner
        self.__class__ = Decision  # type: ignore[assignment]


make_decision: Callable[[_Explanation, Any, str | None], Decision] = cast(Any, _Building)
"""A decision from its shared explanation and where its actual values come from: a tuple
of values (by the index in each failed entry), the request, or a :class:`Captured` request
(the engine's hot paths)."""
_build = make_decision


def _verb(effect: Effect) -> str:
    return {"allow": "allow", "deny": "deny", "require_approval": "require approval"}[effect]


def _show(value: Any) -> str:
    if value is None:
        return "absent"
    return repr(value)
