"""Attacks on JWT-SVIDs that the verifier must refuse, each with its own reason code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
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
BOT = "spiffe://acme.example/agent/support-bot"
PLANNER = "spiffe://acme.example/agent/planner"
CODER = "spiffe://acme.example/agent/coder"
DEPLOYER = "spiffe://acme.example/agent/deployer"
CRM = Scope.of(["crm.read"], ["customer_pii"])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict, dict, str]:
    h, p, s = token.split(".")
    return json.loads(unb64(h)), json.loads(unb64(p)), s


def sign_es256(key: ec.EllipticCurvePrivateKey, header: dict, payload: dict) -> str:
    """A correctly ES256-signed token over arbitrary header and payload (the attacker's tool)."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def resign(token: str, key: ec.EllipticCurvePrivateKey, *, header: dict | None = None,
           **claims: Any) -> str:
    h, p, _ = parts(token)
    for name, value in claims.items():
        if value is None:
            p.pop(name, None)
        else:
            p[name] = value
    return sign_es256(key, header or h, p)


def with_payload(token: str, payload: dict) -> str:
    h, _, s = token.split(".")
    return f"{h}.{segment(payload)}.{s}"


@pytest.fixture
def broker() -> CredentialBroker:
    return CredentialBroker(TD, seed=SEED, audience=AUD)


@pytest.fixture
def verifier(broker: CredentialBroker) -> TokenVerifier:
    return broker.verifier()


@pytest.fixture
def issued(broker: CredentialBroker) -> IssuedToken:
    return broker.mint(BOT, now=T0, ttl=600, scope=CRM, task_id="run-1")


def reason(v: TokenVerifier, token: str, **kwargs: Any) -> TokenReason:
    result = v.verify(token, now=kwargs.pop("now", T0 + 1), **kwargs)
    assert result.ok is (result.reason is TokenReason.OK)
    assert len(token) < 20 or token not in result.detail
    return result.reason


def test_baseline_token_is_accepted(verifier: TokenVerifier, issued: IssuedToken) -> None:
    assert reason(verifier, issued.token, tool="crm.read", data_class="customer_pii") == "ok"


# --- algorithm attacks ----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_alg_none_is_refused(verifier: TokenVerifier, issued: IssuedToken, alg: str) -> None:
    h, p, _ = parts(issued.token)
    h["alg"] = alg
    assert reason(verifier, f"{segment(h)}.{segment(p)}.") is TokenReason.ALG_NOT_ALLOWED


def test_missing_alg_is_refused(verifier: TokenVerifier, issued: IssuedToken) -> None:
    h, p, s = parts(issued.token)
    del h["alg"]
    assert reason(verifier, f"{segment(h)}.{segment(p)}.{s}") is TokenReason.ALG_NOT_ALLOWED


@pytest.mark.parametrize("secret_form", ["pem", "jwk", "der"])
def test_hs256_signed_with_the_public_key_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier, issued: IssuedToken, secret_form: str
) -> None:
    public = signing_key(SEED, TD, 0).public_key()
    secret = {
        "pem": public.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": json.dumps(broker.jwks()["keys"][0]).encode(),
    }[secret_form]
    h, p, _ = parts(issued.token)
    h["alg"] = "HS256"
    signing_input = f"{segment(h)}.{segment(p)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert reason(verifier, f"{signing_input}.{b64(mac)}") is TokenReason.ALG_NOT_ALLOWED


def test_es384_header_on_a_p256_key_is_refused(broker: CredentialBroker,
                                                issued: IssuedToken) -> None:
    v = broker.verifier(algorithms=["ES256", "ES384"])
    h, p, s = parts(issued.token)
    h["alg"] = "ES384"
    assert reason(v, f"{segment(h)}.{segment(p)}.{s}") is TokenReason.ALG_NOT_ALLOWED


# --- tampering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"scope": "*"}, {"sub": CODER}, {"exp": T0 + 10**7}, {"aud": "elsewhere"},
     {"task_id": "run-2"}, {"mode": "static"}],
)
def test_tampered_payload_is_refused(
    verifier: TokenVerifier, issued: IssuedToken, change: dict
) -> None:
    _, p, _ = parts(issued.token)
    p.update(change)
    assert reason(verifier, with_payload(issued.token, p)) is TokenReason.BAD_SIGNATURE


def test_tampered_signature_is_refused(verifier: TokenVerifier, issued: IssuedToken) -> None:
    h, p, s = issued.token.split(".")
    raw = bytearray(unb64(s))
    raw[10] ^= 1
    assert reason(verifier, f"{h}.{p}.{b64(bytes(raw))}") is TokenReason.BAD_SIGNATURE


def test_tampered_kid_unknown_is_refused(verifier: TokenVerifier, issued: IssuedToken) -> None:
    h, p, s = parts(issued.token)
    h["kid"] = "not-a-published-kid"
    assert reason(verifier, f"{segment(h)}.{segment(p)}.{s}") is TokenReason.UNKNOWN_KID


def test_tampered_kid_pointing_at_another_real_key_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier, issued: IssuedToken
) -> None:
    new_kid = broker.rotate_key(now=T0)
    h, p, s = parts(issued.token)
    h["kid"] = new_kid
    assert reason(verifier, f"{segment(h)}.{segment(p)}.{s}") is TokenReason.BAD_SIGNATURE


def test_missing_kid_is_refused(verifier: TokenVerifier, issued: IssuedToken) -> None:
    h, p, s = parts(issued.token)
    del h["kid"]
    assert reason(verifier, f"{segment(h)}.{segment(p)}.{s}") is TokenReason.UNKNOWN_KID


@pytest.mark.parametrize("extra", [{"jku": "https://evil.example/jwks"},
                                   {"x5u": "https://evil.example/cert"},
                                   {"crit": ["exp"]}])
def test_extra_header_parameters_are_refused(
    verifier: TokenVerifier, issued: IssuedToken, extra: dict
) -> None:
    h, p, _ = parts(issued.token)
    token = sign_es256(signing_key(SEED, TD, 0), {**h, **extra}, p)
    assert reason(verifier, token) is TokenReason.HEADER_NOT_ALLOWED


def test_embedded_jwk_header_cannot_supply_the_key(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    evil = ec.generate_private_key(ec.SECP256R1())
    h, p, _ = parts(issued.token)
    h["jwk"] = {"kty": "EC", "crv": "P-256"}
    assert reason(verifier, sign_es256(evil, h, p)) is TokenReason.HEADER_NOT_ALLOWED


def test_wrong_typ_is_refused(verifier: TokenVerifier, issued: IssuedToken) -> None:
    h, p, _ = parts(issued.token)
    token = sign_es256(signing_key(SEED, TD, 0), {**h, "typ": "at+jwt"}, p)
    assert reason(verifier, token) is TokenReason.HEADER_NOT_ALLOWED


# --- time, audience, revocation -------------------------------------------------------------


def test_expired_token_is_refused(verifier: TokenVerifier, issued: IssuedToken) -> None:
    assert reason(verifier, issued.token, now=T0 + 600) is TokenReason.EXPIRED


def test_token_used_before_nbf_is_refused(verifier: TokenVerifier, issued: IssuedToken) -> None:
    assert reason(verifier, issued.token, now=T0 - 1) is TokenReason.NOT_YET_VALID


def test_wrong_audience_is_refused(broker: CredentialBroker, issued: IssuedToken) -> None:
    other = broker.verifier(audience="spiffe://acme.example/billing-api")
    assert reason(other, issued.token) is TokenReason.WRONG_AUDIENCE


def test_multi_audience_token_naming_us_is_accepted_but_not_by_others(
    broker: CredentialBroker, issued: IssuedToken
) -> None:
    # Our broker mints one audience; an issuer known only by its JWK Set (no issuance ledger
    # to hold its tokens to) may name several.
    token = resign(issued.token, signing_key(SEED, TD, 0), aud=[AUD, "spiffe://x.example/y"])
    store = TrustStore([TrustBundle.from_jwks(TD, broker.jwks())])
    assert reason(TokenVerifier(store, audience=AUD), token) is TokenReason.OK
    other = TokenVerifier(store, audience="spiffe://acme.example/billing-api")
    assert reason(other, token) is TokenReason.WRONG_AUDIENCE
    # Under our own broker's bundle the ledger refuses it: that audience was never issued.
    assert reason(broker.verifier(), token) is TokenReason.NOT_ISSUED


def test_jit_token_replayed_after_its_task_completed_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier, issued: IssuedToken
) -> None:
    assert reason(verifier, issued.token) is TokenReason.OK
    broker.revoke_task("run-1", now=T0 + 2)
    assert reason(verifier, issued.token, now=T0 + 3) is TokenReason.REVOKED


def test_sender_constrained_token_presented_by_another_workload_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier
) -> None:
    owner = jwk_thumbprint(workload_key(SEED, BOT).public_key())
    thief = jwk_thumbprint(workload_key(SEED, "spiffe://evil.example/attacker").public_key())
    token = broker.mint(BOT, now=T0, ttl=600, scope=CRM, holder_thumbprint=owner).token
    assert reason(verifier, token, presenter_thumbprint=owner) is TokenReason.OK
    assert reason(verifier, token, presenter_thumbprint=thief) is TokenReason.HOLDER_MISMATCH
    assert reason(verifier, token) is TokenReason.HOLDER_MISMATCH


def test_stripping_cnf_to_unbind_a_token_breaks_its_signature(
    broker: CredentialBroker, verifier: TokenVerifier
) -> None:
    owner = jwk_thumbprint(workload_key(SEED, BOT).public_key())
    token = broker.mint(BOT, now=T0, ttl=600, scope=CRM, holder_thumbprint=owner).token
    _, p, _ = parts(token)
    del p["cnf"]
    assert reason(verifier, with_payload(token, p)) is TokenReason.BAD_SIGNATURE


# --- other trust domains --------------------------------------------------------------------


def test_token_from_an_untrusted_trust_domain_is_refused(verifier: TokenVerifier) -> None:
    evil = CredentialBroker("evil.example", seed=SEED, audience=AUD)
    token = evil.mint("spiffe://evil.example/agent/x", now=T0, ttl=600, scope=CRM).token
    assert reason(verifier, token) is TokenReason.FOREIGN_TRUST_DOMAIN


def test_foreign_issuer_minting_our_subjects_is_refused(verifier: TokenVerifier) -> None:
    impostor = CredentialBroker(TD, seed=666, audience=AUD)  # its own store: not trusted by us
    token = impostor.mint(BOT, now=T0, ttl=600, scope=CRM).token
    assert reason(verifier, token) is TokenReason.UNKNOWN_KID


def test_foreign_key_claiming_our_kid_is_refused(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    h, p, _ = parts(issued.token)
    assert reason(verifier, sign_es256(signing_key(666, TD, 0), h, p)) is (
        TokenReason.BAD_SIGNATURE
    )


def test_issuer_that_does_not_match_the_subject_domain_is_refused(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    token = resign(issued.token, signing_key(SEED, TD, 0), iss="spiffe://vendor.example")
    assert reason(verifier, token) is TokenReason.WRONG_ISSUER


# --- scope ----------------------------------------------------------------------------------


def test_tool_outside_the_scope_is_refused(verifier: TokenVerifier, issued: IssuedToken) -> None:
    assert reason(verifier, issued.token, tool="email.send") is TokenReason.OUT_OF_SCOPE
    assert reason(verifier, issued.token, tool="crm.read", data_class="payment") is (
        TokenReason.OUT_OF_SCOPE
    )


# --- delegation chains ----------------------------------------------------------------------


@pytest.fixture
def delegated(broker: CredentialBroker) -> IssuedToken:
    return broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=[DEPLOYER, CODER])


def test_act_chain_with_an_inner_actor_swapped_fails_the_signature(
    verifier: TokenVerifier, delegated: IssuedToken
) -> None:
    _, p, _ = parts(delegated.token)
    p["act"]["act"]["sub"] = BOT
    assert reason(verifier, with_payload(delegated.token, p)) is TokenReason.BAD_SIGNATURE


def test_act_chain_forged_with_the_stolen_signing_key_is_caught_by_the_issuance_record(
    verifier: TokenVerifier, delegated: IssuedToken
) -> None:
    stolen = signing_key(SEED, TD, 0)
    swapped = {"sub": DEPLOYER, "act": {"sub": BOT}}
    assert reason(verifier, resign(delegated.token, stolen, act=swapped)) is (
        TokenReason.ACT_CHAIN_FORGED
    )
    # Dropping the chain to pass as the subject itself is a forgery too.
    assert reason(verifier, resign(delegated.token, stolen, act=None)) is (
        TokenReason.ACT_CHAIN_FORGED
    )


def test_token_never_issued_but_signed_with_the_stolen_key_is_refused(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    forged = resign(issued.token, signing_key(SEED, TD, 0), jti="acme-99999999", scope="*")
    assert reason(verifier, forged) is TokenReason.NOT_ISSUED
    other_subject = resign(issued.token, signing_key(SEED, TD, 0), sub=CODER)
    assert reason(verifier, other_subject) is TokenReason.NOT_ISSUED


def test_act_chain_deeper_than_allowed_is_refused(broker: CredentialBroker) -> None:
    actors = [f"spiffe://acme.example/agent/a{i}" for i in range(5)]
    token = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=actors).token
    assert reason(broker.verifier(max_chain_depth=4), token) is TokenReason.ACT_CHAIN_TOO_DEEP
    assert reason(broker.verifier(max_chain_depth=5), token) is TokenReason.OK
    flat = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=actors[:1]).token
    assert reason(broker.verifier(max_chain_depth=0), flat) is TokenReason.ACT_CHAIN_TOO_DEEP


def test_act_chain_with_a_cycle_is_refused(broker: CredentialBroker,
                                           verifier: TokenVerifier) -> None:
    back_to_subject = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=[CODER, PLANNER])
    assert reason(verifier, back_to_subject.token) is TokenReason.ACT_CHAIN_CYCLE
    repeated = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM, actors=[CODER, BOT, CODER])
    assert reason(verifier, repeated.token) is TokenReason.ACT_CHAIN_CYCLE


def test_actor_from_an_untrusted_trust_domain_is_refused(
    broker: CredentialBroker, verifier: TokenVerifier
) -> None:
    token = broker.mint(PLANNER, now=T0, ttl=600, scope=CRM,
                        actors=["spiffe://evil.example/agent/x"]).token
    assert reason(verifier, token) is TokenReason.ACT_CHAIN_UNTRUSTED


@pytest.mark.parametrize(
    "act",
    [
        "spiffe://acme.example/agent/coder",
        {"iss": "spiffe://acme.example"},
        {"sub": 42},
        {"sub": "not a spiffe id"},
        {"sub": CODER, "exp": T0},
        {"sub": CODER, "act": ["x"]},
        {},
        None,
    ],
)
def test_malformed_act_chain_is_refused(
    verifier: TokenVerifier, delegated: IssuedToken, act: Any
) -> None:
    h, p, _ = parts(delegated.token)
    p["act"] = act
    token = sign_es256(signing_key(SEED, TD, 0), h, p)
    assert reason(verifier, token) is TokenReason.ACT_CHAIN_MALFORMED


# --- malformed and oversized input ----------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda t: "",
        lambda t: "a.b",
        lambda t: t + ".x",
        lambda t: t.replace(".", "!", 1),
        lambda t: "!!!." + t.split(".", 1)[1],
        lambda t: t.split(".")[0] + "=." + t.split(".", 1)[1],
        lambda t: segment(["not", "an", "object"]) + "." + t.split(".", 1)[1],
        lambda t: b64(b"{not json") + "." + t.split(".", 1)[1],
        lambda t: t.split(".")[0] + "." + b64(b"\xff\xfe") + "." + t.split(".")[2],
        lambda t: t.split(".")[0] + "." + segment(7) + "." + t.split(".")[2],
        lambda t: t[:-3] + "é" + t[-2:],
        lambda t: t + "=",
        lambda t: t.split(".")[0] + "." + t.split(".")[1] + ".a",
    ],
)
def test_malformed_tokens_are_refused(verifier: TokenVerifier, issued: IssuedToken,
                                      make: Any) -> None:
    assert reason(verifier, make(issued.token)) is TokenReason.MALFORMED


def test_non_canonical_base64_signature_does_not_pass_as_the_original(
    verifier: TokenVerifier, issued: IssuedToken
) -> None:
    h, p, s = issued.token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 64 signature bytes leave the last character's low 4 bits unused.
    twin = s[:-1] + alphabet[alphabet.index(s[-1]) | 1]
    assert twin != s and unb64(twin) == unb64(s)
    assert reason(verifier, f"{h}.{p}.{twin}") is TokenReason.MALFORMED


def test_oversized_token_is_refused_before_parsing(verifier: TokenVerifier) -> None:
    assert reason(verifier, "x" * 9000) is TokenReason.OVERSIZED
    assert reason(verifier, "." * 8193) is TokenReason.OVERSIZED


def test_oversized_limit_applies_to_signed_tokens(broker: CredentialBroker) -> None:
    big = Scope.of([f"tool-{i:05d}" for i in range(600)], ["customer_pii"])
    token = broker.mint(BOT, now=T0, ttl=600, scope=big).token
    assert len(token) > 8192
    assert reason(broker.verifier(), token) is TokenReason.OVERSIZED
    assert reason(broker.verifier(max_token_bytes=len(token)), token) is TokenReason.OK


def test_deeply_nested_json_is_refused_without_crashing(broker: CredentialBroker,
                                                        issued: IssuedToken) -> None:
    h, _, s = issued.token.split(".")
    nested = b64(b'{"act":' * 5000 + b"{}" + b"}" * 5000)
    v = broker.verifier(max_token_bytes=10**6)
    assert reason(v, f"{h}.{nested}.{s}") is TokenReason.MALFORMED


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"exp": None}, TokenReason.MISSING_CLAIM),
        ({"jti": None}, TokenReason.MISSING_CLAIM),
        ({"aud": None}, TokenReason.MISSING_CLAIM),
        ({"scope": None}, TokenReason.MISSING_CLAIM),
        ({"sub": None}, TokenReason.MISSING_CLAIM),
        ({"exp": "tomorrow"}, TokenReason.INVALID_CLAIM),
        ({"exp": True}, TokenReason.INVALID_CLAIM),
        ({"exp": float("nan")}, TokenReason.INVALID_CLAIM),
        ({"aud": []}, TokenReason.INVALID_CLAIM),
        ({"scope": "admin"}, TokenReason.INVALID_CLAIM),
        ({"mode": "forever"}, TokenReason.INVALID_CLAIM),
        ({"cnf": "jkt"}, TokenReason.INVALID_CLAIM),
        ({"sub": "https://acme.example/agent/x"}, TokenReason.INVALID_CLAIM),
        ({"sub": 12}, TokenReason.INVALID_CLAIM),
    ],
)
def test_missing_or_ill_typed_claims_are_refused(
    verifier: TokenVerifier, issued: IssuedToken, claims: dict, expected: TokenReason
) -> None:
    assert reason(verifier, resign(issued.token, signing_key(SEED, TD, 0), **claims)) is expected


# --- fuzzing --------------------------------------------------------------------------------

_FUZZ_BROKER = CredentialBroker(TD, seed=SEED, audience=AUD)
_FUZZ_TOKEN = _FUZZ_BROKER.mint(
    PLANNER, now=T0, ttl=600, scope=CRM, task_id="run-1", actors=[CODER],
    holder_thumbprint=jwk_thumbprint(workload_key(SEED, CODER).public_key()),
).token
_FUZZ_BYTES = _FUZZ_TOKEN.encode("ascii")
_FUZZ_VERIFIER = _FUZZ_BROKER.verifier()
_FAILURES = set(TokenReason) - {TokenReason.OK, TokenReason.INTERNAL_ERROR}


def _check_refused(tampered: bytes) -> None:
    text = tampered.decode("latin-1")
    assert text != _FUZZ_TOKEN
    result = _FUZZ_VERIFIER.verify(
        text, now=T0 + 1, tool="crm.read", data_class="customer_pii",
        presenter_thumbprint=jwk_thumbprint(workload_key(SEED, CODER).public_key()),
    )
    assert not result.ok
    assert result.reason in _FAILURES, result.detail


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(_FUZZ_BYTES) - 1), st.integers(1, 255)),
        min_size=1, max_size=4, unique_by=lambda f: f[0],
    )
)
def test_byte_flips_always_yield_a_failure_reason(flips: list[tuple[int, int]]) -> None:
    data = bytearray(_FUZZ_BYTES)
    for index, mask in flips:
        data[index] ^= mask
    _check_refused(bytes(data))


@settings(max_examples=150, deadline=None)
@given(
    cut=st.integers(0, len(_FUZZ_BYTES) - 1),
    keep_tail=st.booleans(),
)
def test_truncations_always_yield_a_failure_reason(cut: int, keep_tail: bool) -> None:
    _check_refused(_FUZZ_BYTES[cut + 1:] if keep_tail else _FUZZ_BYTES[:cut])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_arbitrary_input_never_raises(text: str) -> None:
    result = _FUZZ_VERIFIER.verify(text, now=T0 + 1, tool="crm.read")
    assert not result.ok
    assert result.reason in _FAILURES, result.detail


def test_fuzz_baseline_token_is_valid() -> None:
    result = _FUZZ_VERIFIER.verify(
        _FUZZ_TOKEN, now=T0 + 1, tool="crm.read", data_class="customer_pii",
        presenter_thumbprint=jwk_thumbprint(workload_key(SEED, CODER).public_key()),
    )
    assert result.ok, result.detail


@settings(max_examples=150, deadline=None)
@given(
    which=st.sampled_from([0, 1, 2]),
    position=st.integers(0, 10_000),
    mask=st.integers(1, 255),
)
def test_flips_in_the_decoded_segments_always_yield_a_failure_reason(
    which: int, position: int, mask: int
) -> None:
    segments = _FUZZ_TOKEN.split(".")
    raw = bytearray(unb64(segments[which]))
    raw[position % len(raw)] ^= mask
    segments[which] = b64(bytes(raw))
    _check_refused(".".join(segments).encode("ascii"))
