"""The filter's query language against a plain reference filter, and its error messages."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.library import load_scenario
from sim.events import EventKind
from sim.runner import Simulation
from tui.run_index import RunIndex, event_values
from tui.run_query import FIELDS, QueryError, parse_query

WORDS = ("allow", "deny", "require_approval", "support-bot", "triage-bot", "email.send",
         "email.read", "crm.export", "pii", "", "kb-search", "executed", "blocked")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob of ``*`` and ``?`` only, as a regular expression (the reference's own)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.DOTALL)


def reference(text: str, row: dict[str, str]) -> bool:
    """The documented semantics, spelled out plainly: same-field positive terms are
    alternatives, every other term must hold; ``-`` negates; plain words are substrings."""
    alternatives: dict[str, list[str]] = {}
    for token in text.split():
        negate = token.startswith("-") and len(token) > 1
        if negate:
            token = token[1:]
        name, sep, pattern = token.partition(":")
        if sep and name.isalpha():
            value = row[name.lower()].lower()
            hit = glob_regex(pattern.lower()).match(value) is not None
            if negate:
                if hit:
                    return False
            else:
                alternatives.setdefault(name.lower(), []).append(pattern.lower())
        else:
            hit = any(token.lower() in v.lower() for v in row.values())
            if hit == negate:
                return False
    return all(any(glob_regex(p).match(row[f].lower()) for p in ps)
               for f, ps in alternatives.items())


values = st.sampled_from(WORDS)
rows = st.fixed_dictionaries({f: values for f in FIELDS})
glob_chars = st.sampled_from(list("abcdeilnoprstuwy-._*?"))
patterns = st.one_of(values.filter(bool), st.text(glob_chars, min_size=1, max_size=6))
field_terms = st.builds(lambda neg, f, p: f"{'-' if neg else ''}{f}:{p}",
                        st.booleans(), st.sampled_from([f for f in FIELDS if f != "effect"]),
                        patterns)
effect_terms = st.builds(lambda neg, e: f"{'-' if neg else ''}effect:{e}", st.booleans(),
                         st.sampled_from(["allow", "deny", "require_approval", "*y", "re*"]))
plain_terms = st.builds(lambda neg, w: f"{'-' if neg else ''}{w}", st.booleans(),
                        st.text(st.sampled_from(list("abdeilnoprstuy-.")), min_size=1,
                                max_size=5))
queries = st.lists(st.one_of(field_terms, effect_terms, plain_terms), max_size=4).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(queries, st.lists(rows, max_size=12))
def test_query_keeps_exactly_the_rows_the_reference_keeps(text: str,
                                                          table: list[dict[str, str]]) -> None:
    query = parse_query(text)
    keep = query.predicate()
    got = [i for i, row in enumerate(table) if keep(tuple(row[f].lower() for f in FIELDS))]
    assert got == [i for i, row in enumerate(table) if reference(text, row)]


@pytest.fixture(scope="module")
def run_events() -> list:
    scenario = load_scenario("support-pii-injection")
    events: list = []
    sim = Simulation(scenario, "jit-context", seed=scenario.seed, sink=events.append)
    sim.step_until(scenario.duration)
    return events


@settings(max_examples=60, deadline=None)
@given(queries)
def test_the_index_selects_what_the_reference_keeps_over_a_real_run(
        run_events: list, text: str) -> None:
    index = RunIndex()
    index.add_decisions(run_events)
    decisions = [e for e in run_events if e.kind is EventKind.DECISION]
    expected = [e.seq for e in decisions
                if reference(text, dict(zip(FIELDS, event_values(e), strict=True)))]
    assert index.select(parse_query(text)) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("colour:red", "unknown field 'colour' in 'colour:red'; expected one of effect, agent"),
    ("agent:", "'agent:' has no value; expected agent:<pattern>"),
    ("effect:denied", "no effect 'denied' in 'effect:denied'; expected one of allow, deny"),
])
def test_a_bad_query_names_the_term_and_what_was_expected(text: str, expected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_words_whose_colon_follows_no_field_name_stay_plain_words() -> None:
    query = parse_query("02:00 - support")
    assert [(t.field, t.pattern, t.negate) for t in query.terms] == [
        (None, "02:00", False), (None, "-", False), (None, "support", False)]
