"""The run result as a fold over events: decisions, outcomes, delivery, approvals, blast radius.

:class:`MetricsCollector` reads nothing but events; :meth:`MetricsCollector.result` gives the
documented :class:`~sim.result.RunResult` (see :mod:`sim.result` for the shape and what each
figure means). Fed the events of a run live, or the same events read back from an events file
or an audit log, it gives the same result.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple, cast

from engine.blast import Compromise, Estate, totals
from engine.policy.decision import Decision, Effect
from sim.events import DecisionData, Event, EventKind, Outcome
from sim.result import ALERT_REASONS, OUTCOMES, DecisionFacts, DecisionKey, RunResult, percentile

_DECISION = EventKind.DECISION
_DENY = Effect.DENY
_EXECUTED, _AWAITING = Outcome.EXECUTED, Outcome.AWAITING_APPROVAL
_NOT_STOPPED = frozenset({"executed", "awaiting_approval"})


class Stop(NamedTuple):
    """The first step of an incident that did not run."""

    time: float
    tool: str
    denied: bool
    """The policy denied it (else a revoked or expired token, or an approval, stopped it)."""
    rule: str | None
    """The rule that denied it (None: a default deny, or no deny)."""
    outcome: str
    """What became of the step: its outcome (blocked, expired, revoked), or
    ``approval_rejected`` / ``approval_expired``."""


class _Pending:
    """A step held for approval, until its approval resolves."""

    __slots__ = (
        "amount",
        "approved",
        "destination",
        "incident",
        "records",
        "resource",
        "tool",
    )

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.approved = bool(data["approved"])
        self.incident: str | None = data["incident"]
        self.tool: str = data["tool"]
        self.resource: str | None = data["resource"]
        self.records: int = data["records"]
        self.destination: str | None = data["destination"]
        self.amount: float | None = data["amount"]


class MetricsCollector:
    """Folds a run's events into its figures.

    Args:
        record_decisions: Keep every decision's key and facts for comparisons and
            expectations (turn off for very long runs).
        audited: The events are also written to an audit log (so ``audit.logged`` counts
            every decision; None without one).
    """

    def __init__(self, *, record_decisions: bool = True, audited: bool = False) -> None:
        self.record_decisions = record_decisions
        self.audited = audited
        self.scenario = ""
        self.profile = ""
        self.seed = 0
        self.duration = 0.0
        self.done = False
        self._last: Event | None = None
        self.estate = Estate({}, {})
        self.accountable: frozenset[str] = frozenset()
        self._effects: dict[str, int] = {"allow": 0, "deny": 0, "require_approval": 0}
        self._outcomes: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self._oos_attempts = 0
        self._oos_stopped = 0
        self._benign_steps = 0
        self._benign_denied = 0
        self.tasks_started = 0
        self.tasks_completed = 0
        self.tasks_failed = 0
        self.latencies: list[float] = []
        self.approvals = {"requested": 0, "approved": 0, "rejected": 0, "expired": 0,
                          "fatigue_misses": 0}
        self.approval_waits = 0.0
        self.alerts: dict[str, int] = dict.fromkeys(ALERT_REASONS, 0)
        self.tokens = {"issued": 0, "revoked": 0, "expired": 0, "renewed": 0}
        self.attributable = 0
        self.decisions: dict[DecisionKey, DecisionFacts] = {}
        self.compromises: dict[str, Compromise] = {}
        self.first_out: dict[str, float] = {}
        """Incident id -> when its first step ran (the story banner's "out" moment)."""
        self.first_stop: dict[str, Stop] = {}
        """Incident id -> the first of its steps that did not run, and what stopped it."""
        self.before_detection: dict[str, int] = {}
        """Incident id -> records its steps had reached when the first alert detected it."""
        self._tally: dict[Effect, dict[Outcome, list[int]]] = {
            effect: {outcome: [0, 0, 0, 0] for outcome in Outcome} for effect in Effect}
        """Live decisions not yet in the counters: by effect, then outcome, then one count per
        (benign, approved) at ``2 * benign + approved`` (nested by the enum members
        themselves: two lookups that match by identity, no key tuple to build and hash)."""
        self._top: set[str] = set()
        self._pending: dict[int, _Pending] = {}
        self._handlers = {
            EventKind.RUN_STARTED: self._run_started,
            EventKind.TASK_STARTED: self._task_started,
            EventKind.TASK_COMPLETED: self._task_completed,
            EventKind.TASK_FAILED: self._task_failed,
            EventKind.TOKEN_ISSUED: self._token_issued,
            EventKind.TOKEN_EXPIRED: self._token_expired,
            EventKind.TOKEN_REVOKED: self._token_revoked,
            EventKind.APPROVAL_RESOLVED: self._approval_resolved,
            EventKind.INCIDENT: self._incident,
            EventKind.EXPOSED: self._exposed,
            EventKind.ALERT: self._alert,
            EventKind.CONTAINED: self._contained,
            EventKind.RUN_ENDED: self._run_ended,
        }

    @classmethod
    def of(cls, events: Iterable[Event], **options: bool) -> MetricsCollector:
        """A collector fed every event of ``events``."""
        collector = cls(**options)
        for event in events:
            collector(event)
        return collector

    def __call__(self, event: Event) -> None:
        """Fold one event.

        A decision the simulator made (its data a :class:`~sim.events.DecisionData`) is
        folded by :meth:`decided`, its fields read by attribute: the same fold as
        :meth:`_decision`, which reads a decision read back from a file. The effect and the
        outcome are string enums, equal to (and hashing as) the strings the counts are kept
        under, so both count the same.
        """
        kind = event.kind
        if kind is not _DECISION:
            self._last = event
            handler = self._handlers.get(kind)
            if handler is not None:
                handler(event)
            return
        data = event.data
        if type(data) is not DecisionData:
            self._last = event
            self._decision(event)
            return
        self.decided(event, event.agent, data.decision, data.outcome, data.incident,
                     data.attacker, data.approved, data.holder, data.task, data.run,
                     data.step, data.tool)

    def decided(self, event: Event, agent: str | None, decision: Decision, outcome: Outcome,
                incident: str | None, attacker: bool, approved: bool, holder: str | None,
                task: str, run: str, step: int, tool: str) -> None:
        """Fold a decision event the simulator made, given the fields it holds.

        What :meth:`__call__` does with ``event`` (whose data is a
        :class:`~sim.events.DecisionData` holding these values), for the simulator's hot
        path: a named tuple's field is read through a descriptor, several times the cost of
        passing the value the simulator already holds.
        """
        self._last = event
        effect = decision.effect
        # One count per kind of decision; the counters are settled from it when read.
        self._tally[effect][outcome][(2 if incident is None and not attacker else 0)
                                     + (1 if approved else 0)] += 1
        if self.record_decisions:
            assert agent is not None
            self.decisions[(agent, task, run, step, incident)] = (str(effect), tool,
                                                                  decision.rule)
        if holder == agent and agent in self.accountable:
            self.attributable += 1
        if outcome is _AWAITING:
            self._pending[event.seq] = _Pending(event.data)
        elif incident is not None:
            data = cast(DecisionData, event.data)
            self._incident_step(event.time, incident, outcome is _EXECUTED, tool,
                                data.resource, data.records, data.destination, data.amount,
                                effect is _DENY, decision.rule, outcome)

    def _settle(self) -> None:
        """Add the live decisions tallied since the last read to the counters."""
        effects, outcomes = self._effects, self._outcomes
        for effect, row in self._tally.items():
            for outcome, cell in row.items():
                # By (benign, approved): (no, no), (no, yes), (yes, no), (yes, yes).
                others, others_approved, benign, benign_approved = cell
                n = others + others_approved + benign + benign_approved
                if not n:
                    continue
                cell[:] = (0, 0, 0, 0)
                effects[effect] += n
                outcomes[outcome] += n
                self._benign_steps += benign + benign_approved
                if effect is _DENY:
                    self._benign_denied += benign + benign_approved
                self._oos_attempts += others + benign
                if outcome not in _NOT_STOPPED:
                    self._oos_stopped += others + benign

    @property
    def effects(self) -> dict[str, int]:
        """Decisions by effect."""
        self._settle()
        return self._effects

    @property
    def outcomes(self) -> dict[str, int]:
        """Decisions by outcome."""
        self._settle()
        return self._outcomes

    @property
    def oos_attempts(self) -> int:
        """Out-of-scope steps attempted."""
        self._settle()
        return self._oos_attempts

    @property
    def oos_stopped(self) -> int:
        """Out-of-scope steps that did not run."""
        self._settle()
        return self._oos_stopped

    @property
    def benign_steps(self) -> int:
        """Decisions of the agents' own work (no incident, no attacker)."""
        self._settle()
        return self._benign_steps

    @property
    def benign_denied(self) -> int:
        """Of those, denied."""
        self._settle()
        return self._benign_denied

    @property
    def last(self) -> Event | None:
        """The last event folded (None before the first)."""
        return self._last

    @property
    def events(self) -> int:
        """Events folded (a run's stream is numbered from 0 without gaps)."""
        return 0 if self._last is None else self._last.seq + 1

    @property
    def time(self) -> float:
        """The time of the last event folded."""
        return 0.0 if self._last is None else self._last.time

    # --- folds --------------------------------------------------------------------------

    def _run_started(self, event: Event) -> None:
        data = event.data
        self.scenario = data["scenario"]
        self.profile = data["profile"]
        self.seed = data["seed"]
        self.duration = data["duration"]
        estate = data.get("estate")
        if estate is not None:
            self.estate = estate if isinstance(estate, Estate) else Estate.from_dict(estate)
        self.accountable = frozenset(a["name"] for a in data["agents"]
                                     if a["owners"].get("security") is not None)

    def _decision(self, event: Event) -> None:
        data = event.data
        record = data["decision"]
        try:  # a live DecisionRecord says it without rendering the whole decision
            effect: str = record.effect
            rule: str | None = record.rule
        except AttributeError:
            effect = record["effect"]
            rule = record["rule"]
        self._effects[effect] += 1
        outcome: str = data["outcome"]
        self._outcomes[outcome] += 1
        incident = data["incident"]
        agent = event.agent
        if incident is None and not data["attacker"]:
            self._benign_steps += 1
            if effect == "deny":
                self._benign_denied += 1
        if not data["approved"]:
            self._oos_attempts += 1
            if outcome not in _NOT_STOPPED:
                self._oos_stopped += 1
        if self.record_decisions:
            assert agent is not None
            self.decisions[(agent, data["task"], data["run"], data["step"], incident)] = (
                effect, data["tool"], rule)
        if data["holder"] == agent and agent in self.accountable:
            self.attributable += 1
        if outcome == "awaiting_approval":
            self._pending[event.seq] = _Pending(data)
        elif incident is not None:
            self._incident_step(event.time, incident, outcome == "executed", data["tool"],
                                data["resource"], data["records"], data["destination"],
                                data["amount"], effect == "deny", rule, outcome)

    def _incident_step(self, at: float, incident: str, executed: bool, tool: str,
                       resource: str | None, records: int, destination: str | None,
                       amount: float | None, denied: bool, rule: str | None,
                       outcome: str) -> None:
        """A step of an incident ran (its reach realised) or was stopped (the first noted)."""
        if executed:
            compromise = self.compromises.get(incident)
            if compromise is not None:
                compromise.realised.add(tool, resource, records, destination, amount)
                if incident not in self.first_out:
                    self.first_out[incident] = at
        elif incident not in self.first_stop and incident in self.compromises:
            self.first_stop[incident] = Stop(at, tool, denied, rule if denied else None,
                                             str(outcome))

    def _task_started(self, event: Event) -> None:
        data = event.data
        if data["delegated_by"] is None and data["incident"] is None:
            self.tasks_started += 1
            self._top.add(data["run"])

    def _task_completed(self, event: Event) -> None:
        data = event.data
        if data["run"] in self._top:
            self._top.discard(data["run"])
            self.tasks_completed += 1
            self.latencies.append(data["latency"])

    def _task_failed(self, event: Event) -> None:
        data = event.data
        if data["run"] in self._top:
            self._top.discard(data["run"])
            self.tasks_failed += 1

    def _token_issued(self, event: Event) -> None:
        self.tokens["issued"] += 1
        if event.data.get("renewed_from") is not None:
            self.tokens["renewed"] += 1

    def _token_expired(self, event: Event) -> None:
        self.tokens["expired"] += 1

    def _token_revoked(self, event: Event) -> None:
        self.tokens["revoked"] += 1

    def _approval_resolved(self, event: Event) -> None:
        data = event.data
        approvals = self.approvals
        approvals["requested"] += 1
        self.approval_waits += data["waited"]
        if data["expired"]:
            approvals["expired"] += 1
        elif not data["approved"]:
            approvals["rejected"] += 1
        else:
            approvals["approved"] += 1
            if data["fatigue_miss"]:
                approvals["fatigue_misses"] += 1
        step = self._pending.pop(data["decision"], None)
        if step is None:
            return
        executed = data["outcome"] == "executed"
        if not step.approved and not executed:
            self._oos_stopped += 1
        if step.incident is not None:
            self._incident_step(event.time, step.incident, executed, step.tool, step.resource,
                                step.records, step.destination, step.amount, False, None,
                                "approval_expired" if data["expired"] else "approval_rejected")

    def _incident(self, event: Event) -> None:
        data = event.data
        assert event.agent is not None
        self.compromises[data["id"]] = Compromise(data["id"], data["kind"], event.agent,
                                                  event.time, self.estate)

    def _exposed(self, event: Event) -> None:
        data = event.data
        compromise = self.compromises.get(data["incident"])
        if compromise is None:
            return
        if data.get("begins"):
            compromise.start = event.time
        compromise.add_reach(data["credential"],
                             self.estate.reach(data["tools"], data["resources"]))

    def _alert(self, event: Event) -> None:
        data = event.data
        self.alerts[data["reason"]] = self.alerts.get(data["reason"], 0) + 1
        incident = data.get("incident")
        if incident is not None and incident in self.compromises:
            compromise = self.compromises[incident]
            if compromise.detected is None:
                self.before_detection[incident] = compromise.realised.records
            compromise.detect(event.time)

    def _contained(self, event: Event) -> None:
        compromise = self.compromises.get(event.data["incident"])
        if compromise is not None:
            compromise.contain(event.time, event.data["how"])

    def _run_ended(self, event: Event) -> None:
        self.done = True

    # --- figures -------------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Decisions made."""
        self._settle()
        return sum(self._effects.values())

    def blast(self, now: float | None = None,
              incidents: Collection[str] | None = None) -> dict[str, Any]:
        """The blast radius so far, summed over incidents, for live panels.

        Keys: ``records``, ``egress_records``, ``amount`` (money moved),
        ``potential_records``, ``systems`` and ``data_classes`` (lists of names),
        ``exposure_window`` (seconds; None before any incident) and ``open`` (an exposure is
        still running).

        Args:
            now: The simulated time the figures are taken at (default: the last event's).
            incidents: Sum only these incidents (a blind dashboard's detected ones); None:
                every incident.
        """
        at = self.time if now is None else now
        compromises = list(self.compromises.values() if incidents is None else
                           (c for i, c in self.compromises.items() if i in incidents))
        figures = totals(compromises, at)
        return {"records": figures["records"], "egress_records": figures["egress_records"],
                "amount": figures["amount"], "potential_records": figures["potential_records"],
                "systems": figures["system_names"], "data_classes": figures["data_class_names"],
                "exposure_window": figures["exposure_window"] if compromises else None,
                "open": any(c.open for c in compromises)}

    def result(self, now: float | None = None) -> RunResult:
        """The run's figures so far (final once the run has ended).

        Args:
            now: The simulated time the figures are taken at (default: the last event's);
                open exposures run until then.
        """
        self._settle()
        at = self.time if now is None else now
        compromises = list(self.compromises.values())
        blast = totals(compromises, at)
        total = self.total
        approvals = self.approvals
        resolved = approvals["requested"]
        logged = total if self.audited else None
        data: dict[str, Any] = {
            "scenario": self.scenario, "profile": self.profile, "seed": self.seed,
            "time": float(at), "duration": self.duration, "done": self.done,
            "events": self.events,
            "decisions": {"total": total, **self._effects},
            "outcomes": dict(self._outcomes),
            "out_of_scope": {"attempts": self._oos_attempts, "stopped": self._oos_stopped},
            "blast_radius": {k: blast[k] for k in ("records", "egress_records", "data_classes",
                                                   "systems", "potential_records",
                                                   "exposure_window", "amount")},
            "time_to_detect": _worst([c.time_to_detect for c in compromises]),
            "time_to_contain": _worst([c.time_to_contain for c in compromises]),
            "delivery": {
                "tasks_started": self.tasks_started, "tasks_completed": self.tasks_completed,
                "tasks_failed": self.tasks_failed,
                "task_latency_p50": percentile(self.latencies, 0.5),
                "task_latency_p95": percentile(self.latencies, 0.95),
                "approval_wait_mean": self.approval_waits / resolved if resolved else None,
                "benign_steps": self._benign_steps, "benign_denied": self._benign_denied,
                "benign_denied_rate": (self._benign_denied / self._benign_steps
                                       if self._benign_steps else 0.0),
            },
            "approvals": dict(approvals),
            "alerts": {"total": sum(self.alerts.values()), **self.alerts},
            "tokens": dict(self.tokens),
            "audit": {"decisions": total, "logged": logged,
                      "attributable": self.attributable,
                      "coverage": None if logged is None or not total else logged / total},
            "incidents": [c.summary(at) for c in compromises],
        }
        return RunResult(self.scenario, self.profile, self.seed, data, dict(self.decisions))


def _worst(values: list[float | None]) -> float | None:
    """The largest value; None when there are none or any is None (never happened)."""
    if not values or any(v is None for v in values):
        return None
    return max(v for v in values if v is not None)
