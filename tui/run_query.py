"""The decision filter's query language: field queries and plain words, parsed once.

A query is space-separated terms; a decision must satisfy every term. ``field:pattern``
matches one field of the decision against a glob (``*``, ``?``, ``[...]``; case-insensitive;
without wildcards the whole value must match). Several terms on the same field are
alternatives (``effect:deny effect:require_approval``). A plain word matches when any field
contains it. ``-`` before a term negates it (``-agent:triage-bot``). Examples::

    effect:deny agent:support-bot tool:email.*
    deny support-bot
    effect:require_approval -incident:*

The fields are those of :data:`FIELDS`; a bad query (an unknown field, an empty pattern, an
effect that does not exist) raises :class:`QueryError` with one line saying what was
expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import NamedTuple

from engine.errors import AgentrangeError

FIELDS: tuple[str, ...] = ("effect", "agent", "tool", "resource", "rule", "reason",
                           "outcome", "data", "chain", "incident")
"""What a field query can name, in the order of a row's values (see :class:`Query`)."""

FIELD_HELP = {
    "effect": "allow, deny or require_approval",
    "agent": "the requesting agent",
    "tool": "the tool called, e.g. email.*",
    "resource": "the resource touched",
    "rule": "the deciding rule's id",
    "reason": "why: allowed, explicit_deny, no_matching_allow, approval_required, ...",
    "outcome": "executed, blocked, awaiting_approval, expired or revoked",
    "data": "the data class touched",
    "chain": "the delegation chain, origin first, e.g. triage-bot>support-bot",
    "incident": "the incident id (incident:* for any incident)",
}
"""One line on each field, for the filter's help and its error messages."""

EFFECTS = ("allow", "deny", "require_approval")

_FIELD_LIKE = re.compile(r"^[A-Za-z_]+$")
_WILDCARD = re.compile(r"[*?\[]")


class QueryError(AgentrangeError):
    """A filter query that cannot be understood."""


class Term(NamedTuple):
    """One term of a query: a field glob, or a plain word (field None), maybe negated."""

    field: str | None
    pattern: str
    """Lower-case; a glob for a field term, a substring for a plain word."""
    negate: bool = False

    def accepts(self, value: str) -> bool:
        """Whether one value (lower-case) satisfies the term, before negation."""
        if self.field is None:
            return self.pattern in value
        return fnmatchcase(value, self.pattern)


class Query(NamedTuple):
    """A parsed query. Rows are sequences of lower-case strings in :data:`FIELDS` order."""

    text: str
    terms: tuple[Term, ...]

    @property
    def empty(self) -> bool:
        """True when the query keeps every decision."""
        return not self.terms

    def groups(self) -> list[tuple[Term, ...]]:
        """The terms as AND-ed groups: same-field positive terms form one OR group."""
        by_field: dict[str, list[Term]] = {}
        groups: list[tuple[Term, ...]] = []
        for term in self.terms:
            if term.field is not None and not term.negate:
                by_field.setdefault(term.field, []).append(term)
            else:
                groups.append((term,))
        return [tuple(ts) for ts in by_field.values()] + groups

    def predicate(self) -> Callable[[Sequence[str]], bool]:
        """A function telling whether a row satisfies the query."""
        checks: list[Callable[[Sequence[str]], bool]] = []
        for group in self.groups():
            checks.append(_group_check(group))

        def check(row: Sequence[str]) -> bool:
            return all(c(row) for c in checks)

        return check

    def matches(self, row: Sequence[str]) -> bool:
        """Whether one row satisfies the query (for many rows use :meth:`predicate`)."""
        return self.predicate()(row)


def _term_check(term: Term) -> Callable[[Sequence[str]], bool]:
    col = None if term.field is None else FIELDS.index(term.field)

    def found(row: Sequence[str]) -> bool:
        if col is None:
            return any(term.pattern in v for v in row)
        return term.accepts(row[col])

    if term.negate:
        return lambda row: not found(row)
    return found


def _group_check(group: tuple[Term, ...]) -> Callable[[Sequence[str]], bool]:
    checks = [_term_check(t) for t in group]
    if len(checks) == 1:
        return checks[0]
    return lambda row: any(c(row) for c in checks)


def parse_query(text: str) -> Query:
    """Parse a filter query.

    Raises:
        QueryError: naming the bad term and what was expected.
    """
    terms: list[Term] = []
    for raw in text.split():
        token = raw
        negate = token.startswith("-") and len(token) > 1
        if negate:
            token = token[1:]
        name, sep, pattern = token.partition(":")
        if not sep or not _FIELD_LIKE.match(name):
            terms.append(Term(None, token.lower(), negate))
            continue
        field = name.lower()
        if field not in FIELDS:
            raise QueryError(
                f"filter: unknown field {name!r} in {raw!r}; expected one of "
                f"{', '.join(FIELDS)} (e.g. effect:deny agent:support-bot tool:email.*)")
        if not pattern:
            raise QueryError(f"filter: {raw!r} has no value; expected {field}:<pattern>, "
                             f"{field} being {FIELD_HELP[field]}")
        pattern = pattern.lower()
        if field == "effect" and not _WILDCARD.search(pattern) and pattern not in EFFECTS:
            raise QueryError(f"filter: no effect {pattern!r} in {raw!r}; expected one of "
                             f"{', '.join(EFFECTS)}")
        terms.append(Term(field, pattern, negate))
    return Query(text, tuple(terms))
