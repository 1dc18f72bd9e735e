"""The policy decision point: policy documents, compilation, decisions, sequences."""

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
    "Decision",
    "Effect",
    "Envelope",
    "FailedCondition",
    "PolicyDocument",
    "Reason",
    "Request",
    "SequenceMatch",
    "ShadowMatch",
    "StepRef",
    "chain_attributes",
    "principal_attributes",
    "resource_attributes",
    "step_attributes",
    "time_attributes",
    "tool_attributes",
]
