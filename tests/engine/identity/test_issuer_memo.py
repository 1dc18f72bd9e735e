"""What the broker remembers of the tokens it encodes stays exactly what encoding gives.

The broker keys the tokens it encoded by their claims, times by type and value (issue 21), and
hands its verifiers the claims it just wrote as the decoding of their payload segment. These
tests pin that neither changes a token: times that are equal but written differently (0.0 and
-0.0, 1 and 1.0) give different tokens, and the claims kept for a segment are what decoding
its bytes gives, value and type.
"""

from __future__ import annotations

import json

from engine.identity.broker import CredentialBroker
from engine.identity.jws import b64decode
from engine.identity.known import PAYLOADS
from engine.identity.scope import Scope

TD = "acme.example"
AUD = "spiffe://acme.example/gateway"
BOT = "spiffe://acme.example/agent/support-bot"
PLANNER = "spiffe://acme.example/agent/planner"
CRM = Scope.of(["crm.read"], ["customer_pii"])


def _payload(token: str) -> str:
    return token.split(".")[1]


def test_zero_and_negative_zero_times_mint_different_tokens() -> None:
    positive = CredentialBroker(TD, seed=3, audience=AUD, jti_prefix="p")
    negative = CredentialBroker(TD, seed=3, audience=AUD, jti_prefix="p")
    a = positive.mint(BOT, now=0.0, ttl=60.0, scope=CRM)
    b = negative.mint(BOT, now=-0.0, ttl=60.0, scope=CRM)
    assert a.token != b.token
    assert json.loads(b64decode(_payload(b.token)))["iat"] == 0.0
    assert '"iat":-0.0' in b64decode(_payload(b.token)).decode()


def test_an_int_time_and_the_equal_float_mint_different_tokens() -> None:
    ints = CredentialBroker(TD, seed=3, audience=AUD, jti_prefix="p")
    floats = CredentialBroker(TD, seed=3, audience=AUD, jti_prefix="p")
    a = ints.mint(BOT, now=1767225600, ttl=60, scope=CRM)
    b = floats.mint(BOT, now=1767225600.0, ttl=60, scope=CRM)
    assert a.token != b.token
    assert '"iat":1767225600,' in b64decode(_payload(a.token)).decode()
    assert '"iat":1767225600.0,' in b64decode(_payload(b.token)).decode()


def test_equal_claims_mint_the_same_token_in_another_broker() -> None:
    first = CredentialBroker(TD, seed=3, audience=AUD).mint(BOT, now=1767225600.5, ttl=60.0,
                                                            scope=CRM, task_id="t")
    again = CredentialBroker(TD, seed=3, audience=AUD).mint(BOT, now=1767225600.5, ttl=60.0,
                                                            scope=CRM, task_id="t")
    assert first is again  # remembered: the same frozen IssuedToken


def test_the_claims_kept_for_a_segment_are_its_decoding_value_and_type() -> None:
    broker = CredentialBroker(TD, seed=4, audience=AUD)
    issued = broker.mint(BOT, now=1767225600.25, ttl=300, scope=CRM, task_id="run-9",
                         actors=(PLANNER,), holder_thumbprint="abc", mode="jit")
    segment = _payload(issued.token)
    kept, frozen = PAYLOADS[segment]
    decoded = json.loads(b64decode(segment))
    assert kept == decoded
    assert {k: type(v) for k, v in kept.items()} == {k: type(v) for k, v in decoded.items()}
    assert dict(frozen["cnf"]) == decoded["cnf"]
    assert dict(frozen["act"]) == decoded["act"]
    assert {k: v for k, v in frozen.items() if k not in ("cnf", "act")} == {
        k: v for k, v in decoded.items() if k not in ("cnf", "act")}
    assert broker.verifier().verify(issued.token, now=1767225601.0,
                                    presenter_thumbprint="abc").ok
