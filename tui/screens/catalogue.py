"""Reference data the screens look up by id: the profile's rules with their framework tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import AgentrangeError
from engine.loader import read_document, validate_document
from engine.model import Scenario
from engine.policy.model import PolicyDocument


@dataclass(frozen=True)
class RuleInfo:
    """What a policy file says about one rule or sequence."""

    id: str
    description: str
    envelope: str
    effect: str
    frameworks: tuple[str, ...]
    shadow: bool


@dataclass(frozen=True)
class RuleCatalogue:
    """The rules and sequences of one profile's policy, by id."""

    policy: str
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    problem: str | None = None
    """Why the policy could not be read (the screens show it instead of failing)."""

    @classmethod
    def load(cls, scenario: Scenario, profile_id: str) -> RuleCatalogue:
        """Read the profile's policy file next to the scenario.

        Args:
            scenario: The loaded scenario (its base directory locates the policy).
            profile_id: The profile whose policy to read.
        """
        profile = scenario.profile(profile_id)
        base = scenario.base
        if base is None:
            return cls(profile.policy, problem="the scenario was not loaded from a file")
        file = base / profile.policy
        source = str(file) if isinstance(file, Path) else f"builtin:{profile.policy}"
        try:
            document = validate_document(read_document(file, source), PolicyDocument)
        except AgentrangeError as exc:
            return cls(profile.policy, problem=str(exc))
        rules = {
            r.id: RuleInfo(r.id, r.description, r.envelope, r.effect, tuple(r.frameworks),
                           r.mode == "shadow")
            for r in document.rules
        }
        rules.update({
            s.id: RuleInfo(s.id, s.description, s.envelope, s.effect, tuple(s.frameworks),
                           s.mode == "shadow")
            for s in document.sequences
        })
        return cls(document.policy, rules)

    def get(self, rule_id: str | None) -> RuleInfo | None:
        """The rule called ``rule_id`` (None when unknown or not given)."""
        return None if rule_id is None else self.rules.get(rule_id)
