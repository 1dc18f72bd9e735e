"""The frozen ``RunResult`` of a run and the documented shape of its figures.

:class:`sim.collectors.metrics.MetricsCollector` folds a run's events into it.

``RunResult.to_dict()`` is the documented, stable JSON shape that ``--format json`` prints and
that scenario ``expect:`` assertions address with dotted paths. Keys are only ever added,
never renamed::

    {
      "scenario": str, "profile": str, "seed": int,
      "time": float,            # simulated seconds reached
      "duration": float,        # the run's planned end
      "done": bool,
      "events": int,            # events emitted
      "decisions": {"total", "allow", "deny", "require_approval"},
      "outcomes": {"executed", "blocked", "awaiting_approval", "expired", "revoked"},
      "out_of_scope": {"attempts", "stopped"},
      "blast_radius": {"records", "egress_records", "data_classes", "systems",
                       "potential_records", "exposure_window", "amount"},
      "time_to_detect": float | null, "time_to_contain": float | null,
      "delivery": {"tasks_started", "tasks_completed", "tasks_failed",
                   "task_latency_p50", "task_latency_p95", "approval_wait_mean",
                   "benign_steps", "benign_denied", "benign_denied_rate"},
      "approvals": {"requested", "approved", "rejected", "expired", "fatigue_misses"},
      "alerts": {"total", "deny", "token", "sequence", "shadow", "threshold", "approval"},
      "tokens": {"issued", "revoked", "expired", "renewed"},
      "audit": {"decisions", "logged", "attributable", "coverage"},
      "incidents": [{"id", "kind", "agent", "start", "detected_at", "contained_at",
                     "time_to_detect", "time_to_contain", "how", "open",
                     "exposure_window", "blast_radius": {...}}]
    }

Meanings: ``blast_radius.records`` sums, over incidents, the records compromised principals
and attackers actually touched (per resource, capped at its size); ``data_classes`` and
``systems`` count the union of what they touched; ``amount`` sums the money their
executed steps moved (each step's ``amount``: refunds issued, payments);
``potential_records`` sums what their credentials could reach; ``exposure_window`` is the
longest exposure (seconds);
``time_to_detect`` / ``time_to_contain`` are the longest over incidents (null when an
incident was never detected / contained, or when there were none). Delivery figures count
top-level benign task runs (not delegated sub-tasks, not attacker goals); latency runs from
arrival to completion, approval waits included; ``benign_denied`` counts benign steps whose
decision was deny. ``approvals.requested`` counts approvals resolved (one still waiting
when the run ends is not counted). ``audit.logged`` counts decisions written to an attached
audit log, which holds every event (null without one); ``audit.attributable`` counts
decisions whose token names the very workload that acted (not a shared credential) and whose
agent has an accountable owner.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DecisionKey = tuple[str, str, str, int, str | None]
"""(agent, task, run ordinal, step, incident): the same logical request across profiles."""

DecisionFacts = tuple[str, str, str | None]
"""(effect, tool, deciding rule) of one decision."""

OUTCOMES = ("executed", "blocked", "awaiting_approval", "expired", "revoked")
ALERT_REASONS = ("deny", "token", "sequence", "shadow", "threshold", "approval")


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by linear interpolation (None when empty)."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return data[lo]
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run: its figures (see the module docstring) and its decisions.

    Attributes:
        scenario: Scenario name.
        profile: Profile id.
        seed: The seed the run used.
        data: The figures, in the documented shape (read them with :meth:`metric`).
        decisions: Key -> (effect, tool, deciding rule) of every decision, for comparisons
            and expectations.
    """

    scenario: str
    profile: str
    seed: int
    data: Mapping[str, Any]
    decisions: Mapping[DecisionKey, DecisionFacts] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (a fresh copy)."""
        return copy.deepcopy(dict(self.data))

    def metric(self, path: str) -> Any:
        """The value at a dotted path such as ``blast_radius.records`` (KeyError if absent)."""
        node: Any = self.data
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(path)
            node = node[part]
        return node

    def decision_of(self, agent: str, task: str, step: int,
                    incident: str | None = None) -> DecisionFacts | None:
        """(effect, tool, rule) of step ``step`` of an agent's first run of a task.

        With ``incident`` the step is one of that incident's (the hijacked or poisoned run,
        or an attacker's replay); without it, a step of a benign run. None when no such
        request was made. "First" is by run number: a delegated run counts by its root run's
        number, then its own.
        """
        best: tuple[tuple[tuple[int, ...], str], DecisionFacts] | None = None
        for (a, t, run, s, inc), facts in self.decisions.items():
            if a == agent and t == task and s == step and inc == incident:
                order = (_ordinal(run), run)
                if best is None or order < best[0]:
                    best = (order, facts)
        return None if best is None else best[1]


def _ordinal(run: str) -> tuple[int, ...]:
    """The run numbers along a run id (``a/t#3>b/u#1`` → (3, 1)), so runs sort by start."""
    numbers = []
    for part in run.split("#")[1:]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        numbers.append(int(digits) if digits else 0)
    return tuple(numbers)
