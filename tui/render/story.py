"""The story of a comparison in one line: the first incident and what each profile made of it.

Read from each run's :class:`~sim.collectors.metrics.MetricsCollector` (its compromises, the
first step of an incident that ran or was stopped, benign steps denied); nothing here counts
an event. The compare screen's banner shows :meth:`Story.text`; :attr:`Story.settled` says
when (in simulated time) the line reached its ending, so a test can check that each built-in
tells its story within a minute of wall time at its default speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sim.collectors.metrics import MetricsCollector
from tui.render.formatting import count

HAPPENS = {
    "prompt_injection": "injected instruction hits {agent}",
    "credential_theft": "stolen credential of {agent} in use",
    "rogue_agent": "{agent} goes rogue",
    "vendor_compromise": "vendor breach reaches {agent}",
    "overbroad_delegated_admin": "over-broad admin rights of {agent} abused",
    "memory_poisoning": "poisoned memory steers {agent}",
    "human_use": "a person acts with {agent}'s credential",
    "federation_abuse": "federated identity of {agent} abused",
}
"""What an incident of each kind looks like to a room, in plain words."""

STOPPED_BY = {"revoked": "token revoked", "expired": "token expired"}
"""A stop no deny made, in words (an approval's outcome reads as it is)."""


def hhmm(seconds: float) -> str:
    """A simulated time as ``HH:MM`` (``Nd HH:MM`` past a day)."""
    total = max(0, int(seconds)) // 60
    days, minutes = divmod(total, 24 * 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{days}d {text}" if days else text


class Outcome(NamedTuple):
    """What one profile made of the first incident, as far as its run has got."""

    profile: str
    words: str
    """E.g. ``1,240 records exposed`` or ``stopped at 02:01 by rule no-bulk-export``."""
    settled: float | None
    """Simulated time the outcome became known (None: nothing has happened yet)."""
    benign_denied: int


class Story(NamedTuple):
    """The one-line story of a comparison (see the module docstring)."""

    opening: str
    """The first incident (``02:00 injected instruction hits support-bot``), or a wait."""
    outcomes: tuple[Outcome, ...]
    incident_at: float | None

    @property
    def settled(self) -> float | None:
        """When every profile's outcome was known (None: not yet, or no incident)."""
        times = [o.settled for o in self.outcomes]
        if self.incident_at is None or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def text(self) -> str:
        """The banner's line: opening · each profile's outcome · the cost in benign steps."""
        parts = [self.opening]
        if self.incident_at is not None:
            parts += [f"{o.profile}: {o.words}" for o in self.outcomes]
        costs = [f"{o.profile} {count(o.benign_denied)}" for o in self.outcomes
                 if o.benign_denied]
        if costs:
            parts.append("cost: benign steps denied, " + ", ".join(costs))
        elif self.outcomes:
            parts.append("cost: no benign step denied")
        return " · ".join(parts)


def _records(n: int) -> str:
    return f"{count(n)} record" + ("" if n == 1 else "s")


def _outcome(profile: str, collector: MetricsCollector, incident: str, done: bool) -> Outcome:
    compromise = collector.compromises.get(incident)
    denied = collector.benign_denied
    if compromise is None:  # a profile whose run has not reached the incident yet
        return Outcome(profile, "not there yet", None, denied)
    realised = compromise.realised
    out = collector.first_out.get(incident)
    stop = collector.first_stop.get(incident)
    parts: list[str] = []
    times: list[float] = []
    if out is not None:
        parts.append(_records(realised.records) + " exposed" if realised.records
                     else "its steps ran")
        if realised.amount:
            parts.append(f"{count(realised.amount)} moved")
        times.append(out)
    if stop is not None:
        if stop.denied:
            how = f"by rule {stop.rule}" if stop.rule else "by default deny"
        else:
            how = f"({STOPPED_BY.get(stop.outcome, stop.outcome.replace('_', ' '))})"
        words = f"stopped at {hhmm(stop.time)} {how}"
        # Stopped first, the stop leads; stopped after some steps ran, it follows them.
        parts.insert(0 if out is None or stop.time <= out else len(parts), words)
        times.append(stop.time)
    elif compromise.contained is not None:  # the ending of a run that was not stopped
        parts.append(f"contained at {hhmm(compromise.contained)}"
                     + ("" if parts else f" ({compromise.how}), nothing exposed"))
        times.append(compromise.contained)
    if parts:
        return Outcome(profile, ", ".join(parts), max(times), denied)
    if done:
        return Outcome(profile, "nothing exposed by the end", collector.time, denied)
    return Outcome(profile, "nothing exposed yet", None, denied)


def story_of(runs: Sequence[tuple[str, MetricsCollector]]) -> Story:
    """The story so far of runs of one scenario and seed under different profiles.

    Args:
        runs: (profile id, that run's collector), in the comparison's order.
    """
    first = None
    for _, collector in runs:
        for compromise in collector.compromises.values():
            if first is None or compromise.start < first.start:
                first = compromise
            break  # a collector's compromises are in the order they began
    if first is None:
        return Story("no incident yet",
                     tuple(Outcome(p, "", None, c.benign_denied) for p, c in runs), None)
    opening = f"{hhmm(first.start)} " + HAPPENS.get(
        first.kind, first.kind.replace("_", " ") + " hits {agent}").format(agent=first.principal)
    return Story(opening, tuple(_outcome(p, c, first.id, c.done) for p, c in runs),
                 first.start)
