"""Profiles run through Cedar: a YAML policy exported, or Cedar files beside a policy file.

Two ways a run decides with Cedar (see ``docs/cedar.md``):

- ``--engine cedar`` on any profile: its YAML policy is exported (:mod:`engine.cedar.export`)
  and the export decides; the compiled policy keeps the counters, sequences and delegation.
- a profile whose ``cedar:`` names a ``.cedar`` file or a directory of them: those policies
  decide, beside the rules of the profile's policy file (exported too, usually none); the
  policy file still gives the policy's id, legal owner, counters, sequences and delegation.

Either way an *engine factory* is returned: ``factory(policy) -> PolicyEngine``, what
:class:`sim.runner.Simulation` takes, called with the profile's compiled policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.cedar.check import check_policies
from engine.cedar.engine import CedarEngine
from engine.cedar.entities import entities_json
from engine.cedar.errors import CedarError
from engine.cedar.export import CedarExport, export_document
from engine.cedar.policyset import CedarPolicy, read_policies, unique
from engine.cedar.schema import Model, model_of
from engine.loader import policy_source, read_document, validate_document
from engine.model import Scenario
from engine.policy import (
    CompiledPolicy,
    PolicyEngine,
    compile_policy,
    profile_policy_file,
)
from engine.policy.model import PolicyDocument, Rule

EngineFactory = Callable[[CompiledPolicy], PolicyEngine]
ENGINES = ("native", "cedar")


def profile_document(scenario: Scenario, profile_id: str) -> tuple[PolicyDocument, str]:
    """The validated policy document of a profile, and how messages name its file.

    Raises:
        KeyError: for an unknown profile; LoadError for a bad file.
    """
    file, source = profile_policy_file(scenario, profile_id)
    return validate_document(read_document(file, source), PolicyDocument), source


def document_engine(document: PolicyDocument, scenario: Scenario, *,
                    source: str = "<memory>", extra: Sequence[CedarPolicy] = (),
                    facts: CompiledPolicy | None = None) -> EngineFactory:
    """An engine factory deciding a policy document's rules (and ``extra``) with Cedar.

    Raises:
        ExportRefusedError: for a rule Cedar cannot express with the same meaning.
        CedarError: for duplicate ids between the document and ``extra``.
        CedarMissingError: when cedarpy is not installed.
    """
    export = export_document(document, scenario, source=source)
    policies = [*export.policies, *extra]
    unique(policies)
    model, entities = export.model, export.entities

    def factory(policy: CompiledPolicy) -> PolicyEngine:
        return CedarEngine(policy, policies, model, entities, facts=facts)

    return factory


def profile_engine(scenario: Scenario, profile_id: str) -> EngineFactory | None:
    """The engine factory of a profile written in Cedar (None for a YAML-only profile).

    Raises:
        CedarError: naming file and line for a Cedar policy agentrange cannot rehearse
            (see :mod:`engine.cedar.check`).
        CedarMissingError: when cedarpy is not installed.
        LoadError: for a bad policy file.
    """
    try:
        profile = scenario.profile(profile_id)
    except KeyError:
        return None  # the simulator reports an unknown profile, with the known ones
    cedar = getattr(profile, "cedar", None)
    if cedar is None:
        return None
    document, source = profile_document(scenario, profile_id)
    policies = read_profile_policies(scenario, document, cedar)
    facts = facts_policy(document, policies, scenario, source)
    return document_engine(document, scenario, source=source, extra=policies, facts=facts)


def read_profile_policies(scenario: Scenario, document: PolicyDocument,
                          cedar: str) -> list[CedarPolicy]:
    """The Cedar policies a profile's ``cedar:`` names, checked against the scenario.

    Raises:
        CedarError: listing every problem with its file and line.
    """
    base = scenario.base
    if base is None:
        raise CedarError(f"scenario {scenario.name} was not loaded from a file, so its Cedar "
                         f"policies {cedar} have no directory to be found in")
    path, source = base / cedar, policy_source(scenario, cedar)
    report = check_policies(path, model_for(scenario, document), source=source,
                            legal_owner=document.legal_owner)
    if not report.ok:
        raise CedarError("; ".join(p.render() for p in report.errors))
    return read_policies(path, source)


def model_for(scenario: Scenario, document: PolicyDocument | None) -> Model:
    """The Cedar data model of a scenario with a policy document's counters."""
    counters = [] if document is None else [(c.id, c.measure) for c in document.counters]
    return model_of(scenario, counters)


def facts_policy(document: PolicyDocument, policies: Sequence[CedarPolicy],
                 scenario: Scenario, source: str) -> CompiledPolicy:
    """The policy document with a fact-only rule per Cedar policy, compiled.

    Views read what a rule is (description, envelope, effect, mode, frameworks) from the
    compiled policy; these rules carry that and no target or condition: Cedar decides them,
    so the result is for a :class:`CedarEngine`'s ``facts`` only, never a native engine.

    Raises:
        LoadError: for unknown framework references, duplicate ids, or a legal-envelope
            policy without a legal owner, named by the policy's file and line.
    """
    rules = [Rule(id=p.id, description=p.description, envelope=p.envelope,  # type: ignore[arg-type]
                  effect=p.effect, mode=p.mode,  # type: ignore[arg-type]
                  obligations=p.obligations, frameworks=p.frameworks) for p in policies]
    combined = document.model_copy(update={"rules": (*document.rules, *rules)})
    return compile_policy(combined, scenario, source=source)


def export_profile(scenario: Scenario, profile_id: str) -> tuple[CedarExport, str]:
    """The Cedar export of a profile's policy file, and how messages name the file.

    Raises:
        ExportRefusedError: naming every rule Cedar cannot express with the same meaning.
        LoadError: for a bad policy file.
    """
    document, source = profile_document(scenario, profile_id)
    compile_policy(document, scenario, source=source)  # the same checks as a run
    return export_document(document, scenario, source=source), source


def engine_for(scenario: Scenario, profile_id: str, engine: str | None
               ) -> EngineFactory | None:
    """The engine factory a command line's ``--engine`` asks for (None: the native engine).

    ``None`` means the profile's own: Cedar for a profile written in Cedar, else native.

    Raises:
        CedarError: for ``native`` on a profile written in Cedar, or an unknown engine.
    """
    own = profile_engine(scenario, profile_id)
    if engine is None:
        return own
    if engine not in ENGINES:
        raise CedarError(f"--engine: one of {', '.join(ENGINES)} (found {engine!r})")
    if engine == "native":
        if own is not None:
            raise CedarError(f"profile {profile_id} is written in Cedar; it runs only with "
                             "--engine cedar")
        return None
    if own is not None or profile_id not in {p.id for p in scenario.profiles}:
        return own
    document, source = profile_document(scenario, profile_id)
    return document_engine(document, scenario, source=source)


__all__ = ["ENGINES", "EngineFactory", "document_engine", "engine_for", "entities_json",
           "export_profile", "facts_policy", "model_for", "profile_engine"]
