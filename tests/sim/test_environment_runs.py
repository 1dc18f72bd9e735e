"""Environments in a run (OWASP NHI8:2025): ci-pipeline-trust's stolen test secret against
production's gateway, with one trust domain shared and with a trust domain per environment."""

from __future__ import annotations

from functools import cache

from scenarios.library import load_scenario
from sim.events import Event
from sim.runner import Simulation

UNTIL = 10 * 3600.0  # the theft is at 09:00; its first replay follows at once


@cache
def _run(profile: str) -> tuple[list[Event], dict]:
    events: list[Event] = []
    sim = Simulation(load_scenario("ci-pipeline-trust"), profile, sink=events.append,
                     until=UNTIL)
    sim.run()
    return events, sim.result().to_dict()


def _of(profile: str, kind: str) -> list[dict]:
    """The data of a run's events of one kind, in their JSON form (as a log holds them)."""
    return [e.to_dict()["data"] for e in _run(profile)[0] if e.kind == kind]


def _replay_decisions(profile: str) -> list[dict]:
    return [d for d in _of(profile, "decision") if d["incident"] == "test-secret-replay"]


def test_productions_gateway_refuses_the_stolen_test_secret_naming_its_trust_domain() -> None:
    first = _replay_decisions("static-isolated")[0]
    assert first["tool"] == "secrets-prod.get"
    assert first["outcome"] == "blocked"
    assert first["token_reason"] == "foreign_trust_domain"
    assert first["request"]["token"]["trust_domain"] == "test.acme.example"
    assert first["request"]["token"]["reason"] == "foreign_trust_domain"


def test_with_one_shared_trust_domain_the_stolen_test_secret_reaches_production() -> None:
    executed = [d["tool"] for d in _replay_decisions("static-shared")
                if d["outcome"] == "executed"]
    assert {"secrets-prod.get", "prod-db.dump", "s3.copy_external"} <= set(executed)


def test_isolation_contains_the_theft_and_its_reach_stops_at_test() -> None:
    contained = [c for c in _of("static-isolated", "contained")
                 if c["incident"] == "test-secret-replay"]
    assert [c["how"] for c in contained] == ["environment_isolated"]
    reach = [x for x in _of("static-isolated", "exposed") if x["incident"] == "test-secret-replay"]
    assert reach and all(not {"secrets.prod", "prod.customers", "prod.deployments"}
                         & set(x["resources"]) for x in reach)
    shared = [x for x in _of("static-shared", "exposed") if x["incident"] == "test-secret-replay"]
    assert any("prod.customers" in x["resources"] for x in shared)


def test_the_blast_radius_fold_counts_what_isolation_stopped() -> None:
    isolated, shared = _run("static-isolated")[1], _run("static-shared")[1]
    theft = next(i for i in isolated["incidents"] if i["id"] == "test-secret-replay")
    assert theft["blast_radius"]["records"] == 0
    assert theft["blast_radius"]["potential_records"] == 5000 + 60 + 120  # test's and git's
    assert isolated["out_of_scope"]["stopped"] >= 1
    assert shared["out_of_scope"]["stopped"] == 0


def test_each_environment_gets_its_own_secret_and_production_keeps_deploying() -> None:
    issued = [t for t in _of("static-isolated", "token_issued") if t["mode"] == "static"]
    assert sorted(t["sub"] for t in issued) == ["spiffe://prod.acme.example/agent/deploy-prod",
                                                "spiffe://test.acme.example/agent/deploy-test"]
    benign = [d for d in _of("static-isolated", "decision")
              if d["incident"] is None and not d["attacker"]]
    assert benign and all(d["token_reason"] == "ok" for d in benign)
    assert any(d["tool"] == "k8s-prod.apply" and d["outcome"] == "executed" for d in benign)


def test_the_run_says_which_trust_domain_each_environment_and_agent_has() -> None:
    started = _of("static-isolated", "run_started")[0]
    assert started["environments"] == {"test": "test.acme.example", "prod": "prod.acme.example"}
    assert {a["name"]: a["spiffe_id"] for a in started["agents"]} == {
        "deploy-test": "spiffe://test.acme.example/agent/deploy-test",
        "deploy-prod": "spiffe://prod.acme.example/agent/deploy-prod"}
    shared = _of("static-shared", "run_started")[0]
    assert "environments" not in shared
    assert all(a["spiffe_id"].startswith("spiffe://acme.example/") for a in shared["agents"])
