"""The verifier's fast paths: a cached token is accepted in one expression, refused as before.

``TokenVerifier.verify`` and ``verify_attributes`` (the simulator's one call per request)
accept a token they verified before without re-running the checks one by one, as long as the
revocation list and trust store did not change since it last passed them. Every check must
still refuse it on the next request once it fails: time, audience, revocation of any kind,
trust, holder, scope and size, with the reason and detail the full checks give.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.identity.broker import CredentialBroker
from engine.identity.scope import Scope
from engine.identity.tokens import IssuedToken, TokenReason, Verification
from engine.identity.verifier import TokenVerifier

T0 = 1767225600.0
TD = "acme.example"
AUD = "spiffe://acme.example/gateway"
BOT = "spiffe://acme.example/agent/support-bot"
PLANNER = "spiffe://acme.example/agent/planner"
HOLDER = "h" * 43
CRM = Scope.of(["crm.read", "kb.search"], ["customer_pii"])


@pytest.fixture
def broker() -> CredentialBroker:
    return CredentialBroker(TD, seed=3, audience=AUD)


@pytest.fixture
def issued(broker: CredentialBroker) -> IssuedToken:
    return broker.mint(BOT, now=T0, ttl=600, scope=CRM, actors=(PLANNER,), mode="static",
                       holder_thumbprint=HOLDER)


def _both(v: TokenVerifier, token: str, now: float = T0 + 1, tool: str | None = "crm.read",
          data: str | None = "customer_pii", holder: str | None = HOLDER) -> Verification:
    """verify and verify_attributes agree; the outcome (its attributes checked too)."""
    result = v.verify(token, now=now, tool=tool, data_class=data, presenter_thumbprint=holder)
    fused, attrs = v.verify_attributes(token, now, tool, data, holder)
    assert fused == result
    assert attrs == result.attributes(now) and attrs["reason"] == result.reason.value
    return result


Change = Callable[[CredentialBroker, TokenVerifier, IssuedToken], dict[str, object]]

CHANGES: dict[str, tuple[Change, TokenReason]] = {
    "expired": (lambda b, v, t: {"now": T0 + 600}, TokenReason.EXPIRED),
    "not yet valid": (lambda b, v, t: {"now": T0 - 1}, TokenReason.NOT_YET_VALID),
    "other audience": (lambda b, v, t: setattr(v, "audience", "spiffe://x/other") or {},
                       TokenReason.WRONG_AUDIENCE),
    "token revoked": (lambda b, v, t: b.revoke(t.jti, now=T0) and {}, TokenReason.REVOKED),
    "subject revoked": (lambda b, v, t: b.revocations.revoke_subject(BOT, now=T0) or {},
                        TokenReason.SUBJECT_REVOKED),
    "actor revoked": (lambda b, v, t: b.revocations.revoke_subject(PLANNER, now=T0) or {},
                      TokenReason.SUBJECT_REVOKED),
    "key revoked": (lambda b, v, t: b.revocations.revoke_key(TD, t.kid, now=T0) or {},
                    TokenReason.KEY_REVOKED),
    "domain distrusted": (lambda b, v, t: b.revocations.distrust(TD, now=T0) or {},
                          TokenReason.TRUST_DOMAIN_DISTRUSTED),
    "domain untrusted": (lambda b, v, t: b.trust.remove(TD) or {},
                         TokenReason.FOREIGN_TRUST_DOMAIN),
    "key withdrawn": (lambda b, v, t: b.bundle.remove_key(t.kid) or {}, TokenReason.UNKNOWN_KID),
    "other holder": (lambda b, v, t: {"holder": "o" * 43}, TokenReason.HOLDER_MISMATCH),
    "no holder key": (lambda b, v, t: {"holder": None}, TokenReason.HOLDER_MISMATCH),
    "tool out of scope": (lambda b, v, t: {"tool": "email.send"}, TokenReason.OUT_OF_SCOPE),
    "data out of scope": (lambda b, v, t: {"data": "secrets"}, TokenReason.OUT_OF_SCOPE),
    "size limit lowered": (lambda b, v, t: setattr(v, "max_token_bytes", 10) or {},
                           TokenReason.OVERSIZED),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_cached_token_is_refused_on_the_next_request_once_a_check_fails(
        broker: CredentialBroker, issued: IssuedToken, name: str) -> None:
    change, reason = CHANGES[name]
    v = broker.verifier()
    assert _both(v, issued.token).ok and _both(v, issued.token).ok  # cached, then fast path
    request = change(broker, v, issued)
    for _ in range(2):  # and on every request after
        refused = _both(v, issued.token, **request)  # type: ignore[arg-type]
        assert not refused.ok and refused.reason is reason
        if reason is not TokenReason.OVERSIZED:  # refused before parsing: names nothing
            assert refused.jti == issued.jti  # named from the cached facts, as before


def test_revoking_another_token_leaves_a_cached_token_accepted(
        broker: CredentialBroker, issued: IssuedToken) -> None:
    other = broker.mint(BOT, now=T0, ttl=600, scope=CRM, holder_thumbprint=HOLDER)
    v = broker.verifier()
    assert _both(v, issued.token).ok and _both(v, other.token).ok
    broker.revoke(other.jti, now=T0 + 1)
    assert _both(v, issued.token).ok and _both(v, issued.token).ok
    assert _both(v, other.token).reason is TokenReason.REVOKED


def test_wildcard_scopes_and_unbound_tokens_take_the_fast_path_too(
        broker: CredentialBroker) -> None:
    token = broker.mint(BOT, now=T0, ttl=600, scope=Scope.everything(), mode="static").token
    v = broker.verifier()
    for _ in range(2):
        assert _both(v, token, tool="anything", data="at_all", holder=None).ok
        assert _both(v, token, tool=None, data=None, holder="any key").ok


def test_setting_the_audience_or_size_limit_checks_the_value(broker: CredentialBroker) -> None:
    v = broker.verifier()
    with pytest.raises(Exception, match="audience"):
        v.audience = ""
    with pytest.raises(Exception, match="max_token_bytes"):
        v.max_token_bytes = 0
    v.audience = "spiffe://x/other"
    assert v.audience == "spiffe://x/other"


def test_attributes_keep_their_order() -> None:
    broker = CredentialBroker(TD, seed=3, audience=AUD)
    token = broker.mint(BOT, now=T0, ttl=600, scope=CRM).token
    verification, attrs = broker.verifier().verify_attributes(token, T0 + 5, None, None, None)
    assert list(attrs) == ["valid", "reason", "jti", "mode", "task_id", "scope",
                           "sender_constrained", "chain_depth", "issuer", "trust_domain",
                           "ttl_remaining", "age"]
    assert (attrs["ttl_remaining"], attrs["age"]) == (595.0, 5.0)
    assert list(verification.attributes(T0 + 5)) == list(attrs)


_STEP = st.one_of(
    st.tuples(st.just("request"), st.integers(-5, 700), st.sampled_from(["crm.read", "x", None]),
              st.sampled_from(["customer_pii", "secrets", None]),
              st.sampled_from([HOLDER, "o" * 43, None]), st.integers(0, 1)),
    st.tuples(st.just("revoke"), st.integers(0, 2)),
    st.tuples(st.just("quarantine"), st.sampled_from([BOT, PLANNER])),
    st.tuples(st.just("distrust_other")),
    st.tuples(st.just("untrust")),
    st.tuples(st.just("withdraw_key")),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_STEP, min_size=1, max_size=12))
def test_cached_answers_are_a_fresh_verifiers_answers(steps: list[tuple[object, ...]]) -> None:
    # Fail closed: whatever happened in between, a verifier that cached a token accepts it
    # exactly when a new verifier over the same trust and revocations would.
    broker = CredentialBroker(TD, seed=5, audience=AUD)
    tokens = [broker.mint(BOT, now=T0, ttl=600, scope=CRM, actors=(PLANNER,),
                          holder_thumbprint=HOLDER).token,
              broker.mint(BOT, now=T0, ttl=600, scope=CRM).token]
    issued = [broker.verifier().verify(t, now=T0 + 1) for t in tokens]
    cached = broker.verifier()
    for token in tokens:
        _both(cached, token, tool=None, data=None, holder=HOLDER)
    for step in steps:
        kind = step[0]
        if kind == "request":
            _, dt, tool, data, holder, which = step
            args = dict(now=T0 + dt, tool=tool, data=data, holder=holder)
            got = _both(cached, tokens[which], **args)  # type: ignore[arg-type]
            fresh = _both(broker.verifier(), tokens[which], **args)  # type: ignore[arg-type]
            assert got.ok == fresh.ok, (got, fresh)
            if got.ok:
                assert got == fresh
        elif kind == "revoke":
            if step[1] < 2:
                broker.revoke(issued[step[1]].jti or "", now=T0)
            else:
                broker.revocations.revoke_token(TD, "someone-else", now=T0)
        elif kind == "quarantine":
            broker.revocations.revoke_subject(str(step[1]), now=T0)
        elif kind == "distrust_other":
            broker.revocations.distrust("vendor.example", now=T0)
        elif kind == "untrust":
            broker.trust.remove(TD)
        elif kind == "withdraw_key":
            broker.bundle.remove_key(broker.kid)


def test_a_token_for_another_audience_never_takes_the_fast_path(
        broker: CredentialBroker, issued: IssuedToken) -> None:
    # It is refused by the full checks on every request (which also never mark it checked);
    # its cache entry says so on its own as well.
    v = broker.verifier(audience="spiffe://acme.example/billing-api")
    for _ in range(3):
        assert _both(v, issued.token).reason is TokenReason.WRONG_AUDIENCE
    entry = v._cache[issued.token]
    assert entry.use_until == float("-inf") and entry.rgen == -1
    mine = broker.verifier()
    _both(mine, issued.token)
    assert mine._cache[issued.token].use_until == mine._cache[issued.token].exp_limit
