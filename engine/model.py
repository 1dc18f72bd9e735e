"""The scenario model: agents, owners, tools, resources, incidents, profiles and expectations.

Pydantic v2, strict, ``extra="forbid"`` and frozen: a scenario is validated once when it is
loaded and never mutated afterwards. Cross-references (every tool, resource, role, agent and
profile named anywhere) are checked after parsing by
:func:`engine.references.reference_problems`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    model_validator,
)

from engine.fields import (
    AgentName,
    Base,
    Duration,
    Glob,
    Id,
    PositiveDuration,
    Scalar,
    TrustDomain,
)
from engine.identity.spiffe import SpiffeId, agent_id
from engine.model_environments import Environment, Isolation

# The expectations live in their own module; re-exported here, the model's one entry point.
from engine.model_expect import (  # noqa: F401
    Comparable,
    DecisionExpectation,
    DecisionRef,
    Expectation,
    MetricExpectation,
)

Sensitivity = Literal["public", "internal", "confidential", "restricted"]
SENSITIVITY_RANK: dict[str, int] = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}
Risk = Literal["low", "medium", "high", "critical"]
Egress = Literal["none", "internal", "external"]
AgentKind = Literal["internal", "vendor_hosted", "delegated_admin", "customer_facing"]

# --- the estate: owners, data, systems, tools -----------------------------------------------


class Owner(Base):
    """A person or function who can be held accountable."""

    id: Id
    name: str
    kind: Literal["person", "function"] = "person"
    title: str = ""
    contact: str = ""


class DataClass(Base):
    """A class of data (PII, credentials, ...) with its sensitivity."""

    id: Id
    sensitivity: Sensitivity
    description: str = ""


class System(Base):
    """A system that holds resources (a CRM, a cloud account, a registry)."""

    id: Id
    description: str = ""
    owner: Id | None = None


class Resource(Base):
    """A set of records of one data class, held by one system."""

    id: Id
    system: Id
    data_class: Id
    records: int = Field(default=0, ge=0)
    description: str = ""
    environment: Id | None = None
    """The environment it lives in (one of the scenario's ``environments``); None: all."""


class Tool(Base):
    """A tool an agent can call: one action on some resources, with egress and risk."""

    id: Id
    action: Id
    resources: tuple[Id, ...] = ()
    egress: Egress = "none"
    customer_facing: bool = False
    risk: Risk = "low"
    description: str = ""
    environment: Id | None = None
    """The environment whose gateway guards it (its resources' when None)."""


class Role(Base):
    """An RBAC role: the tools (globs allowed) and data classes it grants."""

    id: Id
    tools: tuple[Glob, ...] = ()
    data_classes: tuple[Glob, ...] = ("*",)
    description: str = ""


class Vendor(Base):
    """A third party that hosts agents, with the function that accepted its risk."""

    id: Id
    name: str
    trust_domain: TrustDomain
    owner: Id | None = None
    revocation: str | None = None
    """How trust in the vendor is withdrawn (e.g. "rotate federation bundle"); None = no path."""


# --- agents, tasks and steps -----------------------------------------------------------------


class ToolStep(Base):
    """One tool call of a task plan, with the request attributes it carries."""

    tool: Id
    resource: Id | None = None
    records: int = Field(default=0, ge=0)
    duration: Duration = 1.0
    amount: float | None = Field(default=None, ge=0)
    destination: Literal["internal", "external"] | None = None
    recipient: str | None = None
    attributes: dict[Id, Scalar] = Field(default_factory=dict)
    label: str = ""


class DelegateStep(Base):
    """Hand part of the work to another agent, which runs one of its tasks on our behalf."""

    delegate: Id
    task: Id
    label: str = ""


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "delegate-step" if "delegate" in value else "tool-step"
    if isinstance(value, DelegateStep):
        return "delegate-step"
    if isinstance(value, ToolStep):
        return "tool-step"
    return None


Step = Annotated[
    Annotated[ToolStep, Tag("tool-step")] | Annotated[DelegateStep, Tag("delegate-step")],
    Discriminator(_step_kind, custom_error_type="step",
                  custom_error_message="a step: a mapping with 'tool' or 'delegate'"),
]


class FixedArrival(Base):
    """Task arrives every ``interval``, starting at ``start``."""

    kind: Literal["fixed"]
    interval: PositiveDuration
    start: Duration = 0.0
    count: int | None = Field(default=None, ge=1)


class PoissonArrival(Base):
    """Task arrives as a Poisson process of ``rate`` arrivals per ``per``."""

    kind: Literal["poisson"]
    rate: float = Field(gt=0)
    per: PositiveDuration = 3600.0
    start: Duration = 0.0
    count: int | None = Field(default=None, ge=1)


class ScriptedArrival(Base):
    """Task arrives at the listed times."""

    kind: Literal["scripted"]
    at: tuple[Duration, ...] = Field(min_length=1)


Arrival = Annotated[FixedArrival | PoissonArrival | ScriptedArrival, Field(discriminator="kind")]


class Task(Base):
    """A task plan an agent is approved to run, and when it arrives."""

    id: Id
    intent: str = ""
    arrival: Arrival | None = None
    """None: the task only runs when another agent delegates it."""
    steps: tuple[Step, ...] = Field(min_length=1)


class AgentOwners(Base):
    """The three accountable owners; missing ones fail the readiness gate, not the load."""

    business: Id | None = None
    security: Id | None = None
    incident: Id | None = None


class Agent(Base):
    """An autonomous execution subject with a workload identity, owners, roles and tasks."""

    name: AgentName
    kind: AgentKind = "internal"
    description: str = ""
    owners: AgentOwners = AgentOwners()
    roles: tuple[Id, ...] = ()
    intent: str = ""
    vendor: Id | None = None
    credential: Id | None = None
    """Name of a static credential; agents naming the same one share it (NHI9)."""
    tasks: tuple[Task, ...] = ()
    environment: Id | None = None
    """The environment it runs in; under an isolating profile its SPIFFE ID is in that
    environment's trust domain (NHI8:2025)."""
    retire_at: Duration | None = None
    """Planned retirement: from then on the agent starts no task. Whether its credentials
    end with it depends on the profile (``credentials.offboarding``; NHI1:2025)."""

    _spiffe_id: SpiffeId | None = PrivateAttr(default=None)

    @property
    def spiffe_id(self) -> SpiffeId:
        """The agent's SPIFFE ID (set by the scenario: it depends on the trust domain)."""
        if self._spiffe_id is None:
            raise RuntimeError(f"agent {self.name} is not part of a loaded scenario")
        return self._spiffe_id


# --- incidents, responses, approvals ----------------------------------------------------------

IncidentKind = Literal[
    "prompt_injection",
    "credential_theft",
    "rogue_agent",
    "vendor_compromise",
    "overbroad_delegated_admin",
    "memory_poisoning",
    "human_use",
    "federation_abuse",
]


class Incident(Base):
    """A compromise injected at ``at``: its kind, victim agent and the attacker's plan."""

    id: Id
    kind: IncidentKind
    at: Duration
    agent: Id
    description: str = ""
    plan: tuple[Step, ...] = ()
    """The attacker's goal, as steps (the hijacked plan, or what a thief replays)."""
    repeat_every: Duration | None = None
    """For thefts and rogue agents: retry the plan at this interval until it stops working."""
    frameworks: tuple[str, ...] = ()
    task: Id | None = None
    """The victim's task a hijack takes over (prompt injection, rogue agent); None: its
    first scheduled task."""
    person: Id | None = None
    """For ``human_use``: the owner id of the person using the agent's credential."""
    claims: dict[Id, Scalar] = Field(default_factory=dict)
    """For ``federation_abuse``: the claims of the OIDC token the attacker presents."""


ResponseKind = Literal["revoke_token", "quarantine_agent", "tighten_rule", "distrust_vendor"]


class Response(Base):
    """A containment action, scheduled at a time or after detection plus a reaction delay."""

    id: Id
    kind: ResponseKind
    trigger: Literal["at", "detection"] = "detection"
    at: Duration | None = None
    delay: Duration = 0.0
    agent: Id | None = None
    rule: Id | None = None
    vendor: Id | None = None

    @model_validator(mode="after")
    def _trigger_needs_time(self) -> Response:
        if self.trigger == "at" and self.at is None:
            raise ValueError("a response with trigger 'at' needs 'at'")
        return self


class Fatigue(Base):
    """How approvers' judgement degrades with their queue (OWASP ASI09 / T10)."""

    base_miss_rate: float = Field(default=0.02, ge=0, le=1)
    """Chance of approving a malicious request with an empty queue."""
    per_queued: float = Field(default=0.05, ge=0, le=1)
    """Added chance per request waiting in the queue."""
    max_miss_rate: float = Field(default=0.9, ge=0, le=1)


class Approvers(Base):
    """Human approvers: a pool with service times and an approval expiry."""

    count: int = Field(default=1, ge=1)
    service_time: PositiveDuration = 120.0
    expiry: PositiveDuration = 1800.0
    fatigue: Fatigue = Fatigue()


# --- profiles and expectations -------------------------------------------------------------


class Credentials(Base):
    """How credentials are issued under a profile."""

    mode: Literal["static", "jit"]
    ttl: PositiveDuration
    scope: Literal["wildcard", "role", "task"] = "role"
    revoke_on_completion: bool = False
    sender_constrained: bool = False
    renew_before: Duration | None = None
    offboarding: Literal["none", "owner"] = "none"
    """``owner``: the agent's owner revokes its credentials when it retires (NHI1:2025)."""
    attestation: bool = False
    """Sessions must come from an attested agent runtime; a person presenting the agent's
    credential by hand is refused and named (NHI10:2025)."""
    pinned_claims: dict[Id, Scalar] = Field(default_factory=dict)
    """The federation's trust policy: OIDC claims a presented token must carry exactly
    (audience, subject, repository, ...); empty: any token of the issuer is exchanged
    (NHI6:2025)."""


class Profile(Base):
    """A policy profile to run the scenario under: credentials plus a policy file."""

    id: Id
    description: str = ""
    production: bool = False
    credentials: Credentials
    policy: str = Field(min_length=1)
    """Policy file, relative to the scenario file."""
    environments: Isolation = "shared"
    """``isolated``: each environment its own trust domain, broker and bundle, its gateway
    trusting only its own bundle; ``shared``: one trust domain for all (NHI8:2025)."""
    cedar: str | None = Field(default=None, min_length=1)
    """Cedar policies (a ``.cedar`` file or a directory of them, relative to the scenario
    file) that decide this profile's requests beside the policy file's rules; the policy
    file still gives the counters, sequences, delegation and legal owner (docs/cedar.md)."""


# --- the scenario ------------------------------------------------------------------------------


class Scenario(Base):
    """A complete scenario: the estate, the agent fleet, incidents, profiles and expectations."""

    name: Id
    title: str = ""
    description: str = ""
    frameworks: tuple[str, ...] = ()
    trust_domain: TrustDomain
    seed: int = 0
    duration: PositiveDuration
    default_profile: Id | None = None
    owners: tuple[Owner, ...] = ()
    data_classes: tuple[DataClass, ...] = ()
    systems: tuple[System, ...] = ()
    resources: tuple[Resource, ...] = ()
    tools: tuple[Tool, ...] = ()
    roles: tuple[Role, ...] = ()
    vendors: tuple[Vendor, ...] = ()
    environments: tuple[Environment, ...] = ()
    agents: tuple[Agent, ...] = Field(min_length=1)
    incidents: tuple[Incident, ...] = ()
    responses: tuple[Response, ...] = ()
    approvers: Approvers = Approvers()
    profiles: tuple[Profile, ...] = Field(min_length=1)
    expect: tuple[Expectation, ...] = ()

    _source: str = PrivateAttr(default="<memory>")
    _base: Any = PrivateAttr(default=None)
    _file: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        """Give every agent its SPIFFE ID and build the lookup indexes."""
        vendors = {v.id: v for v in self.vendors}
        for agent in self.agents:
            domain = self.trust_domain
            if agent.vendor is not None and agent.vendor in vendors:
                domain = vendors[agent.vendor].trust_domain
            agent._spiffe_id = agent_id(domain, agent.name)

    # Lookups (built lazily; models are frozen so they never go stale).
    def agent(self, name: str) -> Agent:
        """The agent called ``name``."""
        return _index(self, "agents", "name")[name]

    def tool(self, tool_id: str) -> Tool:
        """The tool with id ``tool_id``."""
        return _index(self, "tools", "id")[tool_id]

    def resource(self, resource_id: str) -> Resource:
        """The resource with id ``resource_id``."""
        return _index(self, "resources", "id")[resource_id]

    def data_class(self, class_id: str) -> DataClass:
        """The data class with id ``class_id``."""
        return _index(self, "data_classes", "id")[class_id]

    def role(self, role_id: str) -> Role:
        """The role with id ``role_id``."""
        return _index(self, "roles", "id")[role_id]

    def owner(self, owner_id: str) -> Owner:
        """The owner with id ``owner_id``."""
        return _index(self, "owners", "id")[owner_id]

    def profile(self, profile_id: str) -> Profile:
        """The profile with id ``profile_id``."""
        return _index(self, "profiles", "id")[profile_id]

    def vendor(self, vendor_id: str) -> Vendor:
        """The vendor with id ``vendor_id``."""
        return _index(self, "vendors", "id")[vendor_id]

    def environment(self, environment_id: str) -> Environment:
        """The environment with id ``environment_id``."""
        return _index(self, "environments", "id")[environment_id]

    def identity_of(self, agent: Agent, profile: Profile) -> SpiffeId:
        """The SPIFFE ID an agent runs under in a profile (NHI8:2025).

        A vendor's agent belongs to the vendor's trust domain. Under a profile isolating
        environments an agent naming one belongs to that environment's trust domain;
        otherwise to the scenario's (the ID it was given at load).
        """
        if agent.vendor is None and agent.environment is not None \
                and profile.environments == "isolated":
            env = _index(self, "environments", "id").get(agent.environment)
            if env is not None:
                return agent_id(env.trust_domain, agent.name)
        return agent.spiffe_id

    @property
    def source(self) -> str:
        """Where the scenario was loaded from: a path, or the name its finder gave the file."""
        return self._source

    @property
    def file(self) -> Any:
        """The scenario file it was loaded from (a Path or Traversable), None if built in memory."""
        return self._file

    @property
    def base(self) -> Any:
        """The directory (a Path or importlib Traversable) relative paths resolve against."""
        return self._base

    @property
    def default_profile_id(self) -> str:
        """The profile a run uses when none is named."""
        return self.default_profile or self.profiles[0].id


def _index(scenario: Scenario, attr: str, key: str) -> dict[str, Any]:
    cache: dict[str, dict[str, Any]] = scenario.__dict__.setdefault("_indexes", {})
    if attr not in cache:
        cache[attr] = {getattr(item, key): item for item in getattr(scenario, attr)}
    return cache[attr]
