"""Helpers for simulator tests: scenarios and policies built from plain data."""

from __future__ import annotations

import copy
from typing import Any

from engine.loader import as_tuples
from engine.model import Scenario
from engine.policy import CompiledPolicy, PolicyDocument, compile_policy
from engine.references import reference_problems
from sim.events import Event
from sim.runner import Simulation


def scenario(data: dict[str, Any]) -> Scenario:
    """A validated scenario from plain data (reference problems fail the test)."""
    s = Scenario.model_validate(as_tuples(copy.deepcopy(data)))
    problems = reference_problems(s)
    assert not problems, problems
    return s


def policy(s: Scenario, data: dict[str, Any]) -> CompiledPolicy:
    """A compiled policy from plain data."""
    return compile_policy(PolicyDocument.model_validate(as_tuples(copy.deepcopy(data))), s)


ALLOW_ALL = {"policy": "allow-all", "rules": [
    {"id": "everything", "envelope": "security", "effect": "allow"}]}


def base(**changes: Any) -> dict[str, Any]:
    """A small estate: one worker agent with a two-step task, one helper it delegates to."""
    data: dict[str, Any] = {
        "name": "mini",
        "trust_domain": "corp.example",
        "seed": 3,
        "duration": "2h",
        "owners": [{"id": "own", "name": "Owner"}],
        "data_classes": [{"id": "pii", "sensitivity": "restricted"},
                         {"id": "docs", "sensitivity": "internal"}],
        "systems": [{"id": "crm"}, {"id": "wiki"}],
        "resources": [{"id": "crm.people", "system": "crm", "data_class": "pii",
                       "records": 5000},
                      {"id": "wiki.pages", "system": "wiki", "data_class": "docs",
                       "records": 300}],
        "tools": [{"id": "crm.read", "action": "read", "resources": ["crm.people"]},
                  {"id": "crm.export", "action": "export", "resources": ["crm.people"],
                   "risk": "critical"},
                  {"id": "wiki.read", "action": "read", "resources": ["wiki.pages"]},
                  {"id": "mail.out", "action": "send", "egress": "external"}],
        "roles": [{"id": "worker", "tools": ["crm.*", "wiki.read", "mail.out"]},
                  {"id": "reader", "tools": ["wiki.read"]}],
        "agents": [
            {"name": "worker", "owners": {"business": "own", "security": "own",
                                          "incident": "own"},
             "roles": ["worker"],
             "tasks": [{"id": "job", "arrival": {"kind": "fixed", "interval": "10m"},
                        "steps": [{"tool": "crm.read", "records": 1, "duration": "10s"},
                                  {"tool": "wiki.read", "records": 2, "duration": "5s"}]}]},
            {"name": "helper", "owners": {"business": "own", "security": "own",
                                          "incident": "own"},
             "roles": ["reader"],
             "tasks": [{"id": "lookup",
                        "steps": [{"tool": "wiki.read", "records": 1, "duration": "5s"}]}]},
        ],
        "profiles": [
            {"id": "static", "credentials": {"mode": "static", "ttl": "90d"},
             "policy": "none.yaml"},
            {"id": "jit", "credentials": {"mode": "jit", "ttl": "5m", "scope": "task",
                                          "revoke_on_completion": True,
                                          "sender_constrained": True},
             "policy": "none.yaml"},
        ],
    }
    data.update(changes)
    return data


def run(data: dict[str, Any], profile: str, pol: dict[str, Any] | None = None,
        **kwargs: Any) -> tuple[Simulation, list[Event]]:
    """Run a scenario built from data to its end; returns the simulation and its events."""
    s = scenario(data)
    events: list[Event] = []
    sim = Simulation(s, profile, policy=policy(s, pol or ALLOW_ALL), sink=events.append,
                     **kwargs)
    sim.run()
    return sim, events


def kinds(events: list[Event], kind: str) -> list[Event]:
    """The events of one kind."""
    return [e for e in events if e.kind == kind]
