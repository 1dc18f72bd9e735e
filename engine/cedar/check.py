"""Check a hand-written Cedar policy set against a scenario: what agentrange cannot supply.

Each policy is parsed and validated (strictly, by Cedar's own validator) on its own against
the scenario's schema (:func:`engine.cedar.schema.schema_json`), so every problem is reported
with the file and line of the policy, or of the attribute Cedar names: attributes, entity
types and actions no agentrange request carries, optional attributes read without a ``has``
test, templates, annotations agentrange cannot read, unknown framework references, duplicate
ids. Notes say what was assumed for a missing annotation (no ``@envelope``: security).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from engine.cedar.errors import CedarError
from engine.cedar.policyset import (
    EVERYTHING,
    CedarPolicy,
    Chunk,
    cedar_files,
    context_reads,
    mask,
    parse_chunk,
    read_text,
    split,
)
from engine.cedar.runtime import cedarpy
from engine.cedar.schema import Model, schema_json
from engine.frameworks import unknown_id_problem

_NAMED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Problem:
    """One finding of the check, at a file and line."""

    file: str
    line: int
    message: str
    severity: Literal["error", "note"] = "error"

    def render(self) -> str:
        """``file:line: severity: message``."""
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


@dataclass
class CheckReport:
    """What the check found: the policies read, and the problems with where they are."""

    policies: list[CedarPolicy] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that stop the policy set from being rehearsed."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when agentrange can supply everything the policies read."""
        return not self.errors


def check_policies(path: Path | Traversable, model: Model, *, source: str | None = None,
                   legal_owner: str | None = None) -> CheckReport:
    """Check every policy of a Cedar file or directory against a scenario's data model.

    Args:
        path: A ``.cedar`` file or a directory of them.
        model: The scenario's Cedar data model (with the counters of the profile's policy).
        source: How messages name ``path`` (default: the path).
        legal_owner: The legal owner of the profile's policy (a legal-envelope policy needs
            one).

    Raises:
        CedarError: when the path cannot be read at all.
    """
    base = source or str(path)
    schema = schema_json(model)
    report = CheckReport()
    for f in cedar_files(path):
        name = base if f is path else f"{base.rstrip('/')}/{f.name}"
        for chunk in split(read_text(f, name)):
            _check_chunk(chunk, name, schema, supplied(model), report, legal_owner)
    seen: dict[str, CedarPolicy] = {}
    for p in report.policies:
        if p.id in seen:
            report.problems.append(Problem(p.file, p.line, f"@id {p.id!r} is also the id of "
                                           f"the policy at {seen[p.id].where}"))
        seen.setdefault(p.id, p)
    report.problems.sort(key=lambda p: (p.file, p.line))
    return report


def _check_chunk(chunk: Chunk, file: str, schema: dict[str, Any],
                 known: frozenset[tuple[str, str]], report: CheckReport,
                 legal_owner: str | None) -> None:
    try:
        policy = parse_chunk(chunk, file)
    except CedarError as exc:
        message = str(exc)
        prefix = f"{file}:{chunk.line}: "
        report.problems.append(Problem(file, chunk.line, message.removeprefix(prefix)))
        return
    report.policies.append(policy)
    report.problems += [Problem(file, chunk.line, n, "note") for n in policy.notes]
    for ref in policy.frameworks:
        problem = unknown_id_problem(ref)
        if problem is not None:
            report.problems.append(Problem(file, chunk.line, f"@frameworks: {problem[0]} "
                                                             f"(found {problem[1]})"))
    if policy.envelope == "legal" and legal_owner is None:
        report.problems.append(Problem(file, chunk.line, "a legal-envelope policy needs a "
                                       "legal owner: the policy file it runs beside (import "
                                       "cedar --profile P) must name legal_owner"))
    for name, attr in sorted(context_reads([policy])):
        if name != EVERYTHING and attr != EVERYTHING and (name, attr) not in known:
            what = f"context.{name}.{attr}"
            hint = (" (the counters come from the policy file it runs beside: import cedar "
                    "--profile P)" if name == "counter" else "")
            report.problems.append(Problem(file, _line_of(chunk, f"`{attr}`"),
                                           f"{what}: agentrange supplies no such attribute"
                                           f"{hint}"))
    result = cedarpy().validate_policies(chunk.text, schema)
    for error in result.errors:
        text = " ".join(str(error.error).split())
        text = re.sub(r"^for policy `policy\d+`, ", "", text)
        report.problems.append(Problem(file, _line_of(chunk, text), text))


def supplied(model: Model) -> frozenset[tuple[str, str]]:
    """The (context field, attribute) pairs agentrange puts in a Cedar request."""
    out = {("tool", EVERYTHING)}
    for slot in model.slots():
        where = slot.holder.split(".")
        if where[0] == "context" and len(where) > 1:
            out.add((where[1], where[2] if len(where) > 2 else slot.attr))
    return frozenset(out)


def _line_of(chunk: Chunk, message: str) -> int:
    """The line of the first name the message quotes that the policy text contains.

    Without one, the line of the policy's first condition (where type errors are), else of
    its effect.
    """
    masked = mask(chunk.text)
    for name in _NAMED.findall(message):
        if re.fullmatch(r"policy\d+", name):
            continue
        for needle in _needles(name):
            at = chunk.text.find(needle)
            if at >= 0 and (needle.startswith('"') or masked[at:at + len(needle)] == needle):
                return chunk.line + chunk.text.count("\n", 0, at)
    found = re.search(r"\b(when|unless)\b", masked) or re.search(r"\b(permit|forbid)\b", masked)
    return chunk.line + (chunk.text.count("\n", 0, found.start()) if found else 0)


def _needles(name: str) -> Iterable[str]:
    last = name.split(".")[-1]
    yield f".{last}"
    yield f'"{last}"'
    yield f"has {last}"
    yield name
