"""Accountability report as a fold over events: who tried what out of scope, who answers for it.

:func:`build_report` reads a run's events (live, from an events file or from an audit log read
back: the same stream) and gives an :class:`~sim.collectors.report_model.AccountabilityReport`.
Everything comes from the events: the agents and their owners, the policy's rules, the
incidents and the estate from ``run_started``; the requests from ``decision`` and what became
of those held for approval from ``approval_resolved``; incident figures (detection,
containment, what was reached) from the same :class:`~sim.collectors.metrics.MetricsCollector`
that gives the run result, so the report and ``--format json`` cannot disagree.

Definitions:

* **Out-of-scope attempt**: a decided request that either

  1. serves an incident (its event names an ``incident``) **and** is not part of the agent's
     approved plan for that task (the event's ``approved`` flag: the simulator's own
     plan-conformance test). A hijacked run's legitimate first steps (reading the ticket that
     carries the injection) are therefore not attempts; or
  2. is made by an attacker (``attacker`` true: e.g. replaying a stolen token), whatever it
     does -- a thief repeating the agent's own routine steps is still not the agent; or
  3. was denied, whoever made it (a benign request refused is still a request outside what
     the policy allows).

  Each attempt carries ``off_plan`` (plan conformance), so the run result's ``out_of_scope``
  figure (off-plan steps only) is exactly the attempts with ``off_plan`` true.

  An attempt is **stopped** when it did not execute: denied (by a rule, the default deny, a
  failed token check or a fail-closed error), or held for approval and then rejected or
  expired. An allowed incident or attacker step is an attempt **not stopped** -- the rows
  that matter most, listed first. A step still held for approval when the run ended is
  *pending*.
* Identical attempts (same agent, chain, incident, task, tool, resource, data class and
  the same decision and outcome) are folded into one entry with a count and the first and
  last time, so an attacker replaying a token every minute for hours is one row, not 600.
* **Envelope broken**: for a stopped or held attempt, the envelope of the control that
  stopped it (the decision's envelope); for an attacker's step that ran, ``security`` -- a
  credential let someone else act as the agent; for any other step that ran, ``business``
  -- it was outside the agent's approved intent, and nothing stopped it.
* **Accountable owners**: the owner of each envelope involved -- the agent's business owner
  for intent, its security owner for access, the policy's legal owner for the legal
  envelope -- and, for an incident step, the agent's incident owner.
* **Refused twice**: a request refused by the token check whose rules would also have denied
  it says so in ``stopped_by`` (the event's ``also_denied_by``), and that rule's references
  join the attempt's.
* **Human use**: an incident in which a person worked with an agent's credential names the
  person only when an agent runtime attestation check refused the session (and so learned
  who opened it); otherwise the log names the agent alone, and the report says so.
* **References**: the union of the deciding rule's own ``frameworks``, the incident's own and
  its kind's mapping, the envelope's mapping, the decision reason's and token failure's
  mappings and, when not stopped, :data:`engine.framework_mappings.NOT_STOPPED_REFS`.

The output is deterministic: the same events give the same report (no wall-clock time, every
collection sorted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine import framework_mappings as fwm
from engine import frameworks as fw
from sim.collectors.metrics import MetricsCollector
from sim.collectors.report_model import (
    ROLES,
    AccountabilityReport,
    Attempt,
    IncidentEntry,
    LogStatus,
    OwnerGap,
)
from sim.events import Event, EventKind

_STOPPED_OUTCOMES = frozenset({"blocked", "revoked", "expired"})
_AWAITING = "awaiting_approval"
Owners = tuple[tuple[str, str | None], ...]


def _owners(value: object) -> Owners:
    owners = value if isinstance(value, Mapping) else {}
    return tuple((role, owners.get(role) or None) for role in ROLES)


class _Row:
    """One attempt as decided; its outcome is final once any approval resolved."""

    __slots__ = (
        "agent",
        "also",
        "attacker",
        "chain",
        "data_class",
        "effect",
        "envelope",
        "incident",
        "off_plan",
        "outcome",
        "owner",
        "reason",
        "records",
        "resource",
        "rule",
        "seq",
        "task",
        "time",
        "token_reason",
        "tool",
    )

    def __init__(self, event: Event) -> None:
        data = event.data
        decision = data["decision"]
        self.seq = event.seq
        self.time = event.time
        self.agent = event.agent or "?"
        self.chain = tuple(data["chain"]) or (self.agent,)
        self.incident: str | None = data["incident"]
        self.attacker = bool(data["attacker"])
        self.task: str = data["task"]
        self.tool: str = data["tool"]
        self.resource: str | None = data["resource"]
        self.data_class: str | None = data["data_class"]
        self.records = int(data["records"] or 0)
        self.effect = str(decision["effect"])
        self.reason = str(decision["reason"])
        self.rule: str | None = decision["rule"]
        self.envelope: str | None = decision["envelope"]
        self.owner: str | None = decision["owner"]
        self.token_reason = str(data["token_reason"])
        self.outcome = str(data["outcome"])
        self.off_plan = not data["approved"]
        self.also: str | None = data.get("also_denied_by")

    def key(self) -> tuple[Any, ...]:
        return (self.agent, self.chain, self.incident, self.attacker, self.task, self.tool,
                self.resource, self.data_class, self.effect, self.reason, self.rule,
                self.token_reason, self.outcome, self.envelope, self.owner, self.off_plan,
                self.also)


class ReportCollector:
    """Folds a run's events into its accountability report (a sink: call it per event)."""

    def __init__(self) -> None:
        self.metrics = MetricsCollector(record_decisions=False)
        """The incident figures, folded exactly as the run result folds them."""
        self.header: Mapping[str, Any] = {}
        self.decisions = 0
        self.rows: list[_Row] = []
        self.incidents: dict[str, Mapping[str, Any]] = {}
        self._pending: dict[int, _Row] = {}

    def __call__(self, event: Event) -> None:
        """Fold one event."""
        self.metrics(event)
        kind = event.kind
        if kind is EventKind.DECISION:
            self._decision(event)
        elif kind is EventKind.APPROVAL_RESOLVED:
            row = self._pending.pop(event.data["decision"], None)
            if row is not None:
                row.outcome = str(event.data["outcome"])
        elif kind is EventKind.INCIDENT:
            self.incidents[event.data["id"]] = event.data
        elif kind is EventKind.RUN_STARTED:
            self.header = event.data

    def _decision(self, event: Event) -> None:
        self.decisions += 1
        data = event.data
        effect = data["decision"]["effect"]
        attacker = data["attacker"]
        if effect != "deny" and (data["incident"] is None or data["approved"]) \
                and not attacker:
            return
        row = _Row(event)
        self.rows.append(row)
        if row.outcome == _AWAITING:
            self._pending[event.seq] = row

    def report(self, *, run: str | None = None, log: LogStatus | None = None
               ) -> AccountabilityReport:
        """The report of the events folded so far.

        Args:
            run: The run id (an audit log's header names it), for the header.
            log: What verifying the log the events came from found.
        """
        header = self.header
        agents = {a["name"]: a for a in header.get("agents", ())}
        rules = header.get("rules") or {}
        legal_owner = header.get("legal_owner")
        groups: dict[tuple[Any, ...], list[_Row]] = {}
        for row in self.rows:
            groups.setdefault(row.key(), []).append(row)
        attempts = [_attempt(rows, agents, rules, legal_owner, self.incidents)
                    for rows in groups.values()]
        attempts.sort(key=lambda a: (
            {False: 0, None: 1, True: 2}[a.stopped], a.incident is None and not a.attacker,
            a.first_time, a.first_seq))
        gaps = tuple(OwnerGap(a["name"], a.get("spiffe_id") or "", a.get("description") or "",
                              _owners(a.get("owners")))
                     for a in agents.values()
                     if any(o is None for _, o in _owners(a.get("owners"))))
        seed = header.get("seed")
        return AccountabilityReport(
            scenario=header.get("scenario"), profile=header.get("profile"),
            seed=seed if isinstance(seed, int) else None, run=run, log=log,
            decisions=self.decisions, owner_gaps=gaps,
            incidents=self._incident_entries(attempts, agents), attempts=tuple(attempts),
            owner_names=dict(header.get("owners") or {}))

    def _incident_entries(self, attempts: list[Attempt], agents: Mapping[str, Any]
                          ) -> tuple[IncidentEntry, ...]:
        now = self.metrics.time
        entries = []
        for iid, compromise in self.metrics.compromises.items():
            fact = compromise.summary(now)
            data = self.incidents.get(iid, {})
            mine = [a for a in attempts if a.incident == iid]
            kind = compromise.kind
            refs: list[str] = list(data.get("frameworks") or ())
            mapping = fwm.INCIDENT_KIND_REFS.get(kind)
            if mapping is not None:
                refs.extend(mapping.refs)
            blast = fact["blast_radius"]
            victim = compromise.principal
            entries.append(IncidentEntry(
                id=iid, kind=kind, victim=victim,
                description=" ".join(str(data.get("description") or "").split()),
                start=fact["start"], detected_at=fact["detected_at"],
                contained_at=fact["contained_at"], how=fact["how"],
                reached={k: blast[k] for k in ("records", "egress_records", "amount",
                                               "data_classes", "systems", "tools")},
                attempts=sum(a.count for a in mine),
                stopped=sum(a.count for a in mine if a.stopped),
                stopped_by=tuple(sorted({a.stopped_by for a in mine if a.stopped})),
                owners=_owners(agents.get(victim, {}).get("owners")), refs=fw.sort_refs(refs),
                human_use=kind == "human_use",
                person=data.get("person") if fact["how"] == "attestation" else None))
        return tuple(entries)


def build_report(events: Iterable[Event], *, run: str | None = None,
                 log: LogStatus | None = None) -> AccountabilityReport:
    """The accountability report of a run's events (live, from a file or from a log).

    Args:
        events: The run's events, in order.
        run: The run id, for the header.
        log: What verifying the log the events came from found.
    """
    collector = ReportCollector()
    for event in events:
        collector(event)
    return collector.report(run=run, log=log)


def _stopped_by(effect: str, reason: str, rule: str | None, token_reason: str,
                outcome: str) -> str:
    if effect == "deny":
        if reason == "invalid_token":
            return "token check" + (f" ({token_reason})" if token_reason else "")
        if reason == "no_matching_allow":
            return "default deny: no rule allows it"
        if reason == "error":
            return "fail-closed: a rule could not be evaluated"
        if reason == "sequence":
            return f"sequence rule {rule}"
        return f"rule {rule}" if rule else f"deny ({reason})"
    if effect == "require_approval":
        verdict = {"executed": "approved by a human", "blocked": "rejected",
                   "expired": "approval expired", "revoked": "token revoked while waiting"}
        return (f"approval gate {rule}: "
                f"{verdict.get(outcome, 'still waiting when the run ended')}")
    allowed = f"allowed by rule {rule}" if rule else "allowed"
    return allowed if outcome == "executed" else f"{allowed}, then {outcome}"


def _attempt(rows: list[_Row], agents: Mapping[str, Any], rules: Mapping[str, Any],
             legal_owner: str | None, incidents: Mapping[str, Mapping[str, Any]]) -> Attempt:
    a = rows[0]
    effect, outcome, rule = a.effect, a.outcome, a.rule
    reason, token_reason = a.reason, a.token_reason
    stopped: bool | None
    if outcome == "executed":
        stopped = False
    elif outcome in _STOPPED_OUTCOMES or effect == "deny":
        stopped = True
    else:
        stopped = None
    agent = agents.get(a.agent, {})
    owners = dict(_owners(agent.get("owners")))
    envelope = a.envelope or "security"
    if stopped is False:
        envelope = "security" if a.attacker else "business"
    accountable: list[tuple[str, str]] = []

    def add(role: str, owner: str | None) -> None:
        item = (role, owner or "(none named)")
        if item not in accountable:
            accountable.append(item)

    def owner_of(env: str) -> str | None:
        if env == "legal":
            return a.owner if a.envelope == "legal" else legal_owner
        if env == a.envelope and a.owner:
            return a.owner
        return owners.get(env)

    add(envelope, owner_of(envelope))
    if a.envelope:
        # What let it through (or held it) answers too: the allowing rule's envelope owner.
        add(a.envelope, owner_of(a.envelope))
    if a.incident is not None or a.attacker:
        add("incident", owners.get("incident"))

    refs: list[str] = []
    for named in (rule, a.also):
        info = rules.get(named) if named else None
        if info is not None:
            refs.extend(info.get("frameworks") or ())
    incident = incidents.get(a.incident) if a.incident else None
    if incident is not None:
        refs.extend(incident.get("frameworks") or ())
        mapping = fwm.INCIDENT_KIND_REFS.get(incident.get("kind", ""))
        if mapping is not None:
            refs.extend(mapping.refs)
    # A known token verdict says more than the generic "invalid token".
    generic = "" if reason == "invalid_token" and token_reason in fwm.TOKEN_REASON_REFS else reason
    for table, key in ((fwm.ENVELOPE_REFS, envelope), (fwm.DECISION_REASON_REFS, generic),
                       (fwm.TOKEN_REASON_REFS, token_reason)):
        found = table.get(key)
        if found is not None:
            refs.extend(found.refs)
    if stopped is False:
        refs.extend(fwm.NOT_STOPPED_REFS.refs)

    return Attempt(
        agent=a.agent, spiffe_id=agent.get("spiffe_id") or "", chain=a.chain,
        incident=a.incident, off_plan=a.off_plan, attacker=a.attacker, task=a.task,
        tool=a.tool, resource=a.resource, data_class=a.data_class,
        records=sum(r.records for r in rows), count=len(rows), first_time=a.time,
        last_time=rows[-1].time, first_seq=a.seq, effect=effect, reason=reason, rule=rule,
        token_reason=token_reason, outcome=outcome, envelope=envelope,
        accountable=tuple(accountable), stopped=stopped,
        stopped_by=_stopped_by(effect, reason, rule, token_reason, outcome) + (
            f"; rule {a.also} would also deny it" if a.also else ""),
        refs=fw.sort_refs(refs))
