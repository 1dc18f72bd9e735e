"""The fuzz corpus: mutants of the built-in scenarios, each with one value changed (issue 23).

A mutant is a built-in scenario directory with one document changed: a number made zero,
negative, huge or tiny, a duration made 0.0001s, a rate 1e30, an arrival ``per: 1s``, a task
delegating to itself or two agents to each other, a list nested thousands deep, a 100 KB string,
a value of the wrong type, a key dropped, a YAML tag or an alias bomb. :func:`known_mutants`
holds the reproducers issue 23 reports, by name; :func:`random_mutant` draws one from a seed
and a case number alone, so any case can be rebuilt from its two numbers. Documents are written
as JSON (which is YAML, one value a line so errors have lines), with :class:`Raw` YAML text
spliced in where JSON cannot say it. ``benchmarks/fuzz.py`` runs the mutants.
"""

from __future__ import annotations

import copy
import json
import random
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from engine.yamldoc import load_yaml
from scenarios import library

DocPath = tuple[str | int, ...]
Docs = dict[str, Any]
"""A built-in's documents by file name relative to its directory: scenario and policies."""

SCENARIO = "scenario.yaml"
DURATION = re.compile(r"^\d+(\.\d+)?(ms|s|m|h|d|w)+$")


@dataclass(frozen=True)
class Raw:
    """YAML text written in place of a value as it is: deep nesting, ``.inf``, tags, aliases."""

    text: str


@dataclass
class Mutant:
    """One built-in scenario with some of its documents changed, and how to run it.

    Attributes:
        name: The case's name, e.g. ``seed 23 #4`` or ``issue23-rate-1e30``.
        builtin: The built-in scenario it is made from.
        operator: The kind of change, e.g. ``arrival-rate`` or ``drop-key``.
        change: What changed, where: ``scenario.yaml agents[0].tasks[0].arrival.rate: 30 -> 1e+30``.
        documents: The changed documents (file name -> data); the others are copied as they are.
        profile: The profile to run (None: the scenario's default).
        until: How much simulated time the short run covers.
    """

    name: str
    builtin: str
    operator: str
    change: str
    documents: Docs = field(default_factory=dict)
    profile: str | None = None
    until: str = "6h"

    def changes_what_runs(self) -> bool:
        """Whether the run loads a changed document: the scenario, or its profile's policy.

        (``validate`` checks every profile's policy; a run loads only its own.)
        """
        if SCENARIO in self.documents:
            return True
        scenario = documents(self.builtin)[SCENARIO]
        profile = self.profile or scenario.get("default_profile")
        return any(p.get("id") == profile and p.get("policy") in self.documents
                   for p in scenario.get("profiles", []))

    def write(self, dest: Path) -> Path:
        """Write the mutant's scenario directory at ``dest`` (which must not exist); return it."""
        shutil.copytree(Path(str(library.path_of(self.builtin))), dest,
                        ignore=shutil.ignore_patterns("__pycache__"))
        for name, data in self.documents.items():
            (dest / name).write_text(dump(data), encoding="utf-8")
        return dest


# --- documents ----------------------------------------------------------------------------------


@cache
def _documents(builtin: str) -> str:
    # The project's own safe loader: no YAML library of the fuzz's own to keep in step with it.
    root = Path(str(library.path_of(builtin)))
    docs = {name: load_yaml(p.read_text(encoding="utf-8"), name).data
            for p in sorted([root / SCENARIO, *(root / "policies").glob("*.yaml")])
            for name in [str(p.relative_to(root))]}
    return json.dumps(docs)  # cached as text: every caller gets its own copy to change


def documents(builtin: str) -> Docs:
    """The built-in's documents as plain data (aliases and merge keys resolved), a fresh copy."""
    docs: Docs = json.loads(_documents(builtin))
    return docs


def dump(data: Any) -> str:
    """The document as JSON text, with each :class:`Raw` value spliced in as YAML text."""
    raws: list[str] = []

    def plain(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"@@raw-{len(raws) - 1}@@"
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    text = json.dumps(plain(data), indent=1, ensure_ascii=False)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@raw-{i}@@"', raw)
    return text


def nodes(value: Any, path: DocPath = ()) -> Iterator[tuple[DocPath, Any]]:
    """Every value under ``value`` with its path (the root itself left out)."""
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, child in items:
        yield (*path, key), child
        yield from nodes(child, (*path, key))


def get(doc: Any, path: DocPath) -> Any:
    """The value at ``path``."""
    for key in path:
        doc = doc[key]
    return doc


def render(path: DocPath) -> str:
    """``agents[0].tasks[1].arrival``, as the loader's messages write paths."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def short(value: Any) -> str:
    """A value for a change's description, cut to 60 characters."""
    text = value.text if isinstance(value, Raw) else json.dumps(value)
    return text if len(text) <= 60 else f"{text[:40]}...({len(text)} chars)"


def _set(docs: Docs, file: str, path: DocPath, value: Any) -> str:
    old = get(docs[file], path)
    get(docs[file], path[:-1])[path[-1]] = value
    return f"{file} {render(path)}: {short(old)} -> {short(value)}"


def _drop(docs: Docs, file: str, path: DocPath) -> str:
    del get(docs[file], path[:-1])[path[-1]]
    return f"{file} {render(path)}: dropped"


# --- the generic mutations: one value, by its type ----------------------------------------------


def deep_list(depth: int) -> Raw:
    """A list nested ``depth`` deep: ``[[[...]]]``."""
    return Raw("[" * depth + "]" * depth)


def deep_mapping(depth: int) -> Raw:
    """A mapping nested ``depth`` deep: ``{"a": {"a": ... 1}}``."""
    return Raw('{"a": ' * depth + "1" + "}" * depth)


ALIAS_BOMB = Raw("[" + ", ".join(
    [f"&a0 [{', '.join(['x'] * 10)}]"]
    + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]) + "]")
"""Billion laughs: nine anchors, each ten of the one before (10^9 values if expanded)."""
PYTHON_TAG = Raw('!!python/object/apply:os.system ["echo fuzz"]')

Mutation = Callable[[Any, random.Random], Any]
"""A new value for a node, given the old one."""

NUMBER: dict[str, Mutation] = {
    "zero": lambda v, r: 0,
    "negative": lambda v, r: -v if v else -1,
    "huge": lambda v, r: r.choice([1e30, 10**30, 2**63, 1e308]),
    "tiny": lambda v, r: r.choice([0.0001, 1e-12, 5e-324]),
    "infinite": lambda v, r: r.choice([Raw(".inf"), Raw("-.inf"), Raw(".nan")]),
    "wrong-type": lambda v, r: r.choice(["x", "", [v], {"v": v}, None, True]),
}
DURATION_TEXT: dict[str, Mutation] = {
    "duration-zero": lambda v, r: r.choice(["0s", "0ms", "0"]),
    "duration-tiny": lambda v, r: r.choice(["0.0001s", "1ms", "0.000000001s"]),
    "duration-huge": lambda v, r: r.choice(["1000000000w", "99999999999999999999d", "1e30"]),
    "duration-negative": lambda v, r: r.choice(["-5m", "-1", "-0.0001s"]),
}
TEXT: dict[str, Mutation] = {
    "long-string": lambda v, r: r.choice(["A", "é", "\u202e"]) * r.choice([10_000, 100_000]),
    "empty-string": lambda v, r: "",
    "typo": lambda v, r: v + r.choice(["-typo", "x", ".*"]),
    "wrong-type": lambda v, r: r.choice([0, -1, 1e30, True, None, [v], {"v": v}]),
}
LIST: dict[str, Mutation] = {
    "drop-element": lambda v, r: [x for i, x in enumerate(v) if i != r.randrange(len(v))]
    if v else v,
    "empty-list": lambda v, r: [],
    "duplicate-element": lambda v, r: [*v, *v[:1]] if v else [None],
    "wrong-type": lambda v, r: r.choice([{}, "x", 0, None]),
    "deep-nesting": lambda v, r: deep_list(r.choice([1_000, 5_000])),
}
MAPPING: dict[str, Mutation] = {
    "unknown-key": lambda v, r: {**v, r.choice(["x-unknown", "owner", "Name"]): 1},
    "wrong-type": lambda v, r: r.choice([[], [v], "x", 0, None]),
    "deep-nesting": lambda v, r: deep_mapping(r.choice([1_000, 5_000])),
    "duplicate-key": lambda v, r: Raw("{" + ", ".join(
        [json.dumps(v)[1:-1], json.dumps(dict([next(iter(v.items()))]))[1:-1]]) + "}")
    if v else v,
}
ANY: dict[str, Mutation] = {
    "python-tag": lambda v, r: PYTHON_TAG,
    "alias-bomb": lambda v, r: ALIAS_BOMB,
}


def generic(docs: Docs, r: random.Random) -> tuple[str, str]:
    """Change one value of one document by its type; (operator, change)."""
    file = SCENARIO if r.random() < 0.8 else r.choice(sorted(docs))
    path, value = r.choice(list(nodes(docs[file])))
    if r.random() < 0.04:
        table = ANY
    elif isinstance(value, bool) or value is None:
        table = {"wrong-type": NUMBER["wrong-type"]}
    elif isinstance(value, int | float):
        table = NUMBER
    elif isinstance(value, str):
        table = {**TEXT, **DURATION_TEXT} if DURATION.match(value) else TEXT
    elif isinstance(value, list):
        table = LIST
    else:
        table = MAPPING
    if isinstance(path[-1], str) and r.random() < 0.15:
        return "drop-key", _drop(docs, file, path)
    operator = r.choice(sorted(table))
    return operator, _set(docs, file, path, table[operator](value, r))


# --- the targeted mutations: where issue 23 found hangs -------------------------------------------


def _tasks(scenario: Any) -> list[tuple[DocPath, Any]]:
    return [(("agents", a, "tasks", t), task) for a, agent in enumerate(scenario["agents"])
            for t, task in enumerate(agent.get("tasks", []))]


def _arrivals(scenario: Any, kind: str) -> list[DocPath]:
    return [(*p, "arrival") for p, task in _tasks(scenario)
            if task.get("arrival", {}).get("kind") == kind]


def _unlimited_profile(docs: Docs) -> str | None:
    """A profile whose policy sets no delegation depth limit (static-rbac, usually)."""
    for profile in docs[SCENARIO].get("profiles", []):
        policy = docs.get(str(profile.get("policy", "")), {})
        if "max_depth" not in (policy.get("delegation") or {}):
            return str(profile["id"])
    return None


def targeted(docs: Docs, r: random.Random) -> tuple[str, str, str | None]:
    """Change a value where runs grow without bound; (operator, change, profile to run)."""
    scenario = docs[SCENARIO]
    choices: list[str] = ["self-delegation", "approvers", "duration", "records", "incident-at"]
    if _arrivals(scenario, "poisson"):
        choices += ["arrival-rate", "arrival-per"]
    if _arrivals(scenario, "fixed"):
        choices.append("arrival-interval")
    if delegating_steps(docs):
        choices.append("mutual-delegation")
    if any("delegation" in d for f, d in docs.items() if f != SCENARIO):
        choices.append("depth-limit")
    operator = r.choice(choices)
    if operator == "arrival-rate":
        path = (*r.choice(_arrivals(scenario, "poisson")), "rate")
        return operator, _set(docs, SCENARIO, path, r.choice([1e30, 10**30, 1e6, 0, -3])), None
    if operator == "arrival-per":
        path = (*r.choice(_arrivals(scenario, "poisson")), "per")
        return operator, _set(docs, SCENARIO, path, r.choice(["1s", "1ms", "0s"])), None
    if operator == "arrival-interval":
        path = (*r.choice(_arrivals(scenario, "fixed")), "interval")
        return operator, _set(docs, SCENARIO, path, r.choice(["0.0001s", "0s", "1ms"])), None
    if operator in ("self-delegation", "mutual-delegation"):
        change = (self_delegation(docs, r.choice(_tasks(scenario))[0], zero=r.random() < 0.5)
                  if operator == "self-delegation"
                  else mutual_delegation(docs, *r.choice(delegating_steps(docs))))
        return operator, change, _unlimited_profile(docs)
    if operator == "depth-limit":
        file = r.choice(sorted(f for f, d in docs.items() if f != SCENARIO and "delegation" in d))
        if r.random() < 0.5:
            return operator, _drop(docs, file, ("delegation",)), None
        return operator, _set(docs, file, ("delegation", "max_depth"),
                              r.choice([0, -1, 10**9])), None
    if operator == "approvers":
        if "approvers" not in scenario:
            scenario["approvers"] = {"count": 1, "service_time": "1m"}
        key, value = r.choice([("count", 10**9), ("count", 0), ("service_time", "0s"),
                               ("service_time", "1000000w"), ("expiry", "0.0001s")])
        return operator, _set_or_add(docs, ("approvers", key), value), None
    if operator == "duration":
        return operator, _set(docs, SCENARIO, ("duration",),
                              r.choice(["0s", "0.0001s", "1000000w", "-1h"])), None
    if operator == "records":
        path, task = r.choice(_tasks(scenario))
        steps = [i for i, s in enumerate(task["steps"]) if "tool" in s]
        path = (*path, "steps", r.choice(steps), "records")
        return operator, _set_or_add(docs, path, r.choice([10**30, -1, 1e30])), None
    incidents = scenario.get("incidents", [])
    if not incidents:
        return targeted(docs, r)
    path = ("incidents", r.randrange(len(incidents)), "at")
    return operator, _set(docs, SCENARIO, path, r.choice(["-1h", "1000000w", "0s"])), None


def _set_or_add(docs: Docs, path: DocPath, value: Any) -> str:
    parent = get(docs[SCENARIO], path[:-1])
    if path[-1] in parent:
        return _set(docs, SCENARIO, path, value)
    parent[path[-1]] = value
    return f"{SCENARIO} {render(path)}: added {short(value)}"


def self_delegation(docs: Docs, task_path: DocPath, *, zero: bool) -> str:
    """The task at ``task_path`` delegates to itself.

    As its last step; or, with ``zero``, right after its first step, every tool step of the
    task made to take 0s (so the delegation loops in no simulated time).
    """
    scenario = docs[SCENARIO]
    agent = scenario["agents"][task_path[1]]
    task = get(scenario, task_path)
    itself = {"delegate": agent["name"], "task": task["id"]}
    if zero:
        for step in task["steps"]:
            if "tool" in step:
                step["duration"] = "0s"
        task["steps"].insert(1, itself)
    else:
        task["steps"].append(itself)
    return (f"{SCENARIO} {render(task_path)}: {agent['name']}/{task['id']} delegates to itself"
            + (" after a 0s step" if zero else " as its last step"))


def delegating_steps(docs: Docs) -> list[tuple[DocPath, int]]:
    """Every step that delegates: (its task's path, its index in the task's steps)."""
    return [(path, i) for path, task in _tasks(docs[SCENARIO])
            for i, step in enumerate(task["steps"]) if "delegate" in step]


def mutual_delegation(docs: Docs, task_path: DocPath, step: int) -> str:
    """Two agents delegate to each other.

    The task that delegating step ``step`` of the task at ``task_path`` hands its work to
    delegates back to that task, as its last step.
    """
    scenario = docs[SCENARIO]
    agent, task = scenario["agents"][task_path[1]], get(scenario, task_path)
    to = task["steps"][step]
    back = next(t for p, t in _tasks(scenario)
                if scenario["agents"][p[1]]["name"] == to["delegate"] and t["id"] == to["task"])
    back["steps"].append({"delegate": agent["name"], "task": task["id"]})
    return (f"{SCENARIO} {render(task_path)}: {agent['name']}/{task['id']} and "
            f"{to['delegate']}/{to['task']} delegate to each other")


# --- cases ----------------------------------------------------------------------------------------


def random_mutant(seed: int, case: int) -> Mutant:
    """Case ``case`` of the fuzz with seed ``seed``: one built-in, one change, one profile."""
    r = random.Random(f"agentrange-fuzz:{seed}:{case}")
    builtin = r.choice(library.names())
    docs = documents(builtin)
    original = copy.deepcopy(docs)
    profile: str | None = None
    if r.random() < 0.5:
        operator, change, profile = targeted(docs, r)
    else:
        operator, change = generic(docs, r)
    if profile is None and r.random() < 0.5:
        profile = r.choice([p["id"] for p in original[SCENARIO]["profiles"]])
    changed = {f: d for f, d in docs.items() if d != original[f]}
    return Mutant(f"seed {seed} #{case}", builtin, operator, change, changed, profile)


def _at(path: DocPath, value: Any) -> Callable[[Docs], str]:
    return lambda docs: _set(docs, SCENARIO, path, value)


def _cost_report_interval(docs: Docs) -> str:
    # devops-static-keys' daily cost report (fixed arrivals every 24h from 7h) every 0.0001s.
    agents = [a["name"] for a in docs[SCENARIO]["agents"]]
    path = ("agents", agents.index("cost-report-bot"), "tasks", 0, "arrival", "interval")
    return _set(docs, SCENARIO, path, "0.0001s")


def _many_owners(docs: Docs) -> str:
    owners = docs[SCENARIO]["owners"]

    def owner(i: int) -> dict[str, str]:
        return {"id": f"owner-{i:06d}", "name": f"Owner number {i:06d}", "title": "Team lead",
                "contact": f"owner-{i:06d}@acme.example"}

    # Every owner takes the same room in the file: its lines indented two deeper, and ",\n".
    each = len(dump(owner(0)).replace("\n", "\n  ")) + 4
    owners.extend(owner(i) for i in range((9_800_000 - len(dump(docs[SCENARIO]))) // each))
    size = len(dump(docs[SCENARIO]))
    return f"{SCENARIO} owners: {len(owners)} owners ({size / 1e6:.1f} MB, no aliases)"


SUPPORT, ADMIN = "support-pii-injection", "delegated-admin"
ANSWER = ("agents", 0, "tasks", 0)
"""support-bot/answer-ticket: a step-by-step plan on Poisson arrivals, 30 an hour."""
KNOWN: dict[str, tuple[str, str, Callable[[Docs], str], str | None, str]] = {
    "issue23-interval-0.0001s": ("devops-static-keys", "arrival-interval",
                                 _cost_report_interval, None, "12h"),
    "issue23-rate-1e30": (SUPPORT, "arrival-rate", _at((*ANSWER, "arrival", "rate"), 10**30),
                          None, "6h"),
    "issue23-per-1s": (SUPPORT, "arrival-per", _at((*ANSWER, "arrival", "per"), "1s"), None, "6h"),
    # triage-bot/triage: a 0s knowledge-base search, then itself, under RBAC (no depth limit).
    "issue23-self-delegation-after-0s": (
        SUPPORT, "self-delegation",
        lambda d: self_delegation(d, ("agents", 1, "tasks", 0), zero=True), "static-rbac", "6h"),
    # access-admin/grant-standard-role hands its work to itself once more, under RBAC.
    "issue23-self-delegation": (
        ADMIN, "self-delegation",
        lambda d: self_delegation(d, ("agents", 1, "tasks", 0), zero=False), "static-rbac", "6h"),
    # helpdesk-bot/access-request delegates to access-admin/grant-standard-role, and back.
    "issue23-mutual-delegation": (
        ADMIN, "mutual-delegation", lambda d: mutual_delegation(d, ("agents", 0, "tasks", 0), 1),
        "static-rbac", "6h"),
    "issue23-large-file-9.8MB": (SUPPORT, "large-file", _many_owners, None, "6h"),
    "issue23-deep-nesting-10KB": (SUPPORT, "deep-nesting", _at(("description",),
                                                                deep_list(5_000)), None, "6h"),
    # A duration's error quotes what it found (a tool id is cut at 128 characters already).
    "issue23-100KB-value-in-error": (
        SUPPORT, "long-string", _at((*ANSWER, "steps", 0, "duration"), "A" * 100_000), None,
        "6h"),
}
"""Issue 23's reproducers by name: (built-in, operator, the change, profile, --until)."""


def known_mutants() -> list[str]:
    """The names of issue 23's reproducers, each a built-in with one value changed."""
    return list(KNOWN)


def known_mutant(name: str) -> Mutant:
    """The reproducer ``name``, with only its changed documents kept."""
    builtin, operator, change, profile, until = KNOWN[name]
    docs, original = documents(builtin), documents(builtin)
    description = change(docs)
    changed = {f: d for f, d in docs.items() if d != original[f]}
    return Mutant(name, builtin, operator, description, changed, profile, until)
