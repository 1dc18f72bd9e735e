"""What the readiness gate reports: findings, severities, and the checks that make them.

A :class:`Finding` is plain, frozen data (where, what, how to fix it, which frameworks it
concerns); rendering it as a table, JSON or SARIF is the face's job (``tui/render/``). A
:class:`Check` is one documented check function with its id, name, default severity and
framework references; :func:`as_check` makes one from a function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import location
from engine.model import Profile

# The severities live in a leaf module the command line reads without loading the model;
# they are re-exported here, beside the findings that carry them.
from engine.readiness.severities import SEVERITIES as SEVERITIES
from engine.readiness.severities import SEVERITY_RANK
from engine.readiness.subject import Subject, Where


@dataclass(frozen=True)
class Finding:
    """One problem the gate found.

    Attributes:
        check: Check id such as ``AR001``.
        name: Check name such as ``agent-owners``.
        severity: ``info``, ``low``, ``medium``, ``high`` or ``critical``.
        file: The file it is in (as the loader names it).
        line: 1-based line, or None when unknown.
        column: 1-based column, or None when unknown.
        message: What is wrong, naming the agent, profile or rule.
        remediation: How to fix it.
        frameworks: Framework ids (``NHI7:2025``, ``ASI03``, ``GOVERN 2.1``, ``L6``).
        profiles: The profiles it concerns; empty for scenario-wide findings.
        production: Whether any of those profiles is marked ``production: true``.
    """

    check: str
    name: str
    severity: str
    file: str
    line: int | None
    column: int | None
    message: str
    remediation: str
    frameworks: tuple[str, ...]
    profiles: tuple[str, ...] = ()
    production: bool = False

    @property
    def gating(self) -> bool:
        """Whether ``--fail-on`` considers it by default: scenario-wide or production."""
        return not self.profiles or self.production

    @property
    def where(self) -> str:
        """``file:line:column`` as far as known."""
        return location(self.file, self.line, self.column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"check": self.check, "name": self.name, "severity": self.severity,
                "file": self.file, "line": self.line, "column": self.column,
                "message": self.message, "remediation": self.remediation,
                "frameworks": list(self.frameworks), "profiles": list(self.profiles),
                "production": self.production}


def fails(findings: Iterable[Finding], threshold: str, *, all_profiles: bool = False) -> bool:
    """Whether any finding at or above ``threshold`` should fail the gate.

    Findings about profiles not marked ``production: true`` count only with ``all_profiles``.
    """
    rank = SEVERITY_RANK[threshold]
    return any(SEVERITY_RANK[f.severity] >= rank and (all_profiles or f.gating)
               for f in findings)


CheckFn = Callable[[Subject, "Check"], Iterator[Finding]]
"""A check's function: the subject and the check itself in, its findings out."""


@dataclass(frozen=True)
class Check:
    """A check: id, name, default severity, summary, help and framework refs."""

    id: str
    name: str
    severity: str
    summary: str
    frameworks: tuple[str, ...]
    func: CheckFn

    @property
    def help(self) -> str:
        """The check function's docstring: what it looks for and why."""
        doc = self.func.__doc__ or ""
        body = doc.split("\n\n", 1)[1] if "\n\n" in doc else self.summary
        return " ".join(body.split())

    def run(self, subject: Subject) -> Iterator[Finding]:
        """This check's findings on ``subject``, in the order the function makes them."""
        return self.func(subject, self)

    def finding(self, where: Where, message: str, remediation: str, *,
                severity: str | None = None, profiles: Sequence[Profile] = ()) -> Finding:
        """A finding of this check at ``where``."""
        return Finding(self.id, self.name, severity or self.severity, where[0], where[1],
                       where[2], message, remediation, self.frameworks,
                       tuple(p.id for p in profiles), any(p.production for p in profiles))


def as_check(check_id: str, name: str, severity: str, summary: str,
             frameworks: Sequence[str]) -> Callable[[CheckFn], Check]:
    """Decorator: make a check function into a :class:`Check`.

    The function's docstring, after its first paragraph, is the check's help.

    Args:
        check_id: Check id such as ``AR001``.
        name: Check name such as ``agent-owners``.
        severity: Default severity of its findings.
        summary: One line saying what holds when the check passes.
        frameworks: Framework ids its findings cite.
    """
    def make(func: CheckFn) -> Check:
        return Check(check_id, name, severity, summary, tuple(frameworks), func)
    return make
