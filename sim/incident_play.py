"""Incidents in play: how each kind starts and acts, what it holds and reaches, alerts.

What each kind does is described in :mod:`sim.incidents`, which also keeps an incident's
state. Here incidents start (on schedule or injected live), drive hijacked and attacker runs
(through :mod:`sim.task_runs`), and track the credentials each holds: the first time it holds
one, an ``exposed`` event says what that reaches; when its last one ends it is contained,
unless it can obtain new ones. Alerts are raised here too; the first about an incident
detects it, which sets off the responses that apply (:mod:`sim.responses`).
"""

from __future__ import annotations

from collections.abc import Generator, Set
from typing import Any

import simpy

from engine.blast import delegates_of, scope_reach
from engine.identity.scope import EVERYTHING, Scope
from engine.model import DelegateStep, Incident, Task, ToolStep
from sim.detection import AlertSpec
from sim.events import EventKind
from sim.incidents import (
    RENEWABLE_UNDER_JIT,
    IncidentState,
    frameworks_of,
    retired,
    unpinned_claims,
)
from sim.state import AgentState, SimulationState
from sim.wallet import Credential


class IncidentPlay(SimulationState):
    """The part of a simulation that plays incidents, their credentials and their alerts."""

    _holding: dict[str, list[IncidentState]]
    """The incidents holding each live credential (by jti)."""
    _alerts: int
    """Alerts raised so far (numbers their ids)."""

    # --- incidents ----------------------------------------------------------------------------

    def _incident_at(self, incident: Incident) -> Generator[simpy.Event, Any, None]:
        if incident.at >= self.end:
            return
        if incident.at > self.env.now:
            yield self.env.timeout(incident.at - self.env.now)
        self._begin_incident(incident)

    def _begin_incident(self, incident: Incident) -> None:
        env = self.env
        kind = incident.kind
        renewable = (kind in RENEWABLE_UNDER_JIT and self.jit) \
            or kind in ("vendor_compromise", "federation_abuse") \
            or (kind == "prompt_injection" and incident.repeat_every is not None and self.jit)
        ist = IncidentState(incident, renewable)
        self.incidents[incident.id] = ist
        data = {
            "id": incident.id, "kind": kind, "description": incident.description,
            "frameworks": list(frameworks_of(incident)),
            "plan": [s.tool if isinstance(s, ToolStep) else f"delegate:{s.delegate}"
                     for s in incident.plan]}
        if incident.person is not None:
            data["person"] = incident.person
        self._emit(EventKind.INCIDENT, incident.agent, data)
        state = self.agents[incident.agent]
        if not self.jit and kind in ("prompt_injection", "rogue_agent", "memory_poisoning",
                                     "overbroad_delegated_admin"):
            # With static credentials the compromised agent can also reach whatever the
            # agents it delegates to hold.
            for other in delegates_of(self.scenario, incident.agent):
                cred = self.agents[other].static
                if cred is not None:
                    self._expose(ist, cred.jti, cred.scope, domain=cred.domain)
        if state.quarantined:
            self._contain(ist, "quarantine")
            return
        if kind == "prompt_injection":
            env.process(self._hijacks(ist, state, None))
        elif kind == "rogue_agent":
            state.rogue = incident.id
            env.process(self._hijacks(ist, state, None))
        elif kind == "memory_poisoning":
            state.poisoned.append(incident.id)
            if not self.jit and state.static is not None:
                self._hold(ist, state.static)
        elif kind == "overbroad_delegated_admin":
            delegator = next((a.name for a in self.scenario.agents for t in a.tasks
                              for s in t.steps if isinstance(s, DelegateStep)
                              and s.delegate == incident.agent), None)
            chain = (delegator,) if delegator is not None else ()
            cred = self.wallet.mint(state.name, scope=EVERYTHING, mode=self.creds.mode,
                                    chain=chain, incident=incident.id)
            if cred is None:
                self._contain(ist, "quarantine")
                return
            env.process(self._hijacks(ist, state, cred))
        elif kind in ("credential_theft", "vendor_compromise", "human_use",
                      "federation_abuse"):
            env.process(self._attacker(ist, state))

    def _victim_task(self, state: AgentState, incident: Incident) -> Task:
        if incident.task is not None:
            return self.world.tasks[(state.name, incident.task)]
        tasks = state.model.tasks
        scheduled = [t for t in tasks if t.arrival is not None]
        if scheduled:
            return scheduled[0]
        if tasks:
            return tasks[0]
        return Task(id=incident.id, intent=f"attacker goal ({incident.kind})",
                    steps=incident.plan)

    def _hijacks(self, ist: IncidentState, state: AgentState, cred: Credential | None
                 ) -> Generator[simpy.Event, Any, None]:
        incident = ist.incident
        env = self.env
        if not incident.plan:
            return
        task = self._victim_task(state, incident)
        while not ist.contained and not state.quarantined:
            ist.runs += 1
            plan = self._incident_plan(state.name, task, incident)
            actors = cred.chain if cred is not None else None
            run = self._new_run(state, task, f"{state.name}/{task.id}!{incident.id}#{ist.runs}",
                                plan, arrival=env.now, incident=incident.id, cred=cred,
                                actors=actors)
            if cred is not None:
                self._hold(ist, cred)
            env.process(self._task(run))
            if incident.repeat_every is None:
                return
            yield env.timeout(incident.repeat_every)

    def _attacker(self, ist: IncidentState, state: AgentState
                  ) -> Generator[simpy.Event, Any, None]:
        """Credential theft and vendor compromise: replay the plan from elsewhere."""
        incident = ist.incident
        env = self.env
        vendor = incident.kind == "vendor_compromise" and state.model.vendor is not None
        federated = incident.kind == "federation_abuse"
        if incident.kind == "human_use" and self.creds.attestation:
            # The person's session carries no agent runtime attestation: refused, and the
            # login that opened it names them.
            self._contain(ist, "attestation")
            return
        if federated and unpinned_claims(incident, self.creds.pinned_claims):
            self._contain(ist, "claims_pinned")
            return
        stolen: Credential | None = None
        begins = False
        if not vendor and not federated:
            stolen = state.static if not self.jit else self.wallet.latest(state.name)
            if (stolen is None or not stolen.live) and retired(state.model, env.now):
                # Nothing of the retired agent lives on, and nothing new will be issued.
                self._contain(ist, "retired")
                return
            if stolen is None or not stolen.live:
                waiting = env.event()

                def grab(c: Credential) -> None:
                    if c.holder == state.name and c.incident is None \
                            and not waiting.triggered:
                        waiting.succeed(c)

                self.wallet.mint_listeners.append(grab)
                stolen = yield waiting
                self.wallet.mint_listeners.remove(grab)
                begins = True
            assert stolen is not None
            self._hold(ist, stolen, begins=begins)
            if self._isolated_from(stolen, incident.plan or state.model.tasks[0].steps):
                # Minted in another environment's trust domain: the gateways the plan goes
                # through do not trust it (each replay is still verified and refused).
                self._contain(ist, "environment_isolated")
            elif stolen.cnf is not None:
                # Bound to the victim's key: replayed from elsewhere it never works.
                self._contain(ist, "sender_constrained")
        task = Task(id=incident.id, intent=f"attacker goal ({incident.kind})",
                    steps=incident.plan or state.model.tasks[0].steps)
        while True:
            if state.quarantined:
                self._contain(ist, "quarantine")
                return
            if vendor or federated:
                if ist.contained:
                    return
                # A vendor's issuer mints anything; the federation exchanges the attacker's
                # OIDC token for the agent's own cloud role, unbound (it is not the workload).
                minted = self.wallet.mint(
                    state.name, mode=self.creds.mode if vendor else "jit", incident=incident.id,
                    bind=vendor,
                    scope=EVERYTHING if vendor else self.world.profile_scope(
                        state.model, self.creds.scope, None))
                if minted is None:
                    self._contain(ist, "quarantine")
                    return
                cred = minted
                self._hold(ist, cred)
                presenter = (self.wallet.thumbprints[state.name] if vendor
                             else self.wallet.attacker_thumbprint)
            else:
                assert stolen is not None
                cred = stolen
                presenter = self.wallet.attacker_thumbprint
            ist.runs += 1
            plan = self._items(state.name, None, task.steps, incident.id)
            run = self._new_run(state, task, f"{state.name}/{incident.id}!replay#{ist.runs}",
                                plan, arrival=env.now, incident=incident.id, cred=cred,
                                actors=cred.chain)
            run.attacker = True
            run.presenter = presenter
            yield env.process(self._task(run))
            if ist.contained or incident.repeat_every is None:
                return
            yield env.timeout(incident.repeat_every)

    # --- credentials held, containment ------------------------------------------------------

    def _credential_ended(self, cred: Credential, how: str) -> None:
        for ist in self._holding.pop(cred.jti, ()):
            ist.held.discard(cred.jti)
            if not ist.held and not ist.renewable and not ist.contained:
                self._contain(ist, how)

    def _hold(self, ist: IncidentState, cred: Credential, *, begins: bool = False) -> None:
        if cred.jti in ist.held:
            return
        self._expose(ist, cred.jti, cred.scope, begins, cred.domain)
        if cred.live:
            ist.held.add(cred.jti)
            self._holding.setdefault(cred.jti, []).append(ist)

    def _expose(self, ist: IncidentState, key: str, scope: Scope, begins: bool = False,
                domain: str | None = None) -> None:
        """The incident now holds a credential: say what it reaches (once per credential).

        Under isolated environments the reach stops at the gateways that do not trust the
        credential's trust domain (``domain``): a test token reaches nothing in production.
        """
        if key in ist.exposed and not begins:
            return
        ist.exposed.add(key)
        reach = scope_reach(self.estate, (scope,))
        tools: Set[str] = reach.tools
        resources: Set[str] = reach.resources
        if domain is not None and self.world.environment_domains:
            tools, resources = self._trusted_reach(domain, tools, resources)
        self._emit(EventKind.EXPOSED, ist.incident.agent, {
            "incident": ist.id, "credential": key, "tools": sorted(tools),
            "resources": sorted(resources), "begins": begins})

    def _isolated_from(self, cred: Credential, steps: tuple[ToolStep | DelegateStep, ...]
                       ) -> bool:
        """Whether no tool step of ``steps`` lands at a gateway trusting ``cred``'s domain."""
        if not self.world.environment_domains:
            return False
        gateways = [self.world.spec(s).environment for s in steps if isinstance(s, ToolStep)]
        return bool(gateways) and not any(self.wallet.trusted_at(cred.domain, g)
                                          for g in gateways)

    def _trusted_reach(self, domain: str, tools: Set[str], resources: Set[str]
                       ) -> tuple[set[str], set[str]]:
        """The part of a reach whose gateways trust ``domain`` (see :meth:`_expose`)."""
        trusted = self.wallet.trusted_at
        scenario = self.scenario
        kept_tools: set[str] = set()
        kept: set[str] = set()
        for tool_id in tools:
            tool = scenario.tool(tool_id)
            acted = [r for r in tool.resources if r in resources]
            if not tool.resources and trusted(domain, tool.environment):
                kept_tools.add(tool_id)
            for rid in acted:
                if trusted(domain, tool.environment or scenario.resource(rid).environment):
                    kept_tools.add(tool_id)
                    kept.add(rid)
        return kept_tools, kept

    def _contain(self, ist: IncidentState, how: str) -> None:
        if ist.contained:
            return
        ist.contained = True
        ist.how = how
        self._emit(EventKind.CONTAINED, ist.incident.agent, {"incident": ist.id, "how": how})

    # --- alerts and detection -------------------------------------------------------------

    def _raise(self, alerts: list[AlertSpec], agent: str, seq: int,
               ist: IncidentState | None) -> None:
        for alert in alerts:
            self._alerts += 1
            self._emit(EventKind.ALERT, agent, {
                "id": f"alert-{self._alerts}", "severity": alert.severity,
                "reason": alert.reason, "rule": alert.rule,
                "incident": ist.id if ist is not None else None, "message": alert.message,
                "decision": seq})
        if ist is not None and not ist.detected:
            ist.detected = True
            self._on_detection(ist)
