"""The checks of a token's header and claims a verifier runs once per token string.

:class:`ClaimChecks` is the part of :class:`~engine.identity.verifier.TokenVerifier` that
reads a signed token's header and payload (JWT-SVID parameters, issuer, audience, times, jti,
mode, scope, ``cnf``, the ``act`` chain) and checks it against the issuer's ledger; what a
request changes is checked by the verifier itself, on every call.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

from engine.identity.errors import ScopeError
from engine.identity.jws import Algorithm, decode_json
from engine.identity.known import CacheEntry, KnownToken, is_number, remember
from engine.identity.scope import Scope
from engine.identity.spiffe import SpiffeId, SpiffeIdError
from engine.identity.tokens import MODES, TokenReason, Verification
from engine.identity.trust import TrustBundle, TrustStore

_PARSE_CACHE_SIZE = 4096
_HEADER_CACHE_SIZE = 1024
_ALLOWED_HEADER = frozenset({"alg", "kid", "typ"})  # JWT-SVID §2: no other header parameters
_ACT_MEMBERS = frozenset({"sub", "iss", "act"})  # RFC 8693 §4.1: identity claims only


def _failure(reason: TokenReason, detail: str) -> Verification:
    return Verification(False, reason, detail)


class ClaimChecks:
    """Header and claim checks, with the parse caches they share (a verifier's base class)."""

    algorithms: tuple[str, ...]
    trust: TrustStore
    leeway: float
    max_chain_depth: int
    require_ledger: bool
    _audience: str
    _algs: dict[str, Algorithm]
    _ids: dict[str, SpiffeId]
    _scopes: dict[str, Scope]
    _headers: dict[str, tuple[Algorithm, str]]

    def _remember(self, token: str, entry: CacheEntry) -> CacheEntry:
        """Cache ``entry`` for ``token`` (the verifier's; bounded)."""
        raise NotImplementedError

    def _parse_header(self, h64: str) -> tuple[Algorithm, str] | Verification:
        """Check a header segment: JSON object, allowed alg, JWT-SVID parameters, a kid."""
        fail = _failure
        try:
            header = decode_json(h64)
        except (ValueError, RecursionError):
            return fail(TokenReason.MALFORMED, "header is not base64url-encoded JSON")
        if not isinstance(header, dict):
            return fail(TokenReason.MALFORMED, "header is not a JSON object")
        alg = header.get("alg")
        algorithm = self._algs.get(alg) if isinstance(alg, str) else None
        if algorithm is None:
            return fail(
                TokenReason.ALG_NOT_ALLOWED,
                f"alg {str(alg)[:20]!r} is not in the allow-list ({', '.join(self.algorithms)})",
            )
        extra = header.keys() - _ALLOWED_HEADER
        if extra:
            return fail(
                TokenReason.HEADER_NOT_ALLOWED,
                f"header parameters {', '.join(sorted(str(e)[:20] for e in extra))} not allowed",
            )
        typ = header.get("typ")
        if typ is not None and typ not in ("JWT", "JOSE"):
            return fail(TokenReason.HEADER_NOT_ALLOWED, f"typ {str(typ)[:20]!r} not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            return fail(TokenReason.UNKNOWN_KID, "header has no kid")
        # Every token of a key shares its header: remember good ones (bounded).
        if len(self._headers) >= _HEADER_CACHE_SIZE:
            self._headers.clear()
        self._headers[h64] = (algorithm, kid)
        return algorithm, kid

    def _check_claims(
        self, token: str, signed: bytes, payload: dict[str, Any], frozen: Any, sid: SpiffeId,
        kid: str, bundle: TrustBundle, algorithm: Algorithm,
    ) -> CacheEntry | Verification:
        fail = _failure
        for claim in ("iss", "aud", "exp", "iat", "jti", "scope", "mode"):
            if claim not in payload:
                return fail(TokenReason.MISSING_CLAIM, f"no {claim} claim")
        sub = str(sid)
        td = sid.trust_domain
        iss = payload["iss"]
        if iss != f"spiffe://{td}":
            return fail(TokenReason.WRONG_ISSUER, f"iss {str(iss)[:60]!r} is not {td}'s authority")
        aud = payload["aud"]
        if isinstance(aud, str):
            auds: tuple[str, ...] = (aud,)
        elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            auds = tuple(aud)
        else:
            return fail(TokenReason.INVALID_CLAIM, "aud must be a string or a list of strings")
        exp, iat = payload["exp"], payload["iat"]
        nbf = payload.get("nbf", iat)
        if not (is_number(exp) and is_number(iat) and is_number(nbf)):
            return fail(TokenReason.INVALID_CLAIM, "exp, iat and nbf must be finite numbers")
        jti = payload["jti"]
        if not isinstance(jti, str) or not jti:
            return fail(TokenReason.INVALID_CLAIM, "jti must be a non-empty string")
        mode = payload["mode"]
        if mode not in MODES:
            return fail(TokenReason.INVALID_CLAIM, f"mode {str(mode)[:20]!r} is not static or jit")
        task_id = payload.get("task_id")
        if task_id is not None and not isinstance(task_id, str):
            return fail(TokenReason.INVALID_CLAIM, "task_id must be a string")
        claim = payload["scope"]
        scope = self._scopes.get(claim) if isinstance(claim, str) else None
        if scope is None:
            try:
                scope = Scope.parse(claim)
            except ScopeError as exc:
                return fail(TokenReason.INVALID_CLAIM, str(exc))
            if len(self._scopes) >= _PARSE_CACHE_SIZE:
                self._scopes.clear()
            self._scopes[claim] = scope
        holder = None
        if "cnf" in payload:
            cnf = payload["cnf"]
            if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str):
                return fail(TokenReason.INVALID_CLAIM, "cnf must be an object with a jkt string")
            holder = cnf["jkt"]

        actors: tuple[str, ...] = ()
        if "act" in payload:
            chain = self._parse_act(payload["act"], sub)
            if isinstance(chain, Verification):
                return chain
            actors = chain
        ledger = bundle.ledger
        digest = sha256(signed).digest()
        if ledger is not None:
            # The issued token byte for byte, or a forgery under a real (leaked) key.
            forged = ledger.check_digest(jti, sub, actors, float(exp), digest)
            if forged is not None:
                return fail(*forged)
        elif self.require_ledger:
            return fail(
                TokenReason.NOT_ISSUED,
                f"trust domain {td} keeps no issuance ledger this verifier can check",
            )

        ok = Verification(
            True, TokenReason.OK, "", frozen, jti, sub, actors, mode, task_id,
            scope, float(iat), float(exp), holder, td, iss,
        )
        remember(token, KnownToken(ok, scope, algorithm.name, kid, auds, exp, nbf, digest,
                                   len(signed)))
        return self._remember(
            token, CacheEntry(ok, scope, auds, exp + self.leeway, nbf - self.leeway, kid, bundle,
                              self._audience)
        )

    def _spiffe_id(self, value: str) -> SpiffeId:
        sid = self._ids.get(value)
        if sid is None:
            sid = SpiffeId.parse(value)
            if len(self._ids) >= _PARSE_CACHE_SIZE:
                self._ids.clear()
            self._ids[value] = sid
        return sid

    def _parse_act(self, act: Any, sub: str) -> tuple[str, ...] | Verification:
        """The actors of a nested ``act`` claim, current first; refusals for bad chains."""
        fail = _failure
        actors: list[str] = []
        seen = {sub}
        node = act
        while node is not None:
            if not isinstance(node, dict) or not isinstance(node.get("sub"), str):
                return fail(TokenReason.ACT_CHAIN_MALFORMED, "each act must be an object with sub")
            if node.keys() - _ACT_MEMBERS:
                return fail(TokenReason.ACT_CHAIN_MALFORMED, "act may hold only sub, iss and act")
            if len(actors) >= self.max_chain_depth:
                return fail(
                    TokenReason.ACT_CHAIN_TOO_DEEP,
                    f"delegation chain deeper than {self.max_chain_depth}",
                )
            try:
                actor = self._spiffe_id(node["sub"])
            except SpiffeIdError as exc:
                return fail(
                    TokenReason.ACT_CHAIN_MALFORMED, f"actor is not a SPIFFE ID: {exc.rule}"
                )
            name = str(actor)
            if name in seen:
                return fail(TokenReason.ACT_CHAIN_CYCLE, f"{name} appears twice in the chain")
            if actor.trust_domain not in self.trust:
                return fail(
                    TokenReason.ACT_CHAIN_UNTRUSTED,
                    f"actor {name} is in untrusted trust domain {actor.trust_domain}",
                )
            seen.add(name)
            actors.append(name)
            node = node.get("act")
        if not actors:
            return fail(TokenReason.ACT_CHAIN_MALFORMED, "act is empty")
        return tuple(actors)
