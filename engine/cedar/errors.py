"""The errors of the Cedar room: a missing cedarpy, a refused export, a bad Cedar policy."""

from __future__ import annotations

from engine.errors import AgentrangeError

EXTRA = "agentrange[cedar]"
"""The optional extra that installs cedarpy."""


class CedarError(AgentrangeError):
    """Cedar could not be used: a policy set that does not parse or validate, bad files."""


class CedarMissingError(CedarError):
    """cedarpy is not installed."""

    def __init__(self) -> None:
        super().__init__(f"Cedar support needs cedarpy: pip install '{EXTRA}'")


class ExportRefusedError(CedarError):
    """A policy construct that Cedar cannot express exactly; export refuses it.

    Attributes:
        rule: The id of the rule, sequence or counter refused (None for the policy as a whole).
        problems: Every refusal, one line each, naming the rule.
    """

    def __init__(self, source: str, problems: list[tuple[str | None, str]]) -> None:
        self.rule = problems[0][0]
        self.problems = [f"rule {r}: {why}" if r is not None else why for r, why in problems]
        head = f"{source}: cannot export to Cedar without changing what it decides: "
        super().__init__(head + "; ".join(self.problems))
