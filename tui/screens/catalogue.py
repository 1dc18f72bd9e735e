"""Reference data the screens look up by id: the profile's rules, as the run announced them.

The ``run_started`` event lists every rule and sequence of the profile's policy with its
description, envelope, effect, mode and framework references; the screens read them from
there and never re-read a policy file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.policy import RuleFacts
from sim.events import Event


@dataclass(frozen=True)
class RuleCatalogue:
    """The rules and sequences of one profile's policy, by id."""

    policy: str
    rules: dict[str, RuleFacts] = field(default_factory=dict)
    problem: str | None = None
    """Why the rules are not known (the screens show it instead of failing)."""

    @classmethod
    def of_run(cls, started: Event | None) -> RuleCatalogue:
        """The rules a run's ``run_started`` event lists.

        Args:
            started: The run's ``run_started`` event (None: the run has not started yet).
        """
        if started is None:
            return cls("", problem="the run has not started yet")
        data = started.data
        facts: Mapping[str, Mapping[str, Any]] = data.get("rules") or {}
        try:
            rules = {rule_id: RuleFacts.from_dict(rule_id, f) for rule_id, f in facts.items()}
        except (KeyError, ValueError):
            return cls(str(data.get("policy") or ""), problem="the run lists its rules in "
                       "another shape")
        return cls(str(data.get("policy") or ""), rules)

    def get(self, rule_id: str | None) -> RuleFacts | None:
        """The rule called ``rule_id`` (None when unknown or not given)."""
        return None if rule_id is None else self.rules.get(rule_id)
