"""Checks on who the agents are and what they hold: owners, vendors and credentials.

These read the scenario and its credential profiles, not the compiled policies: every agent
has accountable owners (AR001), no static secret is shared (AR005), vendor-hosted agents have
an owner and a revocation path (AR006), profiles issue short-lived (AR002), task-scoped
(AR003) credentials revoked when their task completes (AR004), and keep a trust domain per
environment (AR015).
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.durations import format_duration
from engine.readiness.findings import Check, Finding, as_check
from engine.readiness.subject import Subject
from engine.yamldoc import PathT

# --- scenario checks ------------------------------------------------------------------------------


@as_check("AR001", "agent-owners", "high",
          "Every agent names a business, a security and an incident owner",
          ("GOVERN 2.1", "MANAGE 2.4"))
def check_owners(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    An agent without a business owner (what it may attempt), a security owner (what it may
    access) or a fallback incident owner (who can switch it off) must not go live: nobody is
    accountable for its decisions or empowered to disengage it.
    """
    for i, agent in enumerate(subject.scenario.agents):
        missing = [r for r in ("business", "security", "incident")
                   if getattr(agent.owners, r) is None]
        if not missing:
            continue
        path: PathT = ("agents", i, "owners") if ("agents", i, "owners") in \
            subject.doc.positions else ("agents", i, "name")
        severity = "critical" if "incident" in missing and "security" in missing else "high"
        yield check.finding(
            subject.at(path),
            f"agent {agent.name} has no {' or '.join(missing)} owner",
            f"name the {', '.join(missing)} owner(s) of {agent.name} under "
            f"agents[{i}].owners (owner ids from the scenario's owners list)",
            severity=severity)


@as_check("AR005", "shared-credential", "high",
          "No static credential is shared by several agents", ("NHI9:2025",))
def check_shared(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    Agents naming the same static credential share one secret under static profiles: a
    compromise of one is a compromise of all, and no decision can be attributed to one agent.
    """
    static = [p for p in subject.scenario.profiles if p.credentials.mode == "static"]
    if not static:
        return
    by_name: dict[str, list[int]] = {}
    for i, agent in enumerate(subject.scenario.agents):
        if agent.credential is not None:
            by_name.setdefault(agent.credential, []).append(i)
    agents = subject.scenario.agents
    for name, idx in by_name.items():
        if len(idx) < 2:
            continue
        holders = ", ".join(agents[i].name for i in idx)
        yield check.finding(
            subject.at(("agents", idx[1], "credential")),
            f"static credential {name} is shared by {holders} under profile(s) "
            f"{', '.join(p.id for p in static)}",
            "give each agent its own workload identity and credential (drop the shared "
            "'credential:'), or move the profile to just-in-time credentials",
            profiles=static)


@as_check("AR006", "vendor-accountability", "high",
          "Vendor-hosted agents have an accountable owner and a revocation path",
          ("NHI3:2025", "GOVERN 6.1", "GOVERN 6.2"))
def check_vendor(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A vendor-hosted agent runs with trust granted to a third party: someone must own that
    third-party risk and there must be a way to withdraw the trust (rotate or drop the
    federation) when the vendor is compromised.
    """
    scenario = subject.scenario
    vendors = {v.id: i for i, v in enumerate(scenario.vendors)}
    for agent in scenario.agents:
        if agent.kind != "vendor_hosted" and agent.vendor is None:
            continue
        if agent.vendor is None or agent.vendor not in vendors:
            continue
        j = vendors[agent.vendor]
        vendor = scenario.vendors[j]
        if vendor.owner is None:
            yield check.finding(
                subject.at(("vendors", j, "id")),
                f"vendor {vendor.id} (hosting agent {agent.name}) has no accountable owner",
                f"set vendors[{j}].owner to the function that accepted this third party's risk")
        if not vendor.revocation:
            yield check.finding(
                subject.at(("vendors", j, "id")),
                f"vendor {vendor.id} (hosting agent {agent.name}) has no revocation path",
                f"describe how trust is withdrawn in vendors[{j}].revocation (e.g. rotate the "
                "federation bundle) and rehearse it with a distrust_vendor response")


# --- profile (credential) checks ---------------------------------------------------------------


@as_check("AR002", "long-lived-credentials", "high",
          "Credentials are short-lived and not static", ("NHI7:2025",))
def check_ttl(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    Static credentials, or credentials that live longer than the threshold (``--max-ttl``,
    one hour by default), give a leaked secret open-ended use.
    """
    for i, profile in enumerate(subject.scenario.profiles):
        creds = profile.credentials
        limit = subject.max_ttl
        if creds.mode != "static" and creds.ttl <= limit:
            continue
        severity = "high" if creds.mode == "static" or creds.ttl > 86400 else "medium"
        what = "static" if creds.mode == "static" else "just-in-time"
        yield check.finding(
            subject.at(("profiles", i, "credentials", "ttl")),
            f"profile {profile.id} issues {what} credentials living "
            f"{format_duration(creds.ttl)} (threshold {format_duration(limit)})",
            "issue just-in-time credentials per task with a TTL at or under the threshold "
            "(credentials: {mode: jit, ttl: 10m, revoke_on_completion: true})",
            severity=severity, profiles=[profile])


@as_check("AR003", "broad-scope", "high",
          "Credential scopes are task-scoped, not wildcard or role-wide",
          ("NHI5:2025", "LLM06:2025"))
def check_scope(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A wildcard scope admits every tool; a role-wide scope admits everything the role grants
    whatever the task; either lets a hijacked agent reach far beyond the step it is on.
    """
    for i, profile in enumerate(subject.scenario.profiles):
        scope = profile.credentials.scope
        if scope == "task":
            continue
        severity = "critical" if scope == "wildcard" else "medium"
        yield check.finding(
            subject.at(("profiles", i, "credentials", "scope")),
            f"profile {profile.id} issues {scope}-scoped credentials",
            "scope each credential to the task it is issued for (credentials.scope: task)",
            severity=severity, profiles=[profile])
    for i, role in enumerate(subject.scenario.roles):
        if "*" in role.tools:
            yield check.finding(
                subject.at(("roles", i, "tools")),
                f"role {role.id} grants every tool ('*')",
                f"list the tools role {role.id} needs instead of '*'")


@as_check("AR004", "jit-without-revoke", "medium",
          "Just-in-time credentials are revoked when their task completes",
          ("NHI7:2025", "NHI1:2025"))
def check_revoke(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A just-in-time credential that outlives its task stays usable until it expires: the
    window a thief has is the TTL, not the task.
    """
    for i, profile in enumerate(subject.scenario.profiles):
        creds = profile.credentials
        if creds.mode == "jit" and not creds.revoke_on_completion:
            yield check.finding(
                subject.at(("profiles", i, "credentials")),
                f"profile {profile.id} does not revoke just-in-time credentials when their "
                "task completes",
                "set credentials.revoke_on_completion: true", profiles=[profile])


@as_check("AR015", "shared-trust-domain", "high",
          "Each environment has its own trust domain", ("NHI8:2025",))
def check_environments(subject: Subject, check: Check) -> Iterator[Finding]:
    """Run the check (see its registered summary).

    A scenario with several environments (test, production) under a profile that keeps one
    trust domain for all of them (``environments: shared``) gives an agent the same identity
    and credentials everywhere: a credential stolen in test is accepted in production.
    """
    scenario = subject.scenario
    if len(scenario.environments) < 2:
        return
    names = ", ".join(f"{e.id} ({e.trust_domain})" for e in scenario.environments)
    for i, profile in enumerate(scenario.profiles):
        if profile.environments == "isolated":
            continue
        place: PathT = ("profiles", i, "environments")
        if place not in subject.doc.positions:
            place = ("profiles", i, "id")
        yield check.finding(
            subject.at(place),
            f"profile {profile.id} keeps one trust domain for the environments {names}: "
            "a credential stolen in one is accepted in the others",
            "give each environment its own trust domain, broker and bundle "
            "(profile environments: isolated)", profiles=[profile])


CHECKS: tuple[Check, ...] = (check_owners, check_shared, check_vendor, check_ttl, check_scope,
                             check_revoke, check_environments)
"""This family's checks, in source order."""
