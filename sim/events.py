"""Immutable event records: the one stream the TUI, the headless reporters and the audit log read.

The simulator emits every event into an injected sink (a list in tests, the TUI's message
pump, a JSON Lines writer). What the screen shows and what ``--json`` prints come from the
same records, so they cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from types import FunctionType, MappingProxyType, MethodType
from typing import IO, Any, NamedTuple

from engine.policy.decision import Decision
from engine.policy.request import Request


class EventKind(StrEnum):
    """What happened. The ``data`` of each kind is documented beside it.

    ``agent`` is the agent an event concerns (the requester for decisions, the holder for
    tokens, the victim for incidents), None for run-level events. Times are simulated
    seconds; ``run`` ids are stable across profiles (``<agent>/<task>#<n>`` for the n-th
    arrival, ``<parent run>/<step>><agent>/<task>`` for delegated runs,
    ``<agent>/<task>!<incident>#<n>`` for hijacked runs, ``<agent>/<incident>!replay#<n>``
    for an attacker's replays). ``chain`` lists agent names, current actor first.
    """

    RUN_STARTED = "run_started"
    """data: scenario, profile, seed, duration, epoch (Unix time of simulated 0),
    credentials (the profile's settings: mode, ttl, scope, revoke_on_completion,
    sender_constrained, renew_before), policy (id), legal_owner (the policy's), owners
    (owner id -> display name), agents (list of {name, spiffe_id, kind, owners: {business,
    security, incident}, vendor, roles, description}), estate (the scenario's tools
    and resources as blast figures need them: :meth:`engine.blast.Estate.to_dict`), rules
    (rule or sequence id -> {description, envelope, effect, mode, frameworks} of the
    profile's policy)."""
    TASK_STARTED = "task_started"
    """data: task, run, chain, delegated_by (agent or None), incident (id or None),
    attacker (bool)."""
    TASK_COMPLETED = "task_completed"
    """data: task, run, chain, latency (seconds since arrival), steps, incident."""
    TASK_FAILED = "task_failed"
    """data: task, run, chain, reason (denied|token|approval_rejected|approval_expired|
    quarantined|delegate_failed|no_credential|contained), steps (executed before), incident."""
    TOKEN_ISSUED = "token_issued"
    """data: jti, mode (static|jit), ttl, exp (simulated time), scope (claim entries),
    task, run, sub (SPIFFE ID: the origin of a delegation), actors (agent names of the
    ``act`` chain, current first; empty when not delegated), sender_constrained, holders
    (agents holding it: several for a shared static credential), shared, renewed_from
    (jti or None), incident (set when an attacker or an over-broad grant minted it)."""
    TOKEN_EXPIRED = "token_expired"
    """data: jti."""
    TOKEN_REVOKED = "token_revoked"
    """data: jti, reason (task_completed|task_failed|quarantine|response|live|
    vendor_distrust), incident."""
    DECISION = "decision"
    """data: run, chain, task, step (1-based), tool, action, resource, data_class, system,
    records, amount, destination, jti, holder (the agent the presented credential was issued
    to; None for a credential several agents share), token_reason (``ok`` or the verifier's
    reason code), request (the :class:`~engine.policy.Request` decided; its ``to_dict()``
    in JSON: every namespace, token and free attributes included),
    decision (``Decision.to_dict()`` as a read-only mapping; ``.decision`` on it is the
    Decision itself), outcome (:class:`Outcome`), incident (id or None), attacker (bool:
    an attacker replaying a stolen or forged token), approved (bool: the step is part of
    the approved task plan; False is an out-of-scope attempt). The simulator's data is a
    :class:`DecisionData`: the same mapping, built without copying the request or the
    decision."""
    APPROVAL_REQUESTED = "approval_requested"
    """data: run, task, step, tool, queue (requests waiting after it joined; 0 when an
    approver took it at once), decision (seq of the decision event), incident."""
    APPROVAL_RESOLVED = "approval_resolved"
    """data: run, task, step, tool, approved (bool), waited (seconds), expired (bool),
    fatigue_miss (bool: a malicious request approved because of approver load), outcome
    (what became of the step: executed, blocked, expired or revoked), decision (seq),
    incident."""
    INCIDENT = "incident"
    """data: id, kind, description, frameworks (list), plan (tool ids, ``delegate:<agent>``
    for delegations)."""
    ALERT = "alert"
    """data: id, severity (low|medium|high), reason (deny|token|sequence|shadow|threshold|
    approval), rule, incident (id when the alert concerns an incident's request), message,
    decision (seq of the decision event that raised it)."""
    RESPONSE = "response"
    """data: id (the scenario response id, or ``live``), kind (revoke_token|
    quarantine_agent|tighten_rule|distrust_vendor), target (agent, jti, rule or vendor),
    trigger (at|detection|live), incident, applied (bool), error (why not applied)."""
    EXPOSED = "exposed"
    """data: incident, credential (jti, or an agent name for what it could delegate to),
    tools, resources (sorted ids: what the credential's scope reaches), begins (bool: the
    exposure starts now, e.g. a thief who had to wait for a token to steal)."""
    CONTAINED = "contained"
    """data: incident, how (quarantine|revoked|expired|blocked|distrusted|
    sender_constrained). Figures (time to contain, exposure) are folds: see
    :mod:`sim.collectors`."""
    RUN_ENDED = "run_ended"
    """data: time, events (emitted, this one included), decisions."""


class Outcome(StrEnum):
    """What became of a requested step."""

    EXECUTED = "executed"
    BLOCKED = "blocked"
    AWAITING_APPROVAL = "awaiting_approval"
    EXPIRED = "expired"
    REVOKED = "revoked"


class _DecisionFields(NamedTuple):
    run: str
    chain: tuple[str, ...]
    task: str
    step: int
    tool: str
    action: str
    resource: str | None
    data_class: str | None
    system: str | None
    records: int
    amount: float | None
    destination: str | None
    jti: str
    holder: str | None
    token_reason: str
    request: Request
    decision: Decision
    outcome: Outcome
    incident: str | None
    attacker: bool
    approved: bool
    also_denied_by: Any
    """A rule that would also have denied a step the token refused; a key only when set."""


_PLACES = {name: i for i, name in enumerate(_DecisionFields._fields[:-1])}
_ALSO = "also_denied_by"
_AT = tuple.__getitem__


class DecisionData(_DecisionFields, Mapping[str, Any]):
    """The data of a ``decision`` event as the simulator makes it: one tuple of references.

    A read-only mapping with the keys :attr:`EventKind.DECISION` documents, in that order.
    It refers to the request and the decision instead of copying them: ``["decision"]``
    gives the rendered :class:`DecisionRecord` (made when first asked for, shared by the
    events carrying the same decision), while the attribute ``.decision`` is the frozen
    :class:`~engine.policy.decision.Decision` itself, and every other attribute is the
    value of its key. Folds read the attributes; nothing is rendered that no one reads.
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:  # type: ignore[override]
        place = _PLACES.get(key)
        if place is None:
            if key == _ALSO and self.also_denied_by is not None:
                return self.also_denied_by
            raise KeyError(key)
        value = _AT(self, place)
        return record_of(self.decision) if key == "decision" else value

    def __iter__(self) -> Iterator[str]:
        yield from _PLACES
        if self.also_denied_by is not None:
            yield _ALSO

    def __len__(self) -> int:
        return len(_PLACES) + (self.also_denied_by is not None)

    def __contains__(self, key: object) -> bool:
        return key in _PLACES or (key == _ALSO and self.also_denied_by is not None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # a mapping, as a dict is

    def __repr__(self) -> str:
        return f"DecisionData({dict(self.items())!r})"


_RECORDS: dict[int, DecisionRecord] = {}
MAX_RECORDS = 4096
"""Rendered decisions kept (the engine shares one Decision between the requests it can)."""


def record_of(decision: Decision) -> DecisionRecord:
    """The read-only rendering of ``decision``, shared by the events that carry it."""
    record = _RECORDS.get(id(decision))
    if record is None or record.decision is not decision:
        if len(_RECORDS) >= MAX_RECORDS:
            _RECORDS.clear()
        record = _RECORDS[id(decision)] = DecisionRecord(decision)
    return record


class DecisionRecord(Mapping[str, Any]):
    """A decision as the read-only mapping ``Decision.to_dict()`` gives, rendered on demand.

    The simulator makes millions of decisions and most events are never rendered, so the
    dictionary is built the first time anyone reads it. ``decision`` is the frozen
    :class:`~engine.policy.decision.Decision` itself (for ``explain()``).
    """

    __slots__ = ("_dict", "decision", "effect", "rule")

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.effect = str(decision.effect)
        """The effect as its string (what ``["effect"]`` gives, without rendering)."""
        self.rule = decision.rule
        """The deciding rule (what ``["rule"]`` gives, without rendering)."""
        self._dict: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        data = self._dict
        if data is None:
            data = self._dict = self.decision.to_dict()
        return data

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return f"DecisionRecord({self._data()!r})"


def _plain(value: Any) -> Any:
    """JSON fallback: mappings that are not dicts (a DecisionRecord) become dicts."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Request):
        return value.to_dict()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def _jsonable(value: Any) -> Any:
    """A data value as plain JSON data (the decision and request objects rendered)."""
    if isinstance(value, DecisionRecord):
        return dict(value)
    if isinstance(value, Request):
        return value.to_dict()
    if isinstance(value, StrEnum):
        return str(value)
    return value


_NO_DATA: Mapping[str, Any] = MappingProxyType({})


class Event(NamedTuple):
    """One immutable record of the event stream.

    A named tuple rather than a frozen dataclass: the simulator makes one or two per tool
    call, and building a tuple costs a fraction of setting frozen attributes one by one.

    Attributes:
        seq: 0-based position in the run's stream.
        time: Simulated seconds.
        kind: What happened.
        agent: The agent it concerns (None for run-level events).
        data: The kind's fields (documented on :class:`EventKind`); sequences may be tuples,
            enums are ``StrEnum`` members (both serialise as JSON lists and strings).
    """

    seq: int
    time: float
    kind: EventKind
    agent: str | None = None
    data: Mapping[str, Any] = _NO_DATA

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form with a stable key order."""
        data = {k: _jsonable(v) for k, v in self.data.items()}
        return {"seq": self.seq, "time": self.time, "kind": str(self.kind),
                "agent": self.agent, "data": data}

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Event:
        """The event :meth:`to_dict` wrote (read back from a file or an audit log).

        Raises:
            KeyError, ValueError: for a mapping of another shape.
        """
        data = obj["data"]
        if not isinstance(data, Mapping):
            raise ValueError("data is not an object")
        return cls(int(obj["seq"]), float(obj["time"]), EventKind(obj["kind"]),
                   obj.get("agent"), MappingProxyType(dict(data)))

    def to_json(self) -> str:
        """One canonical JSON line (sorted data keys), identical across identical runs."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, default=_plain)


Sink = Callable[[Event], None]
"""Where the simulator sends events. It must not raise; it must not block for long."""


def tee(*sinks: Sink) -> Sink:
    """One sink that hands each event to every one of ``sinks`` in order (one: itself).

    Object sinks are called through their bound ``__call__`` (see :func:`_direct`).
    """
    sinks = tuple(_direct(s) for s in sinks)
    if len(sinks) == 1:
        return sinks[0]
    if len(sinks) == 2:
        # The usual case (the run's collector and the caller's sink), once per event.
        first, second = sinks

        def pair(event: Event) -> None:
            first(event)
            second(event)
        return pair

    def each(event: Event) -> None:
        for sink in sinks:
            sink(event)
    return each


def _direct(sink: Sink) -> Sink:
    """An object sink's bound ``__call__`` (called directly, about half the cost per event).

    Calling an instance goes through its type's call slot, which looks ``__call__`` up and
    binds it on every call; the bound method is called at once. Functions and built-in
    methods (``list.append``) are returned as they are.
    """
    call = getattr(type(sink), "__call__", None)  # noqa: B004  # the method, not a test
    if isinstance(call, FunctionType):
        return MethodType(call, sink)  # the same callable, bound once
    return sink


class JsonlSink:
    """Writes each event as one JSON line to an open text stream."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: Event) -> None:
        """Write one event as a line."""
        self._stream.write(event.to_json())
        self._stream.write("\n")
