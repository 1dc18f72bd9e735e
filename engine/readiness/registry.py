"""Every readiness check by id, and running them over a subject.

The checks live in their families (:mod:`.checks_identity`, :mod:`.checks_lifecycle`,
:mod:`.checks_policy`, :mod:`.checks_rules`); this module lists them in id order, which is
the order reports and ``--list-checks`` show them in.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.readiness import checks_identity, checks_lifecycle, checks_policy, checks_rules
from engine.readiness.findings import Check, Finding
from engine.readiness.subject import Subject

REGISTRY: dict[str, Check] = {
    c.id: c for c in sorted((*checks_identity.CHECKS, *checks_lifecycle.CHECKS,
                             *checks_policy.CHECKS, *checks_rules.CHECKS),
                            key=lambda c: c.id)}
"""Every check by id, in id order."""


def cited_frameworks() -> frozenset[str]:
    """Every framework id any registered check cites."""
    return frozenset(f for c in REGISTRY.values() for f in c.frameworks)


def run_checks(subject: Subject, only: Iterable[str] | None = None) -> list[Finding]:
    """Run every registered check (or those in ``only``); findings sorted by place.

    Args:
        subject: What to check (see :func:`~engine.readiness.subject.load_subject`).
        only: Check ids to run, in the order given; None runs every check in id order.

    Raises:
        KeyError: for an unknown check id in ``only``.
    """
    ids = list(REGISTRY) if only is None else [REGISTRY[c].id for c in only]
    findings: list[Finding] = []
    for cid in ids:
        findings.extend(REGISTRY[cid].run(subject))
    findings.sort(key=lambda f: (f.file, f.line or 0, f.column or 0, f.check, f.message))
    return findings
