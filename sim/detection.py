"""Detection: which decisions raise alerts (denies, tokens, sequences, shadow rules, thresholds).

The detector sees every decision the runner makes and returns the alerts it raises; the
runner emits them and, when an alert concerns an incident, counts that incident detected.
Rules (tunable with :class:`DetectionConfig`):

- ``token``: a request denied because its token failed verification. High severity for
  reasons that point at misuse (revoked, presented by another holder, forged, foreign),
  low for plain expiry.
- ``deny``: any other deny. High when a legal-envelope rule denied it, medium otherwise.
- ``sequence``: the request completed a sequence rule (enforced or shadow).
- ``shadow``: a shadow rule that would have denied the request matched.
- ``threshold``: an executed request moved at least ``bulk_records`` records, or an agent
  collected ``deny_burst`` denies within ``deny_window`` seconds (once per window).
- ``approval``: a human approver rejected a request (they judged it malicious).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from engine.policy.decision import Decision, Effect, Envelope, Reason

QUIET_TOKEN_REASONS = frozenset({"expired", "not_yet_valid"})


@dataclass(frozen=True)
class DetectionConfig:
    """Thresholds of the detector.

    Attributes:
        bulk_records: An executed request touching at least this many records alerts.
        deny_burst: This many denies of one agent within ``deny_window`` alert.
        deny_window: Seconds of the deny-burst window.
        alert_on_default_deny: Whether a deny because no rule allowed the request alerts.
    """

    bulk_records: int = 1000
    deny_burst: int = 5
    deny_window: float = 600.0
    alert_on_default_deny: bool = True


class AlertSpec(NamedTuple):
    """An alert the runner should emit."""

    severity: str
    reason: str
    rule: str | None
    message: str


class Detector:
    """Turns decisions into alerts.

    Args:
        config: Thresholds (defaults when None).
    """

    def __init__(self, config: DetectionConfig | None = None) -> None:
        self.config = config or DetectionConfig()
        self._denies: dict[str, deque[float]] = {}

    def decision(self, now: float, agent: str, tool: str, decision: Decision,
                 token_reason: str | None, executed_records: int | None) -> list[AlertSpec]:
        """Alerts raised by one decision.

        Args:
            now: Simulated time.
            agent: The principal of the request.
            tool: The tool requested.
            decision: The engine's decision.
            token_reason: The verification reason code (``ok`` when valid).
            executed_records: Records moved when the request executed right away, else None.
        """
        alerts: list[AlertSpec] = []
        effect = decision.effect
        reason = decision.reason
        if decision.sequences:
            for s in decision.sequences:
                verb = "would " if s.shadow else ""
                alerts.append(AlertSpec(
                    "high" if not s.shadow or s.effect is Effect.DENY else "medium",
                    "sequence", s.sequence,
                    f"{agent}: {tool} completes sequence {s.sequence} ({verb}{s.effect})"))
        if decision.shadow:
            for m in decision.shadow:
                if m.effect is Effect.DENY:
                    alerts.append(AlertSpec("medium", "shadow", m.rule,
                                            f"{agent}: {tool} matches shadow deny {m.rule}"))
        if effect is Effect.DENY:
            if reason is Reason.INVALID_TOKEN:
                quiet = token_reason in QUIET_TOKEN_REASONS
                alerts.append(AlertSpec("low" if quiet else "high", "token", None,
                                        f"{agent}: {tool} with an invalid token "
                                        f"({token_reason})"))
            elif reason is Reason.SEQUENCE:
                pass  # reported as a sequence above
            elif reason is not Reason.NO_MATCHING_ALLOW or self.config.alert_on_default_deny:
                severity = "high" if decision.envelope is Envelope.LEGAL else "medium"
                what = (f"denied by {decision.rule}" if decision.rule
                        else "denied: no rule allows it")
                alerts.append(AlertSpec(severity, "deny", decision.rule,
                                        f"{agent}: {tool} {what}"))
            alerts.extend(self._burst(now, agent))
        if executed_records is not None and executed_records >= self.config.bulk_records:
            alerts.append(AlertSpec("high", "threshold", None,
                                    f"{agent}: {tool} moved {executed_records} records"))
        return alerts

    def _burst(self, now: float, agent: str) -> list[AlertSpec]:
        window = self.config.deny_window
        times = self._denies.get(agent)
        if times is None:
            times = self._denies[agent] = deque()
        times.append(now)
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= self.config.deny_burst:
            times.clear()  # one alert per burst, then start counting again
            return [AlertSpec("high", "threshold", None,
                              f"{agent}: {self.config.deny_burst} denies within "
                              f"{window:g}s")]
        return []

    def executed(self, agent: str, tool: str, records: int) -> list[AlertSpec]:
        """Alerts raised when a request executes after approval."""
        if records >= self.config.bulk_records:
            return [AlertSpec("high", "threshold", None,
                              f"{agent}: {tool} moved {records} records")]
        return []

    def rejected(self, agent: str, tool: str) -> list[AlertSpec]:
        """Alerts raised when an approver rejects a request."""
        return [AlertSpec("high", "approval", None,
                          f"{agent}: approver rejected {tool}")]
