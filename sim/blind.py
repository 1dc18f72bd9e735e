"""Blind mode: the event stream as a security operations centre sees it before detection.

A SOC sees alerts, decisions and tokens, but not which agent is compromised until an alert
about the compromise fires. :class:`BlindView` is a fold over the run's events that gives, for
each batch, the events a blind dashboard may show: the ``incident``, ``exposed`` and
``contained`` events of an undetected incident are held back and released, in their order,
just before the alert that detects it; every other event that names an undetected incident
(decisions, tokens, tasks, approvals, responses) is passed on with that mark removed
(``incident`` None, ``attacker`` False). Detection is what the metrics fold counts as
detection: the first alert whose ``incident`` is the compromise's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sim.events import Event, EventKind

_HELD = frozenset({EventKind.INCIDENT, EventKind.EXPOSED, EventKind.CONTAINED})


class BlindView:
    """Folds a run's events into what a blind dashboard shows (see the module docstring)."""

    def __init__(self) -> None:
        self.detected: dict[str, float] = {}
        """Incident id -> simulated time of the alert that detected it."""
        self.held: dict[str, list[Event]] = {}
        """Events held back per undetected incident."""
        self.victims: dict[str, str] = {}
        """Incident id -> the agent it compromised (known to the fold, not shown before)."""

    def _incident_of(self, event: Event) -> str | None:
        kind = event.kind
        if kind is EventKind.INCIDENT:
            return str(event.data.get("id"))
        value = event.data.get("incident")
        return None if value is None else str(value)

    def visible(self, events: Iterable[Event]) -> list[Event]:
        """The events of a batch a blind dashboard shows, in order (held ones released)."""
        shown: list[Event] = []
        detected = self.detected
        for event in events:
            kind = event.kind
            incident = self._incident_of(event)
            if incident is None or incident in detected:
                shown.append(event)
                continue
            if kind is EventKind.ALERT:
                detected[incident] = event.time
                shown.extend(self.held.pop(incident, ()))
                shown.append(event)
            elif kind in _HELD:
                if kind is EventKind.INCIDENT and event.agent is not None:
                    self.victims[incident] = event.agent
                self.held.setdefault(incident, []).append(event)
            else:
                shown.append(_unmarked(event, incident))
        return shown

    def hidden(self, agent: str) -> bool:
        """True while ``agent`` is compromised by an incident not yet detected."""
        return any(victim == agent and incident not in self.detected
                   for incident, victim in self.victims.items())


def _unmarked(event: Event, incident: str) -> Event:
    data: dict[str, Any] = dict(event.data)
    data["incident"] = None
    if "attacker" in data:
        data["attacker"] = False
    run = data.get("run")
    if isinstance(run, str) and f"!{incident}" in run:
        # Hijacked runs are named <agent>/<task>!<incident>#<n>: the name alone would tell.
        data["run"] = run.replace(f"!{incident}", "")
    return event._replace(data=data)
