"""Immutable event records: the one stream the TUI, the headless reporters and the audit log read.

The simulator emits every event into an injected sink (a list in tests, the TUI's message
pump, a JSON Lines writer). What the screen shows and what ``--json`` prints come from the
same records, so they cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import IO, Any, NamedTuple

from engine.policy.decision import Decision


class EventKind(StrEnum):
    """What happened. The ``data`` of each kind is documented beside it."""

    RUN_STARTED = "run_started"
    """data: scenario, profile, seed, duration, agents (list of {name, spiffe_id, kind, owners})."""
    TASK_STARTED = "task_started"
    """data: task, run, chain, delegated_by (agent or None), incident (id or None)."""
    TASK_COMPLETED = "task_completed"
    """data: task, run, chain, latency, steps, incident."""
    TASK_FAILED = "task_failed"
    """data: task, run, chain, reason (denied|token|approval_expired|quarantined|...), incident."""
    TOKEN_ISSUED = "token_issued"
    """data: jti, mode, ttl, exp, scope (list), task, run, actors (list), sender_constrained."""
    TOKEN_EXPIRED = "token_expired"
    """data: jti."""
    TOKEN_REVOKED = "token_revoked"
    """data: jti, reason (task_completed|quarantine|response|live|vendor_distrust)."""
    DECISION = "decision"
    """data: run, chain (list of agent names, current first), task, step (1-based), tool,
    action, resource, data_class, records, amount, destination, jti, token_reason,
    decision (Decision.to_dict()), outcome (Outcome), incident (id or None),
    attacker (bool: made by an attacker process replaying a stolen token)."""
    APPROVAL_REQUESTED = "approval_requested"
    """data: run, task, step, tool, queue (length after joining)."""
    APPROVAL_RESOLVED = "approval_resolved"
    """data: run, task, step, tool, approved (bool), waited (seconds), expired (bool),
    fatigue_miss (bool: a malicious request approved because of approver load)."""
    INCIDENT = "incident"
    """data: id, kind, description, frameworks (list)."""
    ALERT = "alert"
    """data: id, severity, reason (deny|sequence|threshold|token), rule, incident, message."""
    RESPONSE = "response"
    """data: id, kind (revoke_token|quarantine_agent|tighten_rule|distrust_vendor), target,
    trigger (at|detection|live), incident."""
    CONTAINED = "contained"
    """data: incident, time_to_detect, time_to_contain, how."""
    RUN_ENDED = "run_ended"
    """data: time, events, decisions."""


class Outcome(StrEnum):
    """What became of a requested step."""

    EXECUTED = "executed"
    BLOCKED = "blocked"
    AWAITING_APPROVAL = "awaiting_approval"
    EXPIRED = "expired"
    REVOKED = "revoked"


class DecisionRecord(Mapping[str, Any]):
    """A decision as the read-only mapping ``Decision.to_dict()`` gives, rendered on demand.

    The simulator makes millions of decisions and most events are never rendered, so the
    dictionary is built the first time anyone reads it. ``decision`` is the frozen
    :class:`~engine.policy.decision.Decision` itself (for ``explain()``).
    """

    __slots__ = ("_dict", "decision")

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
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
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


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
        data = {k: dict(v) if isinstance(v, DecisionRecord) else v
                for k, v in self.data.items()}
        return {"seq": self.seq, "time": self.time, "kind": str(self.kind),
                "agent": self.agent, "data": data}

    def to_json(self) -> str:
        """One canonical JSON line (sorted data keys), identical across identical runs."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, default=_plain)


Sink = Callable[[Event], None]
"""Where the simulator sends events. It must not raise; it must not block for long."""


class JsonlSink:
    """Writes each event as one JSON line to an open text stream."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: Event) -> None:
        """Write one event as a line."""
        self._stream.write(event.to_json())
        self._stream.write("\n")
