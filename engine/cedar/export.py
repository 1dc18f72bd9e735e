"""A policy document becomes Cedar policies, a schema and entities -- or is refused.

One Cedar policy per rule: ``allow`` is a ``permit``; ``deny`` and ``require_approval`` are
``forbid`` policies told apart by ``@effect`` (the approval decision is recovered from the
annotations of the determining policies). Shadow rules go to ``shadow.cedar``. What Cedar
does not hold -- counters, sequence rules, delegation limits, token verification -- agentrange
keeps computing: counters reach Cedar as ``context.counter``, and sequences and delegation
act on Cedar's decision as they act on the native one (:mod:`engine.cedar.engine`). A
construct Cedar cannot express with the same meaning is refused, naming the rule; nothing is
approximated. Every exported policy set is validated strictly against the exported schema.
See ``docs/cedar.md`` for the mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.cedar.conditions import Refusal, Scope, join, operand, render_when
from engine.cedar.entities import entities_json
from engine.cedar.errors import CedarError, ExportRefusedError
from engine.cedar.policyset import CedarPolicy, mask, parse_text
from engine.cedar.runtime import cedarpy
from engine.cedar.schema import Model, model_of, quote, schema_json
from engine.model import Scenario
from engine.policy.model import PolicyDocument, Rule

POLICIES, SHADOW = "policies.cedar", "shadow.cedar"
SCHEMA, ENTITIES = "schema.cedarschema.json", "entities.json"
FILES = (POLICIES, SHADOW, SCHEMA, ENTITIES)
WIDTH = 100
"""Lines of exported policies are kept to this width where a break is possible."""


@dataclass(frozen=True)
class CedarExport:
    """A policy exported to Cedar: the two policy files, the schema and the entities.

    Attributes:
        name: The policy id.
        texts: File name -> Cedar text (``policies.cedar``, ``shadow.cedar``).
        policies: Every exported policy as read back from those texts, rules' order.
        schema: The Cedar JSON schema.
        entities: The scenario's entities (Cedar JSON).
        model: The data model both were built from.
    """

    name: str
    texts: dict[str, str]
    policies: list[CedarPolicy]
    schema: dict[str, Any]
    entities: list[dict[str, Any]]
    model: Model

    def write(self, directory: str | Path) -> list[Path]:
        """Write the four files into ``directory`` (created when missing); returns them.

        Raises:
            CedarError: when the directory cannot be created or a file cannot be written.
        """
        out = Path(directory)
        written = []
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, text in self.texts.items():
                (out / name).write_text(text, encoding="utf-8")
                written.append(out / name)
            for name, data in ((SCHEMA, self.schema), (ENTITIES, self.entities)):
                (out / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
                written.append(out / name)
        except OSError as exc:
            raise CedarError(f"{out}: cannot write the export: {exc.strerror or exc}") \
                from None
        return written


def export_document(document: PolicyDocument, scenario: Scenario, *,
                    source: str = "<memory>") -> CedarExport:
    """Export a validated policy document for a scenario to Cedar.

    Args:
        document: The policy (as :func:`engine.loader.validate_document` returns it; compile
            it first so that its paths, targets and operand types are known to be right).
        scenario: The scenario it governs.
        source: How messages name the policy file.

    Raises:
        ExportRefusedError: naming every rule Cedar cannot express with the same meaning.
        CedarMissingError: when cedarpy is not installed.
        CedarError: when the exported policies do not validate (a bug in the exporter).
    """
    model = model_of(scenario, [(c.id, c.measure) for c in document.counters])
    problems: list[tuple[str | None, str]] = []
    verbs = set(model.verbs())
    for tool in scenario.tools:
        if tool.id in verbs:
            problems.append((None, f"tool {tool.id!r} has the name of an action verb; Cedar's "
                                   "actions and action groups share one namespace"))
    texts: dict[str, list[str]] = {POLICIES: [], SHADOW: []}
    for rule in document.rules:
        try:
            text = policy_text(model, rule, document.legal_owner)
        except Refusal as exc:
            problems.append((rule.id, str(exc)))
            continue
        texts[SHADOW if rule.mode == "shadow" else POLICIES].append(text)
    if problems:
        raise ExportRefusedError(source, problems)
    schema = schema_json(model)
    files: dict[str, str] = {}
    policies: list[CedarPolicy] = []
    cp = cedarpy()
    for name, items in texts.items():
        body = "\n\n".join(items)
        text = header(document, scenario, source, name) + body
        report = cp.validate_policies(text, schema) if body else None
        if report is not None and not report.validation_passed:
            raise CedarError(f"{source}: the exported {name} does not validate against the "
                             f"exported schema: {'; '.join(str(e) for e in report.errors)}")
        files[name] = text if text.endswith("\n") else text + "\n"
        policies += parse_text(files[name], name)
    order = {r.id: i for i, r in enumerate(document.rules)}
    policies.sort(key=lambda p: order[p.id])
    return CedarExport(document.policy, files, policies, schema, entities_json(model), model)


def policy_text(model: Model, rule: Rule, legal_owner: str | None) -> str:
    """One rule as a Cedar policy with its annotations (raises :class:`Refusal`)."""
    scope = Scope(model, rule.target)
    conditions = list(scope.conditions)
    when = render_when(model, rule.when)
    if when is not None:
        conditions.append(when)
    if "false" in conditions:
        conditions = ["false"]
    owner = legal_owner if rule.envelope == "legal" else f"principal.owners.{rule.envelope}"
    ann: list[tuple[str, str]] = [("id", rule.id)]
    if rule.description:
        ann.append(("description", " ".join(rule.description.split())))
    ann += [("envelope", rule.envelope), ("effect", rule.effect), ("mode", rule.mode)]
    if owner is not None:
        ann.append(("owner", owner))
    if rule.frameworks:
        ann.append(("frameworks", ", ".join(rule.frameworks)))
    if rule.obligations:
        ann.append(("obligations", ", ".join(rule.obligations)))
    head = "permit" if rule.effect == "allow" else "forbid"
    lines = [f"@{k}({quote(v)})" for k, v in ann]
    parts = (scope.principal, scope.action, scope.resource)
    one = f"{head} ({', '.join(parts)})"
    lines += [one] if len(one) <= WIDTH else [f"{head} (", *(f"  {p}," for p in parts[:2]),
                                              f"  {parts[2]}", ")"]
    if conditions:
        body = join(" && ", conditions)
        one = f"when {{ {body} }}"
        if len(one) <= WIDTH:
            lines.append(one)
        elif len(conditions) == 1:
            lines += ["when {", *(f"  {part}" for part in _if_lines(body)), "}"]
        else:
            pieces = [operand(" && ", c) for c in conditions]
            lines += ["when {", *(f"  {p} &&" for p in pieces[:-1]), f"  {pieces[-1]}", "}"]
    return "\n".join(lines) + ";"


def _if_lines(text: str) -> list[str]:
    """``if A then B else C`` on three lines (anything else on one)."""
    masked = mask(text)
    if not text.startswith("if "):
        return [text]
    then, other = masked.find(" then "), masked.rfind(" else ")
    if then < 0 or other < then:
        return [text]
    return [text[:then], text[then + 1:other], text[other + 1:]]


def header(document: PolicyDocument, scenario: Scenario, source: str, name: str) -> str:
    """The comment at the top of an exported policy file: what stays outside Cedar."""
    lines = [f"// agentrange policy {document.policy!r} for scenario {scenario.name!r}, "
             f"exported from {source}.",
             f"// Schema: {SCHEMA}; entities: {ENTITIES}. "
             + ("Enforced rules: policies.cedar." if name == SHADOW
                else "Shadow rules (evaluated, never enforced): shadow.cedar."),
             "// require_approval rules are forbid policies annotated "
             "@effect(\"require_approval\"): a request they alone deny waits for approval."]
    if document.counters:
        ids = ", ".join(c.id for c in document.counters)
        lines.append(f"// Counters agentrange keeps and passes as context.counter: {ids}.")
    if document.sequences:
        ids = ", ".join(s.id for s in document.sequences)
        lines.append(f"// Sequence rules agentrange applies after Cedar decides: {ids}.")
    delegation = document.delegation
    if delegation.max_depth is not None or delegation.attenuation:
        lines.append(f"// Delegation (agentrange): max_depth {delegation.max_depth}, "
                     f"attenuation {str(delegation.attenuation).lower()}.")
    lines.append("// A condition on an absent attribute fails closed: it reads "
                 "Absent::\"<path>\", an entity that never exists.")
    return "\n".join(lines) + "\n\n"
