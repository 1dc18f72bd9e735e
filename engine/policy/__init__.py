"""The policy decision point: policy documents, compilation, decisions, sequences."""

from engine.policy.compiler import CompiledPolicy, compile_policy, load_policy
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
from engine.policy.errors import PolicyError, UnknownRuleError
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

__all__ = [
    "CompiledPolicy",
    "Decision",
    "Effect",
    "Envelope",
    "FailedCondition",
    "PolicyDocument",
    "PolicyEngine",
    "PolicyError",
    "Reason",
    "Request",
    "SequenceMatch",
    "ShadowMatch",
    "StepRef",
    "UnknownRuleError",
    "chain_attributes",
    "compile_policy",
    "load_policy",
    "principal_attributes",
    "resource_attributes",
    "step_attributes",
    "time_attributes",
    "tool_attributes",
]
