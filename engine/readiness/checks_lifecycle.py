"""Checks on the end of an agent's life: credentials must not outlive its planned retirement.

An agent with ``retire_at`` stops working then; whatever credential it still holds is an
orphan nobody watches (OWASP NHI1:2025, improper offboarding). AR014 reports, per profile,
credentials that stay usable after the retirement.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.durations import format_duration
from engine.readiness.findings import Check, Finding, as_check
from engine.readiness.subject import Subject


@as_check("AR014", "credentials-outlive-retirement", "high",
          "No agent's credentials outlive its planned retirement",
          ("NHI1:2025", "NHI7:2025", "MANAGE 2.4"))
def check_retirement(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    An agent with a planned retirement (``retire_at``) stops working then. Under a static
    profile its key lives on for the key's lifetime unless its owner revokes it at
    retirement (``credentials.offboarding: owner``); under a just-in-time profile a token
    issued just before retirement lives up to its TTL unless it is revoked when its task
    completes or at retirement.
    """
    scenario = subject.scenario
    for i, agent in enumerate(scenario.agents):
        if agent.retire_at is None:
            continue
        at = format_duration(agent.retire_at)
        for profile in scenario.profiles:
            creds = profile.credentials
            if creds.offboarding == "owner":
                continue
            if creds.mode == "static":
                yield check.finding(
                    subject.at(("agents", i, "retire_at")),
                    f"agent {agent.name} retires at {at} but its static credential lives "
                    f"{format_duration(creds.ttl)} and nothing revokes it then (profile "
                    f"{profile.id})",
                    "have the agent's owner revoke its credentials at retirement "
                    "(credentials.offboarding: owner), or issue just-in-time credentials",
                    profiles=[profile])
            elif not creds.revoke_on_completion:
                yield check.finding(
                    subject.at(("agents", i, "retire_at")),
                    f"agent {agent.name} retires at {at} but a token issued just before "
                    f"lives up to {format_duration(creds.ttl)} after it (profile "
                    f"{profile.id})",
                    "revoke tokens when their task completes (credentials."
                    "revoke_on_completion: true) or at retirement (credentials.offboarding: "
                    "owner)",
                    severity="medium", profiles=[profile])


CHECKS: tuple[Check, ...] = (check_retirement,)
"""This family's checks, in source order."""
