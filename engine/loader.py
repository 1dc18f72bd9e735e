"""Load scenario files and directories into validated models.

Stages: read (size limit, UTF-8) → parse YAML safely with positions → validate with pydantic
(:mod:`engine.salvage`: every structural problem, in plain words from :mod:`engine.messages`,
and a model of what is sound) → check cross-references (:mod:`engine.references`) and the
bounds no profile changes (:mod:`engine.bounds_check`). All of a file's problems are reported
together, as :class:`~engine.errors.LoadError` naming the file, line, column and document
path, what was found and what was expected.

The loader reads what it is given: a YAML file, a directory holding ``scenario.yaml``, or a
:class:`ScenarioDir` a caller found elsewhere (the built-in library resolves its names in
:mod:`scenarios.library`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from engine.bounds_check import BoundProblem, scenario_problems
from engine.errors import MAX_ERRORS, LoadError, LoadErrors
from engine.messages import PathT, Problem, quote
from engine.model import Scenario
from engine.references import Declared, reference_problems
from engine.references import Problem as Reference
from engine.salvage import Salvaged, as_tuples, salvage
from engine.yamldoc import YamlDocument, decode, describe, load_yaml, read_text, render_path

SCENARIO_FILE = "scenario.yaml"

__all__ = ["MAX_ERRORS", "SCENARIO_FILE", "ScenarioCheck", "ScenarioDir", "as_tuples",
           "check_document", "check_scenario", "load_scenario", "locate", "policy_source",
           "read_document", "resolve", "validate_document"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ScenarioDir:
    """A scenario directory a caller found (in package data, say), with its names for messages.

    Attributes:
        path: The directory holding ``scenario.yaml`` and the policy files it names: a Path,
            or an importlib Traversable.
        name: The reference it was found by (e.g. a built-in scenario's name).
        source: How messages and :attr:`Scenario.source` name its scenario file.
    """

    path: Traversable
    name: str
    source: str


def resolve(ref: str | Path | ScenarioDir) -> tuple[str, Traversable | Path, str]:
    """Find a scenario file: a YAML file, a directory holding scenario.yaml, or a ScenarioDir.

    Returns:
        (display name, the scenario file, display name of the file).

    Raises:
        LoadError: when there is no such file.
    """
    if isinstance(ref, ScenarioDir):
        return ref.name, ref.path / SCENARIO_FILE, ref.source
    text = str(ref)
    path = Path(text)
    if path.is_dir() and (path / SCENARIO_FILE).is_file():
        path = path / SCENARIO_FILE
    if path.is_file():
        return text, path, str(path)
    raise LoadError(text, "an existing scenario file", found="no such file")


def read_document(file: Traversable | Path, source: str) -> YamlDocument:
    """Read and parse one YAML document from disk or package data."""
    if isinstance(file, Path):
        text = read_text(file, source)
    else:
        text = decode(file.read_bytes(), source)
    return load_yaml(text, source)


@dataclass
class ScenarioCheck:
    """A scenario file checked in one pass: the model of what is sound, and every problem.

    Attributes:
        doc: The parsed YAML.
        salvaged: The validated model (parts that failed cut out) and the structural problems.
        errors: Every problem found, in the file's order: structure, references, bounds and
            missing policy files.
    """

    doc: YamlDocument
    salvaged: Salvaged[Scenario]
    errors: list[LoadError]

    @property
    def scenario(self) -> Scenario | None:
        """The scenario (None when its top level failed); see :attr:`whole`."""
        return self.salvaged.model

    @property
    def whole(self) -> bool:
        """Whether the scenario validated without cutting anything out."""
        return self.salvaged.whole

    def locate(self, problems: Iterable[BoundProblem | Reference]) -> list[LoadError]:
        """Problems found on the scenario model, at their lines and columns in the file.

        A problem about a part that was cut out of a broken document, or derived from one,
        is left out: the cut part's own problem is reported, and this one may not hold.
        """
        out = []
        salvaged = self.salvaged
        for problem in problems:
            path, expected, found, depends = _parts(problem)
            path = salvaged.original(path)
            if salvaged.cuts and (salvaged.touched(path) or any(
                    salvaged.touched(salvaged.original(d)) for d in depends)):
                continue
            out.append(self.doc.error(path, expected, found))
        return out


def check_scenario(ref: str | Path | ScenarioDir) -> ScenarioCheck:
    """Check a scenario file in one pass: structure, references, bounds, policy files present.

    Parts that fail validation are cut out so the rest is still checked (see
    :mod:`engine.salvage`). Policies are not read here (see :mod:`engine.validation`).

    Raises:
        LoadError: only when the file cannot be read or parsed (nothing else can be checked).
    """
    _name, file, source = resolve(ref)
    doc = read_document(file, source)
    salvaged = _salvage(doc, Scenario)
    check = ScenarioCheck(doc, salvaged, [_located(doc, p) for p in salvaged.problems])
    scenario = salvaged.model
    if scenario is None:
        return check
    declared = None if salvaged.whole else Declared.of(doc.data)
    check.errors.extend(check.locate(reference_problems(scenario, declared)))
    check.errors.extend(check.locate(scenario_problems(scenario)))
    base: Traversable | Path = ref.path if isinstance(ref, ScenarioDir) else Path(str(file)).parent
    for i, profile in enumerate(scenario.profiles):
        policy = base / profile.policy
        if not policy.is_file():
            check.errors.extend(check.locate([(("profiles", i, "policy"),
                                               "a policy file next to the scenario",
                                               f"no file {quote(profile.policy)}")]))
    check.errors.sort(key=_position)
    scenario._source = source
    scenario._base = base
    scenario._file = file
    return check


def load_scenario(ref: str | Path | ScenarioDir) -> Scenario:
    """Load and validate a scenario from a file, a directory or a :class:`ScenarioDir`.

    Checks its structure, references and the bounds no profile changes (rates, intervals,
    zero-time delegation loops: :mod:`engine.bounds_check`); its policies are checked when
    they are loaded (:mod:`engine.policy.loading`).

    Raises:
        LoadError: (or LoadErrors, its subclass listing several) for any problem.
    """
    check = check_scenario(ref)
    if check.errors or check.scenario is None:
        raise LoadErrors(check.errors)
    return check.scenario


def locate(scenario: Scenario, problems: Iterable[BoundProblem | Reference]) -> list[LoadError]:
    """Problems found on a loaded scenario, at their lines and columns in its file.

    The file is read again (only when there is something to report); a scenario built in
    memory, or a file gone since, gets errors without a position.
    """
    problems = list(problems)
    if not problems:
        return []
    doc: YamlDocument | None = None
    if scenario.file is not None:
        try:
            doc = read_document(scenario.file, scenario.source)
        except LoadError:
            doc = None
    out = []
    for problem in problems:
        path, expected, found, _depends = _parts(problem)
        if doc is not None:
            out.append(doc.error(path, expected, found))
        else:
            out.append(LoadError(scenario.source, expected, path=render_path(path),
                                 found=found))
    return out


def policy_source(scenario: Scenario, policy: str) -> str:
    """How messages name a profile's policy file: next to the scenario's own source."""
    return f"{scenario.source.rsplit('/', 1)[0]}/{policy}"


def validate_document(doc: YamlDocument, model: type[M]) -> M:
    """Validate a parsed document against a pydantic model, every problem at its position.

    Raises:
        LoadErrors: one entry per problem (the first ``MAX_ERRORS`` listed).
    """
    salvaged = _salvage(doc, model)
    if salvaged.problems or salvaged.model is None:
        raise LoadErrors([_located(doc, p) for p in salvaged.problems])
    return salvaged.model


def check_document(doc: YamlDocument, model: type[M]) -> tuple[M | None, list[LoadError]]:
    """Validate a parsed document, returning the model (None if it fails) and every problem."""
    salvaged = _salvage(doc, model)
    errors = [_located(doc, p) for p in salvaged.problems]
    return (salvaged.model if not errors else None), errors


# Stand-ins for a document's required top-level values, so a bad one does not hide the rest.
_PLACEHOLDERS: dict[str, dict[str, object]] = {
    "Scenario": {"name": "scenario", "trust_domain": "example.org", "duration": 3600.0},
    "PolicyDocument": {"policy": "policy"},
}


def _salvage(doc: YamlDocument, model: type[M]) -> Salvaged[M]:
    if not isinstance(doc.data, dict):
        return Salvaged(None, [Problem((), "a YAML mapping at the top level",
                                       describe(doc.data))])
    return salvage(doc.data, model, _PLACEHOLDERS.get(model.__name__))


def _parts(problem: BoundProblem | Reference
           ) -> tuple[PathT, str, str, tuple[PathT, ...]]:
    if isinstance(problem, BoundProblem):
        return problem.path, problem.expected, problem.found, problem.depends
    path, expected, found = problem
    return path, expected, found, ()


def _located(doc: YamlDocument, problem: Problem) -> LoadError:
    return doc.error(problem.path, problem.expected, problem.found, key=problem.key)


def _position(error: LoadError) -> tuple[int, int]:
    return (error.line or 0, error.column or 0)
