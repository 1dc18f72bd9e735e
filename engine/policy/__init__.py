"""The policy decision point: policy documents, loading, compilation, decisions, sequences.

Rooms: :mod:`~engine.policy.model` (the document), :mod:`~engine.policy.loading` (the one
loader: file → document → compiled policy), :mod:`~engine.policy.compiler` with
:mod:`~engine.policy.rules` and :mod:`~engine.policy.compiled` (the compiled form, and the
facts views read about each rule), :mod:`~engine.policy.engine` (deciding) with
:mod:`~engine.policy.plans`, :mod:`~engine.policy.probes`, :mod:`~engine.policy.state`,
:mod:`~engine.policy.tables` and :mod:`~engine.policy.codegen` beneath it, and
:mod:`~engine.policy.decision` (what a decision says).
"""

from engine.policy.compiled import CompiledPolicy
from engine.policy.compiler import compile_policy
from engine.policy.decision import (
    Decision,
    Effect,
    Envelope,
    FailedCondition,
    Reason,
    SequenceMatch,
    ShadowMatch,
    StepRef,
)
from engine.policy.engine import PolicyEngine
from engine.policy.errors import NoPolicyFileError, PolicyError, UnknownRuleError
from engine.policy.loading import (
    PolicyFile,
    compile_document,
    load_policy,
    load_policy_file,
    load_profile_files,
    load_profile_policies,
    load_profile_policy,
    profile_policy_file,
)
from engine.policy.model import PolicyDocument
from engine.policy.request import (
    Request,
    chain_attributes,
    principal_attributes,
    resource_attributes,
    step_attributes,
    time_attributes,
    tool_attributes,
)
from engine.policy.rules import CompiledRule, CompiledSequence, RuleFacts

__all__ = [
    "CompiledPolicy",
    "CompiledRule",
    "CompiledSequence",
    "Decision",
    "Effect",
    "Envelope",
    "FailedCondition",
    "NoPolicyFileError",
    "PolicyDocument",
    "PolicyEngine",
    "PolicyError",
    "PolicyFile",
    "Reason",
    "Request",
    "RuleFacts",
    "SequenceMatch",
    "ShadowMatch",
    "StepRef",
    "UnknownRuleError",
    "chain_attributes",
    "compile_document",
    "compile_policy",
    "load_policy",
    "load_policy_file",
    "load_profile_files",
    "load_profile_policies",
    "load_profile_policy",
    "principal_attributes",
    "profile_policy_file",
    "resource_attributes",
    "step_attributes",
    "time_attributes",
    "tool_attributes",
]
