"""Incident bookkeeping and defaults: per-incident state, framework tags, attacker plans.

How each kind plays out in a run (the processes live in :mod:`sim.incident_play`):

- ``prompt_injection``: at ``at`` the victim starts a run of its first scheduled task whose
  plan is *replaced* by the incident's plan (the attacker's goal); with ``repeat_every`` it
  happens again at that interval until contained.
- ``memory_poisoning``: from ``at`` on, every run of the victim executes its normal plan and
  *then* the incident's plan (the poisoned memory alters later steps), until quarantine.
- ``rogue_agent``: from ``at`` on, every run of the victim is replaced by the incident's plan,
  and it starts one at ``at`` (and every ``repeat_every``) on its own, until quarantine.
- ``credential_theft``: at ``at`` an attacker copies the victim's current token (its static
  token, or its most recent live JIT token; with none live, the next one issued) and replays
  the plan from elsewhere (another key) every ``repeat_every`` until the token stops working.
- ``vendor_compromise``: the attacker controls the victim's vendor issuer and workload, so it
  mints fresh tokens for the victim (scope ``*``) and replays the plan until the vendor's
  trust domain is distrusted or the agent quarantined.
- ``overbroad_delegated_admin``: at ``at`` the victim receives a delegated token with scope
  ``*`` (from the first agent that delegates to it, if any) and runs the plan with it.
- ``human_use``: at ``at`` a person (``person``) takes the victim's current credential and
  works by hand with it from their own machine, every ``repeat_every``, like a replay; under a
  profile with ``credentials.attestation`` the session has no agent runtime attestation, so
  it is refused at once and the person named (contained ``attestation``).
- ``federation_abuse``: at ``at`` an attacker's CI workflow presents an OIDC token carrying
  ``claims`` to the cloud federation, which exchanges it for a fresh token of the victim's
  role on every replay; when the profile's ``credentials.pinned_claims`` disagree with the
  claims, the exchange is refused (contained ``claims_pinned``).

A hijack (prompt injection, rogue agent) takes over the task the incident names (``task``),
else the victim's first scheduled task. An agent past its ``retire_at`` starts no task; under
``credentials.offboarding: owner`` its credentials are revoked then, and a theft of a retired
agent's credential that finds none live is contained (``retired``).

Steps of an incident's plan carry the incident id in their decisions; they are out-of-scope
attempts when their (tool, resource) is not in the victim's approved plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from engine.model import Agent, DelegateStep, Incident, IncidentKind, Scenario, ToolStep
from sim.world import World

KINDS: tuple[str, ...] = get_args(IncidentKind)

DEFAULT_FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "prompt_injection": ("ASI01", "LLM01:2025", "T6"),
    "memory_poisoning": ("ASI06", "T1"),
    "rogue_agent": ("ASI10", "T13"),
    "credential_theft": ("ASI03", "NHI2:2025", "NHI7:2025", "T9"),
    "vendor_compromise": ("ASI04", "NHI3:2025"),
    "overbroad_delegated_admin": ("ASI03", "NHI5:2025", "T3"),
    "human_use": ("NHI10:2025", "T8"),
    "federation_abuse": ("NHI6:2025", "ASI03"),
}
"""Framework references of an incident kind when the scenario gives none."""

RENEWABLE_UNDER_JIT = frozenset({"memory_poisoning", "rogue_agent"})
"""Kinds whose victim keeps receiving fresh JIT tokens: only quarantine contains them."""


def retired(agent: Agent, now: float) -> bool:
    """The agent has reached its planned retirement (``retire_at``)."""
    return agent.retire_at is not None and now >= agent.retire_at


def unpinned_claims(incident: Incident, pinned: Mapping[str, object]) -> list[str]:
    """The pinned claims a federation-abuse token does not carry as pinned, sorted."""
    return sorted(k for k, v in pinned.items() if incident.claims.get(k) != v)


@dataclass(eq=False)
class IncidentState:
    """One incident in a run, as far as the simulation's behaviour needs it.

    Its figures (reach, realised set, detection and containment times) are folded from the
    events (:mod:`sim.collectors`); this holds only what decides what happens next.

    Attributes:
        incident: The incident (from the scenario, or built for a live injection).
        renewable: It can obtain new credentials, so revoking the ones it holds does not
            contain it.
        held: Live credentials (jti) it holds.
        exposed: Credentials (jti, or names) whose reach its ``exposed`` events announced.
        detected: An alert about it has fired.
        contained: It was contained (``how`` says how).
        how: How it was contained.
        runs: Hijacked, poisoned or attacker runs started for it.
        responded: Ids of detection-triggered responses already scheduled for it.
    """

    incident: Incident
    renewable: bool = False
    held: set[str] = field(default_factory=set)
    exposed: set[str] = field(default_factory=set)
    detected: bool = False
    contained: bool = False
    how: str | None = None
    runs: int = 0
    responded: set[str] = field(default_factory=set)

    @property
    def id(self) -> str:
        """The incident id."""
        return self.incident.id


def frameworks_of(incident: Incident) -> tuple[str, ...]:
    """The incident's framework references (the kind's defaults when it names none)."""
    return incident.frameworks or DEFAULT_FRAMEWORKS.get(incident.kind, ())


def default_plan(scenario: Scenario, world: World, agent: str,
                 kind: str) -> tuple[ToolStep | DelegateStep, ...]:
    """The attacker's plan for an incident injected live into ``agent``.

    The scenario's own plan for this agent (same kind first) when it has one; otherwise
    every tool the agent's roles grant that is not in its approved plans, at full volume
    (read everything, send it out); otherwise its first task's plan.
    """
    own = [i for i in scenario.incidents if i.agent == agent and i.plan]
    own.sort(key=lambda i: i.kind != kind)
    if own:
        return own[0].plan
    model = scenario.agent(agent)
    approved = world.agent_plans(agent)
    tools = world.role_scope(model).tools
    steps: list[ToolStep | DelegateStep] = []
    for tool in scenario.tools:
        if tool.id not in tools:
            continue
        resources = tool.resources or (None,)
        for rid in resources:
            if (tool.id, rid) in approved:
                continue
            records = scenario.resource(rid).records if rid is not None else 0
            destination: Literal["internal", "external"] | None = (
                "external" if tool.egress == "external" else None)
            steps.append(ToolStep(tool=tool.id, resource=rid, records=records,
                                  destination=destination, duration=30.0,
                                  label="attacker goal"))
    if steps:
        return tuple(steps)
    if model.tasks:
        return model.tasks[0].steps
    return ()
