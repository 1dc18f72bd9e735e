"""The screens' rule catalogue: the rules a run's run_started event lists, by id."""

from __future__ import annotations

from engine.policy import load_profile_policy
from scenarios.library import load_scenario
from sim.events import Event
from sim.runner import Simulation
from tui.screens.catalogue import RuleCatalogue


def started(name: str, profile: str) -> Event:
    events: list[Event] = []
    Simulation(load_scenario(name), profile, sink=events.append, until=0.0).run()
    return events[0]


def test_the_catalogue_holds_each_rule_s_compiled_facts_by_id() -> None:
    scenario = load_scenario("support-pii-injection")
    catalogue = RuleCatalogue.of_run(started("support-pii-injection", "jit-context"))
    policy = load_profile_policy(scenario, "jit-context")
    assert catalogue.problem is None and catalogue.policy == policy.name
    assert catalogue.rules == dict(policy.facts)  # the compiled facts, through the event
    for rule_id, info in catalogue.rules.items():
        assert catalogue.get(rule_id) is info and info.id == rule_id
    assert catalogue.get(None) is None and catalogue.get("no-such-rule") is None


def test_before_the_run_starts_there_is_a_problem_instead_of_rules() -> None:
    catalogue = RuleCatalogue.of_run(None)
    assert catalogue.rules == {} and catalogue.problem is not None
