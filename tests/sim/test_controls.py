"""Live controls: revoke, quarantine, tighten and inject act at the current simulated time."""

from __future__ import annotations

import threading

import pytest

from sim.events import Event
from sim.runner import Simulation, SimulationError
from tests.sim.support import ALLOW_ALL, base, kinds, policy, scenario

SHADOW = {"policy": "p", "rules": [
    {"id": "all", "envelope": "security", "effect": "allow"},
    {"id": "no-crm", "envelope": "security", "effect": "deny", "mode": "shadow",
     "target": {"tools": ["crm.*"]}}]}


def started(profile: str = "static", pol: dict | None = None, at: float = 1205.0
            ) -> tuple[Simulation, list[Event]]:
    s = scenario(base())
    events: list[Event] = []
    sim = Simulation(s, profile, policy=policy(s, pol or ALLOW_ALL), sink=events.append)
    sim.step_until(at)
    return sim, events


def test_revoking_an_agents_token_makes_its_next_request_fail() -> None:
    sim, events = started()
    sim.revoke("worker")
    assert not kinds(events, "response")  # queued until the driver steps
    sim.step_until(1205.0)
    response = kinds(events, "response")[0]
    assert (response.time, response.data["kind"], response.data["trigger"]) == (
        1205.0, "revoke_token", "live")
    revoked = kinds(events, "token_revoked")[0]
    assert revoked.time == 1205.0 and revoked.agent == "worker"
    sim.run()
    after = [e for e in kinds(events, "decision") if e.time >= 1205.0 and e.agent == "worker"]
    assert after[0].data["jti"] == revoked.data["jti"]
    assert after[0].data["outcome"] == "revoked" and after[0].data["token_reason"] == "revoked"


def test_revoking_one_jit_token_by_id() -> None:
    sim, events = started("jit")
    live = [e.data["jti"] for e in kinds(events, "token_issued")][-1]
    sim.revoke(live)
    sim.run()
    step = [e for e in kinds(events, "decision") if e.data["jti"] == live and e.time >= 1205.0]
    assert step and step[0].data["outcome"] == "revoked"


def test_quarantine_stops_the_agent_starting_anything() -> None:
    sim, events = started()
    sim.quarantine("worker")
    sim.run()
    later = [e for e in kinds(events, "task_started") if e.agent == "worker" and e.time > 1205]
    failed = [e for e in kinds(events, "task_failed") if e.agent == "worker" and e.time > 1205]
    # Runs starting later fail at once; the run in flight stops before its next step.
    assert len(failed) == len(later) + 1 and later
    assert failed[0].time == 1210.0 and failed[0].data["steps"] == 1
    assert {e.data["reason"] for e in failed} == {"quarantined"}
    assert not [e for e in kinds(events, "decision") if e.agent == "worker" and e.time > 1205]


def test_tightening_a_shadow_rule_enforces_it_from_now_on() -> None:
    sim, events = started(pol=SHADOW)
    sim.tighten("no-crm")
    sim.run()
    crm = [e for e in kinds(events, "decision") if e.data["tool"] == "crm.read"]
    assert all(e.data["outcome"] == "executed" for e in crm if e.time < 1205)
    assert all(e.data["outcome"] == "blocked" for e in crm if e.time >= 1205)
    assert crm[-1].data["decision"]["rule"] == "no-crm"


def test_inject_starts_an_incident_now() -> None:
    sim, events = started()
    incident_id = sim.inject("prompt_injection", "worker")
    sim.step_until(1300.0)
    incident = kinds(events, "incident")[0]
    assert (incident.time, incident.agent, incident.data["id"]) == (1205.0, "worker",
                                                                    incident_id)
    steps = [e for e in kinds(events, "decision") if e.data["incident"] == incident_id]
    assert steps and steps[0].time == 1205.0
    # No plan in the scenario: the goal is what the agent's roles reach beyond its plans.
    assert {e.data["tool"] for e in steps} <= {"crm.export", "mail.out"}


def test_bad_control_arguments_are_refused_at_once() -> None:
    sim, _ = started(pol=SHADOW)
    with pytest.raises(SimulationError, match="no agent 'ghost'"):
        sim.quarantine("ghost")
    with pytest.raises(SimulationError, match="no agent or live token"):
        sim.revoke("nobody-00000001")
    with pytest.raises(SimulationError, match="no rule 'nope'"):
        sim.tighten("nope")
    with pytest.raises(SimulationError, match="unknown incident kind"):
        sim.inject("meteor", "worker")


def test_controls_from_another_thread_apply_at_the_next_step() -> None:
    sim, events = started()
    worker = threading.Thread(target=sim.quarantine, args=("worker",))
    worker.start()
    worker.join()
    sim.step_until(2000.0)
    response = kinds(events, "response")[0]
    assert response.time == 1205.0 and response.data["target"] == "worker"
