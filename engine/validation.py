"""``agentrange validate`` in one pass: a scenario file and every profile's policy, all problems.

The scenario's structure, references and bounds (:func:`engine.loader.check_scenario`),
each profile's policy file (its structure, and its rules against the scenario when the
scenario is whole), and the bounds each profile's delegation depth limit decides
(:func:`engine.bounds_check.profile_problems`) are checked together and reported together,
so one run shows everything to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from engine.bounds_check import profile_problems
from engine.errors import LoadError, LoadErrors
from engine.loader import ScenarioCheck, ScenarioDir, check_document, check_scenario, read_document
from engine.model import Scenario
from engine.policy.loading import PolicyFile, load_policy_file, profile_policy_file
from engine.policy.model import PolicyDocument


@dataclass(frozen=True)
class Validated:
    """A scenario that passed every check, with every profile's compiled policy file.

    Attributes:
        scenario: The scenario.
        policies: Profile id -> its policy file (profiles naming one file share it).
    """

    scenario: Scenario
    policies: dict[str, PolicyFile]


def validate_scenario(ref: str | Path | ScenarioDir) -> Validated:
    """Check a scenario and its profiles' policies; report every problem at once.

    Raises:
        LoadError: (LoadErrors listing them all, the scenario file's first, in file order)
            for any problem.
    """
    check = check_scenario(ref)
    scenario = check.scenario
    if scenario is None:
        raise LoadErrors(check.errors)
    policies, depths, policy_errors = _policies(check, scenario)
    errors = check.errors + check.locate(profile_problems(scenario, depths))
    errors.sort(key=lambda e: (e.line or 0, e.column or 0))
    errors += policy_errors
    if errors:
        raise LoadErrors(errors)
    return Validated(scenario, policies)


def _policies(check: ScenarioCheck, scenario: Scenario
              ) -> tuple[dict[str, PolicyFile], dict[str, int | None], list[LoadError]]:
    """Each profile's policy: compiled when the scenario is whole, else only validated.

    A policy compiled against a scenario with parts cut out could report rules naming the
    cut parts; so then only its own structure is checked (and its depth limit read).
    """
    policies: dict[str, PolicyFile] = {}
    depths: dict[str, int | None] = {}
    errors: list[LoadError] = []
    done: dict[str, tuple[PolicyFile | None, int | None, bool]] = {}
    for profile in scenario.profiles:
        if profile.policy not in done:
            file, source = profile_policy_file(scenario, profile.id)
            done[profile.policy] = _policy(check, scenario, file, source, errors)
        policy, depth, ok = done[profile.policy]
        if policy is not None:
            policies[profile.id] = policy
        if ok:
            depths[profile.id] = depth
    return policies, depths, errors


def _policy(check: ScenarioCheck, scenario: Scenario, file: Traversable | Path, source: str,
            errors: list[LoadError]) -> tuple[PolicyFile | None, int | None, bool]:
    """(compiled policy or None, its depth limit, whether it loaded)."""
    if not file.is_file():
        return None, None, False  # reported with the scenario's own problems
    try:
        if check.whole:
            loaded = load_policy_file(file, scenario, source=source)
            return loaded, loaded.policy.max_depth, True
        document, problems = check_document(read_document(file, source), PolicyDocument)
    except LoadError as exc:
        errors.append(exc)
        return None, None, False
    errors.extend(problems)
    if document is None:
        return None, None, False
    return None, document.delegation.max_depth, True
