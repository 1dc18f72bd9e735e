"""Accountability report: who tried what out of scope, on whose behalf, who answers for it.

Built from the records of an audit log (:func:`engine.audit.query.iter_records`), plus the scenario
when it is at hand (owners, incident kinds and descriptions, the profile's rules and their
framework references), plus, for a run made on the spot, what only the event stream knows
(:class:`StepFacts`) and the run's result (detection, containment, blast radius).

Definitions:

* **Out-of-scope attempt**: an audited request that either

  1. serves an incident (its record names an ``incident``) **and** is not part of the
     agent's approved plan for that task. "Approved" is the record's ``approved`` flag, or
     the event stream's when given; failing both, with the scenario, the step's (tool,
     resource) pair is looked up in the task's plan (the simulator's own plan-conformance
     test); with neither, every incident step counts. A hijacked run's legitimate first steps
     (reading the ticket that carries the injection) are therefore not attempts; or
  2. is made by an attacker (``attacker`` true: e.g. replaying a stolen token), whatever it
     does -- a thief repeating the agent's own routine steps is still not the agent; or
  3. was denied, whoever made it (a benign request refused is still a request outside what
     the policy allows).

  Each attempt carries ``off_plan`` (plan conformance, judged the same way for everyone), so
  the simulator's own ``out_of_scope`` metric (off-plan steps only) is exactly the attempts
  with ``off_plan`` true.

  An attempt is **stopped** when it did not execute: denied (by a rule, the default deny, a
  failed token check or a fail-closed error), or held for approval and then rejected or
  expired. An allowed incident or attacker step is an attempt **not stopped** -- the rows
  that matter most, listed first. A step held for approval whose resolution is not known
  (the audit log does not record approvals) is *pending*.
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
* **References**: the union of the deciding rule's own ``frameworks``, the incident's own and
  its kind's mapping, the envelope's mapping, the decision reason's and token failure's
  mappings and, when not stopped, :data:`engine.frameworks.NOT_STOPPED_REFS` (see
  :mod:`engine.frameworks`).

The output is deterministic: the same records and scenario give the same bytes (no wall-clock
time, every collection sorted).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import frameworks as fw
from engine.durations import format_duration
from engine.errors import AgentrangeError
from engine.model import Scenario, ToolStep

ROLES = ("business", "security", "incident")
_STOPPED_OUTCOMES = frozenset({"blocked", "revoked", "expired"})


class ReportError(AgentrangeError):
    """The report cannot be built (e.g. a log whose header cannot be read)."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class StepFacts:
    """What the event stream knows about one audited decision that its audit record lacks.

    Attributes:
        approved: The step is part of the agent's approved plan.
        token_reason: The token check's verdict (``ok``, ``out_of_scope``, ``revoked`` ...).
        final_outcome: For a step held for approval, what became of it (``executed``,
            ``blocked``, ``expired`` ...).
    """

    approved: bool | None = None
    token_reason: str | None = None
    final_outcome: str | None = None


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A policy rule as the report needs it.

    Attributes:
        id: The rule id.
        envelope: Whose envelope it belongs to.
        effect: What it does.
        description: Its description, if any.
        frameworks: Its own framework references (canonical).
    """

    id: str
    envelope: str
    effect: str
    description: str
    frameworks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LogStatus:
    """What verifying the log found (see :class:`engine.audit.verdict.VerifyReport`).

    Attributes:
        ok: The whole log verified and ends with its closing checkpoint.
        records: Records verified intact.
        checkpoints: Valid signed checkpoints.
        message: The verifier's sentence.
        key_pinned: Signatures were checked against a key supplied by the caller.
    """

    ok: bool
    records: int
    checkpoints: int
    message: str
    key_pinned: bool = False


def read_log_header(path: str | Path) -> dict[str, Any]:
    """The header object of an audit log (``run``, ``meta`` ...), read from its first line.

    Raises:
        ReportError: when the file cannot be read or its first line is not a log header.
    """
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the log: {exc.strerror}") from None
    try:
        obj = json.loads(first)
    except ValueError:
        obj = None
    header = obj.get("header") if isinstance(obj, dict) else None
    if not isinstance(header, dict):
        raise ReportError(f"{path}: line 1 is not an agentrange audit log header")
    return header


def policy_rules(scenario: Scenario, profile: str) -> tuple[dict[str, RuleInfo], str | None]:
    """The rules and sequence rules of a profile's policy file, and its legal owner.

    Args:
        scenario: A scenario loaded from a file or a built-in (it knows its base).
        profile: The profile whose policy to read.

    Raises:
        LoadError: when the policy file is bad.
        KeyError: for an unknown profile.
    """
    from engine.loader import read_document, validate_document
    from engine.policy import PolicyDocument
    from engine.policy.model import Rule, SequenceRule

    policy = scenario.profile(profile).policy
    if scenario.base is None:
        return {}, None
    doc = validate_document(read_document(scenario.base / policy, policy), PolicyDocument)
    rules: dict[str, RuleInfo] = {}
    items: list[Rule | SequenceRule] = [*doc.rules, *doc.sequences]
    for rule in items:
        rules[rule.id] = RuleInfo(rule.id, str(rule.envelope), str(rule.effect),
                                  rule.description, fw.sort_refs(rule.frameworks))
    return rules, doc.legal_owner


# --------------------------------------------------------------------------- report data


@dataclass(frozen=True, slots=True)
class OwnerGap:
    """An agent that does not name all three owners.

    Attributes:
        agent: The agent's name.
        spiffe_id: Its SPIFFE ID, when known.
        description: Its description (from the scenario).
        owners: (role, owner id or None) for business, security and incident.
    """

    agent: str
    spiffe_id: str
    description: str
    owners: tuple[tuple[str, str | None], ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """The roles with no owner."""
        return tuple(role for role, owner in self.owners if not owner)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One out-of-scope attempt (identical repeats folded, see ``count``).

    Attributes:
        agent: The acting agent's name.
        spiffe_id: Its SPIFFE ID.
        chain: The delegation chain, current actor first.
        incident: The incident the step served, if any.
        off_plan: The step was outside the agent's approved plan (None: not known).
        attacker: The step was made by an attacker (e.g. replaying a stolen token).
        task: The task id.
        tool: The tool called.
        resource: The resource touched, if any.
        data_class: Its data class, if any.
        records: Records requested, summed over the folded repeats.
        count: Identical attempts folded into this entry.
        first_time: Simulated time of the first.
        last_time: Simulated time of the last.
        first_seq: Audit seq of the first.
        effect: The decision's effect.
        reason: The decision's reason.
        rule: The deciding rule, if any.
        token_reason: The token check's verdict, when known.
        outcome: What became of the request (after any approval, when known).
        envelope: The envelope broken.
        accountable: (envelope or role, owner id) pairs.
        stopped: True, False, or None when pending an approval the log does not show.
        stopped_by: The control that stopped it, or what let it through.
        refs: Framework references.
    """

    agent: str
    spiffe_id: str
    chain: tuple[str, ...]
    incident: str | None
    off_plan: bool | None
    attacker: bool
    task: str
    tool: str
    resource: str | None
    data_class: str | None
    records: int
    count: int
    first_time: float
    last_time: float
    first_seq: int
    effect: str
    reason: str
    rule: str | None
    token_reason: str | None
    outcome: str
    envelope: str
    accountable: tuple[tuple[str, str], ...]
    stopped: bool | None
    stopped_by: str
    refs: tuple[str, ...]

    @property
    def on_behalf_of(self) -> tuple[str, ...]:
        """The earlier actors of the chain, most recent first (empty: its own task)."""
        return self.chain[1:]


@dataclass(frozen=True, slots=True)
class IncidentEntry:
    """One incident: what it was, what it reached, what stopped it, who answers for it.

    Attributes:
        id: The incident id.
        kind: Its kind (``prompt_injection`` ...), or ``unknown`` without the scenario.
        victim: The compromised agent.
        description: The scenario's description of it.
        start: When it started (simulated seconds), if known.
        detected_at: When it was detected, if it was and the run result is known.
        contained_at: When it was contained, likewise.
        how: How it was contained (``quarantine``, ``blocked`` ...), if known.
        reached: What it touched: records, egress_records, amount (money moved; None when
            unknown), data_classes, systems, tools.
        attempts: Out-of-scope attempts serving it.
        stopped: How many of them were stopped.
        stopped_by: The distinct controls that stopped them.
        owners: (role, owner id or None) of the victim agent.
        refs: Framework references.
    """

    id: str
    kind: str
    victim: str
    description: str
    start: float | None
    detected_at: float | None
    contained_at: float | None
    how: str | None
    reached: Mapping[str, Any]
    attempts: int
    stopped: int
    stopped_by: tuple[str, ...]
    owners: tuple[tuple[str, str | None], ...]
    refs: tuple[str, ...]


@dataclass(frozen=True)
class AccountabilityReport:
    """The accountability report of one run, as frozen data with two renderings.

    Attributes:
        scenario: Scenario name, if known.
        profile: Profile id, if known.
        seed: Seed, if known.
        run: Run id (from the log header), if known.
        log: What verifying the log found; None when it was not verified.
        decisions: Audit records read.
        owner_gaps: Agents missing any of their three owners.
        incidents: One entry per incident.
        attempts: Out-of-scope attempts, not stopped first.
        owner_names: Owner id -> display name (from the scenario).
    """

    scenario: str | None
    profile: str | None
    seed: int | None
    run: str | None
    log: LogStatus | None
    decisions: int
    owner_gaps: tuple[OwnerGap, ...]
    incidents: tuple[IncidentEntry, ...]
    attempts: tuple[Attempt, ...]
    owner_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_stopped(self) -> int:
        """Out-of-scope attempts (repeats counted) that were not stopped."""
        return sum(a.count for a in self.attempts if a.stopped is False)

    @property
    def stopped(self) -> int:
        """Out-of-scope attempts (repeats counted) that were stopped."""
        return sum(a.count for a in self.attempts if a.stopped)

    @property
    def pending(self) -> int:
        """Out-of-scope attempts held for an approval whose outcome is unknown."""
        return sum(a.count for a in self.attempts if a.stopped is None)

    @property
    def total_attempts(self) -> int:
        """Out-of-scope attempts, repeats counted."""
        return sum(a.count for a in self.attempts)

    def references(self) -> tuple[str, ...]:
        """Every framework id the report cites, in catalogue order."""
        ids: list[str] = list(fw.MISSING_OWNERS_REFS.refs) if self.owner_gaps else []
        for a in self.attempts:
            ids.extend(a.refs)
        for i in self.incidents:
            ids.extend(i.refs)
        return fw.sort_refs(ids)

    def to_markdown(self) -> str:
        """The report as GitHub-flavoured Markdown."""
        return _Markdown(self).render()

    def to_html(self) -> str:
        """The report as one self-contained HTML page with print styles."""
        return _Html(self).render()


# --------------------------------------------------------------------------- building


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _num(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _chain(record: Mapping[str, Any], agent: str) -> tuple[str, ...]:
    chain = record.get("chain")
    if isinstance(chain, dict):
        actors = chain.get("actors")
        chain = [chain.get("origin"), *(actors if isinstance(actors, list) else [])]
    if not isinstance(chain, list):
        return (agent,)
    names = []
    for actor in chain:
        if isinstance(actor, dict):
            actor = actor.get("name") or actor.get("spiffe_id") or actor.get("id")
        if isinstance(actor, str) and actor:
            names.append(actor.rstrip("/").rsplit("/", 1)[-1] if "://" in actor else actor)
    return tuple(names) or (agent,)


def _owners(value: object) -> tuple[tuple[str, str | None], ...]:
    owners = value if isinstance(value, dict) else {}
    return tuple((role, _text(owners.get(role))) for role in ROLES)


class _Plans:
    """The scenario's approved plans as (tool, resource) pairs, as the simulator judges them."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._cache: dict[tuple[str, str | None], frozenset[tuple[str, str | None]]] = {}

    def _pairs(self, steps: Iterable[Any]) -> set[tuple[str, str | None]]:
        pairs: set[tuple[str, str | None]] = set()
        for step in steps:
            if not isinstance(step, ToolStep):
                continue
            resource = step.resource
            if resource is None:
                try:
                    tool = self.scenario.tool(step.tool)
                except KeyError:
                    tool = None
                if tool is not None and len(tool.resources) == 1:
                    resource = tool.resources[0]
            pairs.add((step.tool, resource))
        return pairs

    def approved(self, agent: str, task: str, tool: str, resource: str | None) -> bool | None:
        key = (agent, task)
        plan = self._cache.get(key)
        if plan is None:
            try:
                model = self.scenario.agent(agent)
            except KeyError:
                return None
            tasks = {t.id: t for t in model.tasks}
            if task in tasks:
                pairs = self._pairs(tasks[task].steps)
            else:
                pairs = set()
                for t in model.tasks:
                    pairs |= self._pairs(t.steps)
            plan = self._cache[key] = frozenset(pairs)
        return (tool, resource) in plan


@dataclass
class _Group:
    attempt: dict[str, Any]
    count: int = 0
    records: int = 0
    last_time: float = 0.0


def build_report(
    records: Iterable[Mapping[str, Any]],
    *,
    scenario: Scenario | None = None,
    profile: str | None = None,
    seed: int | None = None,
    run: str | None = None,
    log: LogStatus | None = None,
    result: Mapping[str, Any] | None = None,
    facts: Mapping[int, StepFacts] | None = None,
    rules: Mapping[str, RuleInfo] | None = None,
    legal_owner: str | None = None,
) -> AccountabilityReport:
    """Build the accountability report of one run.

    Args:
        records: The audit records, in log order (e.g. ``iter_records(path)``).
        scenario: The scenario the run played, for owners, incidents and plans.
        profile: The profile it ran under (to read the policy's rules when ``rules`` is None).
        seed: The run's seed, for the header.
        run: The run id, for the header.
        log: What verifying the log found.
        result: ``RunResult.to_dict()`` of the run, for detection, containment and reach.
        facts: Event-stream facts by the decision's event number (the record's ``event``).
        rules: The policy's rules by id (read from the scenario's profile when None).
        legal_owner: The policy's legal owner (read with the rules when None).

    Raises:
        LoadError: when the profile's policy file is bad.
    """
    if rules is None:
        rules = {}
        if scenario is not None and profile is not None:
            rules, read_owner = policy_rules(scenario, profile)
            legal_owner = legal_owner or read_owner
    facts = facts or {}
    plans = _Plans(scenario) if scenario is not None else None
    incidents_model = {i.id: i for i in scenario.incidents} if scenario is not None else {}

    groups: dict[tuple[Any, ...], _Group] = {}
    seen_agents: dict[str, tuple[str, tuple[tuple[str, str | None], ...]]] = {}
    reach: dict[str, dict[str, Any]] = {}
    decisions = 0
    for record in records:
        decisions += 1
        agent = _text(record.get("agent_name")) or _text(record.get("agent")) or "?"
        spiffe_id = _text(record.get("agent")) or ""
        owners = _owners(record.get("owners"))
        seen_agents.setdefault(agent, (spiffe_id, owners))
        decision = record.get("decision")
        decision = decision if isinstance(decision, dict) else {}
        effect = _text(decision.get("effect")) or "?"
        incident = _text(record.get("incident"))
        attacker = record.get("attacker") is True
        event = record.get("event")
        known = facts.get(event) if isinstance(event, int) else None
        outcome = _text(record.get("outcome")) or "?"
        if known is not None and known.final_outcome is not None:
            outcome = known.final_outcome
        tool = _text(record.get("tool")) or "?"
        resource = _text(record.get("resource"))
        task = _text(record.get("task")) or "?"
        amount = int(_num(record.get("records")) or 0)
        if incident is not None and outcome == "executed":
            r = reach.setdefault(incident, {"records": 0, "data_classes": set(), "tools": set(),
                                            "systems": set()})
            if resource is not None:
                # Records read from a resource; a step without one (an email) passes on
                # records already counted.
                r["records"] += amount
                if scenario is not None:
                    try:
                        r["systems"].add(scenario.resource(resource).system)
                    except KeyError:
                        pass
            r["tools"].add(tool)
            if _text(record.get("data_class")):
                r["data_classes"].add(record["data_class"])
        if effect != "deny" and incident is None and not attacker:
            continue
        approved = record.get("approved")
        if not isinstance(approved, bool):
            approved = known.approved if known is not None else None
        if approved is None and plans is not None:
            approved = plans.approved(agent, task, tool, resource)
        if effect != "deny" and approved and not attacker:
            continue
        token_reason = _text(record.get("token_reason"))
        if token_reason is None and known is not None:
            token_reason = known.token_reason
        when = _num(record.get("time")) or 0.0
        key = (agent, _chain(record, agent), incident, attacker, task, tool, resource,
               _text(record.get("data_class")), effect, _text(decision.get("reason")),
               _text(decision.get("rule")), token_reason, outcome,
               _text(decision.get("envelope")), _text(decision.get("owner")), owners,
               None if approved is None else not approved)
        group = groups.get(key)
        if group is None:
            seq = record.get("seq")
            group = groups[key] = _Group({
                "agent": agent, "spiffe_id": spiffe_id, "chain": key[1], "incident": incident,
                "attacker": attacker, "task": task, "tool": tool, "resource": resource,
                "data_class": key[7], "first_time": when,
                "first_seq": seq if isinstance(seq, int) else 0, "effect": effect,
                "reason": key[9] or "?", "rule": key[10], "token_reason": token_reason,
                "outcome": outcome, "decision_envelope": key[13], "decision_owner": key[14],
                "owners": owners, "off_plan": key[16],
            })
        group.count += 1
        group.records += amount
        group.last_time = when

    attempts = [_attempt(g, rules, legal_owner, incidents_model) for g in groups.values()]
    attempts.sort(key=lambda a: (
        {False: 0, None: 1, True: 2}[a.stopped], a.incident is None and not a.attacker,
        a.first_time, a.first_seq))

    owner_gaps = _owner_gaps(scenario, seen_agents)
    incidents = _incidents(scenario, result, attempts, reach, seen_agents)
    owner_names = ({o.id: o.name for o in scenario.owners} if scenario is not None else {})
    return AccountabilityReport(
        scenario=scenario.name if scenario is not None else None, profile=profile, seed=seed,
        run=run, log=log, decisions=decisions, owner_gaps=owner_gaps,
        incidents=incidents, attempts=tuple(attempts), owner_names=owner_names)


def _attempt(group: _Group, rules: Mapping[str, RuleInfo], legal_owner: str | None,
             incidents: Mapping[str, Any]) -> Attempt:
    a = group.attempt
    effect, outcome, rule = a["effect"], a["outcome"], a["rule"]
    reason, token_reason = a["reason"], a["token_reason"]
    stopped: bool | None
    if outcome == "executed":
        stopped = False
    elif outcome in _STOPPED_OUTCOMES or effect == "deny":
        stopped = True
    else:
        stopped = None
    if effect == "deny":
        if reason == "invalid_token":
            stopped_by = "token check" + (f" ({token_reason})" if token_reason else "")
        elif reason == "no_matching_allow":
            stopped_by = "default deny: no rule allows it"
        elif reason == "error":
            stopped_by = "fail-closed: a rule could not be evaluated"
        elif reason == "sequence":
            stopped_by = f"sequence rule {rule}"
        else:
            stopped_by = f"rule {rule}" if rule else f"deny ({reason})"
    elif effect == "require_approval":
        verdict = {"executed": "approved by a human", "blocked": "rejected",
                   "expired": "approval expired", "revoked": "token revoked while waiting"}
        stopped_by = (f"approval gate {rule}: "
                      f"{verdict.get(outcome, 'resolution not in the audit log')}")
    else:
        stopped_by = f"allowed by rule {rule}" if rule else "allowed"
        if outcome != "executed":
            stopped_by += f", then {outcome}"

    owners = dict(a["owners"])
    envelope = a["decision_envelope"] or "security"
    if stopped is False:
        envelope = "security" if a["attacker"] else "business"
    accountable: list[tuple[str, str]] = []

    def add(role: str, owner: str | None) -> None:
        item = (role, owner or "(none named)")
        if item not in accountable:
            accountable.append(item)

    def owner_of(env: str) -> str | None:
        if env == "legal":
            return a["decision_owner"] if a["decision_envelope"] == "legal" else legal_owner
        if env == a["decision_envelope"] and a["decision_owner"]:
            return str(a["decision_owner"])
        return owners.get(env)

    add(envelope, owner_of(envelope))
    if a["decision_envelope"]:
        # What let it through (or held it) answers too: the allowing rule's envelope owner.
        add(a["decision_envelope"], owner_of(a["decision_envelope"]))
    if a["incident"] is not None or a["attacker"]:
        add("incident", owners.get("incident"))

    refs: list[str] = []
    info = rules.get(rule) if rule else None
    if info is not None:
        refs.extend(info.frameworks)
    incident = incidents.get(a["incident"]) if a["incident"] else None
    if incident is not None:
        refs.extend(incident.frameworks)
        mapping = fw.INCIDENT_KIND_REFS.get(incident.kind)
        if mapping is not None:
            refs.extend(mapping.refs)
    # A known token verdict says more than the generic "invalid token".
    generic = "" if reason == "invalid_token" and token_reason in fw.TOKEN_REASON_REFS else reason
    for table, key in ((fw.ENVELOPE_REFS, envelope), (fw.DECISION_REASON_REFS, generic),
                       (fw.TOKEN_REASON_REFS, token_reason or "")):
        mapping = table.get(key)
        if mapping is not None:
            refs.extend(mapping.refs)
    if stopped is False:
        refs.extend(fw.NOT_STOPPED_REFS.refs)

    return Attempt(
        agent=a["agent"], spiffe_id=a["spiffe_id"], chain=a["chain"], incident=a["incident"],
        off_plan=a["off_plan"], attacker=a["attacker"], task=a["task"], tool=a["tool"],
        resource=a["resource"],
        data_class=a["data_class"], records=group.records, count=group.count,
        first_time=a["first_time"], last_time=group.last_time, first_seq=a["first_seq"],
        effect=effect, reason=reason, rule=rule, token_reason=token_reason, outcome=outcome,
        envelope=envelope, accountable=tuple(accountable), stopped=stopped,
        stopped_by=stopped_by, refs=fw.sort_refs(refs))


def _owner_gaps(scenario: Scenario | None,
                seen: Mapping[str, tuple[str, tuple[tuple[str, str | None], ...]]]
                ) -> tuple[OwnerGap, ...]:
    gaps: list[OwnerGap] = []
    if scenario is not None:
        for agent in scenario.agents:
            owners = _owners(agent.owners.model_dump())
            if any(o is None for _, o in owners):
                gaps.append(OwnerGap(agent.name, str(agent.spiffe_id), agent.description,
                                     owners))
    else:
        for name in sorted(seen):
            spiffe_id, owners = seen[name]
            if any(o is None for _, o in owners):
                gaps.append(OwnerGap(name, spiffe_id, "", owners))
    return tuple(gaps)


def _incidents(scenario: Scenario | None, result: Mapping[str, Any] | None,
               attempts: Sequence[Attempt], reach: Mapping[str, Mapping[str, Any]],
               seen: Mapping[str, tuple[str, tuple[tuple[str, str | None], ...]]]
               ) -> tuple[IncidentEntry, ...]:
    facts: dict[str, Mapping[str, Any]] = {}
    for item in (result or {}).get("incidents") or ():
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            facts[item["id"]] = item
    models = {i.id: i for i in scenario.incidents} if scenario is not None else {}
    ids = list(models)
    for extra in sorted({*facts, *(a.incident for a in attempts if a.incident), *reach}):
        if extra not in models:
            ids.append(extra)
    entries = []
    for iid in ids:
        model = models.get(iid)
        fact = facts.get(iid, {})
        mine = [a for a in attempts if a.incident == iid]
        victim = (model.agent if model is not None else _text(fact.get("agent"))
                  or (mine[0].agent if mine else "?"))
        kind = model.kind if model is not None else (_text(fact.get("kind")) or "unknown")
        refs: list[str] = list(model.frameworks) if model is not None else []
        mapping = fw.INCIDENT_KIND_REFS.get(kind)
        if mapping is not None:
            refs.extend(mapping.refs)
        blast = fact.get("blast_radius")
        if isinstance(blast, Mapping):
            reached = {k: blast.get(k) for k in ("records", "egress_records", "amount",
                                                  "data_classes", "systems", "tools")}
        else:
            r = reach.get(iid, {})
            reached = {"records": r.get("records", 0), "egress_records": None,
                       "amount": None,
                       "data_classes": sorted(r.get("data_classes", ())),
                       "systems": sorted(r.get("systems", ())) or None,
                       "tools": sorted(r.get("tools", ()))}
        if scenario is not None and model is not None:
            try:
                owners = _owners(scenario.agent(victim).owners.model_dump())
            except KeyError:
                owners = _owners({})
        else:
            owners = seen.get(victim, ("", _owners({})))[1]
        start = _num(fact.get("start"))
        if start is None and model is not None:
            start = float(model.at)
        entries.append(IncidentEntry(
            id=iid, kind=kind, victim=victim,
            description=" ".join((model.description if model is not None else "").split()),
            start=start, detected_at=_num(fact.get("detected_at")),
            contained_at=_num(fact.get("contained_at")), how=_text(fact.get("how")),
            reached=reached, attempts=sum(a.count for a in mine),
            stopped=sum(a.count for a in mine if a.stopped),
            stopped_by=tuple(sorted({a.stopped_by for a in mine if a.stopped})),
            owners=owners, refs=fw.sort_refs(refs)))
    return tuple(entries)


# --------------------------------------------------------------------------- rendering


def _when(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def _count(value: object) -> str:
    number = _num(value)
    return "-" if number is None else f"{int(number):,}"


def _money(value: object) -> str:
    number = _num(value)
    if number is None:
        return "-"
    return f"{number:,.2f}" if number != int(number) else f"{int(number):,}"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _list(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(str(v) for v in value)) or "-"
    return "-"


class _View:
    """The report's words, shared by both renderings (each escapes them its own way)."""

    def __init__(self, report: AccountabilityReport) -> None:
        self.r = report

    def owner(self, owner_id: str | None) -> str:
        if not owner_id or owner_id == "(none named)":
            return "NONE NAMED"
        name = self.r.owner_names.get(owner_id)
        return f"{owner_id} ({name})" if name else owner_id

    def title(self) -> str:
        r = self.r
        what = r.scenario or (r.run or "audit log")
        if r.profile:
            what += f" under {r.profile}"
        if r.seed is not None:
            what += f" (seed {r.seed})"
        return f"Accountability report: {what}"

    def facts(self) -> list[tuple[str, str]]:
        r = self.r
        rows = [("scenario", r.scenario or "unknown (no scenario given)"),
                ("profile", r.profile or "unknown"),
                ("seed", "-" if r.seed is None else str(r.seed)),
                ("run", r.run or "-")]
        if r.log is None:
            rows.append(("audit log", "not verified"))
        else:
            verdict = "verified" if r.log.ok else "FAILED verification"
            key = "pinned key" if r.log.key_pinned else "key from the log's own header"
            rows.append(("audit log", f"{verdict}: {_plural(r.log.records, 'record')}, "
                         f"{_plural(r.log.checkpoints, 'signed checkpoint')} ({key})"))
        rows.append(("decisions audited", f"{r.decisions:,}"))
        rows.append(("out-of-scope attempts",
                     f"{r.total_attempts:,} ({len(r.attempts):,} distinct): "
                     f"{r.not_stopped:,} not stopped, {r.stopped:,} stopped"
                     + (f", {r.pending:,} pending approval" if r.pending else "")))
        rows.append(("incidents", f"{len(r.incidents):,}"))
        rows.append(("agents missing owners", f"{len(r.owner_gaps):,}"))
        return rows

    def warning(self) -> str | None:
        log = self.r.log
        if log is None or log.ok:
            return None
        return (f"WARNING: this audit log FAILED verification -- {log.message} Only the first "
                f"{log.records:,} records are proven intact; treat everything after them as "
                "untrustworthy.")

    def gap_rows(self) -> list[list[str]]:
        return [[g.agent, ", ".join(g.missing), *(self.owner(o) for _, o in g.owners)]
                for g in self.r.owner_gaps]

    def incident_rows(self, i: IncidentEntry) -> list[tuple[str, str]]:
        reached = i.reached
        touched = _count(reached.get("records"))
        reach = f"{touched} record{'' if touched == '1' else 's'} touched"
        if reached.get("egress_records") is not None:
            reach += f" ({_count(reached.get('egress_records'))} sent out)"
        if reached.get("amount"):
            reach += f"; money moved {_money(reached.get('amount'))}"
        reach += (f"; data classes {_list(reached.get('data_classes'))}"
                  f"; systems {_list(reached.get('systems'))}"
                  f"; tools {_list(reached.get('tools'))}")
        if i.detected_at is None and i.contained_at is None and i.how is None:
            status = "not in the audit log (agentrange report SCENARIO runs it and shows them)"
        else:
            status = (f"detected {_when(i.detected_at)}, contained {_when(i.contained_at)}"
                      + (f" ({i.how})" if i.how else ""))
        return [
            ("kind", i.kind), ("victim", i.victim), ("what happened", i.description or "-"),
            ("started", _when(i.start)), ("detection and containment", status),
            ("what it reached", reach),
            ("out-of-scope steps", f"{i.attempts:,}, of which {i.stopped:,} stopped"),
            ("stopped by", "; ".join(i.stopped_by) or "nothing stopped it"),
            ("owners", "; ".join(f"{role} {self.owner(o)}" for role, o in i.owners)),
        ]

    def attempt_rows(self, a: Attempt) -> list[tuple[str, str]]:
        who = a.agent
        if a.on_behalf_of:
            who += " on behalf of " + " ← ".join(a.on_behalf_of)
        if a.attacker:
            who += " (attacker holding its credential)"
        serves = a.incident or ("attacker" if a.attacker else "its own work (benign)")
        serves += {True: ", off the approved plan", False: ", a step of the approved plan",
                   None: ""}[a.off_plan]
        when = _when(a.first_time)
        if a.count > 1:
            when = f"{a.count:,} times, {when} to {_when(a.last_time)}"
        what = f"{a.tool} on {a.resource or '-'}"
        if a.data_class:
            what += f" ({a.data_class})"
        what += f", {a.records:,} records"
        decision = f"{a.effect} ({a.reason})"
        if a.token_reason and a.token_reason != "ok":
            decision += f", token {a.token_reason}"
        verdict = {True: "STOPPED", False: "NOT STOPPED", None: "PENDING"}[a.stopped]
        return [
            ("agent", f"{who}, {a.spiffe_id}" if a.spiffe_id else who),
            ("serves", serves), ("task", a.task), ("when", when), ("request", what),
            ("decision", f"{decision}; outcome {a.outcome}"),
            ("envelope broken", a.envelope),
            ("accountable", "; ".join(f"{role} {self.owner(o)}" for role, o in a.accountable)),
            ("stopped?", f"{verdict}: {a.stopped_by}"),
        ]

    @staticmethod
    def verdict(a: Attempt) -> str:
        return {True: "STOPPED", False: "NOT STOPPED", None: "PENDING"}[a.stopped]

    @staticmethod
    def ref_line(ident: str) -> tuple[str, str]:
        item = fw.CATALOGUE.get(ident)
        if item is None:
            return ident, "(not in the catalogue)"
        return ident, f"{item.name} ({item.framework}): {item.meaning}"


def _md(text: object) -> str:
    """A table cell or inline value: one line, pipes and markup characters escaped."""
    out = " ".join(str(text).split())
    # Intraword underscores are literal in GFM, so ids such as prompt_injection stay readable.
    for ch in ("\\", "|", "*", "`", "<", ">", "[", "]"):
        out = out.replace(ch, "\\" + ch)
    return out


class _Markdown(_View):
    def render(self) -> str:
        r = self.r
        lines = [f"# {_md(self.title())}", ""]
        warning = self.warning()
        if warning:
            lines += [f"> **{_md(warning)}**", ""]
        lines += ["| | |", "|---|---|"]
        lines += [f"| {_md(k)} | {_md(v)} |" for k, v in self.facts()]
        lines += ["", "## Agents missing owners", ""]
        if r.owner_gaps:
            lines += ["| agent | missing | business | security | incident |",
                      "|---|---|---|---|---|"]
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in self.gap_rows()]
            lines += ["", f"Why it matters: {_md(fw.MISSING_OWNERS_REFS.why)} "
                      f"({_md(', '.join(fw.MISSING_OWNERS_REFS.refs))})"]
            described = [g for g in r.owner_gaps if g.description]
            if described:
                lines.append("")
                lines += [f"- **{_md(g.agent)}**: {_md(g.description)}" for g in described]
        else:
            lines.append("None: every agent names a business, a security and an incident owner.")
        lines += ["", "## Incidents", ""]
        if not r.incidents:
            lines.append("None in this run.")
        for i in r.incidents:
            lines += [f"### {_md(i.id)}", "", "| | |", "|---|---|"]
            lines += [f"| {_md(k)} | {_md(v)} |" for k, v in self.incident_rows(i)]
            lines += [f"| references | {_md(', '.join(i.refs) or '-')} |", ""]
        lines += ["## Out-of-scope attempts", ""]
        if not r.attempts:
            lines.append("None: no incident or attacker step left its plan and nothing was "
                         "denied.")
        for n, a in enumerate(r.attempts, 1):
            title = f"{n}. {self.verdict(a)}: {a.agent} → {a.tool}"
            lines += [f"### {_md(title)}", "", "| | |", "|---|---|"]
            lines += [f"| {_md(k)} | {_md(v)} |" for k, v in self.attempt_rows(a)]
            lines += [f"| references | {_md(', '.join(a.refs) or '-')} |", ""]
        refs = r.references()
        if refs:
            lines += ["## Framework references", ""]
            lines += [f"- **{_md(k)}**: {_md(v)}" for k, v in map(self.ref_line, refs)]
            lines.append("")
        return "\n".join(lines).rstrip("\n") + "\n"


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #999;
     margin-top: 2rem; } h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 1rem; }
th, td { border: 1px solid #bbb; padding: .25rem .5rem; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
th { background: #eee; width: 14rem; }
.warning { border: 3px solid #b00; background: #fee; color: #700; padding: .75rem;
           font-weight: bold; }
.not-stopped { border-left: 6px solid #b00; padding-left: .5rem; }
.stopped { border-left: 6px solid #080; padding-left: .5rem; }
.pending { border-left: 6px solid #c80; padding-left: .5rem; }
.verdict { font-weight: bold; }
dt { font-weight: bold; } dd { margin: 0 0 .4rem 1.5rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; color: #000; }
  h2 { break-after: avoid; } h3 { break-after: avoid; }
  section.entry, table, .warning { break-inside: avoid; }
  th { background: none; }
  a { color: inherit; text-decoration: none; }
}
""".strip()


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


class _Html(_View):
    def table(self, rows: Iterable[tuple[str, str]]) -> list[str]:
        out = ["<table>"]
        out += [f"<tr><th scope=\"row\">{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows]
        out.append("</table>")
        return out

    def render(self) -> str:
        r = self.r
        out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
               f"<title>{_e(self.title())}</title>", f"<style>\n{_CSS}\n</style>", "</head>",
               "<body>", f"<h1>{_e(self.title())}</h1>"]
        warning = self.warning()
        if warning:
            out.append(f"<p class=\"warning\" role=\"alert\">{_e(warning)}</p>")
        out += self.table(self.facts())
        out.append("<h2>Agents missing owners</h2>")
        if r.owner_gaps:
            out.append("<table><tr><th>agent</th><th>missing</th><th>business</th>"
                       "<th>security</th><th>incident</th></tr>")
            for row in self.gap_rows():
                out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
            out.append("</table>")
            out.append(f"<p>Why it matters: {_e(fw.MISSING_OWNERS_REFS.why)} "
                       f"({_e(', '.join(fw.MISSING_OWNERS_REFS.refs))})</p>")
            for g in r.owner_gaps:
                if g.description:
                    out.append(f"<p><b>{_e(g.agent)}</b>: {_e(g.description)}</p>")
        else:
            out.append("<p>None: every agent names a business, a security and an incident "
                       "owner.</p>")
        out.append("<h2>Incidents</h2>")
        if not r.incidents:
            out.append("<p>None in this run.</p>")
        for i in r.incidents:
            out += ["<section class=\"entry\">", f"<h3>{_e(i.id)}</h3>"]
            out += self.table([*self.incident_rows(i),
                               ("references", ", ".join(i.refs) or "-")])
            out.append("</section>")
        out.append("<h2>Out-of-scope attempts</h2>")
        if not r.attempts:
            out.append("<p>None: no incident or attacker step left its plan and nothing was "
                       "denied.</p>")
        for n, a in enumerate(r.attempts, 1):
            css = {True: "stopped", False: "not-stopped", None: "pending"}[a.stopped]
            out += [f"<section class=\"entry {css}\">",
                    f"<h3>{n}. <span class=\"verdict\">{_e(self.verdict(a))}</span>: "
                    f"{_e(a.agent)} → {_e(a.tool)}</h3>"]
            out += self.table([*self.attempt_rows(a), ("references", ", ".join(a.refs) or "-")])
            out.append("</section>")
        refs = r.references()
        if refs:
            out += ["<h2>Framework references</h2>", "<dl>"]
            for k, v in map(self.ref_line, refs):
                out += [f"<dt>{_e(k)}</dt>", f"<dd>{_e(v)}</dd>"]
            out.append("</dl>")
        out += ["</body>", "</html>"]
        return "\n".join(out) + "\n"
