"""Load policy files: read the YAML, validate it into a document, compile it for a scenario.

The one way policies are loaded, whoever needs them (the simulator, ``validate``,
``replay``, the readiness gate, reports and the dashboard's views): by file
(:func:`load_policy`), by one of a scenario's profiles (:func:`load_profile_policy`), or every
profile at once (:func:`load_profile_policies`, which reports every bad file together).
:func:`load_profile_files` also keeps each policy's parsed YAML, for callers that locate
findings in it by line and column.

Reading and validating use the scenario loader's stages (:mod:`engine.loader`); that module
never imports this package, so the two do not import each other. Loading a profile's policy
also checks the bounds its delegation depth limit decides (:func:`profile_bound_errors`): a
delegation cycle under no limit, or a run expected to exceed the event budget, is a load error
at its place in the scenario file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from engine.bounds_check import profile_problems
from engine.errors import LoadError, LoadErrors
from engine.loader import locate, policy_source, read_document, validate_document
from engine.model import Scenario
from engine.policy.compiled import CompiledPolicy
from engine.policy.compiler import compile_policy
from engine.policy.errors import NoPolicyFileError
from engine.policy.model import PolicyDocument
from engine.yamldoc import YamlDocument


@dataclass(frozen=True)
class PolicyFile:
    """A policy as loaded from its file: compiled, with the parsed YAML it came from.

    Attributes:
        policy: The compiled policy.
        doc: The parsed YAML (with positions), to locate findings by line and column.
    """

    policy: CompiledPolicy
    doc: YamlDocument


def compile_document(doc: YamlDocument, scenario: Scenario) -> CompiledPolicy:
    """Validate a parsed policy document and compile it against a scenario.

    Args:
        doc: The parsed YAML (``doc.source`` names it in messages).
        scenario: The scenario whose tools, roles, agents and data classes rules may name.

    Raises:
        LoadError: (LoadErrors when several) naming file:line:col for a bad document,
            unknown attribute paths, impossible comparisons, unknown targets or duplicate ids.
    """
    document = validate_document(doc, PolicyDocument)
    return compile_policy(document, scenario, doc=doc, source=doc.source)


def load_policy_file(file: str | Path | Traversable, scenario: Scenario, *,
                     source: str | None = None) -> PolicyFile:
    """Load, check and compile a policy file, keeping the YAML it was read from.

    Args:
        file: A path or an importlib Traversable (package data).
        scenario: The scenario whose tools, roles, agents and data classes rules may name.
        source: Display name for messages (default: the path).

    Raises:
        LoadError: as :func:`compile_document`, and for a file that cannot be read or parsed.
    """
    if isinstance(file, str):
        file = Path(file)
    doc = read_document(file, source or str(file))
    return PolicyFile(compile_document(doc, scenario), doc)


def load_policy(file: str | Path | Traversable, scenario: Scenario, *,
                source: str | None = None) -> CompiledPolicy:
    """Load, check and compile a policy file against a scenario.

    Args:
        file: A path or an importlib Traversable (package data).
        scenario: The scenario whose tools, roles, agents and data classes rules may name.
        source: Display name for messages (default: the path).

    Raises:
        LoadError: (LoadErrors when several) naming file:line:col for a bad file, unknown
            attribute paths, impossible comparisons, unknown targets or duplicate ids.
    """
    return load_policy_file(file, scenario, source=source).policy


def profile_policy_file(scenario: Scenario, profile_id: str) -> tuple[Traversable | Path, str]:
    """Where a profile's policy file is, and how messages name it.

    Returns:
        (the file next to the scenario, its display name).

    Raises:
        KeyError: for a profile the scenario does not declare.
        NoPolicyFileError: when the scenario was not loaded from a file (no directory).
    """
    policy = scenario.profile(profile_id).policy
    base = scenario.base
    if base is None:
        raise NoPolicyFileError(
            f"scenario {scenario.name} was not loaded from a file, so profile {profile_id}'s "
            f"policy {policy} has no directory to be found in; compile it with compile_policy")
    file: Traversable | Path = base / policy
    return file, policy_source(scenario, policy)


def load_profile_policy(scenario: Scenario, profile_id: str) -> CompiledPolicy:
    """Load and compile the policy file of one of the scenario's profiles.

    Raises:
        KeyError: for a profile the scenario does not declare.
        NoPolicyFileError: when the scenario was not loaded from a file (no directory).
        LoadError: when the policy file is bad.
    """
    file, source = profile_policy_file(scenario, profile_id)
    policy = load_policy(file, scenario, source=source)
    errors = profile_bound_errors(scenario, {profile_id: policy.max_depth})
    if errors:
        raise LoadErrors(errors)
    return policy


def profile_bound_errors(scenario: Scenario, depths: dict[str, int | None]) -> list[LoadError]:
    """The bounds a run crosses under these profiles, at their places in the scenario file.

    Args:
        scenario: A scenario loaded from a file.
        depths: Profile id -> its policy's delegation depth limit (None: no limit).
    """
    return locate(scenario, profile_problems(scenario, depths))


def load_profile_files(scenario: Scenario) -> dict[str, PolicyFile]:
    """Load every profile's policy file, each file compiled once, with its parsed YAML.

    Returns:
        Profile id -> its policy file, in the scenario's profile order (profiles naming the
        same file share one).

    Raises:
        NoPolicyFileError: when the scenario was not loaded from a file (no directory).
        LoadError: (LoadErrors listing every bad policy file's problems, and the bounds the
            scenario crosses under the profiles whose policies loaded).
    """
    loaded: dict[str, PolicyFile] = {}
    errors: list[LoadError] = []
    seen: dict[str, PolicyFile] = {}
    for profile in scenario.profiles:
        if profile.policy in seen:
            loaded[profile.id] = seen[profile.policy]
            continue
        file, source = profile_policy_file(scenario, profile.id)
        try:
            loaded[profile.id] = seen[profile.policy] = load_policy_file(file, scenario,
                                                                         source=source)
        except LoadError as exc:  # LoadErrors keep their count of what they leave out
            errors.append(exc)
    errors.extend(profile_bound_errors(
        scenario, {pid: f.policy.max_depth for pid, f in loaded.items()}))
    if errors:
        raise LoadErrors(errors)
    return loaded


def load_profile_policies(scenario: Scenario) -> dict[str, CompiledPolicy]:
    """Load and compile the policy file of every profile of a loaded scenario.

    ``agentrange validate`` calls this so a bad policy is reported before anything runs.

    Raises:
        NoPolicyFileError: when the scenario was not loaded from a file (no directory).
        LoadError: (LoadErrors listing every bad policy file's problems).
    """
    return {pid: f.policy for pid, f in load_profile_files(scenario).items()}
