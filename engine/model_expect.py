"""The scenario model's expectations: bounds on run metrics and the effect of given steps.

Split from :mod:`engine.model` (which re-exports every name here) to keep each module small.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StringConstraints, Tag, model_validator

from engine.fields import Base, Id, to_seconds

Comparable = float | str


class MetricExpectation(Base):
    """A bound on a run metric, e.g. ``records_exposed`` at most 100 under a profile."""

    profile: Id
    metric: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.]+$")]
    eq: Comparable | None = None
    lt: Comparable | None = None
    lte: Comparable | None = None
    gt: Comparable | None = None
    gte: Comparable | None = None
    description: str = ""

    @model_validator(mode="after")
    def _one_bound(self) -> MetricExpectation:
        bounds = [b for b in ("eq", "lt", "lte", "gt", "gte") if getattr(self, b) is not None]
        if len(bounds) != 1:
            raise ValueError("exactly one of eq, lt, lte, gt, gte")
        value = getattr(self, bounds[0])
        if isinstance(value, str):
            try:
                to_seconds(value)
            except ValueError:
                raise ValueError(f"{bounds[0]}: a number, or a duration such as \"30s\" or "
                                 "\"5m\"") from None
        return self

    @property
    def bound(self) -> tuple[str, float]:
        """The comparison operator and its value in plain numbers (durations in seconds)."""
        for op in ("eq", "lt", "lte", "gt", "gte"):
            value = getattr(self, op)
            if value is not None:
                return op, float(to_seconds(value))
        raise AssertionError("validated to have one bound")


class DecisionRef(Base):
    """Which request a decision expectation is about: an agent's task step (1-based)."""

    agent: Id
    task: Id
    step: int = Field(ge=1)
    incident: Id | None = None
    """Set when the step belongs to an incident's plan rather than a task."""


class DecisionExpectation(Base):
    """The effect (and optionally the deciding rule) of one step under a profile."""

    profile: Id
    decision: DecisionRef
    effect: Literal["allow", "deny", "require_approval"]
    rule: Id | None = None
    description: str = ""


def _expect_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "decision-expectation" if "decision" in value else "metric-expectation"
    if isinstance(value, DecisionExpectation):
        return "decision-expectation"
    if isinstance(value, MetricExpectation):
        return "metric-expectation"
    return None


Expectation = Annotated[
    Annotated[MetricExpectation, Tag("metric-expectation")]
    | Annotated[DecisionExpectation, Tag("decision-expectation")],
    Discriminator(_expect_kind, custom_error_type="expectation",
                  custom_error_message="an expectation: 'metric' or 'decision'"),
]


