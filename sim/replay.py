"""Replay a recorded run's requests under another policy and diff the decisions.

``agentrange run --events FILE`` (or ``--audit-log``) records every decision with the request
it decided, every namespace included. This module reads each request back from its event
alone, re-decides the requests in recorded order with a fresh
:class:`~engine.policy.PolicyEngine` over the new policy, and reports which decisions change.
State evolves as the engine's own rules say: a request the new policy allows is recorded by
``decide``; one executed after an approval in the recording is committed when its approval
resolved; one the new policy sends to approval although the recording executed it is
committed at once (the approver is assumed to say yes); sessions and chains end when their
task runs end; a ``tighten_rule`` response enforces the rule if the new policy has it.
Replaying a run under its own policy therefore reproduces every decision.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audit.lines import JsonLineError, JsonLines, LineError, OpenError, parse_json
from engine.errors import LoadError
from engine.policy import CompiledPolicy, Decision, PolicyEngine, Request, UnknownRuleError
from engine.policy.request import read_only
from sim.events import EventKind

_DELEGATED = re.compile(r"/\d+>")
EVENTS_FILE = "an events file (the --events output of agentrange run)"


class EventsError(LoadError):
    """A recorded events file that cannot be replayed (missing, garbled, truncated)."""


@dataclass(frozen=True)
class Recorded:
    """The recording: the run's header and its events in order.

    Attributes:
        source: The file it was read from.
        header: The ``run_started`` data (scenario, profile, policy, credentials, epoch).
        events: Every event as its JSON mapping, each with the line it came from.
    """

    source: str
    header: Mapping[str, Any]
    events: tuple[tuple[int, Mapping[str, Any]], ...]


def read_events(path: str | Path) -> Recorded:
    """Read an events file (JSON Lines, the ``--events`` output of ``agentrange run``).

    Raises:
        EventsError: naming the file and line of a missing file, a line that is not a JSON
            object, an event without its fields, or a file with no ``run_started`` header.
    """
    name = str(path)
    events: list[tuple[int, Mapping[str, Any]]] = []
    header: Mapping[str, Any] | None = None
    try:
        with JsonLines(path, EVENTS_FILE) as lines:
            for number, line in lines:
                if not line.strip():
                    continue
                event = _parse(name, number, line)
                if isinstance(event, dict) and "header" in event and "prev" in event:
                    raise EventsError(name, EVENTS_FILE, line=number,
                                      found="an audit log's header (replay reads the events "
                                      "file that 'agentrange run --events' writes)")
                _check_event(name, number, event)
                if event["kind"] == EventKind.RUN_STARTED:
                    if header is not None:
                        raise EventsError(name, "the events of one run", line=number,
                                          found="a second run_started")
                    header = event["data"]
                elif header is None:
                    raise EventsError(name, "a run_started event first", line=number,
                                      found=f"a {event['kind']} event")
                events.append((number, event))
    except LineError as exc:
        raise EventsError(name, exc.expected, line=exc.line,
                          found=f"a line that {exc.problem}") from None
    except OpenError as exc:
        raise EventsError(name, EVENTS_FILE, found=exc.why) from None
    if header is None:
        raise EventsError(name, "a run_started event (the events of one run)",
                          found="no events" if not events else "no header")
    return Recorded(name, header, tuple(events))


def _parse(name: str, number: int, line: bytes) -> Any:
    """One line's event, parsed in bounded depth; a bad line is an error naming it."""
    try:
        return parse_json(line)
    except JsonLineError as exc:
        found = "a truncated line" if exc.cut else f"a line that {exc.problem}"
        raise EventsError(name, "one JSON event per line", line=number, column=exc.column,
                          found=found) from None


_FIELDS: dict[str, tuple[str, ...]] = {
    EventKind.RUN_STARTED: ("scenario", "profile"),
    EventKind.DECISION: ("run", "chain", "task", "step", "tool", "jti", "token_reason",
                         "request", "decision", "incident", "attacker", "approved"),
    EventKind.TOKEN_ISSUED: ("jti", "mode", "ttl", "scope", "task", "sub", "actors",
                             "sender_constrained"),
    EventKind.APPROVAL_RESOLVED: ("outcome", "decision"),
    EventKind.TASK_COMPLETED: ("run",),
    EventKind.TASK_FAILED: ("run",),
    EventKind.RESPONSE: ("kind", "target", "applied"),
}


def _check_event(name: str, number: int, event: Any) -> None:
    if not isinstance(event, dict):
        raise EventsError(name, "a JSON object per line", line=number,
                          found=type(event).__name__)
    for key in ("seq", "time", "kind", "data"):
        if key not in event:
            raise EventsError(name, f"an event with '{key}'", line=number,
                              found=f"keys {', '.join(sorted(event)) or 'none'}")
    if not isinstance(event["data"], dict) or not isinstance(event["time"], int | float):
        raise EventsError(name, "an event whose data is an object and time a number",
                          line=number, found="other types")
    missing = [k for k in _FIELDS.get(event["kind"], ()) if k not in event["data"]]
    if missing:
        raise EventsError(name, f"a {event['kind']} event with "
                          f"{', '.join(_FIELDS[event['kind']])}", line=number,
                          found=f"no {', '.join(missing)}")
    if event["kind"] == EventKind.DECISION and not isinstance(event["data"]["decision"], dict):
        raise EventsError(name, "a decision event whose 'decision' is an object",
                          line=number, found=type(event["data"]["decision"]).__name__)


@dataclass(frozen=True)
class Change:
    """One request whose decision differs under the new policy."""

    seq: int
    time: float
    agent: str
    run: str
    task: str
    step: int
    tool: str
    resource: str | None
    incident: str | None
    old_effect: str
    old_rule: str | None
    new_effect: str
    new_rule: str | None
    why: str = ""
    """Why the new policy decided so: the deciding rule's description, or for a default deny
    the conditions that kept the rules aiming at the request from matching."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"seq": self.seq, "time": self.time, "agent": self.agent, "run": self.run,
                "task": self.task, "step": self.step, "tool": self.tool,
                "resource": self.resource, "incident": self.incident,
                "old": {"effect": self.old_effect, "rule": self.old_rule},
                "new": {"effect": self.new_effect, "rule": self.new_rule, "why": self.why}}


@dataclass(frozen=True)
class ReplayResult:
    """The decision diff of a recorded run under a new policy.

    Attributes:
        scenario: The scenario name.
        profile: The profile the run was recorded under.
        old_policy: The recorded policy id.
        new_policy: The policy replayed.
        total: Requests re-decided.
        changes: Requests whose effect changed, in recorded order.
        rule_changes: Requests with the same effect but another deciding rule.
        notes: What could not be replayed exactly (e.g. a tightened rule the new policy
            lacks).
    """

    scenario: str
    profile: str
    old_policy: str
    new_policy: str
    total: int
    changes: tuple[Change, ...]
    rule_changes: int = 0
    notes: tuple[str, ...] = ()
    old_effects: Mapping[str, int] = field(default_factory=dict)
    new_effects: Mapping[str, int] = field(default_factory=dict)

    def matrix(self) -> dict[tuple[str, str], int]:
        """(old effect, new effect) -> how many requests moved that way."""
        return dict(Counter((c.old_effect, c.new_effect) for c in self.changes))

    def groups(self) -> dict[tuple[str | None, str | None], list[Change]]:
        """Changes grouped by (old deciding rule, new deciding rule), largest group first."""
        out: dict[tuple[str | None, str | None], list[Change]] = {}
        for c in self.changes:
            out.setdefault((c.old_rule, c.new_rule), []).append(c)
        return dict(sorted(out.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))))

    def to_dict(self, examples: int = 5) -> dict[str, Any]:
        """JSON-compatible form with up to ``examples`` changes per group."""
        return {
            "scenario": self.scenario, "profile": self.profile,
            "old_policy": self.old_policy, "new_policy": self.new_policy,
            "total": self.total, "changed": len(self.changes),
            "rule_changes": self.rule_changes,
            "effects": {"old": dict(self.old_effects), "new": dict(self.new_effects)},
            "matrix": [{"from": a, "to": b, "count": n}
                       for (a, b), n in sorted(self.matrix().items())],
            "groups": [{"old_rule": o, "new_rule": n, "count": len(cs),
                        "examples": [c.to_dict() for c in cs[:examples]]}
                       for (o, n), cs in self.groups().items()],
            "notes": list(self.notes),
        }


class _Requests:
    """The engine's Request of each decision event, read from the event itself.

    Equal principal, tool and resource namespaces become one shared read-only mapping, as
    the simulator shares them: the engine caches what it reads from such a view by the
    view's identity.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._views: dict[str, Any] = {}

    def _shared(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        key = json.dumps(value, sort_keys=True)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = read_only(value)
        return view

    def request(self, line: int, event: Mapping[str, Any]) -> Request:
        data = event["data"]["request"]
        try:
            req = Request.from_dict(data, ref=event["seq"])
        except (KeyError, TypeError, AttributeError):
            raise EventsError(self.source, "a decision event whose request holds every "
                              "namespace (principal, action, tool, token, ...)",
                              line=line, found="another shape") from None
        return Request(self._shared(data["principal"]), req.action,
                       self._shared(data["tool"]), req.token, self._shared(data["resource"]),
                       req.request, req.task, req.session, req.chain, req.time, req.ref)


def why(decision: Decision, policy: CompiledPolicy) -> str:
    """In a few words, why ``decision`` went as it did under ``policy``."""
    if decision.rule is not None:
        fact = policy.fact(decision.rule)
        if fact is not None and fact.description:
            return fact.description
        kind = fact.kind if fact is not None else "rule"
        envelope = f" in the {fact.envelope} envelope" if fact is not None else ""
        return f"{kind} {decision.rule} ({decision.effect}{envelope})"
    failed = "; ".join(f"{f.rule} needs {f.condition} (was {f.actual!r})"
                       for f in decision.failed[:3])
    reason = str(decision.reason).replace("_", " ")
    return f"{reason}: {failed}" if failed else reason


def replay(recorded: Recorded, policy: CompiledPolicy) -> ReplayResult:
    """Re-decide every recorded request under ``policy`` and diff the decisions.

    Raises:
        EventsError: when the events are of another scenario than the policy was compiled
            against, or a decision event's request cannot be read.
    """
    recorded_for = recorded.header.get("scenario")
    if recorded_for != policy.scenario.name:
        line = recorded.events[0][0] if recorded.events else None
        raise EventsError(recorded.source, f"the events of a run of scenario "
                          f"{policy.scenario.name!r} (the policy's)", line=line,
                          found=f"scenario {recorded_for!r}")
    engine = PolicyEngine(policy)
    rebuild = _Requests(recorded.source)
    pending: dict[int, tuple[Request, Decision]] = {}
    changes: list[Change] = []
    old_effects: Counter[str] = Counter()
    new_effects: Counter[str] = Counter()
    notes: list[str] = []
    total = 0
    rule_changes = 0
    for line, event in recorded.events:
        kind, data = event["kind"], event["data"]
        if kind == EventKind.DECISION:
            req = rebuild.request(line, event)
            new = engine.decide(req)
            old = data["decision"]
            old_effect, old_rule = str(old.get("effect")), old.get("rule")
            new_effect = str(new.effect)
            total += 1
            old_effects[old_effect] += 1
            new_effects[new_effect] += 1
            if new_effect == "require_approval":
                if old_effect == "require_approval":
                    pending[event["seq"]] = (req, new)
                elif data.get("outcome") == "executed":
                    engine.commit(req)
            if old_effect != new_effect:
                changes.append(Change(
                    event["seq"], float(event["time"]), event["agent"], data["run"],
                    data["task"], int(data["step"]), data["tool"], data.get("resource"),
                    data["incident"], old_effect, old_rule, new_effect, new.rule,
                    why(new, policy)))
            elif old_rule != new.rule:
                rule_changes += 1
        elif kind == EventKind.APPROVAL_RESOLVED:
            held = pending.pop(data["decision"], None)
            if held is not None and data["outcome"] == "executed":
                engine.commit(held[0])
        elif kind in (EventKind.TASK_COMPLETED, EventKind.TASK_FAILED):
            run = data["run"]
            engine.end_session(run)
            if not _DELEGATED.search(run):
                engine.end_chain(run)
        elif kind == EventKind.RESPONSE and data["kind"] == "tighten_rule" and data["applied"]:
            try:
                engine.tighten(data["target"])
            except UnknownRuleError:
                notes.append(f"line {line}: the run tightened rule {data['target']!r}, which "
                             f"policy {policy.name} does not have")
    header = recorded.header
    return ReplayResult(str(header.get("scenario")), str(header.get("profile")),
                        str(header.get("policy")), policy.name, total, tuple(changes),
                        rule_changes, tuple(notes), dict(old_effects), dict(new_effects))
