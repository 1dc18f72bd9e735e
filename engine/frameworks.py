"""Catalogue of the framework identifiers agentrange cites, and the default mappings to them.

Every identifier in ``/work/shared/frameworks.md`` (sections 1-5) is here with its framework, a
short name and a one-line paraphrase of its meaning:

* OWASP Top 10 for Agentic Applications 2026: ``ASI01`` .. ``ASI10``;
* OWASP Agentic AI Threats and Mitigations v1.0: ``T1`` .. ``T15``;
* OWASP Non-Human Identities Top 10 2025: ``NHI1:2025`` .. ``NHI10:2025``;
* OWASP Top 10 for LLM Applications 2025: ``LLM01:2025`` .. ``LLM10:2025``;
* CSA MAESTRO v1: layers ``L1`` .. ``L7`` and ``cross-layer``;
* NIST AI RMF 1.0: the four functions (``GOVERN`` ...), the category ``GOVERN 2`` and the
  subcategories the reference lists (``GOVERN 2.1``, ``MANAGE 2.4`` ...).

:func:`normalise` accepts the common short forms (``ASI-01``, ``NHI7``, ``LLM6``, ``T01``,
``GOVERN-2.1``, ``GV-2.1``, ``Cross-layer``); :func:`ref` looks an id up and fails with a "did
you mean" for an unknown one.

The default mappings from incident kinds, envelopes and reasons to these ids are in
:mod:`engine.framework_mappings`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.errors import AgentrangeError

ASI = "OWASP Top 10 for Agentic Applications 2026"
THREATS = "OWASP Agentic AI Threats and Mitigations v1.0"
NHI = "OWASP Non-Human Identities Top 10 2025"
LLM = "OWASP Top 10 for LLM Applications 2025"
MAESTRO = "CSA MAESTRO v1"
NIST = "NIST AI RMF 1.0"

FRAMEWORKS: tuple[str, ...] = (ASI, THREATS, NHI, LLM, MAESTRO, NIST)
"""Every framework in the catalogue, in the order reports list them."""


class UnknownFrameworkError(AgentrangeError):
    """A framework identifier is not in the catalogue.

    Attributes:
        id: The identifier as given.
        suggestions: Catalogue ids close to it, best first.
    """

    def __init__(self, id: str, suggestions: tuple[str, ...]) -> None:
        self.id = id
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown framework reference {id!r}{hint}")


@dataclass(frozen=True, slots=True)
class FrameworkRef:
    """One framework identifier.

    Attributes:
        id: The canonical identifier (``ASI03``, ``NHI7:2025``, ``L6``, ``GOVERN 2.1``).
        framework: The framework's name (one of :data:`FRAMEWORKS`).
        name: The item's short name.
        meaning: A one-line paraphrase of what it means.
    """

    id: str
    framework: str
    name: str
    meaning: str


def _entries() -> list[FrameworkRef]:
    asi = [
        ("ASI01", "Agent Goal Hijack", "An attacker redirects the agent's goals or plan, "
         "typically by direct or indirect prompt injection."),
        ("ASI02", "Tool Misuse and Exploitation", "The agent uses legitimate, authorised tools "
         "in harmful or unintended ways (wrong parameters, chaining, destructive calls)."),
        ("ASI03", "Identity and Privilege Abuse", "The agent inherits, escalates or misuses "
         "credentials and delegated authority, or is impersonated through weak identity."),
        ("ASI04", "Agentic Supply Chain Vulnerabilities", "Compromised or insecure models, "
         "agents, tools, plugins, MCP servers or artefacts undermine the system."),
        ("ASI05", "Unexpected Code Execution (RCE)", "The agent generates or runs code or "
         "commands unsafely, leading to unauthorised execution on the host."),
        ("ASI06", "Memory & Context Poisoning", "Corrupted memory, RAG stores or context "
         "distort the agent's later reasoning and decisions."),
        ("ASI07", "Insecure Inter-Agent Communication", "Messages or protocols between agents "
         "are spoofed, tampered with or abused, changing agent behaviour."),
        ("ASI08", "Cascading Failures", "A fault or compromise spreads across agents and steps "
         "and compounds into a system-wide failure."),
        ("ASI09", "Human-Agent Trust Exploitation", "Humans over-trust agent output or suffer "
         "oversight fatigue and approve harmful actions."),
        ("ASI10", "Rogue Agents", "Malicious, compromised or misaligned agents act autonomously "
         "outside their intended scope."),
    ]
    threats = [
        ("T1", "Memory Poisoning", "Bad data planted in memory, RAG stores or context corrupts "
         "later decisions."),
        ("T2", "Tool Misuse", "Authorised tools are steered to unintended or malicious ends "
         "within granted permissions."),
        ("T3", "Privilege Compromise", "Elevated or mismanaged permissions are exploited for "
         "unauthorised actions."),
        ("T4", "Resource Overload", "Compute, memory, API quotas or services are deliberately "
         "exhausted."),
        ("T5", "Cascading Hallucination Attacks", "False output spreads through memory, tools "
         "or other agents and is acted on."),
        ("T6", "Intent Breaking & Goal Manipulation", "The agent's goals or planning are "
         "altered through adversarial input such as prompt injection."),
        ("T7", "Misaligned & Deceptive Behaviors", "The agent does harmful or deceptive things "
         "while pursuing its objective."),
        ("T8", "Repudiation & Untraceability", "Agent actions cannot be reliably logged, traced "
         "or attributed."),
        ("T9", "Identity Spoofing & Impersonation", "An attacker poses as an agent or user to "
         "bypass trust and access controls."),
        ("T10", "Overwhelming Human-in-the-Loop", "Reviewers are flooded with requests so "
         "oversight degrades into rubber-stamping."),
        ("T11", "Unexpected RCE and Code Attacks", "Agent-generated or agent-executed code is "
         "abused to run malicious code."),
        ("T12", "Agent Communication Poisoning", "False information is injected into channels "
         "between agents or between an agent and outside systems."),
        ("T13", "Rogue Agents in Multi-Agent Systems", "A malicious or compromised agent "
         "operates inside a multi-agent system."),
        ("T14", "Human Attacks on Multi-Agent Systems", "People exploit delegation and trust "
         "between agents, e.g. escalating through hand-offs."),
        ("T15", "Human Manipulation", "The agent's position of trust is used to manipulate or "
         "deceive its human users."),
    ]
    nhi = [
        ("NHI1:2025", "Improper Offboarding", "NHIs are left active after they are no longer "
         "needed and can be abused."),
        ("NHI2:2025", "Secret Leakage", "Keys, tokens or certificates leak into code, config, "
         "logs or chat."),
        ("NHI3:2025", "Vulnerable Third-Party NHI", "Credentials granted to third-party tools "
         "are misused when that third party is compromised."),
        ("NHI4:2025", "Insecure Authentication", "NHIs authenticate with deprecated, weak or "
         "known-vulnerable methods."),
        ("NHI5:2025", "Overprivileged NHI", "NHIs hold far more privilege than their function "
         "needs, magnifying any compromise."),
        ("NHI6:2025", "Insecure Cloud Deployment Configurations", "CI/CD-to-cloud "
         "authentication relies on static credentials or poorly validated OIDC tokens."),
        ("NHI7:2025", "Long-Lived Secrets", "Secrets with distant or no expiry give a leak "
         "open-ended access."),
        ("NHI8:2025", "Environment Isolation", "The same NHIs are reused across environments, "
         "so a breach in a weaker one reaches production."),
        ("NHI9:2025", "NHI Reuse", "One NHI is shared across several apps or services, so one "
         "compromise spreads to all."),
        ("NHI10:2025", "Human Use of NHI", "People use NHIs for manual work, blurring who did "
         "what."),
    ]
    llm = [
        ("LLM01:2025", "Prompt Injection", "Crafted direct or indirect input changes the "
         "model's behaviour against its instructions."),
        ("LLM02:2025", "Sensitive Information Disclosure", "The model or app exposes personal "
         "data, secrets or proprietary data."),
        ("LLM03:2025", "Supply Chain", "Third-party models, datasets, adapters or packages are "
         "compromised or vulnerable."),
        ("LLM04:2025", "Data and Model Poisoning", "Training, fine-tuning or embedding data is "
         "manipulated to plant bias, backdoors or bad behaviour."),
        ("LLM05:2025", "Improper Output Handling", "LLM output reaches downstream components "
         "without enough validation or sanitisation."),
        ("LLM06:2025", "Excessive Agency", "Damaging actions run on unexpected or manipulated "
         "output because the system was given too much capability."),
        ("LLM07:2025", "System Prompt Leakage", "System prompts, and any secrets or logic "
         "wrongly placed there, are exposed."),
        ("LLM08:2025", "Vector and Embedding Weaknesses", "RAG, vector and embedding stores "
         "are attacked (poisoning, cross-tenant leakage, inversion)."),
        ("LLM09:2025", "Misinformation", "The model produces false but credible content that "
         "people or systems rely on."),
        ("LLM10:2025", "Unbounded Consumption", "Uncontrolled inference use leads to denial of "
         "service, runaway cost or model extraction."),
    ]
    maestro = [
        ("L1", "Foundation Models", "The core model, its weights and API."),
        ("L2", "Data Operations", "Data ingestion and storage, vector DBs, RAG pipelines."),
        ("L3", "Agent Frameworks", "Agent-building frameworks and orchestration logic."),
        ("L4", "Deployment and Infrastructure", "Containers, orchestration, IaC, hosting."),
        ("L5", "Evaluation and Observability", "Monitoring, logging, evaluation, audit trails."),
        ("L6", "Security and Compliance", "Access control, policy enforcement and compliance, "
         "cutting across every layer."),
        ("L7", "Agent Ecosystem", "Where agents meet users, tools and each other: "
         "marketplaces and business apps."),
        ("cross-layer", "Cross-layer", "Threats in the interactions between layers: lateral "
         "movement, privilege escalation, cascades."),
    ]
    nist = [
        ("GOVERN", "Govern", "Build and sustain a culture of AI risk management: policies, "
         "accountability, oversight."),
        ("MAP", "Map", "Establish context and identify the risks tied to it."),
        ("MEASURE", "Measure", "Assess, analyse or track the identified risks."),
        ("MANAGE", "Manage", "Prioritise and act on risks: treatment, response, recovery."),
        ("GOVERN 1.4", "Transparent risk policies", "Risk management and its outcomes are set "
         "through transparent policies and controls."),
        ("GOVERN 1.5", "Ongoing monitoring and review", "Monitoring and periodic review of risk "
         "management are planned with clear roles."),
        ("GOVERN 1.6", "AI system inventory", "Mechanisms keep an inventory of AI systems."),
        ("GOVERN 1.7", "Safe decommissioning", "Processes exist to decommission AI systems "
         "safely."),
        ("GOVERN 2", "Accountability structures", "The right people are empowered, responsible "
         "and trained for AI risk."),
        ("GOVERN 2.1", "Documented roles and responsibilities", "Roles and lines of "
         "communication for managing AI risk are documented and clear."),
        ("GOVERN 2.2", "Risk-management training", "Staff and partners receive AI "
         "risk-management training suited to their duties."),
        ("GOVERN 2.3", "Executive responsibility", "Executive leadership takes responsibility "
         "for AI deployment risk decisions."),
        ("GOVERN 3.2", "Human-AI oversight roles", "Policies define and separate roles for "
         "human-AI configurations and oversight."),
        ("GOVERN 4.1", "Safety-first mindset", "Policies foster critical thinking and safety "
         "first across the lifecycle."),
        ("GOVERN 4.3", "Testing and incident practices", "Practices exist for AI testing, "
         "incident identification and information sharing."),
        ("GOVERN 6.1", "Third-party risk policies", "Policies address risks from third-party "
         "entities."),
        ("GOVERN 6.2", "Third-party contingency", "Contingency processes exist for failures in "
         "high-risk third-party data or AI systems."),
        ("MAP 1.5", "Risk tolerances", "Organisational risk tolerances are decided and "
         "documented."),
        ("MAP 2.2", "Knowledge limits and oversight", "The system's limits and how humans "
         "oversee its output are documented."),
        ("MAP 3.5", "Human oversight processes", "Human-oversight processes are defined, "
         "assessed and documented."),
        ("MAP 4.2", "Component risk controls", "Internal risk controls for components, "
         "third-party AI included, are documented."),
        ("MEASURE 1.3", "Independent assessment", "Independent assessors take part in regular "
         "assessments."),
        ("MEASURE 2.4", "Production monitoring", "The behaviour of the system and its "
         "components is monitored in production."),
        ("MEASURE 2.6", "Safety and fail-safe", "Safety risks are evaluated; the system fails "
         "safely and failure response is measured."),
        ("MEASURE 2.7", "Security and resilience", "Security and resilience are evaluated and "
         "documented."),
        ("MEASURE 2.8", "Transparency and accountability", "Transparency and accountability "
         "risks are examined and documented."),
        ("MEASURE 3.1", "Tracking emergent risks", "People, approaches and documentation track "
         "existing and emergent risks."),
        ("MEASURE 3.3", "Feedback and appeal", "Users can report problems and appeal outcomes; "
         "feedback informs metrics."),
        ("MANAGE 1.2", "Prioritised treatment", "Risk treatment is prioritised by impact, "
         "likelihood and resources."),
        ("MANAGE 1.3", "Planned responses", "Responses to high-priority risks are planned and "
         "documented."),
        ("MANAGE 1.4", "Residual risk", "Negative residual risk to downstream users is "
         "documented."),
        ("MANAGE 2.3", "Responding to unknown risks", "Procedures respond to and recover from "
         "newly found risks."),
        ("MANAGE 2.4", "Disengage and deactivate", "Mechanisms and assigned responsibilities "
         "exist to supersede, disengage or deactivate AI systems (the kill switch)."),
        ("MANAGE 3.1", "Third-party monitoring", "Third-party AI risks are monitored and "
         "controlled."),
        ("MANAGE 3.2", "Pre-trained model monitoring", "Pre-trained models are monitored as "
         "part of system monitoring."),
        ("MANAGE 4.1", "Post-deployment monitoring", "Monitoring plans cover override, "
         "decommissioning, incident response and recovery."),
        ("MANAGE 4.3", "Incident communication", "Incidents are communicated, tracked, "
         "responded to and recovered from."),
    ]
    out: list[FrameworkRef] = []
    for framework, items in ((ASI, asi), (THREATS, threats), (NHI, nhi), (LLM, llm),
                             (MAESTRO, maestro), (NIST, nist)):
        out.extend(FrameworkRef(i, framework, n, m) for i, n, m in items)
    return out


CATALOGUE: Mapping[str, FrameworkRef] = MappingProxyType({r.id: r for r in _entries()})
"""Every known identifier, by canonical id."""

_NIST_FUNCTIONS = {"GOVERN": "GOVERN", "GV": "GOVERN", "MAP": "MAP", "MP": "MAP",
                   "MEASURE": "MEASURE", "MS": "MEASURE", "MANAGE": "MANAGE", "MG": "MANAGE"}
_SEP = r"[\s_.:-]*"
_ASI_RE = re.compile(rf"ASI{_SEP}0*(\d{{1,2}})")
_T_RE = re.compile(rf"T{_SEP}0*(\d{{1,2}})")
_NHI_RE = re.compile(rf"NHI{_SEP}0*(\d{{1,2}})(?::?\s*2025)?")
_LLM_RE = re.compile(rf"LLM{_SEP}0*(\d{{1,2}})(?::?\s*2025)?")
_LAYER_RE = re.compile(rf"(?:MAESTRO{_SEP})?(?:L|LAYER{_SEP})0*(\d)")
_CROSS_RE = re.compile(r"CROSS[\s_-]*LAYER")
_NIST_RE = re.compile(
    r"(GOVERN|GV|MAP|MP|MEASURE|MS|MANAGE|MG)(?:[\s_-]*(\d+)(?:\.(\d+))?)?(?:\s*\(CATEGORY\))?"
)


def normalise(id: str) -> str:
    """The canonical form of a framework id, or the trimmed input when no form fits.

    ``ASI-01``/``asi1`` → ``ASI01``; ``T01`` → ``T1``; ``NHI7``/``NHI-07`` → ``NHI7:2025``;
    ``LLM6``/``LLM06`` → ``LLM06:2025``; ``l6`` → ``L6``; ``Cross-layer`` → ``cross-layer``;
    ``GOVERN-2.1``/``GV-2.1``/``govern 2.1`` → ``GOVERN 2.1``. The result is not checked against
    the catalogue (use :func:`ref` for that).

    Args:
        id: An identifier as a user or a document wrote it.
    """
    text = " ".join(id.split())
    upper = text.upper()
    if m := _ASI_RE.fullmatch(upper):
        return f"ASI{int(m[1]):02d}"
    if m := _NHI_RE.fullmatch(upper):
        return f"NHI{int(m[1])}:2025"
    if m := _LLM_RE.fullmatch(upper):
        return f"LLM{int(m[1]):02d}:2025"
    if m := _T_RE.fullmatch(upper):
        return f"T{int(m[1])}"
    if m := _LAYER_RE.fullmatch(upper):
        return f"L{int(m[1])}"
    if _CROSS_RE.fullmatch(upper):
        return "cross-layer"
    if m := _NIST_RE.fullmatch(upper):
        function = _NIST_FUNCTIONS[m[1]]
        if m[2] is None:
            return function
        return f"{function} {int(m[2])}" + ("" if m[3] is None else f".{int(m[3])}")
    return text


def ref(id: str) -> FrameworkRef:
    """Look a framework id up, accepting the short forms :func:`normalise` knows.

    Args:
        id: The identifier.

    Raises:
        UnknownFrameworkError: when it is not in the catalogue (with close matches).
    """
    canonical = normalise(id)
    found = CATALOGUE.get(canonical)
    if found is None:
        close = difflib.get_close_matches(canonical, list(CATALOGUE), n=3, cutoff=0.6)
        raise UnknownFrameworkError(id, tuple(close))
    return found


def unknown_id_problem(id: str) -> tuple[str, str] | None:
    """(expected, found) describing why ``id`` is not a framework id; None when it is.

    For loaders that report a bad id at its place in a document.
    """
    if is_known(id):
        return None
    canonical = normalise(id)
    close = difflib.get_close_matches(canonical, list(CATALOGUE), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (f"a framework id such as ASI01, T6, NHI7:2025, LLM06:2025, L6 or GOVERN 2.1{hint}",
            f"unknown framework id {id!r}")


def is_known(id: str) -> bool:
    """Whether the id (in any accepted short form) is in the catalogue."""
    return normalise(id) in CATALOGUE


def _order(canonical: str) -> tuple[int, int, str]:
    item = CATALOGUE.get(canonical)
    framework = FRAMEWORKS.index(item.framework) if item is not None else len(FRAMEWORKS)
    position = _POSITION.get(canonical, 0)
    return framework, position, canonical


_POSITION = {key: i for i, key in enumerate(CATALOGUE)}


def sort_refs(ids: Iterable[str]) -> tuple[str, ...]:
    """Canonical, de-duplicated ids in catalogue order (ASI, T, NHI, LLM, MAESTRO, NIST).

    Unknown ids are kept (normalised) and sorted last, so a report never drops a reference.
    """
    return tuple(sorted({normalise(i) for i in ids}, key=_order))
