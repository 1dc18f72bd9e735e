"""What verifiers remember about tokens: per verifier, and process-wide per token's bytes.

A verifier caches a :class:`CacheEntry` per token it accepted. A sweep's runs of one seed mint
the same tokens (deterministic keys and signatures), so each run's verifiers would parse,
decode and check the same bytes again: :data:`KNOWN` keeps, per exact token string, the facts
those bytes alone determine (header, checked claims, the digest of the signing input), and
``TokenVerifier._verify_known`` re-checks everything else (key and signature, trust, chain
depth, ledger); every request still checks time, audience, revocation, holder and scope.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

from engine.identity.jws import MEMO_SIZE, evict_oldest
from engine.identity.scope import Scope
from engine.identity.spiffe import trust_domain_of
from engine.identity.tokens import Verification
from engine.identity.trust import TrustBundle

PAYLOAD_MEMO_SIZE = 8192
# A payload segment's JSON object and its frozen copy, process-wide: decoding is a pure
# function of the segment, and a sweep's runs issue many identical tokens. Filled by the first
# verifier that decodes a segment, or by the broker that encoded it (remember_payload).
# Read-only.
PAYLOADS: dict[str, tuple[dict[str, Any], Any]] = {}


class KnownToken:
    """What a token's exact bytes determine, once some verifier accepted it (read-only).

    Nothing here is trusted on its own: a verifier re-checks every fact that depends on it,
    its trust store, the key and the ledger.
    """

    __slots__ = ("actor_tds", "alg", "auds", "digest", "exp", "kid", "nbf", "ok", "scope",
                 "signed_end", "td")

    def __init__(self, ok: Verification, scope: Scope, alg: str, kid: str,
                 auds: tuple[str, ...], exp: float, nbf: float, digest: bytes,
                 signed_end: int) -> None:
        self.ok = ok
        self.alg = alg
        self.kid = kid
        self.td = ok.trust_domain or ""
        self.actor_tds = tuple(trust_domain_of(a) for a in ok.actors)
        self.auds = auds
        self.exp = exp
        self.nbf = nbf
        self.scope = scope
        self.digest = digest
        """SHA-256 of the signing input (what the issuance ledger records)."""
        self.signed_end = signed_end


# Token string -> its KnownToken, process-wide and bounded (oldest first out).
KNOWN: dict[str, KnownToken] = {}


class CacheEntry:
    """A token whose signature and static claims verified (the per-token cache value).

    It also holds what ``TokenVerifier.verify``'s fast path reads without a call: the limits,
    the scope's sets, the counters of the last recheck and the token's time-free attributes.
    """

    __slots__ = ("actors", "attrs", "auds", "bundle", "data", "exp", "exp_limit", "gen", "iat",
                 "jkt", "kid", "nbf_limit", "ok", "rgen", "rkey", "scope", "tgen", "tools",
                 "use_until")

    def __init__(
        self,
        ok: Verification,
        scope: Scope,
        auds: tuple[str, ...],
        exp_limit: float,
        nbf_limit: float,
        kid: str,
        bundle: TrustBundle,
        audience: str,
    ) -> None:
        self.ok = ok
        self.auds = auds
        self.exp_limit = exp_limit
        self.use_until = exp_limit if audience in auds else -math.inf
        """The verifier's fast path accepts the token only before this: its expiry limit,
        or never when the token does not name ``audience`` (the verifier's; setting another
        empties the cache), so that the full checks name that refusal."""
        self.nbf_limit = nbf_limit
        self.kid = kid
        self.bundle = bundle
        self.jkt = ok.holder
        self.scope = scope
        self.actors = ok.actors
        self.rkey = (ok.trust_domain or "", ok.jti or "")
        """How the revocation list keys this token."""
        self.gen = -1  # forces the revocation check on first use
        self.tgen = -1
        self.rgen = -1
        """The revocation list's ``changes`` when this token was last found unrevoked."""
        # The request checks read these directly (no call): the scope's tool and data class
        # sets, None where the scope allows all of them, and the token's time-free
        # attributes with its times (what ``ok.attributes(now)`` reads).
        self.tools = None if "*" in scope.tools else scope.tools
        self.data = None if "*" in scope.data_classes else scope.data_classes
        self.attrs = ok._static
        exp, iat = ok.expires_at, ok.issued_at
        assert exp is not None and iat is not None  # an accepted token has both
        self.exp = exp
        self.iat = iat


def freeze(value: Any) -> Any:
    """A read-only copy of a decoded JSON value (mappings and tuples)."""
    # Most claims are strings and numbers: only containers need a copy (one call per level).
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) if isinstance(v, dict | list) else v
                                 for k, v in value.items()})
    if isinstance(value, list):
        return tuple([freeze(v) if isinstance(v, dict | list) else v for v in value])
    return value


def remember_payload(segment: str, payload: dict[str, Any]) -> None:
    """Keep what decoding a payload segment gives, known without decoding it (the issuer).

    ``payload`` must be exactly what ``json.loads`` of the segment's bytes returns: the
    issuer that just encoded it (only strings, ints, floats and dicts) knows it. It is
    kept, with its frozen copy, in :data:`PAYLOADS` and must not be changed afterwards.
    """
    if segment in PAYLOADS:
        return
    if len(PAYLOADS) >= PAYLOAD_MEMO_SIZE:
        evict_oldest(PAYLOADS)
    PAYLOADS[segment] = (payload, freeze(payload))


def is_number(value: Any) -> bool:
    """Whether a claim is a finite JSON number (not a bool)."""
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


def remember(token: str, known: KnownToken) -> None:
    """Keep ``known`` for ``token`` in :data:`KNOWN` (bounded, oldest first out)."""
    if len(KNOWN) >= MEMO_SIZE:
        evict_oldest(KNOWN)
    KNOWN[token] = known
