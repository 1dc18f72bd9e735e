"""Offboarding, human use of an agent credential and OIDC federation abuse (NHI1, NHI10, NHI6)
on small scenarios built in Python."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.loader import as_tuples
from engine.model import Incident, Scenario
from engine.references import reference_problems
from sim.incidents import unpinned_claims
from tests.sim.support import base, kinds, run

POLICY = {"policy": "p", "legal_owner": "own", "rules": [
    {"id": "everything", "envelope": "security", "effect": "allow"}]}
DUMP = [{"tool": "crm.read", "records": 5000, "duration": "1m"}]


def _with(incident: dict[str, Any], **agent: Any) -> dict[str, Any]:
    data = base()
    data["agents"][0].update(agent)
    data["incidents"] = [{"id": "inc", "agent": "worker", "plan": DUMP, **incident}]
    return data


def _profile(data: dict[str, Any], pid: str, **creds: Any) -> dict[str, Any]:
    for p in data["profiles"]:
        if p["id"] == pid:
            p["credentials"].update(creds)
    return data


def _incident_summary(sim: Any) -> dict[str, Any]:
    return dict(sim.result().metric("incidents")[0])


def test_a_retired_agent_starts_no_task() -> None:
    _sim, events = run(_with({"kind": "credential_theft", "at": "3h"}, retire_at="30m"),
                      "static", POLICY)
    starts = [e.time for e in kinds(events, "task_started") if not e.data["attacker"]]
    assert starts and max(starts) < 1800.0


def test_a_static_key_outlives_its_retired_agent_and_is_abused() -> None:
    data = _with({"kind": "credential_theft", "at": "1h"}, retire_at="30m")
    sim, _events = run(data, "static", POLICY)
    assert sim.result().metric("blast_radius.records") == 5000


def test_owner_driven_offboarding_revokes_the_key_at_retirement() -> None:
    data = _profile(_with({"kind": "credential_theft", "at": "1h"}, retire_at="30m"),
                    "static", offboarding="owner")
    sim, events = run(data, "static", POLICY)
    response = kinds(events, "response")[0]
    assert (response.time, response.data["trigger"], response.data["kind"]) == (
        1800.0, "retirement", "revoke_token")
    assert sim.result().metric("blast_radius.records") == 0


def test_nothing_of_a_retired_agent_lives_on_under_jit() -> None:
    sim, _events = run(_with({"kind": "credential_theft", "at": "1h"}, retire_at="30m"),
                       "jit", POLICY)
    incident = _incident_summary(sim)
    assert incident["how"] == "retired" and incident["time_to_contain"] == 0.0
    assert sim.result().metric("blast_radius.records") == 0


def test_human_use_of_an_agent_credential_runs_as_the_agent() -> None:
    data = _with({"kind": "human_use", "at": "25m", "person": "own"})
    sim, events = run(data, "static", POLICY)
    incident = kinds(events, "incident")[0]
    assert incident.data["person"] == "own" and "NHI10:2025" in incident.data["frameworks"]
    steps = [e for e in kinds(events, "decision") if e.data["incident"] == "inc"]
    assert steps and all(e.agent == "worker" for e in steps)
    assert sim.result().metric("blast_radius.records") == 5000


def test_attestation_refuses_a_person_using_the_agent_credential() -> None:
    data = _profile(_with({"kind": "human_use", "at": "25m", "person": "own"}), "static",
                    attestation=True)
    sim, events = run(data, "static", POLICY)
    assert not [e for e in kinds(events, "decision") if e.data["incident"] == "inc"]
    assert _incident_summary(sim)["how"] == "attestation"


FORK = {"repository": "acme/fork", "ref": "refs/heads/feature", "aud": "sts.corp.example"}


@pytest.mark.parametrize(("pins", "abused"), [
    ({}, True),
    ({"aud": "sts.corp.example"}, True),
    ({"aud": "sts.corp.example", "repository": "acme/deploy"}, False),
    ({"ref": "refs/heads/main"}, False),
])
def test_a_federation_exchanges_a_foreign_oidc_token_unless_its_claims_are_pinned(
        pins: dict[str, str], abused: bool) -> None:
    data = _profile(_with({"kind": "federation_abuse", "at": "25m", "claims": FORK}),
                    "static", pinned_claims=pins)
    sim, events = run(data, "static", POLICY)
    records = sim.result().metric("blast_radius.records")
    if abused:
        assert records == 5000
        assert any(e.data.get("incident") == "inc" for e in kinds(events, "token_issued"))
    else:
        assert records == 0 and _incident_summary(sim)["how"] == "claims_pinned"


def test_an_incident_naming_an_unknown_task_or_human_use_without_a_person_is_reported(
        ) -> None:
    data = base()
    data["incidents"] = [{"id": "a", "kind": "prompt_injection", "at": 0, "agent": "worker",
                          "task": "nope"},
                         {"id": "b", "kind": "human_use", "at": 0, "agent": "worker"}]
    problems = reference_problems(Scenario.model_validate(as_tuples(data)))
    assert (("incidents", 0, "task"), "a task of agent 'worker'", "unknown task 'nope'") \
        in problems
    assert any(p[0] == ("incidents", 1, "person") for p in problems)


CLAIM_KEYS = st.sampled_from(["aud", "sub", "repository", "ref", "environment"])
CLAIM_VALUES = st.sampled_from(["a", "b", "acme/deploy", "refs/heads/main"])


@given(claims=st.dictionaries(CLAIM_KEYS, CLAIM_VALUES),
       pins=st.dictionaries(CLAIM_KEYS, CLAIM_VALUES))
def test_an_exchange_is_refused_exactly_when_a_pinned_claim_differs(
        claims: dict[str, str], pins: dict[str, str]) -> None:
    incident = Incident(id="i", kind="federation_abuse", at=0, agent="a", claims=claims)
    refused = unpinned_claims(incident, pins)
    assert refused == sorted(k for k in pins if claims.get(k) != pins[k])
    assert (not refused) == all(claims.get(k) == v for k, v in pins.items())
