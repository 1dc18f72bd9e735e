"""What a process remembers about tokens across verifiers and brokers (issue 21, identity).

A sweep's runs of one seed derive the same keys and mint the same tokens, so the broker
remembers the tokens it encoded and the verifier what a token's bytes settle once some verifier
accepted it. These tests pin what must not be remembered: a second verifier (a later run, an
isolated gateway) re-checks everything that depends on it, its trust store, the key, the
issuer's ledger, the revocation list and the request, whatever another verifier decided.
"""

from __future__ import annotations

import hashlib

import pytest

from engine.identity.broker import CredentialBroker
from engine.identity.keys import derive_private_key, jwk_thumbprint
from engine.identity.scope import Scope
from engine.identity.tokens import IssuedToken, TokenReason
from engine.identity.trust import RevocationList, TrustBundle, TrustStore
from engine.identity.verifier import TokenVerifier

T0 = 1767225600.0
SEED = 7
TD = "acme.example"
AUD = "spiffe://acme.example/gateway"
BOT = "spiffe://acme.example/agent/support-bot"
PLANNER = "spiffe://acme.example/agent/planner"
CRM = Scope.of(["crm.read"], ["customer_pii"])


@pytest.fixture
def broker() -> CredentialBroker:
    return CredentialBroker(TD, seed=SEED, audience=AUD)


@pytest.fixture
def issued(broker: CredentialBroker) -> IssuedToken:
    token = broker.mint(BOT, now=T0, ttl=600, scope=CRM, task_id="run-1")
    assert broker.verifier().verify(token.token, now=T0 + 1).ok  # now known to the process
    return token


def _again(broker: CredentialBroker, **options: object) -> TokenVerifier:
    """A new verifier over the broker's trust and revocations (a later run's gateway)."""
    return broker.verifier(**options)


# --- tokens stay what they were -------------------------------------------------------------


def test_minted_tokens_are_byte_identical_to_the_tokens_before_the_memo() -> None:
    # Digests of tokens minted by 2b997eb (before this change) with the same arguments.
    broker = CredentialBroker(TD, seed=SEED, audience=AUD)
    delegated = broker.mint("spiffe://acme.example/agent/a", now=T0, ttl=600.0, scope=CRM,
                            task_id="run-1", actors=("spiffe://acme.example/agent/b",),
                            holder_thumbprint="x" * 43)
    static = broker.mint("spiffe://acme.example/agent/a", now=int(T0), ttl=60,
                         scope=Scope.everything(), mode="static")
    assert hashlib.sha256(delegated.token.encode()).hexdigest() == (
        "01626b054794b561df9623539d39f98ab80e13665e9fceed429c2c25b415f74a")
    assert hashlib.sha256(static.token.encode()).hexdigest() == (
        "fec9095dbe037fadb59ac0975cb6e0aba34cd4229e132a50f01d758e360358e9")


def test_a_remembered_token_keeps_the_scope_it_was_minted_with() -> None:
    # Both scopes write the claim "*"; the issued token must still carry the caller's own.
    wide = Scope(frozenset({"*", "crm.read"}), frozenset({"*"}))
    first = CredentialBroker(TD, seed=SEED, audience=AUD).mint(
        BOT, now=T0, ttl=60, scope=Scope.everything())
    second = CredentialBroker(TD, seed=SEED, audience=AUD).mint(BOT, now=T0, ttl=60, scope=wide)
    assert first.token == second.token
    assert second.scope == wide and first.scope == Scope.everything()


def test_each_broker_records_a_token_it_mints_again_in_its_own_ledger() -> None:
    first = CredentialBroker(TD, seed=SEED, audience=AUD)
    second = CredentialBroker(TD, seed=SEED, audience=AUD)
    a = first.mint(BOT, now=T0, ttl=600, scope=CRM)
    b = second.mint(BOT, now=T0, ttl=600, scope=CRM)
    assert a.token == b.token and b.jti in second.ledger
    assert second.verifier().verify(b.token, now=T0 + 1).ok


# --- a second verifier re-checks what is its own ----------------------------------------------


def test_a_known_token_is_refused_by_a_bundle_that_never_issued_it(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    # The same seed gives the same key and kid, so the signature verifies; the ledger does not
    # hold the jti (a run that issued nothing, or a thief's copy of the key).
    other = CredentialBroker(TD, seed=SEED, audience=AUD)
    assert other.kid == broker.kid
    result = other.verifier().verify(issued.token, now=T0 + 1)
    assert result.reason is TokenReason.NOT_ISSUED


def test_a_known_token_is_verified_again_under_a_different_key_with_the_same_kid(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    impostor = TrustBundle(TD, ledger=broker.ledger)
    impostor.add_key(broker.kid, derive_private_key(99, "impostor").public_key())
    result = TokenVerifier(TrustStore([impostor]), audience=AUD).verify(issued.token, now=T0 + 1)
    assert result.reason is TokenReason.BAD_SIGNATURE


def test_a_known_token_is_refused_where_its_trust_domain_is_not_trusted(
    issued: IssuedToken,
) -> None:
    result = TokenVerifier(TrustStore(), audience=AUD).verify(issued.token, now=T0 + 1)
    assert result.reason is TokenReason.FOREIGN_TRUST_DOMAIN


def test_a_known_token_meets_each_verifiers_algorithms_and_ledger_requirement(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    assert _again(broker, algorithms=("ES384",)).verify(issued.token, now=T0 + 1).reason is (
        TokenReason.ALG_NOT_ALLOWED)
    jwks_only = TrustStore([TrustBundle.from_jwks(TD, broker.jwks(T0))])
    strict = TokenVerifier(jwks_only, audience=AUD, require_ledger=True)
    assert strict.verify(issued.token, now=T0 + 1).reason is TokenReason.NOT_ISSUED
    assert TokenVerifier(jwks_only, audience=AUD).verify(issued.token, now=T0 + 1).ok


def test_a_known_delegated_token_meets_each_verifiers_chain_depth(
    broker: CredentialBroker,
) -> None:
    token = broker.mint(BOT, now=T0, ttl=600, scope=CRM, actors=(PLANNER,)).token
    assert _again(broker).verify(token, now=T0 + 1).ok
    shallow = _again(broker, max_chain_depth=0).verify(token, now=T0 + 1)
    assert shallow.reason is TokenReason.ACT_CHAIN_TOO_DEEP


def test_a_known_delegated_token_needs_its_actors_trusted_by_each_verifier(
    broker: CredentialBroker,
) -> None:
    vendor = CredentialBroker("vendor.example", seed=SEED, audience=AUD, trust=broker.trust,
                              revocations=broker.revocations)
    helper = "spiffe://vendor.example/agent/helper"
    token = broker.mint(BOT, now=T0, ttl=600, scope=CRM, actors=(helper,)).token
    assert _again(broker).verify(token, now=T0 + 1).ok
    ours_only = TokenVerifier(TrustStore([broker.bundle]), audience=AUD)
    refused = ours_only.verify(token, now=T0 + 1)
    assert refused.reason is TokenReason.ACT_CHAIN_UNTRUSTED
    # Named as a first verification names it, not as a trust withdrawn after caching.
    assert refused.detail == f"actor {helper} is in untrusted trust domain vendor.example"
    assert broker.trust.get("vendor.example") is vendor.bundle


def test_a_known_token_is_checked_against_the_second_verifiers_time_and_request(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    token = issued.token
    assert _again(broker).verify(token, now=T0 + 600).reason is TokenReason.EXPIRED
    assert _again(broker).verify(token, now=T0 - 5).reason is TokenReason.NOT_YET_VALID
    assert _again(broker, leeway=10).verify(token, now=T0 + 605).ok
    elsewhere = _again(broker, audience="spiffe://acme.example/payments")
    assert elsewhere.verify(token, now=T0 + 1).reason is TokenReason.WRONG_AUDIENCE
    out = _again(broker).verify(token, now=T0 + 1, tool="email.send")
    assert out.reason is TokenReason.OUT_OF_SCOPE
    assert _again(broker).verify(token, now=T0 + 1, tool="crm.read", data_class="customer_pii").ok


def test_a_known_bound_token_needs_its_holder_at_a_second_verifier(
    broker: CredentialBroker,
) -> None:
    holder = jwk_thumbprint(derive_private_key(SEED, "holder").public_key())
    token = broker.mint(BOT, now=T0, ttl=600, scope=CRM, holder_thumbprint=holder).token
    assert _again(broker).verify(token, now=T0 + 1, presenter_thumbprint=holder).ok
    result = _again(broker).verify(token, now=T0 + 1, presenter_thumbprint="y" * 43)
    assert result.reason is TokenReason.HOLDER_MISMATCH


@pytest.mark.parametrize(
    ("revoke", "reason"),
    [
        (lambda b, t: b.revoke(t.jti, now=T0 + 2), TokenReason.REVOKED),
        (lambda b, t: b.revoke_subject(BOT, now=T0 + 2), TokenReason.SUBJECT_REVOKED),
        (lambda b, t: b.revocations.revoke_key(TD, b.kid, now=T0 + 2), TokenReason.KEY_REVOKED),
        (lambda b, t: b.distrust(now=T0 + 2), TokenReason.TRUST_DOMAIN_DISTRUSTED),
    ],
    ids=["token", "subject", "key", "trust-domain"],
)
def test_a_revocation_made_after_a_token_became_known_refuses_it_at_a_new_verifier(
    broker: CredentialBroker, issued: IssuedToken, revoke: object, reason: TokenReason
) -> None:
    revoke(broker, issued)  # type: ignore[operator]
    assert _again(broker).verify(issued.token, now=T0 + 3).reason is reason


def test_a_new_revocation_list_does_not_inherit_another_runs_revocation(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    broker.revoke(issued.jti, now=T0 + 2)
    fresh = TokenVerifier(broker.trust, audience=AUD, revocations=RevocationList())
    assert fresh.verify(issued.token, now=T0 + 3).ok
    assert _again(broker).verify(issued.token, now=T0 + 3).reason is TokenReason.REVOKED


def test_changed_bytes_of_a_known_token_are_verified_afresh(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    head, payload, signature = issued.token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    result = _again(broker).verify(f"{head}.{payload}.{flipped}", now=T0 + 1)
    assert result.reason is TokenReason.BAD_SIGNATURE
