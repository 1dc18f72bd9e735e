"""What the readiness gate analyses: a scenario, its documents and its compiled policies.

:func:`load_subject` loads a scenario with the parsed YAML of every file the findings point
into; :class:`Subject` locates paths in those files and groups profiles by the policy they
share, and memoises what the analysis derives from it (the call space, effects per call).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from engine.loader import (
    ScenarioDir,
    load_scenario,
    read_document,
    resolve,
)
from engine.model import Profile, Scenario
from engine.policy import CompiledPolicy, CompiledRule, load_profile_files
from engine.yamldoc import PathT, YamlDocument

DEFAULT_MAX_TTL = 3600.0
"""Credential lifetime (seconds) above which AR002 reports a profile."""

T = TypeVar("T")
Where = tuple[str, int | None, int | None]
"""(file, line, column) of a finding; line and column are 1-based, None when unknown."""


@dataclass(frozen=True)
class Subject:
    """What the gate analyses: a scenario, its documents and its profiles' compiled policies.

    Attributes:
        scenario: The loaded scenario.
        doc: The scenario's parsed YAML (for positions).
        policies: Profile id -> compiled policy.
        policy_docs: Profile id -> the policy's parsed YAML (for positions).
        max_ttl: The credential lifetime above which AR002 reports (seconds).
    """

    scenario: Scenario
    doc: YamlDocument
    policies: Mapping[str, CompiledPolicy]
    policy_docs: Mapping[str, YamlDocument]
    max_ttl: float = DEFAULT_MAX_TTL
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def at(self, path: PathT, *, key: bool = False) -> Where:
        """(file, line, column) of a path in the scenario file."""
        pos = self.doc.position(path, key=key)
        return self.doc.source, pos[0] if pos else None, pos[1] if pos else None

    def at_policy(self, profile: str, path: PathT) -> Where:
        """(file, line, column) of a path in a profile's policy file."""
        doc = self.policy_docs[profile]
        pos = doc.position(path)
        return doc.source, pos[0] if pos else None, pos[1] if pos else None

    def at_rule(self, profile: str, rule: CompiledRule) -> Where:
        """(file, line, column) of a rule's id in a profile's policy file."""
        return self.at_policy(profile, ("rules", rule.index, "id"))

    def policy_groups(self) -> list[tuple[CompiledPolicy, list[Profile], str]]:
        """Each distinct compiled policy with the profiles using it and one profile id to locate.

        Profiles naming the same policy file share one compiled policy, so a policy finding
        is reported once for all of them.
        """
        groups: dict[int, tuple[CompiledPolicy, list[Profile], str]] = {}
        for profile in self.scenario.profiles:
            policy = self.policies[profile.id]
            group = groups.setdefault(id(policy), (policy, [], profile.id))
            group[1].append(profile)
        return list(groups.values())

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """What ``build`` returns, computed once per subject and key.

        Args:
            key: A hashable key naming what is built (and for which call or policy).
            build: Builds the value on first use.
        """
        if key not in self._cache:
            self._cache[key] = build()
        found: T = self._cache[key]
        return found


def load_subject(ref: str | Path | ScenarioDir, *,
                 max_ttl: float = DEFAULT_MAX_TTL) -> Subject:
    """Load a scenario (a directory or a file) with its documents and policies.

    Args:
        ref: A scenario directory or file (the face resolves built-in names:
            :func:`scenarios.library.locate`).
        max_ttl: The credential lifetime above which AR002 reports (seconds).

    Raises:
        LoadError: for a missing or bad scenario or policy file.
    """
    scenario = load_scenario(ref)
    _name, file, source = resolve(ref)
    doc = read_document(file, source)
    files = load_profile_files(scenario)
    policies = {pid: f.policy for pid, f in files.items()}
    docs = {pid: f.doc for pid, f in files.items()}
    return Subject(scenario, doc, policies, docs, max_ttl)
