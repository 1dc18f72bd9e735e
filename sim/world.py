"""How the simulator describes the world to the engine: clock, step specs, scopes, requests.

The static attribute namespaces (principal, tool, resource and each step's ``request``
values) are built once per agent, tool, resource and step and shared by every request, so
the policy engine recognises them by identity; only the task, token, session, chain and
time namespaces are built per call.

Simulated time 0 is :data:`EPOCH` (2026-01-01 00:00:00 UTC, a Thursday) for tokens, and the
``time`` namespace's hour and weekday follow from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any

from engine.identity.scope import EVERYTHING, Scope
from engine.identity.spiffe import SpiffeId
from engine.model import Agent, DelegateStep, Profile, Scenario, Task, ToolStep
from engine.policy.request import (
    principal_attributes,
    resource_attributes,
    step_attributes,
    tool_attributes,
)

EPOCH = 1767225600.0
"""Unix time of simulated time 0: 2026-01-01T00:00:00Z."""
WEEK_OFFSET = 3 * 86400.0
"""Seconds from the Monday 00:00 before :data:`EPOCH` (a Thursday) to it."""


class StepSpec:
    """One tool step, resolved once: the engine's shared namespaces and the step's values.

    Attributes:
        step: The scenario step.
        tool: The scenario tool.
        tool_ns: The ``tool`` namespace (shared).
        resource: Resource id or None.
        resource_ns: The ``resource`` namespace (shared) or None.
        data_class: The resource's data class (None without a resource).
        system: The resource's system (None without a resource).
        request_ns: The ``request`` namespace of this step (shared: its values are fixed).
        environment: The environment whose gateway verifies the step's token: the tool's,
            else its resource's (None: the estate-wide gateway).
    """

    __slots__ = ("action", "amount", "data_class", "destination", "duration", "environment",
                 "records", "request_ns", "resource", "resource_ns", "step", "system", "tool",
                 "tool_id", "tool_ns")

    def __init__(self, world: World, step: ToolStep) -> None:
        scenario = world.scenario
        self.step = step
        self.tool = scenario.tool(step.tool)
        self.tool_id = step.tool
        self.tool_ns = world.tool_ns[step.tool]
        self.action = self.tool.action
        resource = step.resource
        if resource is None and len(self.tool.resources) == 1:
            # A step that names no resource acts on the tool's only one.
            resource = self.tool.resources[0]
        self.resource = resource
        self.environment = self.tool.environment
        if resource is None:
            self.resource_ns: Mapping[str, Any] | None = None
            self.data_class: str | None = None
            self.system: str | None = None
        else:
            self.resource_ns = world.resource_ns[resource]
            res = scenario.resource(resource)
            self.data_class = res.data_class
            self.system = res.system
            if self.environment is None:
                self.environment = res.environment
        self.records = step.records
        self.amount = step.amount
        self.duration = step.duration
        self.destination = step.destination
        self.request_ns: Mapping[str, Any] = MappingProxyType(step_attributes(
            records=step.records, amount=step.amount, destination=step.destination,
            recipient=step.recipient, attributes=MappingProxyType(dict(step.attributes))))


class World:
    """The scenario as the simulator sees it: namespaces, step specs and credential scopes.

    Args:
        scenario: The loaded scenario.
        profile: The profile of the run; it decides the agents' identities (an isolating
            profile puts each agent in its environment's trust domain). None: as loaded.

    Attributes:
        identities: Agent name -> the SPIFFE ID it runs under.
        environment_domains: Environment id -> its own trust domain, under an isolating
            profile (empty otherwise: every environment shares the scenario's).
    """

    def __init__(self, scenario: Scenario, profile: Profile | None = None) -> None:
        self.scenario = scenario
        self.identities: dict[str, SpiffeId] = {
            a.name: a.spiffe_id if profile is None else scenario.identity_of(a, profile)
            for a in scenario.agents}
        self.environment_domains: dict[str, str] = (
            {e.id: e.trust_domain for e in scenario.environments}
            if profile is not None and profile.environments == "isolated" else {})
        # The principal namespace is the agent as the scenario registers it, the same under
        # every profile (both engines read it so); the token it presents carries the trust
        # domain it was minted in (``token.trust_domain``).
        self.principal_ns: dict[str, Mapping[str, Any]] = {
            a.name: principal_attributes(scenario, a) for a in scenario.agents}
        self.tool_ns: dict[str, Mapping[str, Any]] = {
            t.id: tool_attributes(t) for t in scenario.tools}
        self.resource_ns: dict[str, Mapping[str, Any]] = {
            r.id: resource_attributes(scenario, r) for r in scenario.resources}
        self._specs: dict[int, tuple[ToolStep, StepSpec]] = {}
        self._task_scopes: dict[tuple[str, str], Scope] = {}
        self._role_scopes: dict[tuple[str, ...], Scope] = {}
        self._plans: dict[str, frozenset[tuple[str, str | None]]] = {}
        self.tasks: dict[tuple[str, str], Task] = {
            (a.name, t.id): t for a in scenario.agents for t in a.tasks}

    def spec(self, step: ToolStep) -> StepSpec:
        """The resolved spec of a step (cached by identity: the model is frozen)."""
        found = self._specs.get(id(step))
        if found is not None and found[0] is step:
            return found[1]
        spec = StepSpec(self, step)
        self._specs[id(step)] = (step, spec)
        return spec

    # --- plans ----------------------------------------------------------------------------

    def task_plan(self, agent: str, task: str) -> frozenset[tuple[str, str | None]]:
        """(tool, resource) pairs of one approved task plan."""
        key = f"{agent}\0{task}"
        found = self._plans.get(key)
        if found is None:
            steps = self.tasks[(agent, task)].steps
            found = self._plans[key] = frozenset(
                (s.tool, self.spec(s).resource) for s in steps if isinstance(s, ToolStep))
        return found

    def agent_plans(self, agent: str) -> frozenset[tuple[str, str | None]]:
        """(tool, resource) pairs of every approved task plan of an agent."""
        key = agent
        found = self._plans.get(key)
        if found is None:
            pairs: set[tuple[str, str | None]] = set()
            for t in self.scenario.agent(agent).tasks:
                pairs |= self.task_plan(agent, t.id)
            found = self._plans[key] = frozenset(pairs)
        return found

    # --- scopes ---------------------------------------------------------------------------

    def task_scope(self, agent: str, task: str) -> Scope:
        """Tools and data classes of a task plan, including the tasks it delegates.

        A task that hands work to another agent needs the delegated task's scope in its own
        token, or the delegated token (the intersection of both) could do nothing.
        """
        key = (agent, task)
        found = self._task_scopes.get(key)
        if found is not None:
            return found
        self._task_scopes[key] = Scope()  # cycles end here
        tools: set[str] = set()
        classes: set[str] = set()
        for step in self.tasks[key].steps:
            if isinstance(step, ToolStep):
                spec = self.spec(step)
                tools.add(spec.tool_id)
                if spec.data_class is not None:
                    classes.add(spec.data_class)
            elif isinstance(step, DelegateStep):
                sub = self.task_scope(step.delegate, step.task)
                tools |= sub.tools
                classes |= sub.data_classes
        found = Scope(frozenset(tools), frozenset(classes))
        self._task_scopes[key] = found
        return found

    def agent_task_scope(self, agent: str) -> Scope:
        """The union of the scopes of every task of an agent."""
        return Scope.union(self.task_scope(agent, t.id)
                           for t in self.scenario.agent(agent).tasks)

    def role_scope(self, agent: Agent) -> Scope:
        """Everything the agent's roles grant: tools matching their globs, data classes too."""
        key = tuple(agent.roles)
        found = self._role_scopes.get(key)
        if found is None:  # fleets share few role sets: match the globs once per set
            found = self._role_scopes[key] = self._roles_scope(key)
        return found

    def _roles_scope(self, roles: tuple[str, ...]) -> Scope:
        scenario = self.scenario
        tools: set[str] = set()
        classes: set[str] = set()
        for role_id in roles:
            role = scenario.role(role_id)
            tools |= {t.id for t in scenario.tools if _matches(t.id, role.tools)}
            classes |= {d.id for d in scenario.data_classes
                        if _matches(d.id, role.data_classes)}
        return Scope(frozenset(tools), frozenset(classes))

    def profile_scope(self, agent: Agent, kind: str, task: str | None) -> Scope:
        """The scope a credential gets under a profile's ``credentials.scope``.

        Args:
            agent: The holder.
            kind: ``wildcard`` (everything), ``role`` (what its roles grant) or ``task``
                (the task's plan; for a credential not tied to a task, every task's plan).
            task: The task the credential is minted for (None for static credentials).
        """
        if kind == "wildcard":
            return EVERYTHING
        if kind == "role":
            return self.role_scope(agent)
        if task is None:
            return self.agent_task_scope(agent.name)
        return self.task_scope(agent.name, task)


def _matches(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)
