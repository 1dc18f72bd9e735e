"""The default framework references the accountability report adds, each with why it holds.

A rule or incident may cite its own references; these are the defaults by incident kind,
envelope, decision reason and token-failure reason, plus the findings for agents without owners
and for out-of-scope steps that ran. Every id is in :data:`engine.frameworks.CATALOGUE` (a test
checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class RefMapping:
    """A default mapping to framework references, with the reason it holds.

    Attributes:
        refs: Canonical framework ids.
        why: One line on why these references apply.
    """

    refs: tuple[str, ...]
    why: str



INCIDENT_KIND_REFS: Mapping[str, RefMapping] = MappingProxyType({
    "prompt_injection": RefMapping(
        ("ASI01", "T6", "LLM01:2025", "LLM06:2025", "L3"),
        "Injected instructions hijack the agent's goal (ASI01, T6, LLM01) and act through the "
        "tools it was granted (LLM06); MAESTRO puts goal manipulation in the agent framework."),
    "credential_theft": RefMapping(
        ("ASI03", "T9", "NHI2:2025", "NHI7:2025", "L7"),
        "A stolen token is replayed as the agent (ASI03, T9): a leaked secret (NHI2) whose "
        "lifetime decides how long it works (NHI7); agent identity attacks sit in L7."),
    "rogue_agent": RefMapping(
        ("ASI10", "T13", "L7", "MANAGE 2.4"),
        "A compromised agent acts outside its scope on its own (ASI10, T13); someone must own "
        "switching it off (MANAGE 2.4)."),
    "vendor_compromise": RefMapping(
        ("ASI04", "NHI3:2025", "L7", "GOVERN 6.2", "MANAGE 3.1"),
        "A third party's agent or credentials turn hostile (ASI04, NHI3): third-party "
        "contingency and monitoring are the NIST items (GOVERN 6.2, MANAGE 3.1)."),
    "overbroad_delegated_admin": RefMapping(
        ("ASI03", "T3", "NHI5:2025", "LLM06:2025", "L6"),
        "An admin agent's over-wide delegated rights are abused (ASI03, T3, NHI5, LLM06); "
        "access control is MAESTRO's security and compliance layer."),
    "memory_poisoning": RefMapping(
        ("ASI06", "T1", "LLM08:2025", "L2"),
        "Planted memory or RAG content steers later decisions (ASI06, T1, LLM08); the store "
        "lives in MAESTRO's data operations layer."),
    "human_use": RefMapping(
        ("NHI10:2025", "T8", "L5", "GOVERN 2.1"),
        "A person works by hand with an agent's credential (NHI10): the log names the agent, "
        "not the human (T8), and the accountable person is lost (GOVERN 2.1)."),
    "federation_abuse": RefMapping(
        ("NHI6:2025", "ASI03", "T9", "L4"),
        "A CI/CD OIDC token whose claims the cloud federation checks loosely is exchanged for "
        "the agent's cloud role (NHI6, ASI03, T9): a deployment-infrastructure weakness (L4)."),
})
"""Incident kind (``engine.model.IncidentKind``) → references."""

ENVELOPE_REFS: Mapping[str, RefMapping] = MappingProxyType({
    "business": RefMapping(
        ("ASI02", "LLM06:2025", "GOVERN 2.1"),
        "The business envelope bounds what the agent may attempt: a step outside it is tool "
        "misuse or excess functionality, answered for by the named business owner."),
    "security": RefMapping(
        ("ASI03", "NHI5:2025", "L6", "GOVERN 2.1"),
        "The security envelope bounds what the agent may access: breaking it is privilege "
        "abuse of its non-human identity, answered for by the named security owner."),
    "legal": RefMapping(
        ("LLM02:2025", "L6", "GOVERN 1.4"),
        "The legal envelope marks data and actions no agent may touch: breaking it discloses "
        "what policy put out of bounds, answered for by the policy's legal owner."),
})
"""Envelope (``business``/``security``/``legal``) → references."""

DECISION_REASON_REFS: Mapping[str, RefMapping] = MappingProxyType({
    "invalid_token": RefMapping(
        ("ASI03", "T9", "NHI4:2025"),
        "A request whose token fails verification is an identity problem: impersonation or "
        "weak authentication of a non-human identity."),
    "sequence": RefMapping(
        ("ASI02", "ASI08", "cross-layer"),
        "Steps allowed one by one chain into harm (tool chaining, cascading): MAESTRO's "
        "cross-layer privilege escalation."),
    "no_matching_allow": RefMapping(
        ("LLM06:2025",),
        "The agent reached for a capability no rule grants it: excessive functionality."),
    "approval_required": RefMapping(
        ("ASI09", "MAP 3.5"),
        "A human approver stands in the way: oversight (MAP 3.5) that fatigue can defeat "
        "(ASI09)."),
    "error": RefMapping(
        ("MEASURE 2.6",),
        "A rule could not be evaluated and the engine failed closed: the system fails safely."),
})
"""Decision reason (``engine.policy.decision.Reason``) → references; allow/deny add none."""

_TOKEN_FORGERY = RefMapping(
    ("ASI03", "T9", "NHI4:2025"),
    "A forged, tampered or malformed token is an impersonation attempt against the agent's "
    "authentication.")
_TOKEN_REVOKED = RefMapping(
    ("NHI1:2025", "MANAGE 2.4"),
    "The credential was switched off (revocation, offboarding); its owner used the kill "
    "switch.")
_TOKEN_FOREIGN = RefMapping(
    ("NHI3:2025", "ASI04", "T9"),
    "A token from a foreign or distrusted issuer: a third party's identity trying to act here.")
_TOKEN_CHAIN = RefMapping(
    ("ASI07", "ASI03", "T14"),
    "A delegation (act) chain that is forged, cyclic, too deep or untrusted: inter-agent "
    "trust abused to borrow authority.")

TOKEN_REASON_REFS: Mapping[str, RefMapping] = MappingProxyType({
    "oversized": _TOKEN_FORGERY,
    "malformed": _TOKEN_FORGERY,
    "alg_not_allowed": _TOKEN_FORGERY,
    "header_not_allowed": _TOKEN_FORGERY,
    "unknown_kid": _TOKEN_FORGERY,
    "bad_signature": _TOKEN_FORGERY,
    "missing_claim": _TOKEN_FORGERY,
    "invalid_claim": _TOKEN_FORGERY,
    "not_issued": _TOKEN_FORGERY,
    "wrong_issuer": _TOKEN_FOREIGN,
    "foreign_trust_domain": _TOKEN_FOREIGN,
    "trust_domain_distrusted": _TOKEN_FOREIGN,
    "expired": RefMapping(
        ("NHI7:2025", "ASI03"),
        "A token used after expiry: the short lifetime that counters long-lived secrets did "
        "its job."),
    "not_yet_valid": _TOKEN_FORGERY,
    "wrong_audience": RefMapping(
        ("ASI03", "NHI5:2025"),
        "A token presented to a service it was not minted for: replay across audiences."),
    "revoked": _TOKEN_REVOKED,
    "subject_revoked": _TOKEN_REVOKED,
    "key_revoked": _TOKEN_REVOKED,
    "holder_mismatch": RefMapping(
        ("NHI2:2025", "T9", "ASI03"),
        "A sender-constrained token presented by someone else: a leaked token replayed by a "
        "thief."),
    "out_of_scope": RefMapping(
        ("NHI5:2025", "ASI03", "LLM06:2025"),
        "The token does not cover this tool or data class: the agent reached past the access "
        "it was granted."),
    "act_chain_malformed": _TOKEN_CHAIN,
    "act_chain_too_deep": _TOKEN_CHAIN,
    "act_chain_cycle": _TOKEN_CHAIN,
    "act_chain_untrusted": _TOKEN_CHAIN,
    "act_chain_forged": _TOKEN_CHAIN,
    "internal_error": RefMapping(
        ("MEASURE 2.6",),
        "The verifier itself failed and the token was refused: failing safely."),
})
"""Token-failure reason (``engine.identity.tokens.TokenReason``) → references."""

MISSING_OWNERS_REFS = RefMapping(
    ("GOVERN 2", "GOVERN 2.1", "MANAGE 2.4"),
    "An agent without named business, security and incident owners has no accountability "
    "structure (GOVERN 2), no documented responsibility (GOVERN 2.1) and nobody assigned to "
    "switch it off (MANAGE 2.4).")
"""Why an agent missing any of its three owners is a finding."""

NOT_STOPPED_REFS = RefMapping(
    ("MEASURE 2.4", "MANAGE 4.3"),
    "An out-of-scope step that ran must be caught by production monitoring and handled as an "
    "incident.")
"""Added to an out-of-scope attempt the policy did not stop."""
