"""Framework catalogue: complete against the shared reference, short forms, mappings resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import framework_mappings as fwm
from engine import frameworks as fw
from engine.errors import AgentrangeError
from engine.loader import read_document, validate_document
from engine.policy import PolicyDocument
from scenarios import library
from scenarios.library import load_scenario

FRAMEWORKS_DOC = Path("/work/shared/frameworks.md")
# Sections 1-5 hold framework identifiers; section 6 (SPIFFE, JWT, RFCs) holds claim tables.
_FIRST_CELL = re.compile(r"^\|\s*([^|]+?)\s*\|")


def doc_ids() -> list[str]:
    """First-column identifiers of every table in sections 1-5 of frameworks.md."""
    if not FRAMEWORKS_DOC.exists():
        pytest.skip("shared frameworks.md not present")
    text = FRAMEWORKS_DOC.read_text(encoding="utf-8")
    body = text.split("\n## 6.", 1)[0]
    ids = []
    for line in body.splitlines():
        m = _FIRST_CELL.match(line)
        if m is None:
            continue
        cell = m[1]
        if cell in ("ID", "Layer", "Function") or set(cell) <= set("-: "):
            continue
        ids.append(cell)
    return ids


def test_the_reference_tables_yield_every_framework() -> None:
    ids = doc_ids()
    # 10 ASI + 15 T + 10 NHI + 8 MAESTRO + 4 functions + 33 NIST rows + 10 LLM
    assert len(ids) == 90
    assert {"ASI01", "T15", "NHI10:2025", "Cross-layer", "GOVERN 2 (category)",
            "MANAGE 4.3", "LLM10:2025"} <= set(ids)


def test_every_identifier_in_the_reference_is_in_the_catalogue() -> None:
    missing = [i for i in doc_ids() if not fw.is_known(i)]
    assert missing == []


def test_the_catalogue_holds_nothing_the_reference_does_not() -> None:
    assert {fw.normalise(i) for i in doc_ids()} == set(fw.CATALOGUE)


def test_every_entry_names_its_framework_and_says_what_it_means() -> None:
    for key, item in fw.CATALOGUE.items():
        assert item.id == key
        assert item.framework in fw.FRAMEWORKS
        assert item.name and item.meaning.endswith(".")


@pytest.mark.parametrize(
    ("short", "canonical"),
    [
        ("NHI7", "NHI7:2025"),
        ("nhi-07", "NHI7:2025"),
        ("NHI10:2025", "NHI10:2025"),
        ("LLM06", "LLM06:2025"),
        ("LLM6", "LLM06:2025"),
        ("ASI-01", "ASI01"),
        ("asi1", "ASI01"),
        ("ASI10", "ASI10"),
        ("T01", "T1"),
        ("t14", "T14"),
        ("l6", "L6"),
        ("Cross-layer", "cross-layer"),
        ("cross layer", "cross-layer"),
        ("GOVERN-2.1", "GOVERN 2.1"),
        ("GV-2.1", "GOVERN 2.1"),
        ("govern  2.1", "GOVERN 2.1"),
        ("MG 2.4", "MANAGE 2.4"),
        ("GOVERN 2 (category)", "GOVERN 2"),
        ("measure", "MEASURE"),
    ],
)
def test_short_forms_normalise_to_the_canonical_id(short: str, canonical: str) -> None:
    assert fw.normalise(short) == canonical
    assert fw.ref(short).id == canonical


def test_an_unknown_id_is_refused_with_a_suggestion() -> None:
    with pytest.raises(fw.UnknownFrameworkError) as info:
        fw.ref("ASI11")
    assert isinstance(info.value, AgentrangeError)
    assert "ASI10" in info.value.suggestions
    assert "did you mean" in str(info.value)


def test_an_unknown_id_with_nothing_close_says_so_plainly() -> None:
    with pytest.raises(fw.UnknownFrameworkError, match=r"unknown framework reference 'zzz'$"):
        fw.ref("zzz")


def test_sort_refs_orders_by_framework_dedups_and_keeps_unknowns_last() -> None:
    assert fw.sort_refs(["GOVERN 2.1", "L6", "asi-03", "NHI5", "ASI03", "X9"]) == (
        "ASI03", "NHI5:2025", "L6", "GOVERN 2.1", "X9")


def _mappings() -> list[tuple[str, fwm.RefMapping]]:
    out: list[tuple[str, fwm.RefMapping]] = []
    for name in ("INCIDENT_KIND_REFS", "ENVELOPE_REFS", "DECISION_REASON_REFS",
                 "TOKEN_REASON_REFS"):
        out.extend((f"{name}[{k}]", m) for k, m in getattr(fwm, name).items())
    out.append(("MISSING_OWNERS_REFS", fwm.MISSING_OWNERS_REFS))
    out.append(("NOT_STOPPED_REFS", fwm.NOT_STOPPED_REFS))
    return out


def test_every_default_mapping_cites_canonical_ids_and_says_why() -> None:
    for where, mapping in _mappings():
        assert mapping.refs, where
        assert mapping.why.strip(), where
        for ident in mapping.refs:
            assert ident in fw.CATALOGUE, (where, ident)


def test_every_incident_kind_envelope_and_failure_reason_has_a_mapping() -> None:
    from typing import get_args

    from engine.identity.tokens import TokenReason
    from engine.model import IncidentKind
    from engine.policy.decision import Envelope

    assert set(fwm.INCIDENT_KIND_REFS) == set(get_args(IncidentKind))
    assert set(fwm.ENVELOPE_REFS) == {str(e) for e in Envelope}
    assert set(fwm.TOKEN_REASON_REFS) == {str(r) for r in TokenReason} - {"ok"}


def test_every_builtin_scenario_incident_and_rule_cites_known_ids() -> None:
    unknown: list[str] = []
    total = 0
    for name in library.names():
        scenario = load_scenario(name)
        cited = [("scenario", i) for i in scenario.frameworks]
        cited += [(f"incident {inc.id}", i) for inc in scenario.incidents for i in inc.frameworks]
        assert scenario.base is not None
        for policy in sorted({p.policy for p in scenario.profiles}):
            document = validate_document(
                read_document(scenario.base / policy, policy), PolicyDocument)
            for rule in (*document.rules, *document.sequences):
                cited += [(f"{policy} rule {rule.id}", i) for i in rule.frameworks]
        unknown += [f"{name}: {where}: {i}" for where, i in cited if not fw.is_known(i)]
        total += len(cited)
    assert unknown == []
    assert total > 50  # the built-ins do cite frameworks; an empty walk would prove nothing
