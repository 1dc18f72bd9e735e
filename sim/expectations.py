"""Check a scenario's ``expect:`` assertions against run results (what ``agentrange test`` needs).

Metric expectations read a dotted path of ``RunResult.to_dict()`` (see :mod:`sim.result`)
and compare it with the bound (durations already in seconds). Decision expectations look up
the named step of the agent's first run of the task (or of the incident's run) and compare
its effect, and the deciding rule when one is named.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.model import DecisionExpectation, MetricExpectation, Scenario
from sim.result import RunResult

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "lt": operator.lt, "lte": operator.le, "gt": operator.gt,
    "gte": operator.ge}
_WORDS = {"eq": "==", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


@dataclass(frozen=True)
class ExpectationResult:
    """The verdict on one expectation.

    Attributes:
        index: Position in the scenario's ``expect`` list.
        profile: The profile it is about.
        passed: Whether it held.
        what: The expectation in words.
        actual: What the run produced, in words.
    """

    index: int
    profile: str
    passed: bool
    what: str
    actual: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"index": self.index, "profile": self.profile, "passed": self.passed,
                "what": self.what, "actual": self.actual}


def check(scenario: Scenario, results: Mapping[str, RunResult]) -> list[ExpectationResult]:
    """Every expectation of ``scenario`` whose profile has a result, in file order.

    Args:
        scenario: The scenario whose ``expect:`` list to check.
        results: Profile id -> the result of a run under it (with decisions recorded).
    """
    verdicts = []
    for index, exp in enumerate(scenario.expect):
        result = results.get(exp.profile)
        if result is None:
            continue
        if isinstance(exp, MetricExpectation):
            verdicts.append(_metric(index, exp, result))
        elif isinstance(exp, DecisionExpectation):
            verdicts.append(_decision(index, exp, result))
    return verdicts


def _metric(index: int, exp: MetricExpectation, result: RunResult) -> ExpectationResult:
    op, bound = exp.bound
    what = f"{exp.metric} {_WORDS[op]} {bound:g}"
    try:
        value = result.metric(exp.metric)
    except KeyError:
        return ExpectationResult(index, exp.profile, False, what,
                                 f"no metric {exp.metric!r} in the result")
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return ExpectationResult(index, exp.profile, False, what,
                                 f"{exp.metric} is {value!r}, not a number")
    return ExpectationResult(index, exp.profile, _OPS[op](value, bound), what,
                             f"{exp.metric} = {value:g}")


def _decision(index: int, exp: DecisionExpectation, result: RunResult) -> ExpectationResult:
    ref = exp.decision
    where = f"{ref.agent} {ref.task} step {ref.step}" + (
        f" of incident {ref.incident}" if ref.incident else "")
    what = f"{where} is {exp.effect}" + (f" by rule {exp.rule}" if exp.rule else "")
    facts = result.decision_of(ref.agent, ref.task, ref.step, ref.incident)
    if facts is None:
        return ExpectationResult(index, exp.profile, False, what,
                                 "that request was never made")
    effect, tool, rule = facts
    passed = effect == exp.effect and (exp.rule is None or rule == exp.rule)
    actual = f"{effect} ({tool})" + (f" by rule {rule}" if rule else "")
    return ExpectationResult(index, exp.profile, passed, what, actual)
