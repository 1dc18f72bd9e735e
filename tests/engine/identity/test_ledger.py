"""The issuance ledger against an attacker holding the leaked signing key (issue 15, item 8).

The broker's key derives from the run's seed, so whoever learns the seed can sign anything
for the trust domain. Every forgery here is made as that attacker would: decode an issued
token, change what they like, and sign it again with the broker's own key through pyjwt or
cryptography directly. The signature verifies; only the ledger can tell.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.identity.broker import CredentialBroker
from engine.identity.keys import jwk_thumbprint, signing_key, workload_key
from engine.identity.scope import Scope
from engine.identity.tokens import IssuedToken, TokenReason
from engine.identity.trust import TrustBundle, TrustStore
from engine.identity.verifier import TokenVerifier

T0 = 1767225600.0
SEED = 7
TD = "acme.example"
AUD = "spiffe://acme.example/gateway"
OTHER_AUD = "spiffe://acme.example/payments"
BOT = "spiffe://acme.example/agent/support-bot"
PLANNER = "spiffe://acme.example/agent/planner"
CODER = "spiffe://acme.example/agent/coder"
CRM = Scope.of(["crm.read"], ["customer_pii"])
LEAKED = signing_key(SEED, TD, 0)
"""The broker's generation-0 key, derived from the seed exactly as the broker derives it."""
OWNER = jwk_thumbprint(workload_key(SEED, BOT).public_key())
THIEF = jwk_thumbprint(workload_key(SEED, "spiffe://evil.example/attacker").public_key())


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def header_of(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_header(token))


def forge(token: str, **changes: Any) -> str:
    """Re-sign ``token`` with the leaked key through pyjwt; a None value removes the claim."""
    claims = claims_of(token)
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, LEAKED, algorithm="ES256", headers={"kid": header_of(token)["kid"],
                                                                  "typ": "JWT"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_raw(header: str, payload: str) -> str:
    """An ES256 token over exactly these header and payload JSON texts (cryptography)."""
    signing_input = f"{b64(header.encode())}.{b64(payload.encode())}"
    r, s = decode_dss_signature(LEAKED.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@pytest.fixture
def broker() -> CredentialBroker:
    return CredentialBroker(TD, seed=SEED, audience=AUD)


@pytest.fixture
def verifier(broker: CredentialBroker) -> TokenVerifier:
    return broker.verifier()


@pytest.fixture
def issued(broker: CredentialBroker) -> IssuedToken:
    return broker.mint(BOT, now=T0, ttl=600, scope=CRM, task_id="run-1")


def test_the_attacker_holds_the_brokers_real_key(
    broker: CredentialBroker, verifier: TokenVerifier, issued: IssuedToken
) -> None:
    # The premise: re-signing the issued claims unchanged through pyjwt gives a token the
    # verifier accepts (a new ECDSA signature over the same signed bytes).
    again = forge(issued.token)
    assert again != issued.token
    assert again.rsplit(".", 1)[0] == issued.token.rsplit(".", 1)[0]
    assert verifier.verify(again, now=T0 + 1, tool="crm.read", data_class="customer_pii").ok


def test_scope_widened_to_everything_is_refused(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    result = verifier.verify(forge(issued.token, scope="*"), now=T0 + 1, tool="payments.refund")
    assert result.reason is TokenReason.NOT_ISSUED
    assert issued.jti in result.detail and "issued" in result.detail


def test_scope_widened_by_one_tool_is_refused(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    wider = Scope.of(["crm.read", "email.send"], ["customer_pii"]).claim
    result = verifier.verify(forge(issued.token, scope=wider), now=T0 + 1, tool="email.send")
    assert result.reason is TokenReason.NOT_ISSUED


def test_stripping_cnf_with_the_leaked_key_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier
) -> None:
    bound = broker.mint(BOT, now=T0, ttl=600, scope=CRM, holder_thumbprint=OWNER)
    unbound = forge(bound.token, cnf=None)
    # Presented by the thief, with no key or its own: the ledger refuses before the holder check.
    assert verifier.verify(unbound, now=T0 + 1).reason is TokenReason.NOT_ISSUED
    assert verifier.verify(unbound, now=T0 + 1, presenter_thumbprint=THIEF).reason is (
        TokenReason.NOT_ISSUED
    )


def test_rebinding_cnf_to_the_thiefs_key_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier
) -> None:
    bound = broker.mint(BOT, now=T0, ttl=600, scope=CRM, holder_thumbprint=OWNER)
    rebound = forge(bound.token, cnf={"jkt": THIEF})
    assert verifier.verify(rebound, now=T0 + 1, presenter_thumbprint=THIEF).reason is (
        TokenReason.NOT_ISSUED
    )


def test_adding_cnf_to_a_bearer_token_is_refused(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    bound = forge(issued.token, cnf={"jkt": THIEF})
    assert verifier.verify(bound, now=T0 + 1, presenter_thumbprint=THIEF).reason is (
        TokenReason.NOT_ISSUED
    )


def test_swapping_aud_is_refused(broker: CredentialBroker, issued: IssuedToken) -> None:
    payments = broker.verifier(audience=OTHER_AUD)
    assert payments.verify(issued.token, now=T0 + 1).reason is TokenReason.WRONG_AUDIENCE
    for aud in (OTHER_AUD, [AUD, OTHER_AUD]):
        assert payments.verify(forge(issued.token, aud=aud), now=T0 + 1).reason is (
            TokenReason.NOT_ISSUED
        )


def test_moving_iat_past_a_quarantine_cutoff_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier, issued: IssuedToken
) -> None:
    broker.revoke_subject(BOT, now=T0 + 5)
    assert verifier.verify(issued.token, now=T0 + 6).reason is TokenReason.SUBJECT_REVOKED
    later = forge(issued.token, iat=T0 + 10, nbf=T0 + 10)
    result = verifier.verify(later, now=T0 + 11)
    assert result.reason is TokenReason.NOT_ISSUED
    # Moving iat alone (nbf kept) is a forgery too.
    assert verifier.verify(forge(issued.token, iat=T0 + 10), now=T0 + 11).reason is (
        TokenReason.NOT_ISSUED
    )


def test_extending_exp_is_refused_naming_the_issued_expiry(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    longer = forge(issued.token, exp=issued.exp + 86_400)
    result = verifier.verify(longer, now=issued.exp + 60)
    assert result.reason is TokenReason.NOT_ISSUED
    assert f"{issued.exp:g}" in result.detail


def test_forging_the_act_chain_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier, issued: IssuedToken
) -> None:
    # Claiming to act for another workload on a token issued without delegation.
    assert verifier.verify(forge(issued.token, act={"sub": CODER}), now=T0 + 1).reason is (
        TokenReason.ACT_CHAIN_FORGED
    )
    delegated = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=[CODER])
    # An iss member inside act changes no actor, yet it is not what was issued.
    with_iss = forge(delegated.token, act={"sub": CODER, "iss": f"spiffe://{TD}"})
    assert verifier.verify(with_iss, now=T0 + 1).reason is TokenReason.NOT_ISSUED


@pytest.mark.parametrize(
    ("claim", "value"),
    [("mode", "static"), ("task_id", "run-2"), ("task_id", None), ("nbf", T0 - 3600),
     ("nbf", None), ("purpose", "anything"), ("iss", f"spiffe://{TD}/")],
)
def test_any_other_changed_claim_is_refused(
    verifier: TokenVerifier, issued: IssuedToken, claim: str, value: Any
) -> None:
    result = verifier.verify(forge(issued.token, **{claim: value}), now=T0 + 1)
    assert not result.ok
    assert result.reason in (TokenReason.NOT_ISSUED, TokenReason.WRONG_ISSUER)


def test_same_claims_under_a_different_header_are_refused(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    # The ledger binds the signed bytes, header included: dropping typ is not what was issued.
    payload = json.dumps(claims_of(issued.token), separators=(",", ":"))
    header = json.dumps({"alg": "ES256", "kid": header_of(issued.token)["kid"]},
                        separators=(",", ":"))
    assert verifier.verify(sign_raw(header, payload), now=T0 + 1).reason is (
        TokenReason.NOT_ISSUED
    )


def test_same_claims_re_encoded_are_refused(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    # Equal claims in other bytes (keys reordered, spaces): only the broker encodes our tokens,
    # so other bytes under our key mean the key signed something the broker did not issue.
    claims = claims_of(issued.token)
    header = json.dumps(header_of(issued.token), separators=(",", ":"), sort_keys=True)
    for payload in (json.dumps(claims), json.dumps(dict(reversed(claims.items())))):
        assert json.loads(payload) == claims
        assert verifier.verify(sign_raw(header, payload), now=T0 + 1).reason is (
            TokenReason.NOT_ISSUED
        )


def test_a_pruned_jti_cannot_be_reused_within_the_verifiers_leeway(
    broker: CredentialBroker,
) -> None:
    # A verifier with more clock leeway than the broker's retire grace: a forged token under a
    # pruned (or never issued) jti, with exp just before the ledger's horizon, must not pass
    # as "expired and pruned, so the expiry check will refuse it".
    lenient = broker.verifier(leeway=2 * broker.retire_grace)
    short = broker.mint(BOT, now=T0, ttl=10, scope=CRM)
    now = T0 + 10 + broker.retire_grace + 1
    broker.prune(now)
    assert short.jti not in broker.ledger
    exp = broker.ledger.horizon
    for jti in (short.jti, "acme-99999999"):
        forged = forge(short.token, jti=jti, scope="*", exp=exp)
        result = lenient.verify(forged, now=now, tool="payments.refund")
        assert not result.ok, result.detail
    # The genuine pruned token is still refused as expired.
    assert lenient.verify(short.token, now=now + broker.retire_grace).reason is (
        TokenReason.EXPIRED
    )


# --- issuers whose ledger this verifier does not hold -----------------------------------------


def test_a_bundle_without_a_ledger_is_trusted_on_its_signature_alone(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    # A foreign issuer known only by its JWKS: nothing records what it issued, so a forgery
    # under its leaked key passes; the response is to distrust the domain or require a ledger.
    store = TrustStore([TrustBundle.from_jwks(TD, broker.jwks(T0))])
    forged = forge(issued.token, scope="*")
    assert TokenVerifier(store, audience=AUD).verify(forged, now=T0 + 1).ok
    strict = TokenVerifier(store, audience=AUD, require_ledger=True)
    result = strict.verify(issued.token, now=T0 + 1)
    assert result.reason is TokenReason.NOT_ISSUED
    assert TD in result.detail and "ledger" in result.detail


def test_a_bundle_given_the_issuers_ledger_refuses_forgeries(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    bundle = TrustBundle.from_jwks(TD, broker.jwks(T0), ledger=broker.ledger)
    strict = TokenVerifier(TrustStore([bundle]), audience=AUD, require_ledger=True)
    assert strict.verify(issued.token, now=T0 + 1).ok
    assert strict.verify(forge(issued.token, scope="*"), now=T0 + 1).reason is (
        TokenReason.NOT_ISSUED
    )


def test_require_ledger_accepts_tokens_of_our_own_brokers(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    vendor = CredentialBroker("vendor.example", seed=SEED, audience=AUD, trust=broker.trust,
                              revocations=broker.revocations)
    theirs = vendor.mint("spiffe://vendor.example/agent/x", now=T0, ttl=600, scope=CRM)
    strict = broker.verifier(require_ledger=True)
    assert strict.verify(issued.token, now=T0 + 1).ok
    assert strict.verify(theirs.token, now=T0 + 1).ok


# --- any mutation of any claim ----------------------------------------------------------------

_BROKER = CredentialBroker(TD, seed=SEED, audience=AUD)
_AGENTS = (BOT, PLANNER, CODER, "spiffe://acme.example/agent/deployer")
_REFUSED_AS_FORGED_OR_ILL_FORMED = {
    TokenReason.NOT_ISSUED, TokenReason.ACT_CHAIN_FORGED, TokenReason.INVALID_CLAIM,
    TokenReason.MISSING_CLAIM, TokenReason.WRONG_ISSUER, TokenReason.FOREIGN_TRUST_DOMAIN,
    TokenReason.ACT_CHAIN_MALFORMED, TokenReason.ACT_CHAIN_CYCLE,
    TokenReason.ACT_CHAIN_TOO_DEEP, TokenReason.ACT_CHAIN_UNTRUSTED, TokenReason.MALFORMED,
}
"""Refusals that depend on the token alone, not on the request (time, audience, presenter)."""

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=3),
    max_leaves=6,
)
_plausible = st.sampled_from([
    "*", "tool:* data:*", "tool:crm.read tool:email.send data:customer_pii", AUD, OTHER_AUD,
    [AUD], *_AGENTS, "spiffe://vendor.example/agent/x", "static", "jit", "run-2", "acme-00000001",
    {"jkt": THIEF}, {"jkt": OWNER}, {"sub": CODER}, {"sub": BOT, "act": {"sub": PLANNER}},
    T0, T0 + 1, T0 + 600, T0 + 86_400, int(T0), 0, f"spiffe://{TD}",
])
_values = _plausible | _json


def _members(claims: dict[str, Any]) -> list[tuple[str, ...]]:
    """Paths to every claim and to every member of the act and cnf objects."""
    paths: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            paths.append((*path, key))
            if key in ("act", "cnf") and isinstance(value, dict):
                walk(value, (*path, key))

    walk(claims, ())
    return paths


@st.composite
def _mutations(draw: st.DrawFn, claims: dict[str, Any]) -> dict[str, Any]:
    """Claims with one change: any claim (or member of act or cnf) replaced, removed or added."""
    out = json.loads(json.dumps(claims))
    path = draw(st.sampled_from(_members(out)))
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    name = path[-1]
    how = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
    if how == "add":
        name = draw(st.sampled_from(["cnf", "act", "task_id", "nbf", "iss", "x"])
                    | st.text(min_size=1, max_size=8))
        assume(name not in parent)
        parent[name] = draw(_values)
    elif how == "remove":
        del parent[name]
    else:
        old = parent[name]
        nearby = st.floats(-1e6, 1e6, allow_nan=False).filter(bool).map(lambda d: old + d)
        parent[name] = draw(nearby | _values if isinstance(old, float) else _values)
    return out


@settings(max_examples=100, deadline=None)
@given(
    subject=st.sampled_from(_AGENTS),
    delegated=st.lists(st.sampled_from(_AGENTS), max_size=2, unique=True),
    bound=st.booleans(),
    task=st.none() | st.sampled_from(["run-1", "run-2"]),
    ttl=st.sampled_from([60.0, 600.0, 86_400.0]),
    data=st.data(),
)
def test_any_mutated_claim_re_signed_with_the_real_key_is_refused(
    subject: str, delegated: list[str], bound: bool, task: str | None, ttl: float,
    data: st.DataObject,
) -> None:
    actors = [a for a in delegated if a != subject]
    issued = _BROKER.mint(subject, now=T0, ttl=ttl, scope=CRM, task_id=task, actors=actors,
                          holder_thumbprint=OWNER if bound else None,
                          mode="jit" if task else "static")
    claims = claims_of(issued.token)
    header = json.dumps(header_of(issued.token), separators=(",", ":"), sort_keys=True)
    verifier = _BROKER.verifier()
    # Unmutated: the same claims signed again with the real key are the issued token.
    same = sign_raw(header, json.dumps(claims, separators=(",", ":")))
    assert verifier.verify(same, now=T0 + 1, presenter_thumbprint=OWNER).ok

    mutated = data.draw(_mutations(claims))
    if mutated == claims:
        return  # e.g. a value replaced by itself: not a mutation
    forged = sign_raw(header, json.dumps(mutated, separators=(",", ":")))
    # The verifier most willing to accept it: the audience, presenter and time it names.
    aud = mutated.get("aud")
    cnf = mutated.get("cnf")
    lenient = _BROKER.verifier(
        audience=aud if isinstance(aud, str) and aud else AUD, leeway=10**9,
        max_chain_depth=8,
    )
    presenter = cnf.get("jkt") if isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str) \
        else None
    result = lenient.verify(forged, now=T0 + 1, presenter_thumbprint=presenter)
    assert not result.ok, mutated
    assert result.reason in _REFUSED_AS_FORGED_OR_ILL_FORMED, (result.reason, result.detail)


def test_the_forgery_example_in_docs_identity_prints_what_the_page_shows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = (Path(__file__).resolve().parents[3] / "docs" / "identity.md").read_text()
    code, shown = re.search(r"```python\n(.+?)```\n\nprints\n\n```\n(.+?)```", page,
                            flags=re.S).groups()  # type: ignore[union-attr]
    exec(compile(code, "docs/identity.md", "exec"), {})
    assert capsys.readouterr().out == shown
