from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.identity.spiffe import SpiffeId, SpiffeIdError, agent_id, trust_domain_of


def test_parse_round_trips() -> None:
    sid = SpiffeId.parse("spiffe://acme.example/agent/support-bot")
    assert sid.trust_domain == "acme.example"
    assert sid.path == "/agent/support-bot"
    assert str(sid) == "spiffe://acme.example/agent/support-bot"


def test_trust_domain_only_id() -> None:
    assert SpiffeId.parse("spiffe://acme.example") == SpiffeId("acme.example")


def test_scheme_and_trust_domain_are_case_insensitive_path_is_not() -> None:
    sid = SpiffeId.parse("SPIFFE://ACME.example/Agent/X")
    assert str(sid) == "spiffe://acme.example/Agent/X"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("https://acme.example/x", "scheme must be 'spiffe://'"),
        ("spiffe://", "trust domain must not be empty"),
        ("spiffe:///x", "trust domain must not be empty"),
        ("spiffe://acme.example:8443/x", "must not carry a port"),
        ("spiffe://bob@acme.example/x", "must not carry userinfo"),
        ("spiffe://acme_ex%41mple/x", "must not be percent-encoded"),
        ("spiffe://acme example/x", "only lowercase letters"),
        ("spiffe://acme.example/x?y=1", "a query is not allowed"),
        ("spiffe://acme.example/x#frag", "a fragment is not allowed"),
        ("spiffe://acme.example/", "must not end with '/'"),
        ("spiffe://acme.example//x", "must not be empty"),
        ("spiffe://acme.example/a/../b", "must not be '.' or '..'"),
        ("spiffe://acme.example/a/./b", "must not be '.' or '..'"),
        ("spiffe://acme.example/a%2Fb", "must not be percent-encoded"),
        ("spiffe://acme.example/a b", "only letters, digits"),
        ("spiffe://\u212aelvin.example/x", "only lowercase letters"),
        ("spiffe://" + "a" * 256 + "/x", "longer than 255 bytes"),
        ("spiffe://acme.example/" + "a" * 2100, "longer than 2048 bytes"),
    ],
)
def test_invalid_ids_name_the_rule(value: str, rule: str) -> None:
    with pytest.raises(SpiffeIdError) as info:
        SpiffeId.parse(value)
    assert rule in info.value.rule


def test_agent_id() -> None:
    assert str(agent_id("acme.example", "coder")) == "spiffe://acme.example/agent/coder"
    with pytest.raises(SpiffeIdError):
        agent_id("acme.example", "bad name")


SEGMENT = st.text(st.sampled_from("abcXYZ019._-"), min_size=1, max_size=8).filter(
    lambda s: s not in (".", ".."))
DOMAIN = st.text(st.sampled_from("abc019.-_"), min_size=1, max_size=20)


@given(DOMAIN, st.lists(SEGMENT, max_size=4))
def test_valid_parts_always_parse_and_round_trip(domain: str, segments: list[str]) -> None:
    sid = SpiffeId.for_workload(domain, *segments)
    assert SpiffeId.parse(str(sid)) == sid


@given(st.text(max_size=40))
def test_parse_raises_only_its_own_error(text: str) -> None:
    try:
        SpiffeId.parse(text)
    except SpiffeIdError:
        pass


@given(DOMAIN, st.lists(SEGMENT, max_size=4))
def test_trust_domain_of_a_canonical_id_is_the_parsed_trust_domain(
        domain: str, segments: list[str]) -> None:
    sid = SpiffeId.for_workload(domain, *segments)
    assert trust_domain_of(str(sid)) == sid.trust_domain
