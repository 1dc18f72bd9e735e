"""Sequence rules across scopes and windows, counters, and when the engine's state changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from policy_support import make_request

from engine.policy import Effect, PolicyEngine, Reason, StepRef

Make = Callable[[str], PolicyEngine]


def sequence_policy(scope: str = "session", window: str = "10m", effect: str = "deny",
                    mode: str = "enforce", steps: str = "") -> str:
    steps = steps or """
      - target: {data_classes: [pii]}
      - target: {tools: [email.send]}
        when: {attr: request.destination, eq: external}"""
    return f"""
policy: p
legal_owner: dpo
rules:
  - {{id: base, envelope: security, effect: allow}}
sequences:
  - id: pii-then-mail
    envelope: legal
    effect: {effect}
    mode: {mode}
    scope: {scope}
    window: {window}
    steps:{steps}
"""


def mail(**kw: Any) -> Any:
    return make_request(tool="email.send", destination="external", **kw)


def pii(**kw: Any) -> Any:
    return make_request(tool="crm.lookup", **kw)


def test_the_request_completing_a_sequence_is_denied_and_names_earlier_steps(
        make_engine: Make) -> None:
    engine = make_engine(sequence_policy())
    assert engine.decide(pii(now=10, ref=41)).allowed
    assert engine.decide(make_request(tool="kb.search", now=20)).allowed
    d = engine.decide(mail(now=30, ref=43))
    assert (d.effect, d.reason, d.rule) == (Effect.DENY, Reason.SEQUENCE, "pii-then-mail")
    assert [(m.sequence, m.steps) for m in d.sequences] == [
        ("pii-then-mail", (StepRef(10, "crm.lookup", 41),))]
    assert (str(d.envelope), d.owner) == ("legal", "dpo")
    assert "earlier steps: t=10 crm.lookup (ref 41)" in d.explain()


def test_steps_must_come_in_order(make_engine: Make) -> None:
    engine = make_engine(sequence_policy())
    assert engine.decide(mail(now=1)).allowed
    assert engine.decide(pii(now=2)).allowed
    assert engine.decide(make_request(tool="email.send", destination="internal",
                                      now=3)).allowed  # the last step's condition fails


def test_session_scope_keeps_task_runs_apart(make_engine: Make) -> None:
    engine = make_engine(sequence_policy("session"))
    engine.decide(pii(now=1, session="run-1"))
    assert engine.decide(mail(now=2, session="run-2")).allowed
    assert not engine.decide(mail(now=3, session="run-1")).allowed


def test_chain_scope_follows_a_delegation_chain_across_sessions(make_engine: Make) -> None:
    engine = make_engine(sequence_policy("chain"))
    engine.decide(pii(now=1, session="root-run", chain_id="root-run"))
    helper = mail(agent="ops-bot", now=2, session="sub-run", chain_id="root-run",
                  chain=["ops-bot", "support-bot"])
    assert engine.decide(helper).reason is Reason.SEQUENCE
    assert engine.decide(mail(now=3, session="other", chain_id="other")).allowed


def test_agent_scope_spans_the_agents_task_runs_only(make_engine: Make) -> None:
    engine = make_engine(sequence_policy("agent", window="1h"))
    engine.decide(pii(now=1, session="a"))
    assert engine.decide(mail(agent="ops-bot", now=2, session="b")).allowed
    assert engine.decide(mail(now=3, session="c")).reason is Reason.SEQUENCE


def test_the_window_runs_from_the_first_step_inclusive(make_engine: Make) -> None:
    engine = make_engine(sequence_policy(window="60s"))
    engine.decide(pii(now=100))
    assert engine.decide(mail(now=160, session="run-1")).reason is Reason.SEQUENCE
    later = make_engine(sequence_policy(window="60s"))
    later.decide(pii(now=100))
    assert later.decide(mail(now=160.5)).allowed


def test_a_later_first_step_restarts_the_window(make_engine: Make) -> None:
    engine = make_engine(sequence_policy(window="60s"))
    engine.decide(pii(now=0, ref="old"))
    engine.decide(pii(now=100, ref="new"))
    d = engine.decide(mail(now=150))
    assert d.reason is Reason.SEQUENCE
    assert d.sequences[0].steps[0].ref == "new"


def test_three_steps_need_all_earlier_steps_in_order(make_engine: Make) -> None:
    steps = """
      - target: {tools: [vault.read]}
      - target: {tools: [crm.lookup]}
      - target: {tools: [http.post]}"""
    engine = make_engine(sequence_policy(steps=steps))
    engine.decide(make_request(tool="crm.lookup", now=1))
    engine.decide(make_request(tool="vault.read", now=2))
    assert engine.decide(make_request(tool="http.post", now=3)).allowed
    engine.decide(make_request(tool="crm.lookup", now=4))
    d = engine.decide(make_request(tool="http.post", now=5))
    assert d.reason is Reason.SEQUENCE
    assert [s.tool for s in d.sequences[0].steps] == ["vault.read", "crm.lookup"]


def test_one_request_never_serves_as_two_steps(make_engine: Make) -> None:
    steps = """
      - target: {actions: [read]}
      - target: {actions: [read]}
      - target: {tools: [http.post]}"""
    engine = make_engine(sequence_policy(steps=steps))
    engine.decide(make_request(tool="crm.lookup", now=1))
    assert engine.decide(make_request(tool="http.post", now=2)).allowed
    engine.decide(make_request(tool="kb.search", now=3))
    assert engine.decide(make_request(tool="http.post", now=4)).reason is Reason.SEQUENCE


def test_denied_requests_do_not_advance_a_sequence(make_engine: Make) -> None:
    text = sequence_policy().replace(
        "  - {id: base, envelope: security, effect: allow}",
        "  - {id: base, envelope: security, effect: allow}\n"
        "  - {id: no-bulk, envelope: security, effect: deny, when: {attr: request.records, "
        "gt: 100}}")
    engine = make_engine(text)
    assert not engine.decide(pii(now=1, records=500)).allowed
    assert engine.decide(mail(now=2)).allowed


def test_an_approved_request_counts_once_committed(make_engine: Make) -> None:
    text = sequence_policy().replace(
        "  - {id: base, envelope: security, effect: allow}",
        "  - {id: base, envelope: security, effect: allow}\n"
        "  - {id: ask, envelope: business, effect: require_approval, "
        "target: {tools: [crm.lookup]}}")
    engine = make_engine(text)
    read = pii(now=1)
    assert engine.decide(read).effect is Effect.REQUIRE_APPROVAL
    assert engine.decide(mail(now=2)).allowed  # not executed yet: no sequence
    engine.commit(read)
    assert engine.decide(mail(now=3)).reason is Reason.SEQUENCE


def test_a_shadow_sequence_is_reported_but_not_enforced(make_engine: Make) -> None:
    engine = make_engine(sequence_policy(mode="shadow"))
    engine.decide(pii(now=1))
    d = engine.decide(mail(now=2))
    assert d.allowed
    assert [tuple(s) for s in d.shadow] == [("pii-then-mail", Effect.DENY)]
    assert d.sequences[0].shadow
    engine.tighten("pii-then-mail")
    assert engine.decide(mail(now=3)).reason is Reason.SEQUENCE


def test_an_approval_sequence_asks_instead_of_denying(make_engine: Make) -> None:
    engine = make_engine(sequence_policy(effect="require_approval"))
    engine.decide(pii(now=1))
    d = engine.decide(mail(now=2))
    assert (d.effect, d.reason) == (Effect.REQUIRE_APPROVAL, Reason.SEQUENCE)


def test_sequences_need_the_time(make_engine: Make) -> None:
    engine = make_engine(sequence_policy())
    d = engine.decide(dataclasses.replace(pii(now=1), time={}))
    assert (d.effect, d.reason) == (Effect.DENY, Reason.ERROR)
    assert "time.now" in d.errors[0]


def test_finished_sessions_leave_no_state(make_engine: Make) -> None:
    engine = make_engine(sequence_policy())
    for i in range(200):
        engine.decide(pii(now=i, session=f"run-{i}"))
        engine.end_session(f"run-{i}")
    assert engine.state_size() == 0
    engine.decide(pii(now=500, session="kept"))
    assert engine.state_size() == 1
    engine.reset()
    assert engine.state_size() == 0


def test_finished_chains_leave_no_state(make_engine: Make) -> None:
    engine = make_engine(sequence_policy("chain"))
    engine.decide(pii(now=1, session="sub", chain_id="root"))
    assert engine.state_size() == 1
    engine.end_session("sub")
    assert engine.state_size() == 1  # chain-scoped state outlives the sub-task's session
    engine.end_chain("root")
    assert engine.state_size() == 0
    assert engine.decide(mail(now=2, session="sub", chain_id="root")).allowed


# --- counters --------------------------------------------------------------------------


def counter_policy(counter: str, condition: str) -> str:
    return f"""
policy: p
counters:
  - {counter}
rules:
  - {{id: allow, envelope: security, effect: allow}}
  - {{id: cap, envelope: security, effect: deny, when: {condition}}}
"""


def test_a_cumulative_counter_caps_records_per_session(make_engine: Make) -> None:
    engine = make_engine(counter_policy(
        "{id: pii, scope: session, measure: request.records, target: {data_classes: [pii]}}",
        "{attr: counter.pii, gt: 100}"))
    assert engine.decide(pii(records=60)).allowed
    d = engine.decide(pii(records=50))
    assert (d.effect, d.rule) == (Effect.DENY, "cap")  # 60 + 50, counting this request
    assert engine.decide(pii(records=40)).allowed  # the denied 50 were never read
    assert engine.decide(pii(records=1, session="run-2")).allowed
    assert not engine.decide(pii(records=1)).allowed


def test_counters_only_count_matching_requests(make_engine: Make) -> None:
    engine = make_engine(counter_policy(
        "{id: pii, scope: session, measure: request.records, target: {data_classes: [pii]}}",
        "{attr: counter.pii, gt: 100}"))
    assert engine.decide(make_request(tool="kb.search", records=1000)).allowed
    assert engine.decide(pii(records=100)).allowed


def test_a_windowed_counter_is_a_sliding_rate_limit(make_engine: Make) -> None:
    engine = make_engine(counter_policy(
        "{id: sends, scope: agent, window: 1m, target: {actions: [send]}}",
        "{attr: counter.sends, gt: 2}"))
    assert engine.decide(mail(now=0, session="a")).allowed
    assert engine.decide(mail(now=10, session="b")).allowed
    assert not engine.decide(mail(now=20, session="c")).allowed
    assert engine.decide(mail(agent="ops-bot", now=20)).allowed
    assert not engine.decide(mail(now=59.5)).allowed
    assert engine.decide(mail(now=60)).allowed  # the call at t=0 slid out of the window
    d = engine.decide(mail(now=61))
    assert d.failed == () and d.rule == "cap"


def test_a_task_counter_sums_across_runs_of_the_same_task(make_engine: Make) -> None:
    engine = make_engine(counter_policy(
        "{id: refunds, scope: task, measure: request.amount, window: 1d}",
        "{attr: counter.refunds, gt: 500}"))
    assert engine.decide(make_request(amount=300, session="r1", task="refund")).allowed
    assert not engine.decide(make_request(amount=300, session="r2", task="refund")).allowed
    assert engine.decide(make_request(amount=300, session="r3", task="other")).allowed
    d = engine.decide(make_request(amount=300, session="r2", task="refund", now=86400))
    assert d.allowed


def test_counter_values_are_reported_in_failed_conditions(make_engine: Make) -> None:
    engine = make_engine(counter_policy("{id: calls, scope: session}",
                                        "{attr: counter.calls, gt: 3}"))
    engine.decide(make_request())
    d = engine.decide(make_request())
    assert [tuple(f) for f in d.failed] == [("cap", "counter.calls gt 3", "counter.calls", 2)]
