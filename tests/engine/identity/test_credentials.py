"""Credential broker, scope, trust store, revocation and verifier behaviour (engine/identity/)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engine.identity.broker import CredentialBroker
from engine.identity.errors import CredentialError, QuarantinedError, ScopeError
from engine.identity.keys import (
    jwk_thumbprint,
    load_signing_key,
    public_key_from_jwk,
    signing_key,
    workload_key,
)
from engine.identity.scope import Scope
from engine.identity.spiffe import SpiffeId, SpiffeIdError
from engine.identity.tokens import TokenReason, Verification
from engine.identity.trust import RevocationList, TrustBundle, TrustStore
from engine.identity.verifier import TokenVerifier
from engine.keyfiles import KeyFileError

T0 = 1767225600.0
TD = "acme.example"
AUD = "spiffe://acme.example/gateway"
BOT = "spiffe://acme.example/agent/support-bot"
PLANNER = "spiffe://acme.example/agent/planner"
CODER = "spiffe://acme.example/agent/coder"
DEPLOYER = "spiffe://acme.example/agent/deployer"
VENDOR_BOT = "spiffe://vendor.example/agent/helper"
CRM = Scope.of(["crm.read", "kb.search"], ["customer_pii", "public"])


@pytest.fixture
def broker() -> CredentialBroker:
    return CredentialBroker(TD, seed=7, audience=AUD)


@pytest.fixture
def verifier(broker: CredentialBroker) -> TokenVerifier:
    return broker.verifier()


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# --- scope ----------------------------------------------------------------------------------


def test_scope_renders_sorted_tool_and_data_entries() -> None:
    assert CRM.claim == "tool:crm.read tool:kb.search data:customer_pii data:public"
    assert CRM.entries == ("tool:crm.read", "tool:kb.search", "data:customer_pii", "data:public")


def test_scope_claim_round_trips() -> None:
    for scope in (CRM, Scope.everything(), Scope.of(["*"], ["pii"]), Scope.of(["a"]), Scope()):
        assert Scope.parse(scope.claim) == scope


def test_full_wildcard_renders_as_star_and_covers_everything() -> None:
    star = Scope.everything()
    assert star.claim == "*"
    assert star.is_wildcard
    assert star.covers("anything", "secrets")
    assert Scope.parse("tool:* data:*") == star


def test_scope_covers_needs_tool_and_data_class() -> None:
    assert CRM.covers("crm.read", "customer_pii")
    assert CRM.covers("kb.search")
    assert not CRM.covers("email.send")
    assert not CRM.covers("crm.read", "credentials")
    assert not CRM.is_wildcard


def test_tool_wildcard_keeps_data_classes_limited() -> None:
    scope = Scope.parse("tool:* data:public")
    assert scope.covers("email.send", "public")
    assert not scope.covers("email.send", "customer_pii")


def test_scope_intersection_attenuates() -> None:
    other = Scope.of(["crm.read", "email.send"], ["customer_pii"])
    assert CRM.intersect(other) == Scope.of(["crm.read"], ["customer_pii"])
    assert Scope.everything().intersect(CRM) == CRM
    assert CRM.intersect(Scope.everything()) == CRM


def test_scope_union_allows_what_any_of_them_allows() -> None:
    union = Scope.union([CRM, Scope.of(["wiki.read"], ["docs"]), Scope()])
    assert union == Scope.of(["crm.read", "kb.search", "wiki.read"],
                             ["customer_pii", "public", "docs"])
    assert Scope.union([]) == Scope()
    assert Scope.union([CRM, Scope.everything()]).covers("anything", "at_all")


@pytest.mark.parametrize("claim", ["crm.read", "tool:", "tool:a  data:b", "scope:x", "data:a b"])
def test_bad_scope_claims_are_refused(claim: str) -> None:
    with pytest.raises(ScopeError):
        Scope.parse(claim)


def test_scope_ids_may_not_hold_spaces() -> None:
    with pytest.raises(ScopeError):
        Scope.of(["crm read"])


# --- keys -----------------------------------------------------------------------------------


def test_rfc9449_example_key_has_the_published_thumbprint() -> None:
    key = public_key_from_jwk(
        {
            "kty": "EC",
            "crv": "P-256",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        }
    )
    assert jwk_thumbprint(key) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def test_keys_derive_deterministically_from_seed_and_label() -> None:
    a = signing_key(1, TD, 0).private_numbers().private_value
    assert a == signing_key(1, TD, 0).private_numbers().private_value
    assert a != signing_key(2, TD, 0).private_numbers().private_value
    assert a != signing_key(1, TD, 1).private_numbers().private_value
    assert a != signing_key(1, "vendor.example", 0).private_numbers().private_value
    assert jwk_thumbprint(workload_key(1, BOT).public_key()) == jwk_thumbprint(
        workload_key(1, BOT).public_key()
    )
    assert jwk_thumbprint(workload_key(1, BOT).public_key()) != jwk_thumbprint(
        workload_key(1, CODER).public_key()
    )


def test_key_on_another_curve_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / "k.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="P-256") as err:
        load_signing_key(path)
    assert str(path) in str(err.value)
    assert "secp384r1" in str(err.value)


def test_broker_keeps_its_key_on_disk_and_reloads_it(tmp_path: Path) -> None:
    first = CredentialBroker(TD, seed=1, audience=AUD, key_dir=tmp_path)
    path = tmp_path / f"{TD}.0.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # A different seed still signs with the persisted key: the file wins over derivation.
    second = CredentialBroker(TD, seed=2, audience=AUD, key_dir=tmp_path)
    assert second.kid == first.kid
    issued = second.mint(BOT, now=T0, ttl=60, scope=CRM)
    assert first.verifier().verify(issued.token, now=T0).reason is TokenReason.NOT_ISSUED
    path.chmod(0o644)
    with pytest.raises(KeyFileError):
        CredentialBroker(TD, seed=1, audience=AUD, key_dir=tmp_path)


def test_broker_repr_and_issued_token_repr_hide_secrets(broker: CredentialBroker) -> None:
    issued = broker.mint(BOT, now=T0, ttl=60, scope=CRM)
    assert issued.token not in repr(issued)
    assert "PRIVATE" not in repr(broker)


# --- minting --------------------------------------------------------------------------------


def test_minted_token_verifies_with_pyjwt_against_the_published_jwks(
    broker: CredentialBroker,
) -> None:
    issued = broker.mint(BOT, now=T0, ttl=600, scope=CRM, task_id="run-1")
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": "ES256", "kid": broker.kid, "typ": "JWT"}
    jwks = broker.jwks(T0)
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert jwk["use"] == "jwt-svid"
    key = jwt.PyJWK(jwk).key
    claims = jwt.decode(issued.token, key, algorithms=["ES256"], audience=AUD,
                        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
    assert claims == {
        "iss": "spiffe://acme.example",
        "sub": BOT,
        "aud": AUD,
        "iat": T0,
        "nbf": T0,
        "exp": T0 + 600,
        "jti": "acme-00000001",
        "scope": CRM.claim,
        "mode": "jit",
        "task_id": "run-1",
    }


def test_delegated_token_nests_act_current_actor_outermost(broker: CredentialBroker) -> None:
    issued = broker.mint(PLANNER, now=T0, ttl=60, scope=CRM, actors=[DEPLOYER, CODER])
    assert _claims(issued.token)["act"] == {"sub": DEPLOYER, "act": {"sub": CODER}}
    assert issued.current_actor == DEPLOYER
    result = broker.verifier().verify(issued.token, now=T0)
    assert result.ok
    assert result.actors == (DEPLOYER, CODER)
    assert result.current_actor == DEPLOYER
    assert result.attributes(T0)["chain_depth"] == 2


def test_sender_constrained_token_carries_cnf_jkt(broker: CredentialBroker) -> None:
    jkt = jwk_thumbprint(workload_key(7, BOT).public_key())
    issued = broker.mint(BOT, now=T0, ttl=60, scope=CRM, holder_thumbprint=jkt)
    assert _claims(issued.token)["cnf"] == {"jkt": jkt}
    assert issued.sender_constrained


def test_jtis_and_kids_are_deterministic_per_seed() -> None:
    runs = []
    for _ in range(2):
        b = CredentialBroker(TD, seed=42, audience=AUD)
        runs.append((b.kid, [b.mint(BOT, now=T0 + i, ttl=60, scope=CRM).jti for i in range(3)]))
    assert runs[0] == runs[1]
    assert runs[0][1] == ["acme-00000001", "acme-00000002", "acme-00000003"]
    assert CredentialBroker(TD, seed=43, audience=AUD).kid != runs[0][0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": float("inf")}, "ttl"),
        ({"mode": "forever"}, "mode"),
        ({"actors": ["not-a-spiffe-id"]}, "actor"),
    ],
)
def test_mint_refuses_bad_arguments(broker: CredentialBroker, kwargs: dict, match: str) -> None:
    args = {"now": T0, "ttl": 60, "scope": CRM, **kwargs}
    with pytest.raises(CredentialError, match=match):
        broker.mint(BOT, **args)


def test_broker_only_issues_for_its_own_trust_domain(broker: CredentialBroker) -> None:
    with pytest.raises(CredentialError, match="cannot issue"):
        broker.mint(VENDOR_BOT, now=T0, ttl=60, scope=CRM)


def test_broker_needs_a_valid_trust_domain() -> None:
    with pytest.raises(SpiffeIdError):
        CredentialBroker("Bad Domain", seed=1, audience=AUD)


def test_two_brokers_cannot_share_a_trust_domain_in_one_store(broker: CredentialBroker) -> None:
    with pytest.raises(CredentialError, match="already has a bundle"):
        CredentialBroker(TD, seed=8, audience=AUD, trust=broker.trust)


def test_mint_accepts_a_spiffe_id_value(broker: CredentialBroker) -> None:
    issued = broker.mint(SpiffeId.parse(BOT), now=T0, ttl=60, scope=CRM)
    assert issued.sub == BOT


# --- verifying ------------------------------------------------------------------------------


def test_valid_token_yields_token_attributes(broker: CredentialBroker) -> None:
    jkt = jwk_thumbprint(workload_key(7, BOT).public_key())
    issued = broker.mint(BOT, now=T0, ttl=600, scope=CRM, task_id="run-9",
                         holder_thumbprint=jkt)
    result = broker.verifier().verify(issued.token, now=T0 + 100, tool="crm.read",
                                      data_class="customer_pii", presenter_thumbprint=jkt)
    assert result.ok and result.reason is TokenReason.OK
    assert result.attributes(T0 + 100) == {
        "valid": True,
        "reason": "ok",
        "jti": issued.jti,
        "mode": "jit",
        "task_id": "run-9",
        "ttl_remaining": 500.0,
        "age": 100.0,
        "scope": CRM.entries,
        "sender_constrained": True,
        "chain_depth": 0,
        "issuer": "spiffe://acme.example",
        "trust_domain": TD,
    }
    assert result.claims is not None and result.claims["sub"] == BOT
    with pytest.raises(TypeError):
        result.claims["sub"] = "x"  # type: ignore[index]


def test_static_token_stays_valid_for_its_long_ttl(broker: CredentialBroker) -> None:
    issued = broker.mint(BOT, now=T0, ttl=90 * 86400, scope=Scope.everything(), mode="static")
    v = broker.verifier()
    later = v.verify(issued.token, now=T0 + 89 * 86400, tool="anything", data_class="secrets")
    assert later.ok
    assert later.attributes(T0)["mode"] == "static"
    assert later.attributes(T0)["scope"] == ("*",)
    assert v.verify(issued.token, now=T0 + 90 * 86400).reason is TokenReason.EXPIRED


def test_expiry_is_checked_on_every_request_even_when_cached(broker: CredentialBroker) -> None:
    issued = broker.mint(BOT, now=T0, ttl=60, scope=CRM)
    v = broker.verifier()
    assert v.verify(issued.token, now=T0 + 59.9).ok
    assert v.cached_tokens == 1
    expired = v.verify(issued.token, now=T0 + 60)
    assert expired.reason is TokenReason.EXPIRED
    assert expired.jti == issued.jti and expired.subject == BOT
    assert expired.attributes(T0 + 60)["valid"] is False


def test_leeway_applies_to_exp_and_nbf(broker: CredentialBroker) -> None:
    issued = broker.mint(BOT, now=T0, ttl=60, scope=CRM)
    v = broker.verifier(leeway=5)
    assert v.verify(issued.token, now=T0 - 4.9).ok
    assert v.verify(issued.token, now=T0 - 5.1).reason is TokenReason.NOT_YET_VALID
    assert v.verify(issued.token, now=T0 + 64.9).ok
    assert v.verify(issued.token, now=T0 + 65).reason is TokenReason.EXPIRED


def test_revocation_after_caching_is_seen_on_the_next_request(broker: CredentialBroker) -> None:
    issued = broker.mint(BOT, now=T0, ttl=600, scope=CRM, task_id="run-1")
    v = broker.verifier()
    assert v.verify(issued.token, now=T0 + 1).ok
    assert broker.revoke_task("run-1", now=T0 + 2) == (issued.jti,)
    refused = v.verify(issued.token, now=T0 + 3)
    assert refused.reason is TokenReason.REVOKED
    assert issued.jti in refused.detail
    assert broker.revoke_task("run-1", now=T0 + 4) == ()


def test_unrelated_revocation_leaves_cached_tokens_valid(broker: CredentialBroker) -> None:
    keep = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    drop = broker.mint(CODER, now=T0, ttl=600, scope=CRM)
    v = broker.verifier()
    assert v.verify(keep.token, now=T0).ok
    assert broker.revoke(drop.jti, now=T0 + 1)
    assert not broker.revoke(drop.jti, now=T0 + 1)
    assert v.verify(keep.token, now=T0 + 2).ok
    assert v.verify(drop.token, now=T0 + 2).reason is TokenReason.REVOKED


def test_holder_binding_needs_the_matching_presenter_key(broker: CredentialBroker) -> None:
    jkt = jwk_thumbprint(workload_key(7, BOT).public_key())
    issued = broker.mint(BOT, now=T0, ttl=600, scope=CRM, holder_thumbprint=jkt)
    v = broker.verifier()
    assert v.verify(issued.token, now=T0, presenter_thumbprint=jkt).ok
    missing = v.verify(issued.token, now=T0)
    assert missing.reason is TokenReason.HOLDER_MISMATCH
    assert "no key" in missing.detail


def test_unconstrained_token_ignores_presenter_key(broker: CredentialBroker) -> None:
    issued = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    assert broker.verifier().verify(issued.token, now=T0, presenter_thumbprint="x").ok


def test_scope_is_checked_per_request(broker: CredentialBroker) -> None:
    issued = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    v = broker.verifier()
    assert v.verify(issued.token, now=T0, tool="crm.read", data_class="customer_pii").ok
    assert v.verify(issued.token, now=T0, tool="kb.search").ok
    refused = v.verify(issued.token, now=T0, tool="crm.read", data_class="payment")
    assert refused.reason is TokenReason.OUT_OF_SCOPE
    assert "payment" in refused.detail


def test_verifier_cache_is_bounded(broker: CredentialBroker) -> None:
    v = broker.verifier(cache_size=2)
    tokens = [broker.mint(BOT, now=T0, ttl=600, scope=CRM).token for _ in range(3)]
    for token in tokens:
        assert v.verify(token, now=T0).ok
    assert v.cached_tokens == 2
    assert v.verify(tokens[0], now=T0).ok  # evicted, verified again from scratch
    v.clear_cache()
    assert v.cached_tokens == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"audience": ""},
        {"audience": AUD, "leeway": -1},
        {"audience": AUD, "max_chain_depth": -1},
        {"audience": AUD, "max_token_bytes": 0},
        {"audience": AUD, "algorithms": ["HS256"]},
        {"audience": AUD, "algorithms": ["none"]},
    ],
)
def test_verifier_options_are_validated(kwargs: dict) -> None:
    with pytest.raises(CredentialError):
        TokenVerifier(TrustStore(), **kwargs)


def test_failure_verification_has_attributes_with_reason() -> None:
    result = TokenVerifier(TrustStore(), audience=AUD).verify("x", now=T0)
    assert isinstance(result, Verification)
    attrs = result.attributes(T0)
    assert attrs["valid"] is False
    assert attrs["reason"] == "malformed"
    assert attrs["ttl_remaining"] is None and attrs["jti"] is None


# --- lifecycle: renewal, quarantine, rotation, distrust -------------------------------------


def test_renewal_issues_a_new_token_and_revokes_the_old(broker: CredentialBroker) -> None:
    old = broker.mint(BOT, now=T0, ttl=600, scope=CRM, task_id="run-1")
    new = broker.renew(old.jti, now=T0 + 500)
    assert new.jti != old.jti
    assert (new.sub, new.scope, new.task_id, new.mode) == (old.sub, old.scope, "run-1", "jit")
    assert new.exp == T0 + 1100
    v = broker.verifier()
    assert v.verify(new.token, now=T0 + 700).ok
    assert v.verify(old.token, now=T0 + 501).reason is TokenReason.REVOKED
    assert broker.revoke_task("run-1", now=T0 + 800) == (new.jti,)


def test_renewal_of_expired_revoked_or_unknown_tokens_is_refused(
    broker: CredentialBroker,
) -> None:
    old = broker.mint(BOT, now=T0, ttl=60, scope=CRM)
    with pytest.raises(CredentialError, match="expired"):
        broker.renew(old.jti, now=T0 + 60)
    live = broker.mint(BOT, now=T0, ttl=60, scope=CRM)
    broker.revoke(live.jti, now=T0)
    with pytest.raises(CredentialError, match="revoked"):
        broker.renew(live.jti, now=T0 + 1)
    with pytest.raises(CredentialError, match="not issued"):
        broker.renew("acme-99999999", now=T0)


def test_quarantine_revokes_every_token_naming_the_agent(broker: CredentialBroker) -> None:
    own = broker.mint(CODER, now=T0, ttl=600, scope=CRM)
    delegated = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=[CODER])
    passed_on = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=[DEPLOYER, CODER])
    other = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    v = broker.verifier()
    for issued in (own, delegated, passed_on, other):
        assert v.verify(issued.token, now=T0).ok
    affected = broker.revoke_subject(CODER, now=T0 + 10)
    assert set(affected) == {own.jti, delegated.jti, passed_on.jti}
    for issued in (own, delegated, passed_on):
        assert v.verify(issued.token, now=T0 + 11).reason is TokenReason.SUBJECT_REVOKED
    assert v.verify(other.token, now=T0 + 11).ok
    assert broker.is_quarantined(CODER)
    with pytest.raises(QuarantinedError):
        broker.mint(CODER, now=T0 + 12, ttl=60, scope=CRM)
    with pytest.raises(QuarantinedError):
        broker.mint(PLANNER, now=T0 + 12, ttl=60, scope=CRM, actors=[CODER])


def test_release_allows_new_tokens_but_old_ones_stay_revoked(broker: CredentialBroker) -> None:
    old = broker.mint(CODER, now=T0, ttl=600, scope=CRM)
    broker.revoke_subject(CODER, now=T0 + 10)
    broker.release(CODER)
    new = broker.mint(CODER, now=T0 + 20, ttl=600, scope=CRM)
    v = broker.verifier()
    assert v.verify(new.token, now=T0 + 21).ok
    assert v.verify(old.token, now=T0 + 21).reason is TokenReason.SUBJECT_REVOKED


def test_rotation_keeps_old_tokens_valid_until_they_expire(broker: CredentialBroker) -> None:
    old_kid = broker.kid
    old = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    v = broker.verifier()
    assert v.verify(old.token, now=T0).ok
    new_kid = broker.rotate_key(now=T0 + 100)
    assert new_kid != old_kid
    new = broker.mint(BOT, now=T0 + 100, ttl=600, scope=CRM)
    assert new.kid == new_kid
    v2 = broker.verifier()  # a fresh verifier must still find the old key
    assert v2.verify(old.token, now=T0 + 500).ok
    assert v2.verify(new.token, now=T0 + 500).ok
    assert {k["kid"] for k in broker.jwks(T0 + 500)["keys"]} == {old_kid, new_kid}
    # Once every token of the old key expired (plus grace), the key leaves the bundle.
    retired_at = T0 + 600 + broker.retire_grace
    assert {k["kid"] for k in broker.jwks(retired_at + 1)["keys"]} == {new_kid}
    assert broker.bundle.key(old_kid, retired_at + 1) is None


def test_compromised_key_rotation_refuses_its_tokens_at_once(broker: CredentialBroker) -> None:
    old = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    v = broker.verifier()
    assert v.verify(old.token, now=T0).ok
    broker.rotate_key(now=T0 + 10, compromised=True)
    assert v.verify(old.token, now=T0 + 11).reason is TokenReason.KEY_REVOKED
    assert broker.verifier().verify(old.token, now=T0 + 11).reason is TokenReason.UNKNOWN_KID
    fresh = broker.mint(BOT, now=T0 + 11, ttl=600, scope=CRM)
    assert v.verify(fresh.token, now=T0 + 12).ok


def test_distrusting_a_vendor_domain_refuses_its_tokens_and_chains(
    broker: CredentialBroker,
) -> None:
    vendor = CredentialBroker("vendor.example", seed=7, audience=AUD, trust=broker.trust,
                              revocations=broker.revocations)
    vendor_token = vendor.mint(VENDOR_BOT, now=T0, ttl=600, scope=CRM)
    via_vendor = broker.mint(BOT, now=T0, ttl=600, scope=CRM, actors=[VENDOR_BOT])
    own = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    v = broker.verifier()
    for issued in (vendor_token, via_vendor, own):
        assert v.verify(issued.token, now=T0).ok
    assert vendor.jwks()["keys"][0]["kid"] == vendor.kid != broker.kid
    vendor.distrust(now=T0 + 5)
    assert v.verify(vendor_token.token, now=T0 + 6).reason is TokenReason.TRUST_DOMAIN_DISTRUSTED
    assert v.verify(via_vendor.token, now=T0 + 6).reason is TokenReason.TRUST_DOMAIN_DISTRUSTED
    assert v.verify(own.token, now=T0 + 6).ok
    fresh = broker.verifier()
    assert fresh.verify(vendor_token.token, now=T0 + 6).reason is (
        TokenReason.TRUST_DOMAIN_DISTRUSTED
    )


def test_removing_a_bundle_from_the_store_refuses_cached_tokens(
    broker: CredentialBroker,
) -> None:
    issued = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    v = broker.verifier()
    assert v.verify(issued.token, now=T0).ok
    broker.trust.remove(TD)
    assert v.verify(issued.token, now=T0 + 1).reason is TokenReason.FOREIGN_TRUST_DOMAIN


def test_tokens_of_lists_what_a_workload_can_still_present(broker: CredentialBroker) -> None:
    a = broker.mint(CODER, now=T0, ttl=600, scope=CRM)
    b = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=[CODER])
    broker.mint(PLANNER, now=T0, ttl=600, scope=CRM)
    short = broker.mint(CODER, now=T0, ttl=10, scope=CRM)
    assert broker.tokens_of(CODER, T0 + 1) == (a, b, short)
    assert broker.tokens_of(CODER, T0 + 20) == (a, b)
    broker.revoke(a.jti, now=T0 + 30)
    assert broker.tokens_of(CODER, T0 + 31) == (b,)


def test_prune_forgets_expired_tokens_and_keeps_verifying_live_ones(
    broker: CredentialBroker,
) -> None:
    short = broker.mint(BOT, now=T0, ttl=10, scope=CRM, task_id="t1")
    broker.revoke(short.jti, now=T0 + 1)
    live = broker.mint(BOT, now=T0, ttl=100_000, scope=CRM, task_id="t2")
    now = T0 + 10 + broker.retire_grace + 1
    assert broker.prune(now) == 1
    assert broker.issued(short.jti) is None and broker.issued(live.jti) == live
    assert len(broker.ledger) == 1
    v = broker.verifier()
    assert v.verify(live.token, now=now).ok
    # The pruned token is refused for what it is: expired, not "never issued".
    assert v.verify(short.token, now=now).reason is TokenReason.EXPIRED


def test_jwks_round_trip_builds_a_bundle_that_verifies(broker: CredentialBroker) -> None:
    issued = broker.mint(BOT, now=T0, ttl=600, scope=CRM)
    document = json.loads(json.dumps(broker.jwks(T0)))
    store = TrustStore([TrustBundle.from_jwks(TD, document)])
    v = TokenVerifier(store, audience=AUD)
    assert v.verify(issued.token, now=T0).ok


@pytest.mark.parametrize(
    "document",
    [{}, {"keys": [{"use": "jwt-svid", "kty": "EC", "crv": "P-256"}]},
     {"keys": [{"use": "jwt-svid", "kid": "k", "kty": "RSA"}]}],
)
def test_bad_jwks_is_a_clear_error(document: dict) -> None:
    with pytest.raises(CredentialError):
        TrustBundle.from_jwks(TD, document)


def test_revocation_list_prunes_only_expired_entries() -> None:
    revs = RevocationList()
    revs.revoke_token(TD, "a", now=T0, expires_at=T0 + 10)
    revs.revoke_token(TD, "b", now=T0, expires_at=T0 + 1000)
    revs.revoke_token(TD, "c", now=T0)
    assert revs.prune(T0 + 100) == 1
    assert not revs.is_revoked(TD, "a")
    assert revs.is_revoked(TD, "b") and revs.is_revoked(TD, "c")
