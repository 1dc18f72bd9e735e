"""Cross-reference checks of a parsed scenario: duplicate ids and dangling references.

The models in :mod:`engine.model` validate each document on its own; whether every tool,
resource, role, owner, vendor, agent, task and profile named anywhere is declared is checked
here, once, after parsing. Each problem carries its document path, so the loader can report
it at its line and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.frameworks import unknown_id_problem
from engine.model import (
    Agent,
    DecisionExpectation,
    DelegateStep,
    Resource,
    Scenario,
    Tool,
    ToolStep,
)

Problem = tuple[tuple[str | int, ...], str, str]
"""(document path, what was expected, what was found)."""

_DECLARED_IN = {"owner": ("owners", "id"), "data class": ("data_classes", "id"),
                "system": ("systems", "id"), "resource": ("resources", "id"),
                "tool": ("tools", "id"), "role": ("roles", "id"), "vendor": ("vendors", "id"),
                "agent": ("agents", "name"), "incident": ("incidents", "id"),
                "profile": ("profiles", "id"), "environment": ("environments", "id")}


@dataclass(frozen=True)
class Declared:
    """What a document declares, read from its raw data, valid or not.

    When parts of a broken document were cut out to check the rest (:mod:`engine.salvage`),
    a reference to something declared in a cut part is not dangling: the part's own
    problem is reported instead.
    """

    ids: dict[str, set[str]] = field(default_factory=dict)
    """What ("tool", "agent", ...) -> the ids declared."""
    tasks: dict[str, set[str]] = field(default_factory=dict)
    """Agent name -> its task ids."""
    tool_resources: dict[str, set[str]] = field(default_factory=dict)
    """Tool id -> the resources it lists."""

    @classmethod
    def of(cls, data: Any) -> Declared:
        """The ids declared in a scenario document's plain data (anything malformed skipped)."""
        out = cls()
        if not isinstance(data, dict):
            return out
        for what, (attr, key) in _DECLARED_IN.items():
            out.ids[what] = {str(x[key]) for x in _items(data, attr) if key in x}
        for agent in _items(data, "agents"):
            out.tasks[str(agent.get("name"))] = {
                str(t["id"]) for t in _items(agent, "tasks") if "id" in t}
        for tool in _items(data, "tools"):
            listed = tool.get("resources")
            out.tool_resources[str(tool.get("id"))] = (
                {str(r) for r in listed} if isinstance(listed, list) else set())
        return out

    def has(self, what: str, value: str) -> bool:
        """Whether the document declares ``value`` as a ``what``."""
        return value in self.ids.get(what, ())


def _items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key)
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


def reference_problems(s: Scenario, declared: Declared | None = None) -> list[Problem]:
    """Every duplicate id and dangling reference in a parsed scenario, with its document path.

    Args:
        s: The scenario.
        declared: For a scenario salvaged from a broken document: what the document declares,
            so references to its cut parts are not reported (nor are step numbers, which a
            cut step would shift).
    """
    problems: list[Problem] = []
    problems.extend(_duplicates(s))
    owners = {o.id for o in s.owners}
    classes = {d.id for d in s.data_classes}
    systems = {x.id for x in s.systems}
    resources = {r.id: r for r in s.resources}
    tools = {t.id: t for t in s.tools}
    roles = {r.id for r in s.roles}
    vendors = {v.id for v in s.vendors}
    agents = {a.name: a for a in s.agents}
    profiles = {p.id for p in s.profiles}
    environments = {e.id for e in s.environments}

    def need(path: tuple[str | int, ...], value: str | None, known: Any, what: str) -> None:
        if value is not None and value not in known and not (
                declared is not None and declared.has(what, value)):
            problems.append((path, f"the id of a declared {what}", f"unknown {what} {value!r}"))

    def framework_ids(path: tuple[str | int, ...], ids: tuple[str, ...]) -> None:
        for k, fid in enumerate(ids):
            problem = unknown_id_problem(fid)
            if problem is not None:
                problems.append(((*path, k), *problem))

    framework_ids(("frameworks",), s.frameworks)
    for i, inc in enumerate(s.incidents):
        framework_ids(("incidents", i, "frameworks"), inc.frameworks)
    for i, x in enumerate(s.systems):
        need(("systems", i, "owner"), x.owner, owners, "owner")
    for i, r in enumerate(s.resources):
        need(("resources", i, "system"), r.system, systems, "system")
        need(("resources", i, "data_class"), r.data_class, classes, "data class")
        need(("resources", i, "environment"), r.environment, environments, "environment")
    for i, t in enumerate(s.tools):
        for j, res in enumerate(t.resources):
            need(("tools", i, "resources", j), res, resources, "resource")
        need(("tools", i, "environment"), t.environment, environments, "environment")
    problems.extend(environment_problems(s, resources))
    for i, v in enumerate(s.vendors):
        need(("vendors", i, "owner"), v.owner, owners, "owner")
    for i, a in enumerate(s.agents):
        base = ("agents", i)
        for role_kind in ("business", "security", "incident"):
            need((*base, "owners", role_kind), getattr(a.owners, role_kind), owners, "owner")
        for j, role in enumerate(a.roles):
            need((*base, "roles", j), role, roles, "role")
        need((*base, "vendor"), a.vendor, vendors, "vendor")
        need((*base, "environment"), a.environment, environments, "environment")
        if a.kind == "vendor_hosted" and a.vendor is None:
            problems.append(((*base, "vendor"), "a vendor for a vendor_hosted agent", "none"))
        task_ids: set[str] = set()
        for j, task in enumerate(a.tasks):
            if task.id in task_ids:
                problems.append(((*base, "tasks", j, "id"), "unique task ids per agent",
                                 f"duplicate task {task.id!r}"))
            task_ids.add(task.id)
            for k, step in enumerate(task.steps):
                problems.extend(_step_problems((*base, "tasks", j, "steps", k), step,
                                               tools, resources, agents, declared))
    for i, inc in enumerate(s.incidents):
        need(("incidents", i, "agent"), inc.agent, agents, "agent")
        need(("incidents", i, "person"), inc.person, owners, "owner")
        victim = agents.get(inc.agent)
        if inc.task is not None and victim is not None and declared is None \
                and inc.task not in {t.id for t in victim.tasks}:
            problems.append((("incidents", i, "task"), f"a task of agent {inc.agent!r}",
                             f"unknown task {inc.task!r}"))
        if inc.kind == "human_use" and inc.person is None:
            problems.append((("incidents", i, "person"),
                             "the owner id of the person using the credential", "none"))
        for k, step in enumerate(inc.plan):
            problems.extend(_step_problems(("incidents", i, "plan", k), step,
                                           tools, resources, agents, declared))
    for i, resp in enumerate(s.responses):
        need(("responses", i, "agent"), resp.agent, agents, "agent")
        need(("responses", i, "vendor"), resp.vendor, vendors, "vendor")
        if resp.kind in ("revoke_token", "quarantine_agent") and resp.agent is None:
            problems.append((("responses", i, "agent"), f"an agent for {resp.kind}", "none"))
        if resp.kind == "distrust_vendor" and resp.vendor is None:
            problems.append((("responses", i, "vendor"), "a vendor for distrust_vendor", "none"))
        if resp.kind == "tighten_rule" and resp.rule is None:
            problems.append((("responses", i, "rule"), "a rule id for tighten_rule", "none"))
    need(("default_profile",), s.default_profile, profiles, "profile")
    for i, exp in enumerate(s.expect):
        need(("expect", i, "profile"), exp.profile, profiles, "profile")
        if isinstance(exp, DecisionExpectation):
            ref = exp.decision
            path = ("expect", i, "decision")
            if ref.agent not in agents:
                need((*path, "agent"), ref.agent, agents, "agent")
                continue
            if declared is not None:
                continue
            steps: tuple[Any, ...] | None = None
            if ref.incident is not None:
                incident = next((x for x in s.incidents if x.id == ref.incident), None)
                if incident is None:
                    need((*path, "incident"), ref.incident, (), "incident")
                    continue
                steps = incident.plan
                poisoned = next((t for t in agents[ref.agent].tasks if t.id == ref.task), None)
                if incident.kind == "memory_poisoning" and poisoned is not None:
                    # A poisoned run does its task's plan and then the attacker's: its steps
                    # are numbered through both.
                    steps = poisoned.steps + incident.plan
            else:
                planned = next((t for t in agents[ref.agent].tasks if t.id == ref.task), None)
                if planned is None:
                    problems.append(((*path, "task"), f"a task of agent {ref.agent!r}",
                                     f"unknown task {ref.task!r}"))
                    continue
                steps = planned.steps
            if ref.step > len(steps):
                problems.append(((*path, "step"), f"a step number from 1 to {len(steps)}",
                                 str(ref.step)))
    return problems


def environment_problems(s: Scenario, resources: dict[str, Resource]) -> Iterator[Problem]:
    """Environments whose trust domains clash, and tools placed apart from their resources.

    Also profiles that isolate environments the scenario does not declare.
    """
    taken = {s.trust_domain: "the scenario's", **{v.trust_domain: f"vendor {v.id}'s"
                                                  for v in s.vendors}}
    for i, env in enumerate(s.environments):
        other = taken.get(env.trust_domain)
        if other is not None:
            yield (("environments", i, "trust_domain"),
                   "a trust domain of its own (not the scenario's, a vendor's or another "
                   "environment's)", f"{env.trust_domain}, {other}")
        taken.setdefault(env.trust_domain, f"environment {env.id}'s")
    for i, t in enumerate(s.tools):
        if t.environment is None:
            continue
        for res in t.resources:
            placed = resources[res].environment if res in resources else None
            if placed is not None and placed != t.environment:
                yield (("tools", i, "environment"),
                       f"the environment of its resource {res} ({placed})",
                       repr(t.environment))
    if not s.environments:
        for i, p in enumerate(s.profiles):
            if p.environments == "isolated":
                yield (("profiles", i, "environments"),
                       "'shared', or environments declared in the scenario to isolate",
                       "'isolated' with no environments")


def _step_problems(path: tuple[str | int, ...], step: ToolStep | DelegateStep,
                   tools: dict[str, Tool], resources: dict[str, Resource],
                   agents: dict[str, Agent], declared: Declared | None
                   ) -> Iterator[Problem]:
    d = declared or Declared()
    if isinstance(step, ToolStep):
        tool = tools.get(step.tool)
        if tool is None and not d.has("tool", step.tool):
            yield ((*path, "tool"), "the id of a declared tool", f"unknown tool {step.tool!r}")
        if step.resource is not None:
            if step.resource in resources or d.has("resource", step.resource):
                if (tool is not None and tool.resources and step.resource in resources
                        and step.resource not in tool.resources
                        and step.resource not in d.tool_resources.get(tool.id, ())):
                    yield ((*path, "resource"), f"one of tool {tool.id!r}'s resources "
                           f"({', '.join(tool.resources)})", repr(step.resource))
            else:
                yield ((*path, "resource"), "the id of a declared resource",
                       f"unknown resource {step.resource!r}")
    else:
        target = agents.get(step.delegate)
        if target is None:
            if not d.has("agent", step.delegate):
                yield ((*path, "delegate"), "the name of a declared agent",
                       f"unknown agent {step.delegate!r}")
        elif step.task not in {t.id for t in target.tasks} and step.task not in d.tasks.get(
                step.delegate, ()):
            yield ((*path, "task"), f"a task of agent {step.delegate!r}",
                   f"unknown task {step.task!r}")


def _duplicates(s: Scenario) -> Iterator[Problem]:
    for attr, key in (("owners", "id"), ("data_classes", "id"), ("systems", "id"),
                      ("resources", "id"), ("tools", "id"), ("roles", "id"),
                      ("vendors", "id"), ("agents", "name"), ("incidents", "id"),
                      ("responses", "id"), ("profiles", "id"), ("environments", "id")):
        seen: set[str] = set()
        for i, item in enumerate(getattr(s, attr)):
            value = getattr(item, key)
            if value in seen:
                yield ((attr, i, key), f"unique {key}s in {attr}", f"duplicate {value!r}")
            seen.add(value)
