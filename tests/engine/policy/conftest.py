"""Fixtures for the policy engine tests (helpers live in policy_support)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from policy_support import SCENARIO_MODEL, policy_from_text

from engine.model import Scenario
from engine.policy import PolicyEngine


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    """The small test scenario (five agents, eight tools, four data classes)."""
    return SCENARIO_MODEL


@pytest.fixture
def make_engine(scenario: Scenario, tmp_path: Path) -> Callable[[str], PolicyEngine]:
    """Build an engine from policy YAML text against the test scenario."""

    def make(text: str) -> PolicyEngine:
        return PolicyEngine(policy_from_text(text, scenario, tmp_path))

    return make
