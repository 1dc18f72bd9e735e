"""Reference data the screens look up by id: the profile's rules with their framework tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.errors import AgentrangeError
from engine.model import Scenario
from engine.policy import RuleFacts, load_profile_policy


@dataclass(frozen=True)
class RuleCatalogue:
    """The rules and sequences of one profile's policy, by id (facts from the compiled policy).

    Attributes:
        policy: The policy's id (its file name when it could not be loaded).
        rules: Rule and sequence id -> what the policy says about it.
        problem: Why the policy could not be loaded (the screens show it instead of failing).
    """

    policy: str
    rules: Mapping[str, RuleFacts] = field(default_factory=dict)
    problem: str | None = None

    @classmethod
    def load(cls, scenario: Scenario, profile_id: str) -> RuleCatalogue:
        """Load the profile's policy next to the scenario with the one policy loader.

        Args:
            scenario: The loaded scenario (its base directory locates the policy).
            profile_id: The profile whose policy to read.
        """
        try:
            policy = load_profile_policy(scenario, profile_id)
        except AgentrangeError as exc:
            return cls(scenario.profile(profile_id).policy, problem=str(exc))
        return cls(policy.name, policy.facts)

    def get(self, rule_id: str | None) -> RuleFacts | None:
        """The rule called ``rule_id`` (None when unknown or not given)."""
        return None if rule_id is None else self.rules.get(rule_id)
