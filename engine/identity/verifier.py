"""The token verifier: checks a JWT-SVID on every request and says why it refused one.

The signature, the token's static claims and the issuer's issuance ledger (the token must be
one the broker issued, byte for byte) are checked once per token string and cached; what can
change (time, audience, revocation, trust, holder, scope) is checked on every call.
A :class:`~engine.identity.tokens.Verification` comes back, never an exception.

What a token's bytes alone settle is remembered process-wide once a verifier accepted it;
another verifier re-checks the rest (:mod:`engine.identity.known`, ``_verify_known``). The
header and claim checks live in :mod:`engine.identity.claims`. A cached token that passes every
per-request check is accepted by one inline expression; any refusal is named by the checks
made one by one (``_verify``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from engine.identity.claims import ClaimChecks
from engine.identity.errors import CredentialError
from engine.identity.jws import (
    SUPPORTED_ALGORITHMS,
    Algorithm,
    decode_json,
    evict_oldest,
    verify_signature,
)
from engine.identity.known import (
    KNOWN,
    PAYLOAD_MEMO_SIZE,
    PAYLOADS,
    CacheEntry,
    KnownToken,
    freeze,
)
from engine.identity.scope import Scope
from engine.identity.spiffe import SpiffeId, SpiffeIdError, trust_domain_of
from engine.identity.tokens import TokenReason, Verification
from engine.identity.trust import RevocationList, TrustStore

DEFAULT_MAX_TOKEN_BYTES = 8192
DEFAULT_MAX_CHAIN_DEPTH = 4
DEFAULT_CACHE_SIZE = 65536


def _failure(reason: TokenReason, detail: str) -> Verification:
    return Verification(False, reason, detail)


class TokenVerifier(ClaimChecks):
    """Verifies JWT-SVIDs on every request; returns a :class:`Verification`, never raises.

    The signature and the token's static claims are verified once per token string and
    cached (bounded); expiry, not-before, audience, revocation and trust changes, holder
    binding and scope are checked on every call.

    Args:
        trust: The trust store to take keys from.
        audience: The audience this verifier serves; tokens must name it in ``aud``.
        revocations: The run's revocation list (a new, empty one when None).
        leeway: Seconds of clock skew allowed on ``exp`` and ``nbf``.
        max_chain_depth: The most delegation hops (``act`` levels) accepted.
        max_token_bytes: Longer tokens are refused before any parsing.
        algorithms: The ``alg`` allow-list (subset of :data:`SUPPORTED_ALGORITHMS`).
        cache_size: How many verified tokens to remember (oldest forgotten first).
        require_ledger: Refuse tokens of trust domains whose bundle carries no issuance
            ledger (one imported from a JWK Set alone): without it such a token is trusted
            on its signature, so a leak of that issuer's key goes unnoticed.

    Raises:
        CredentialError: an option is out of range or an algorithm is not supported.
    """

    def __init__(
        self,
        trust: TrustStore,
        *,
        audience: str,
        revocations: RevocationList | None = None,
        leeway: float = 0.0,
        max_chain_depth: int = DEFAULT_MAX_CHAIN_DEPTH,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        algorithms: Iterable[str] = ("ES256",),
        cache_size: int = DEFAULT_CACHE_SIZE,
        require_ledger: bool = False,
    ) -> None:
        if not audience:
            raise CredentialError("a verifier needs an audience")
        if not (leeway >= 0 and math.isfinite(leeway)):
            raise CredentialError(f"leeway must be >= 0 seconds, not {leeway!r}")
        if max_chain_depth < 0:
            raise CredentialError("max_chain_depth must be >= 0")
        if max_token_bytes <= 0 or cache_size <= 0:
            raise CredentialError("max_token_bytes and cache_size must be positive")
        algs = tuple(algorithms)
        for alg in algs:
            if alg not in SUPPORTED_ALGORITHMS:
                raise CredentialError(
                    f"algorithm {alg!r} cannot be allowed; supported: "
                    f"{', '.join(SUPPORTED_ALGORITHMS)}"
                )
        self.trust = trust
        self._audience = audience
        self.revocations = revocations if revocations is not None else RevocationList()
        self.leeway = float(leeway)
        self.max_chain_depth = max_chain_depth
        self._max_token_bytes = max_token_bytes
        self.algorithms = algs
        self.require_ledger = require_ledger
        self._algs = {alg: SUPPORTED_ALGORITHMS[alg] for alg in algs}
        self._cache: dict[str, CacheEntry] = {}
        self._cache_size = cache_size
        # Subjects, actors and scopes repeat across tokens: parse each distinct string once.
        self._ids: dict[str, SpiffeId] = {}
        self._scopes: dict[str, Scope] = {}
        self._headers: dict[str, tuple[Algorithm, str]] = {}

    @property
    def audience(self) -> str:
        """The audience this verifier serves (setting another empties the cache)."""
        return self._audience

    @audience.setter
    def audience(self, value: str) -> None:
        if not value:
            raise CredentialError("a verifier needs an audience")
        # Cached entries hold whether the token names the audience (CacheEntry.use_until).
        self._cache.clear()
        self._audience = value

    @property
    def max_token_bytes(self) -> int:
        """Longer tokens are refused before any parsing (setting a limit empties the cache)."""
        return self._max_token_bytes

    @max_token_bytes.setter
    def max_token_bytes(self, value: int) -> None:
        if value <= 0:
            raise CredentialError("max_token_bytes and cache_size must be positive")
        # verify's fast path takes every cached token to be within the limit.
        self._cache.clear()
        self._max_token_bytes = value

    @property
    def cached_tokens(self) -> int:
        """How many tokens have a cached signature verification."""
        return len(self._cache)

    def clear_cache(self) -> None:
        """Forget every cached verification (the next request re-verifies signatures)."""
        self._cache.clear()

    def verify(
        self,
        token: str,
        *,
        now: float,
        tool: str | None = None,
        data_class: str | None = None,
        presenter_thumbprint: str | None = None,
    ) -> Verification:
        """Verify ``token`` for one request at ``now``.

        Args:
            token: The compact JWS presented.
            now: The request time (Unix seconds).
            tool: The tool requested; None skips the scope check.
            data_class: The data class the call touches; None when it touches none.
            presenter_thumbprint: RFC 7638 thumbprint of the presenter's key; required to
                match ``cnf.jkt`` when the token is sender-constrained.

        Returns:
            ``ok`` with the token's facts, or the first failure's reason and detail.
        """
        # The fast path: a cached token that passes every per-request check, in one
        # expression. A cached token is within max_token_bytes (oversized ones are never
        # cached, and a new limit empties the cache) and use_until folds the audience check
        # into expiry (see CacheEntry); the revocation list's and trust store's counters stand
        # for the revocation and trust checks, as long as neither changed since this token
        # last passed them. Anything else, every refusal included, takes _verify: the same
        # checks one by one, naming the first that fails. verify_attributes spells out the
        # same expression (a call per request would cost as much as the checks); the tests
        # hold both to _verify.
        entry = self._cache.get(token)
        if entry is not None and entry.nbf_limit <= now < entry.use_until \
                and entry.rgen == self.revocations.changes \
                and entry.tgen == self.trust.generation \
                and (presenter_thumbprint == entry.jkt or entry.jkt is None) \
                and (tool is None or ((entry.tools is None or tool in entry.tools)
                                      and (data_class is None or entry.data is None
                                           or data_class in entry.data))):
            return entry.ok
        return self._verify(token, now, tool, data_class, presenter_thumbprint)

    def verify_attributes(
        self,
        token: str,
        now: float,
        tool: str | None,
        data_class: str | None,
        presenter_thumbprint: str | None,
    ) -> tuple[Verification, dict[str, Any]]:
        """:meth:`verify` and the outcome's ``attributes(now)``, in one call.

        The simulator's hot path: one call per request instead of two, its arguments
        positional (keywords cost a call more). They and the checks are :meth:`verify`'s.

        Returns:
            The :class:`Verification` ``verify`` returns and its ``token.*`` attributes at
            ``now`` (a new dict, the caller's to keep).
        """
        entry = self._cache.get(token)
        if entry is not None and entry.nbf_limit <= now < entry.use_until \
                and entry.rgen == self.revocations.changes \
                and entry.tgen == self.trust.generation \
                and (presenter_thumbprint == entry.jkt or entry.jkt is None) \
                and (tool is None or ((entry.tools is None or tool in entry.tools)
                                      and (data_class is None or entry.data is None
                                           or data_class in entry.data))):
            # What entry.ok.attributes(now) returns, without the call.
            attrs = entry.attrs.copy()
            attrs["ttl_remaining"] = entry.exp - now
            attrs["age"] = now - entry.iat
            return entry.ok, attrs
        verification = self._verify(token, now, tool, data_class, presenter_thumbprint)
        return verification, verification.attributes(now)

    def _verify(self, token: str, now: float, tool: str | None, data_class: str | None,
                presenter_thumbprint: str | None) -> Verification:
        """Every check in order, naming the first that fails (all but the fast path)."""
        if len(token) > self.max_token_bytes:
            return _failure(
                TokenReason.OVERSIZED,
                f"token of {len(token)} bytes exceeds the {self.max_token_bytes}-byte limit",
            )
        entry = self._cache.get(token)
        if entry is None:
            try:
                first = self._verify_signed(token, now)
            except Exception as exc:  # a verifier bug must refuse the token, not crash the caller
                return _failure(
                    TokenReason.INTERNAL_ERROR,
                    f"verifier error {type(exc).__name__}; token refused",
                )
            if isinstance(first, Verification):
                return first
            entry = first
        if now >= entry.exp_limit:
            ok = entry.ok
            return ok.failed(TokenReason.EXPIRED, f"token {ok.jti} expired at {ok.expires_at:g}")
        if now < entry.nbf_limit:
            ok = entry.ok
            return ok.failed(
                TokenReason.NOT_YET_VALID, f"token {ok.jti} is not valid before "
                f"{entry.nbf_limit + self.leeway:g}",
            )
        if self.audience not in entry.auds:
            return entry.ok.failed(
                TokenReason.WRONG_AUDIENCE,
                f"token is for {', '.join(entry.auds)}, not {self.audience}",
            )
        revocations = self.revocations
        if entry.gen != revocations.generation or entry.tgen != self.trust.generation \
                or entry.rkey in revocations._tokens:
            refused = self._recheck(entry, now)
            if refused is not None:
                return refused
        else:
            # Unrevoked as of these changes: the fast path may skip the lookup until the next.
            entry.rgen = revocations.changes
        jkt = entry.jkt
        if jkt is not None and presenter_thumbprint != jkt:
            return entry.ok.failed(
                TokenReason.HOLDER_MISMATCH,
                "token is sender-constrained and the presenter "
                + ("showed no key" if presenter_thumbprint is None else "holds a different key"),
            )
        if tool is not None and not entry.scope.covers(tool, data_class):
            what = tool if data_class is None else f"{tool} on {data_class} data"
            return entry.ok.failed(
                TokenReason.OUT_OF_SCOPE, f"{what} is outside the token's scope"
            )
        return entry.ok

    def _recheck(self, entry: CacheEntry, now: float) -> Verification | None:
        """Revocation and trust checks, when either changed or this token was revoked."""
        ok = entry.ok
        td = ok.trust_domain or ""
        refused = self.revocations.check(
            td, ok.jti or "", entry.kid, ok.subject or "", entry.actors, ok.issued_at or 0.0
        )
        if refused is not None:
            return ok.failed(*refused)
        bundle = self.trust.get(td)
        if bundle is not entry.bundle:
            return ok.failed(
                TokenReason.FOREIGN_TRUST_DOMAIN, f"trust domain {td} is no longer trusted"
            )
        if bundle.key(entry.kid, now) is None:
            return ok.failed(TokenReason.UNKNOWN_KID, f"signing key {entry.kid} was withdrawn")
        for actor in entry.actors:
            if trust_domain_of(actor) not in self.trust:
                return ok.failed(
                    TokenReason.ACT_CHAIN_UNTRUSTED, f"actor {actor} is no longer trusted"
                )
        entry.gen = self.revocations.generation
        entry.tgen = self.trust.generation
        entry.rgen = self.revocations.changes
        return None

    def _verify_signed(self, token: str, now: float) -> CacheEntry | Verification:
        """Parse, check the header, verify the signature and the static claims; cache."""
        known = KNOWN.get(token)
        if known is not None:
            entry = self._verify_known(token, known, now)
            if entry is not None:
                return entry
            # Refused here: the full path below finds and names the reason.
        fail = _failure
        if not token.isascii():
            return fail(TokenReason.MALFORMED, "token contains non-ASCII characters")
        h64, dot, rest = token.partition(".")
        p64, dot2, s64 = rest.partition(".")
        if not dot or not dot2 or "." in s64:
            return fail(TokenReason.MALFORMED, "expected three dot-separated segments (JWS)")
        parsed: tuple[Algorithm, str] | Verification | None = self._headers.get(h64)
        if parsed is None:
            parsed = self._parse_header(h64)
        if isinstance(parsed, Verification):
            return parsed
        algorithm, kid = parsed
        decoded = PAYLOADS.get(p64)
        if decoded is None:
            try:
                payload = decode_json(p64)
            except (ValueError, RecursionError):
                return fail(TokenReason.MALFORMED, "payload is not base64url-encoded JSON")
            if not isinstance(payload, dict):
                return fail(TokenReason.MALFORMED, "payload is not a JSON object")
            decoded = (payload, freeze(payload))
            if len(PAYLOADS) >= PAYLOAD_MEMO_SIZE:
                evict_oldest(PAYLOADS)
            PAYLOADS[p64] = decoded
        payload, frozen = decoded

        # The subject picks the trust bundle (JWT-SVID validation), so it is read before the
        # signature is checked; nothing else in the payload is trusted until then.
        sub = payload.get("sub")
        if sub is None:
            return fail(TokenReason.MISSING_CLAIM, "no sub claim")
        try:
            if not isinstance(sub, str):
                raise SpiffeIdError(str(sub)[:40], "sub must be a string")
            sid = self._spiffe_id(sub)
        except SpiffeIdError as exc:
            return fail(TokenReason.INVALID_CLAIM, f"sub is not a SPIFFE ID: {exc.rule}")
        td = sid.trust_domain
        if self.revocations.is_distrusted(td):
            return fail(TokenReason.TRUST_DOMAIN_DISTRUSTED, f"trust domain {td} is distrusted")
        bundle = self.trust.get(td)
        if bundle is None:
            # Named (unverified) so the decision says whose token this gateway refused.
            return Verification(False, TokenReason.FOREIGN_TRUST_DOMAIN,
                                f"trust domain {td} is not trusted", subject=str(sid),
                                trust_domain=td)
        public_key = bundle.key(kid, now)
        if public_key is None:
            return fail(TokenReason.UNKNOWN_KID, f"kid {kid[:40]!r} is not in the {td} bundle")
        if not isinstance(public_key.curve, algorithm.curve):
            return fail(
                TokenReason.ALG_NOT_ALLOWED, f"alg {algorithm.name} does not match key {kid}"
            )
        refused = verify_signature(public_key, algorithm, token, len(h64) + 1 + len(p64))
        if refused is not None:
            size = algorithm.coordinate_bytes
            return fail(*{
                "malformed": (TokenReason.MALFORMED, "signature is not base64url"),
                "size": (TokenReason.BAD_SIGNATURE, f"signature is not {2 * size} bytes (r || s)"),
                "bad": (TokenReason.BAD_SIGNATURE, f"signature does not verify with key {kid}"),
            }[refused])
        signed = token[: len(h64) + 1 + len(p64)].encode("ascii")
        return self._check_claims(token, signed, payload, frozen, sid, kid, bundle, algorithm)

    def _verify_known(self, token: str, known: KnownToken, now: float) -> CacheEntry | None:
        """The cache entry of a token another verifier accepted, or None to take the full path.

        Re-checks, in this verifier, everything the token's bytes do not settle: its alg is
        allowed, its trust domain is neither distrusted nor untrusted, its kid names a live
        key on the alg's curve under which the signature verifies (ECDSA, once per key and
        token in the process), the chain is within depth and its actors trusted, and the
        issuer's ledger recorded these bytes.
        """
        algorithm = self._algs.get(known.alg)
        td = known.td
        if algorithm is None or self.revocations.is_distrusted(td):
            return None
        bundle = self.trust.get(td)
        public_key = None if bundle is None else bundle.key(known.kid, now)
        if public_key is None or not isinstance(public_key.curve, algorithm.curve) \
                or verify_signature(public_key, algorithm, token, known.signed_end) is not None:
            return None
        assert bundle is not None
        actor_tds = known.actor_tds
        if actor_tds:
            if len(actor_tds) > self.max_chain_depth:
                return None
            for actor_td in actor_tds:
                if actor_td not in self.trust:
                    return None
        ok = known.ok
        ledger = bundle.ledger
        if ledger is not None:
            if ledger.check_digest(ok.jti or "", ok.subject or "", ok.actors, ok.expires_at or 0.0,
                                   known.digest) is not None:
                return None
        elif self.require_ledger:
            return None
        return self._remember(token, CacheEntry(
            ok, known.scope, known.auds, known.exp + self.leeway, known.nbf - self.leeway,
            known.kid, bundle, self._audience))

    def _remember(self, token: str, entry: CacheEntry) -> CacheEntry:
        cache = self._cache
        if len(cache) >= self._cache_size:
            del cache[next(iter(cache))]  # oldest first: O(1), bounded
        cache[token] = entry
        return entry
