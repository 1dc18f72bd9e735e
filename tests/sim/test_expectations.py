from __future__ import annotations

from sim.expectations import check
from tests.sim.support import base, run, scenario


def test_expectations_report_what_held_and_what_the_run_produced() -> None:
    data = base(expect=[
        {"profile": "static", "metric": "decisions.total", "eq": 24},
        {"profile": "static", "metric": "delivery.task_latency_p50", "lte": "10s"},
        {"profile": "static", "decision": {"agent": "worker", "task": "job", "step": 2},
         "effect": "allow", "rule": "everything"},
        {"profile": "static", "decision": {"agent": "worker", "task": "job", "step": 2},
         "effect": "deny"},
        {"profile": "jit", "metric": "decisions.total", "gte": 1},
    ])
    sim, _ = run(data, "static")
    verdicts = check(scenario(data), {"static": sim.result()})
    assert [v.passed for v in verdicts] == [True, False, True, False]
    assert verdicts[1].what == "delivery.task_latency_p50 <= 10"
    assert verdicts[1].actual == "delivery.task_latency_p50 = 15"
    assert verdicts[3].actual == "allow (wiki.read) by rule everything"
    assert all(v.profile == "static" for v in verdicts)  # no jit result: not checked


def test_a_request_never_made_fails_its_expectation() -> None:
    data = base(expect=[{"profile": "static",
                         "decision": {"agent": "helper", "task": "lookup", "step": 1},
                         "effect": "allow"}])
    sim, _ = run(data, "static")
    [verdict] = check(scenario(data), {"static": sim.result()})
    assert not verdict.passed and verdict.actual == "that request was never made"
