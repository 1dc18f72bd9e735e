"""Separate trust domains per environment (OWASP NHI8:2025), on real brokers and verifiers.

Each environment's broker signs with its own key and publishes its own bundle; production's
gateway trusts only the production bundle, so a token minted in test is refused there however
well it is signed, and a test key cannot sign for a production identity.
"""

from __future__ import annotations

import pytest

from engine.identity.broker import CredentialBroker
from engine.identity.keys import signing_key
from engine.identity.scope import Scope
from engine.identity.tokens import TokenReason
from engine.identity.trust import RevocationList, TrustStore
from engine.identity.verifier import TokenVerifier
from tests.engine.identity.test_token_attacks import parts, resign

T0 = 1767225600.0
SEED = 7
AUD = "spiffe://agentrange/gateway"
TEST_TD, PROD_TD = "test.acme.example", "prod.acme.example"
TEST_AGENT = f"spiffe://{TEST_TD}/agent/deploy-test"
PROD_AGENT = f"spiffe://{PROD_TD}/agent/deploy-prod"
SECRETS = Scope.of(["secrets-prod.get"], ["secret"])


@pytest.fixture
def estate() -> tuple[CredentialBroker, CredentialBroker, TokenVerifier, TokenVerifier]:
    """Test and production brokers over one run's trust store, the estate-wide verifier and
    production's gateway (its own store: the production bundle only)."""
    trust, revocations = TrustStore(), RevocationList()
    test = CredentialBroker(TEST_TD, seed=SEED, audience=AUD, trust=trust,
                            revocations=revocations)
    prod = CredentialBroker(PROD_TD, seed=SEED, audience=AUD, trust=trust,
                            revocations=revocations)
    everywhere = TokenVerifier(trust, audience=AUD, revocations=revocations)
    gateway = TokenVerifier(TrustStore([prod.bundle]), audience=AUD, revocations=revocations)
    return test, prod, everywhere, gateway


def test_a_test_token_is_refused_at_productions_gateway_naming_its_trust_domain(
        estate: tuple[CredentialBroker, CredentialBroker, TokenVerifier, TokenVerifier]
) -> None:
    test, _, _, gateway = estate
    token = test.mint(TEST_AGENT, now=T0, ttl=3600, scope=SECRETS).token
    result = gateway.verify(token, now=T0 + 1, tool="secrets-prod.get", data_class="secret")
    assert result.reason is TokenReason.FOREIGN_TRUST_DOMAIN
    assert not result.ok
    assert TEST_TD in result.detail
    assert result.attributes(T0 + 1)["trust_domain"] == TEST_TD
    assert result.subject == TEST_AGENT


def test_the_same_test_token_passes_where_one_trust_domain_is_shared(
        estate: tuple[CredentialBroker, CredentialBroker, TokenVerifier, TokenVerifier]
) -> None:
    test, _, everywhere, _ = estate
    token = test.mint(TEST_AGENT, now=T0, ttl=3600, scope=SECRETS).token
    assert everywhere.verify(token, now=T0 + 1, tool="secrets-prod.get",
                             data_class="secret").ok


def test_a_production_token_passes_productions_gateway(
        estate: tuple[CredentialBroker, CredentialBroker, TokenVerifier, TokenVerifier]
) -> None:
    _, prod, _, gateway = estate
    token = prod.mint(PROD_AGENT, now=T0, ttl=3600, scope=SECRETS).token
    assert gateway.verify(token, now=T0 + 1, tool="secrets-prod.get", data_class="secret").ok


def test_the_test_key_cannot_sign_for_a_production_identity(
        estate: tuple[CredentialBroker, CredentialBroker, TokenVerifier, TokenVerifier]
) -> None:
    test, prod, _, gateway = estate
    stolen = test.mint(TEST_AGENT, now=T0, ttl=3600, scope=SECRETS).token
    test_key = signing_key(SEED, TEST_TD, 0)
    header, _, _ = parts(stolen)
    # Claim a production subject and issuer, signed with the test environment's key...
    forged = resign(stolen, test_key, sub=PROD_AGENT, iss=f"spiffe://{PROD_TD}")
    result = gateway.verify(forged, now=T0 + 1)
    assert result.reason is TokenReason.UNKNOWN_KID  # the test kid is not in prod's bundle
    # ...and under production's own kid the signature does not verify with prod's key.
    under_prod_kid = resign(stolen, test_key, header={**header, "kid": prod.kid},
                            sub=PROD_AGENT, iss=f"spiffe://{PROD_TD}")
    assert gateway.verify(under_prod_kid, now=T0 + 1).reason is TokenReason.BAD_SIGNATURE


def test_each_environment_signs_with_its_own_key(
        estate: tuple[CredentialBroker, CredentialBroker, TokenVerifier, TokenVerifier]
) -> None:
    test, prod, _, _ = estate
    assert test.kid != prod.kid
    assert set(test.bundle.kids).isdisjoint(prod.bundle.kids)


def test_withdrawing_a_key_rechecks_every_store_trusting_the_bundle(
        estate: tuple[CredentialBroker, CredentialBroker, TokenVerifier, TokenVerifier]
) -> None:
    _, prod, everywhere, gateway = estate
    token = prod.mint(PROD_AGENT, now=T0, ttl=3600, scope=SECRETS).token
    assert everywhere.verify(token, now=T0 + 1).ok and gateway.verify(token, now=T0 + 1).ok
    prod.bundle.remove_key(prod.kid)
    assert everywhere.verify(token, now=T0 + 2).reason is TokenReason.UNKNOWN_KID
    assert gateway.verify(token, now=T0 + 2).reason is TokenReason.UNKNOWN_KID
