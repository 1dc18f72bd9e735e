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
# function of the segment, and a sweep's runs issue many identical tokens. Read-only.
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
    """A token whose signature and static claims verified (the per-token cache value)."""

    __slots__ = ("actors", "auds", "bundle", "exp_limit", "gen", "jkt", "kid", "nbf_limit",
                 "ok", "rkey", "scope", "tgen")

    def __init__(
        self,
        ok: Verification,
        scope: Scope,
        auds: tuple[str, ...],
        exp_limit: float,
        nbf_limit: float,
        kid: str,
        bundle: TrustBundle,
    ) -> None:
        self.ok = ok
        self.auds = auds
        self.exp_limit = exp_limit
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


def freeze(value: Any) -> Any:
    """A read-only copy of a decoded JSON value (mappings and tuples)."""
    # Most claims are strings and numbers: only containers need a copy (one call per level).
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) if isinstance(v, dict | list) else v
                                 for k, v in value.items()})
    if isinstance(value, list):
        return tuple([freeze(v) if isinstance(v, dict | list) else v for v in value])
    return value


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
