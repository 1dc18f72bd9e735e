"""The accountability report as frozen data: owner gaps, incidents, out-of-scope attempts.

:func:`sim.collectors.report.build_report` folds a run's events into it;
:meth:`AccountabilityReport.to_dict` is the documented JSON shape (see docs/report.md), and
the faces render it (``tui/render/report.py``: Markdown and HTML). What each field means
(out-of-scope attempt, stopped, envelope broken, accountable owners, references) is defined
in :mod:`sim.collectors.report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from engine import framework_mappings as fwm
from engine import frameworks as fw
from engine.audit.verdict import VerifyReport

ROLES = ("business", "security", "incident")
FORMAT_VERSION = 1
"""Version of :meth:`AccountabilityReport.to_dict`'s shape (keys are only ever added)."""


@dataclass(frozen=True, slots=True)
class LogStatus:
    """What verifying the log found (see :class:`engine.audit.verdict.VerifyReport`).

    Only records covered by a valid signed checkpoint are proven; the records read after them
    are counted as unverified, never called intact.

    Attributes:
        ok: The whole log verified, ends with its closing checkpoint and the run is complete.
        records: Records proven (by the last valid signed checkpoint).
        checkpoints: Valid signed checkpoints.
        message: The verifier's sentence.
        key_pinned: Signatures were checked against a key kept apart from the log (not the
            log's own header, not the ``.pub.pem`` beside it).
        unverified: Records read after the proven ones, before the problem or the end.
        problem: The verifier's label for the first problem (``ok`` when none).
        incomplete: Why the run stopped before its planned end, when its log says so.
        stopped_at: Simulated time at which an incomplete run stopped, when known.
        signer: The fingerprint (key id) of the key the signatures were checked against.
        nonce: The run nonce the log's header states (which run it is), when readable.
        planned_end: Simulated time the run was planned to end at, when the header says.
        shortened_from: The scenario's own duration, when the run was planned to end before
            it (``--until``): a log of a shorter run must not read as the full one.
    """

    ok: bool
    records: int
    checkpoints: int
    message: str
    key_pinned: bool = False
    unverified: int = 0
    problem: str = "ok"
    incomplete: str | None = None
    stopped_at: float | None = None
    signer: str | None = None
    nonce: str | None = None
    planned_end: float | None = None
    shortened_from: float | None = None

    @classmethod
    def of(cls, verdict: VerifyReport) -> LogStatus:
        """The status of a verified log, from the verifier's verdict."""
        mark = verdict.incomplete
        who = verdict.identity
        return cls(
            ok=verdict.ok,
            records=verdict.proven,
            checkpoints=verdict.checkpoints,
            message=verdict.message,
            key_pinned=verdict.key_pinned,
            unverified=verdict.unverified,
            problem=verdict.problem.value,
            incomplete=None if mark is None else mark.reason,
            stopped_at=None if mark is None else mark.at,
            signer=None if verdict.signer is None else verdict.signer.kid,
            nonce=None if who is None else who.nonce,
            planned_end=None if who is None else who.planned_end,
            shortened_from=None if who is None else who.shortened_from,
        )


@dataclass(frozen=True, slots=True)
class OwnerGap:
    """An agent that does not name all three owners.

    Attributes:
        agent: The agent's name.
        spiffe_id: Its SPIFFE ID, when known.
        description: Its description (from the scenario).
        owners: (role, owner id or None) for business, security and incident.
    """

    agent: str
    spiffe_id: str
    description: str
    owners: tuple[tuple[str, str | None], ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """The roles with no owner."""
        return tuple(role for role, owner in self.owners if not owner)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One out-of-scope attempt (identical repeats folded, see ``count``).

    Attributes:
        agent: The acting agent's name.
        spiffe_id: Its SPIFFE ID.
        chain: The delegation chain, current actor first.
        incident: The incident the step served, if any.
        off_plan: The step was outside the agent's approved plan (None: not known).
        attacker: The step was made by an attacker (e.g. replaying a stolen token).
        task: The task id.
        tool: The tool called.
        resource: The resource touched, if any.
        data_class: Its data class, if any.
        records: Records requested, summed over the folded repeats.
        count: Identical attempts folded into this entry.
        first_time: Simulated time of the first.
        last_time: Simulated time of the last.
        first_seq: Event number (``seq``) of the first.
        effect: The decision's effect.
        reason: The decision's reason.
        rule: The deciding rule, if any.
        token_reason: The token check's verdict, when known.
        outcome: What became of the request (after any approval, when known).
        envelope: The envelope broken.
        accountable: (envelope or role, owner id) pairs.
        stopped: True, False, or None when pending an approval the log does not show.
        stopped_by: The control that stopped it, or what let it through.
        refs: Framework references.
    """

    agent: str
    spiffe_id: str
    chain: tuple[str, ...]
    incident: str | None
    off_plan: bool | None
    attacker: bool
    task: str
    tool: str
    resource: str | None
    data_class: str | None
    records: int
    count: int
    first_time: float
    last_time: float
    first_seq: int
    effect: str
    reason: str
    rule: str | None
    token_reason: str | None
    outcome: str
    envelope: str
    accountable: tuple[tuple[str, str], ...]
    stopped: bool | None
    stopped_by: str
    refs: tuple[str, ...]

    @property
    def on_behalf_of(self) -> tuple[str, ...]:
        """The earlier actors of the chain, most recent first (empty: its own task)."""
        return self.chain[1:]


@dataclass(frozen=True, slots=True)
class IncidentEntry:
    """One incident: what it was, what it reached, what stopped it, who answers for it.

    Attributes:
        id: The incident id.
        kind: Its kind (``prompt_injection`` ...), or ``unknown`` without the scenario.
        victim: The compromised agent.
        description: The scenario's description of it.
        start: When it started (simulated seconds), if known.
        detected_at: When it was detected, if it was and the run result is known.
        contained_at: When it was contained, likewise.
        how: How it was contained (``quarantine``, ``blocked`` ...), if known.
        reached: What it touched: records, egress_records, amount (money moved; None when
            unknown), data_classes, systems, tools.
        attempts: Out-of-scope attempts serving it.
        stopped: How many of them were stopped.
        stopped_by: The distinct controls that stopped them.
        owners: (role, owner id or None) of the victim agent.
        refs: Framework references.
        human_use: A person worked with the victim's credential (``human_use``).
        person: For human use: the person, when a runtime attestation check refused the
            session and so named them; None when the log cannot tell who it was (the gap).
    """

    id: str
    kind: str
    victim: str
    description: str
    start: float | None
    detected_at: float | None
    contained_at: float | None
    how: str | None
    reached: Mapping[str, Any]
    attempts: int
    stopped: int
    stopped_by: tuple[str, ...]
    owners: tuple[tuple[str, str | None], ...]
    refs: tuple[str, ...]
    human_use: bool = False
    person: str | None = None


@dataclass(frozen=True)
class AccountabilityReport:
    """The accountability report of one run, as frozen data with two renderings.

    Attributes:
        scenario: Scenario name, if known.
        profile: Profile id, if known.
        seed: Seed, if known.
        run: Run id (from the log header), if known.
        log: What verifying the log found; None when it was not verified.
        decisions: Decisions read.
        owner_gaps: Agents missing any of their three owners.
        incidents: One entry per incident.
        attempts: Out-of-scope attempts, not stopped first.
        owner_names: Owner id -> display name (from the scenario).
    """

    scenario: str | None
    profile: str | None
    seed: int | None
    run: str | None
    log: LogStatus | None
    decisions: int
    owner_gaps: tuple[OwnerGap, ...]
    incidents: tuple[IncidentEntry, ...]
    attempts: tuple[Attempt, ...]
    owner_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_stopped(self) -> int:
        """Out-of-scope attempts (repeats counted) that were not stopped."""
        return sum(a.count for a in self.attempts if a.stopped is False)

    @property
    def stopped(self) -> int:
        """Out-of-scope attempts (repeats counted) that were stopped."""
        return sum(a.count for a in self.attempts if a.stopped)

    @property
    def pending(self) -> int:
        """Out-of-scope attempts held for an approval whose outcome is unknown."""
        return sum(a.count for a in self.attempts if a.stopped is None)

    @property
    def total_attempts(self) -> int:
        """Out-of-scope attempts, repeats counted."""
        return sum(a.count for a in self.attempts)

    def references(self) -> tuple[str, ...]:
        """Every framework id the report cites, in catalogue order."""
        ids: list[str] = list(fwm.MISSING_OWNERS_REFS.refs) if self.owner_gaps else []
        for a in self.attempts:
            ids.extend(a.refs)
        for i in self.incidents:
            ids.extend(i.refs)
        return fw.sort_refs(ids)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON data (the documented shape in docs/report.md)."""
        return {
            "format": "agentrange-report", "version": FORMAT_VERSION,
            "scenario": self.scenario, "profile": self.profile, "seed": self.seed,
            "run": self.run, "log": None if self.log is None else asdict(self.log),
            "decisions": self.decisions,
            "summary": {"attempts": self.total_attempts, "not_stopped": self.not_stopped,
                        "stopped": self.stopped, "pending": self.pending},
            "owner_gaps": [{"agent": g.agent, "spiffe_id": g.spiffe_id,
                            "description": g.description, "owners": dict(g.owners),
                            "missing": list(g.missing)} for g in self.owner_gaps],
            "incidents": [{**asdict(i), "reached": dict(i.reached),
                           "owners": dict(i.owners)} for i in self.incidents],
            "attempts": [{**asdict(a), "on_behalf_of": list(a.on_behalf_of),
                          "accountable": [list(p) for p in a.accountable]}
                         for a in self.attempts],
            "owner_names": dict(self.owner_names),
            "references": list(self.references()),
        }
