"""Plans built ahead, shared decisions and explanations read later: exact all the same."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from policy_support import make_request

from engine.policy import PolicyEngine
from engine.policy import tables as tables_module
from engine.policy.caches import MemoSwitch
from engine.policy.plans import plan_book

Make = Callable[[str], PolicyEngine]

CAPS = """
    policy: p
    legal_owner: dpo
    counters:
      - {id: calls, scope: session}
    rules:
      - id: small
        envelope: security
        effect: allow
        when: {attr: request.records, lte: 10}
      - id: few-calls
        envelope: legal
        effect: deny
        when: {attr: counter.calls, gt: 3}
"""


def test_plans_of_every_declared_combination_are_built_before_any_decision(
        make_engine: Make) -> None:
    engine = make_engine(CAPS)
    book = plan_book(engine.policy)
    built = dict(book.plans)
    assert book.built == len(built) > 0
    for agent in ("support-bot", "ops-bot", "planner"):
        for tool in ("crm.lookup", "email.send", "vault.read"):
            engine.decide(make_request(agent, tool, records=50))
    assert book.plans == built  # deciding found every plan ready


def test_a_counter_in_an_explanation_asked_for_later_is_the_value_at_decision_time(
        make_engine: Make) -> None:
    engine = make_engine(CAPS)
    engine._switch.on = False  # each request its own decision, bound to its request
    first = engine.decide(make_request(records=50, session="s1"))
    for _ in range(2):  # executed calls move the counter on
        engine.decide(make_request(records=1, session="s1"))
    later = engine.decide(make_request(records=50, session="s1"))
    assert [(f.rule, f.actual) for f in first.failed] == [("small", 50), ("few-calls", 1)]
    assert [(f.rule, f.actual) for f in later.failed] == [("small", 50), ("few-calls", 3)]


@pytest.mark.parametrize("shared", [True, False])
def test_each_request_reports_its_own_values_whether_decisions_are_shared_or_not(
        make_engine: Make, shared: bool) -> None:
    engine = make_engine(CAPS)
    engine._switch.on = shared
    decisions = [engine.decide(make_request(records=n, session=f"s{n}"))
                 for n in (50, 70, 50, 900, 70)]
    assert [d.failed[0].actual for d in decisions] == [50, 70, 50, 900, 70]
    assert (decisions[0] is decisions[2]) is shared


def test_an_engine_whose_values_never_repeat_stops_keeping_decisions(make_engine: Make
                                                                      ) -> None:
    engine = make_engine(CAPS)
    for n in range(2 * MemoSwitch.WINDOW + 10):
        d = engine.decide(make_request(records=100 + n, session=f"s{n}"))
        assert d.failed[0].actual == 100 + n
    assert engine._switch.on is False


def test_a_number_classed_before_its_path_overflowed_is_classed_afresh(
        make_engine: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed before the fix: the number kept a class whose entry the overflow dropped, and a
    candidate set meeting that class for the first time failed closed with an internal
    error."""
    monkeypatch.setattr(tables_module, "MAX_VALUES", 4)
    engine = make_engine("""
        policy: p
        rules:
          - {id: lookups, envelope: security, effect: allow, target: {tools: [crm.lookup]},
             when: {attr: request.records, lte: 10}}
          - {id: tickets, envelope: security, effect: allow, target: {tools: [helpdesk.read]},
             when: {attr: request.records, lte: 10}}
    """)
    assert engine.decide(make_request(tool="crm.lookup", records=5)).allowed
    for i in range(10):  # values of another type on the numeric path: the cache overflows
        engine.decide(make_request(tool="crm.lookup", records=f"r{i}"))
    d = engine.decide(make_request(tool="helpdesk.read", records=5))
    assert (d.allowed, d.errors) == (True, ())
