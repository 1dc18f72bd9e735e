from __future__ import annotations

import copy
from typing import Any

from engine.blast import (
    Compromise,
    Estate,
    Realised,
    delegates_of,
    scope_reach,
    totals,
    union,
)
from engine.loader import as_tuples
from engine.model import Scenario


class S:
    def __init__(self, tools: set[str], classes: set[str]) -> None:
        self.tools = frozenset(tools)
        self.data_classes = frozenset(classes)


ESTATE: dict[str, Any] = {
    "name": "estate", "trust_domain": "corp.example", "duration": "1h",
    "data_classes": [{"id": "pii", "sensitivity": "restricted"},
                     {"id": "docs", "sensitivity": "internal"}],
    "systems": [{"id": "crm"}, {"id": "wiki"}],
    "resources": [{"id": "crm.people", "system": "crm", "data_class": "pii", "records": 5000},
                  {"id": "crm.notes", "system": "crm", "data_class": "docs", "records": 70},
                  {"id": "wiki.pages", "system": "wiki", "data_class": "docs", "records": 300}],
    "tools": [{"id": "crm.read", "action": "read", "resources": ["crm.people", "crm.notes"]},
              {"id": "wiki.read", "action": "read", "resources": ["wiki.pages"]},
              {"id": "mail.out", "action": "send", "egress": "external"}],
    "agents": [
        {"name": "a", "tasks": [{"id": "t", "steps": [{"delegate": "b", "task": "u"}]}]},
        {"name": "b", "tasks": [{"id": "u", "steps": [{"delegate": "c", "task": "v"}]}]},
        {"name": "c", "tasks": [{"id": "v", "steps": [{"tool": "wiki.read"}]}]},
    ],
    "profiles": [{"id": "p", "credentials": {"mode": "static", "ttl": "1d"}, "policy": "x"}],
}


def scenario() -> Scenario:
    return Scenario.model_validate(as_tuples(copy.deepcopy(ESTATE)))


def estate() -> Estate:
    return Estate.of(scenario())


def test_scope_reach_follows_tools_to_resources_of_admitted_data_classes() -> None:
    reach = scope_reach(estate(), [S({"crm.read"}, {"docs"})])
    assert reach.resources == {"crm.notes"}
    assert (reach.records, reach.systems, reach.data_classes) == (70, {"crm"}, {"docs"})
    assert reach.actions == {"read"}


def test_wildcard_scope_reaches_the_whole_estate() -> None:
    reach = scope_reach(estate(), [S({"*"}, {"*"})])
    assert reach.records == 5370
    assert reach.tools == {"crm.read", "wiki.read", "mail.out"}
    assert reach.actions == {"read", "send"}


def test_union_counts_each_resource_once() -> None:
    s = estate()
    a = scope_reach(s, [S({"crm.read"}, {"*"})])
    b = scope_reach(s, [S({"crm.read", "wiki.read"}, {"docs"})])
    assert union([a, b], s).records == 5000 + 70 + 300


def test_realised_records_are_capped_per_resource_and_egress_counted_apart() -> None:
    s = estate()
    realised = Realised(s)
    realised.add("crm.read", "crm.people", 4000)
    realised.add("crm.read", "crm.people", 4000)
    realised.add("mail.out", None, 4000, "external")
    assert realised.records == 5000
    assert realised.egress_records == 4000
    assert realised.systems == {"crm"} and realised.actions == {"read", "send"}


def test_money_moved_is_summed_per_executed_step() -> None:
    s = estate()
    one = Compromise("1", "prompt_injection", "a", 0.0, s)
    two = Compromise("2", "prompt_injection", "a", 0.0, s)
    one.realised.add("mail.out", None, 8, "external", 3960.0)
    one.realised.add("mail.out", None, 1, "external", 40.5)
    one.realised.add("crm.read", "crm.people", 1)  # moves no money
    two.realised.add("mail.out", None, 1, "external", 0.0)
    assert one.realised.amount == 4000.5 and two.realised.amount == 0
    assert one.summary(10.0)["blast_radius"]["amount"] == 4000.5
    assert totals([one, two], 10.0)["amount"] == 4000.5


def test_exposure_runs_until_containment_or_now() -> None:
    c = Compromise("i", "credential_theft", "a", 100.0, estate())
    assert c.open and c.exposure_window(250.0) == 150.0
    c.detect(130.0)
    c.contain(400.0, "revoked")
    c.contain(500.0, "quarantine")  # the first containment stands
    assert (c.time_to_detect, c.time_to_contain, c.how) == (30.0, 300.0, "revoked")
    assert c.exposure_window(1e6) == 300.0 and not c.open


def test_potential_reach_is_the_union_of_the_credentials_held() -> None:
    c = Compromise("i", "rogue_agent", "a", 0.0, estate())
    c.add_reach("j1", scope_reach(c.estate, [S({"wiki.read"}, {"docs"})]))
    c.add_reach("j2", scope_reach(c.estate, [S({"crm.read"}, {"pii"})]))
    assert c.potential().records == 5300
    summary = c.summary(10.0)
    assert summary["blast_radius"]["potential_systems"] == ["crm", "wiki"]


def test_totals_sum_records_and_unite_classes() -> None:
    s = estate()
    one = Compromise("1", "rogue_agent", "a", 0.0, s)
    two = Compromise("2", "rogue_agent", "b", 50.0, s)
    one.realised.add("crm.read", "crm.people", 10)
    two.realised.add("crm.read", "crm.people", 20)
    two.realised.add("wiki.read", "wiki.pages", 5)
    figures = totals([one, two], 100.0)
    assert (figures["records"], figures["data_classes"], figures["systems"]) == (35, 2, 2)
    assert figures["exposure_window"] == 100.0


def test_delegates_are_followed_transitively() -> None:
    assert delegates_of(scenario(), "a") == ("b", "c")
    assert delegates_of(scenario(), "c") == ()


def test_the_estate_survives_its_json_form() -> None:
    e = estate()
    again = Estate.from_dict(copy.deepcopy(e.to_dict()))
    assert again == e
    assert scope_reach(again, [S({"*"}, {"docs"})]) == scope_reach(e, [S({"*"}, {"docs"})])
