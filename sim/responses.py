"""Responses: scheduled, detection-triggered or live, each applied at once in simulated time.

A response quarantines an agent (its tokens revoked, nothing more started), revokes a token
or all of an agent's, enforces a shadow rule, or distrusts a vendor's trust domain. Each emits
a ``response`` event, applied or not (with why); quarantine and distrust also contain the
open incidents of the agents they cover. An agent's planned retirement is one too under
owner-driven offboarding (``credentials.offboarding: owner``): its tokens are revoked then
(a ``revoke_token`` response with trigger ``retirement``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from engine.model import Response
from engine.policy.errors import UnknownRuleError
from sim.events import EventKind
from sim.incidents import IncidentState
from sim.state import AgentState, SimulationState


class Responses(SimulationState):
    """The part of a simulation that applies responses."""

    # --- responses ----------------------------------------------------------------------------

    def _response_at(self, response: Response) -> Generator[simpy.Event, Any, None]:
        assert response.at is not None
        if response.at > self.env.now:
            yield self.env.timeout(response.at - self.env.now)
        self._scheduled_response(response, "at", None)

    def _response_after(self, response: Response, ist: IncidentState
                        ) -> Generator[simpy.Event, Any, None]:
        if response.delay > 0:
            yield self.env.timeout(response.delay)
        if ist.contained and response.kind != "tighten_rule":
            # Contained before the responders acted (blocked, expired): nothing to do.
            return
        self._scheduled_response(response, "detection", ist.id)

    def _scheduled_response(self, response: Response, trigger: str,
                            incident: str | None) -> None:
        target = {"quarantine_agent": response.agent, "revoke_token": response.agent,
                  "tighten_rule": response.rule, "distrust_vendor": response.vendor
                  }[response.kind]
        assert target is not None
        self._respond(response.kind, target, trigger, incident, response.id)

    def _respond(self, kind: str, target: str, trigger: str, incident: str | None,
                 response_id: str) -> None:
        """Apply a response now and emit its event."""
        applied = True
        error: str | None = None
        if kind == "tighten_rule":
            try:
                self.engine.tighten(target)
            except UnknownRuleError as exc:
                applied, error = False, str(exc)
        elif kind == "revoke_token" and target not in self.agents \
                and target not in self.wallet.live:
            applied, error = False, f"no live token {target!r}"
        self._emit(EventKind.RESPONSE, self._response_agent(kind, target), {
            "id": response_id, "kind": kind, "target": target, "trigger": trigger,
            "incident": incident, "applied": applied, "error": error})
        if not applied:
            return
        reason = "live" if trigger == "live" else "response"
        if kind == "quarantine_agent":
            state = self.agents[target]
            state.quarantined = True
            for ist in self._open_incidents():
                if ist.incident.agent == target:
                    self._contain(ist, "quarantine")
            self.wallet.quarantine(target, incident)
        elif kind == "revoke_token":
            if target in self.agents:
                self.wallet.revoke_agent(target, reason, incident)
            else:
                self.wallet.revoke(self.wallet.live[target], reason, incident)
        elif kind == "distrust_vendor":
            vendor = self.scenario.vendor(target)
            for ist in self._open_incidents():
                if self.scenario.agent(ist.incident.agent).vendor == target:
                    self._contain(ist, "distrusted")
            self.wallet.distrust(vendor.trust_domain, incident)

    def _response_agent(self, kind: str, target: str) -> str | None:
        if kind in ("quarantine_agent", "revoke_token"):
            if target in self.agents:
                return target
            cred = self.wallet.live.get(target)
            return cred.holder if cred is not None else None
        return None

    def _open_incidents(self) -> list[IncidentState]:
        return [i for i in self.incidents.values() if not i.contained]

    def _retire_at(self, state: AgentState) -> Generator[simpy.Event, Any, None]:
        """At its planned retirement the agent stops; owner-driven offboarding ends its keys."""
        at = state.model.retire_at
        assert at is not None
        if at >= self.end:
            return
        if at > self.env.now:
            yield self.env.timeout(at - self.env.now)
        if self.creds.offboarding == "owner":
            self._respond("revoke_token", state.name, "retirement", None,
                          f"offboard-{state.name}")

    # --- detection-triggered -----------------------------------------------------------------

    def _on_detection(self, ist: IncidentState) -> None:
        for response in self.scenario.responses:
            if response.trigger != "detection" or response.id in ist.responded:
                continue
            if not self._response_applies(response, ist):
                continue
            ist.responded.add(response.id)
            self.env.process(self._response_after(response, ist))

    def _response_applies(self, response: Response, ist: IncidentState) -> bool:
        victim = ist.incident.agent
        if response.kind in ("quarantine_agent", "revoke_token"):
            return response.agent == victim
        if response.kind == "distrust_vendor":
            return response.vendor is not None and \
                self.scenario.agent(victim).vendor == response.vendor
        return True
