"""Tokens and their outcomes: failure reasons, minted tokens, verifications, the issuance ledger.

Token shape (JWT-SVID, spiffe/spiffe ``standards/JWT-SVID.md``)::

    header  {"alg": "ES256", "kid": <key id>, "typ": "JWT"}
    payload {"iss": "spiffe://<td>", "sub": <SPIFFE ID>, "aud": <one audience>,
             "iat", "nbf", "exp": <NumericDate>, "jti": "<prefix>-<n:08d>",
             "scope": "tool:<id> ... data:<class> ..." | "*", "mode": "static" | "jit",
             "task_id": <task run> (JIT), "act": {"sub": <current actor>, "act": {...}}
             (delegated, RFC 8693: outermost = current actor), "cnf": {"jkt": <RFC 7638
             thumbprint>} (sender-constrained, RFC 7800)}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import sha256
from typing import Any

from engine.identity.scope import Scope

MODES = ("static", "jit")
"""Credential modes: long-lived ``static`` tokens or just-in-time ``jit`` ones per task run."""


class TokenReason(StrEnum):
    """Why a token was accepted (``ok``) or refused; one code per kind of failure."""

    OK = "ok"
    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    HEADER_NOT_ALLOWED = "header_not_allowed"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    MISSING_CLAIM = "missing_claim"
    INVALID_CLAIM = "invalid_claim"
    WRONG_ISSUER = "wrong_issuer"
    FOREIGN_TRUST_DOMAIN = "foreign_trust_domain"
    TRUST_DOMAIN_DISTRUSTED = "trust_domain_distrusted"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_AUDIENCE = "wrong_audience"
    REVOKED = "revoked"
    SUBJECT_REVOKED = "subject_revoked"
    KEY_REVOKED = "key_revoked"
    NOT_ISSUED = "not_issued"
    HOLDER_MISMATCH = "holder_mismatch"
    OUT_OF_SCOPE = "out_of_scope"
    ACT_CHAIN_MALFORMED = "act_chain_malformed"
    ACT_CHAIN_TOO_DEEP = "act_chain_too_deep"
    ACT_CHAIN_CYCLE = "act_chain_cycle"
    ACT_CHAIN_UNTRUSTED = "act_chain_untrusted"
    ACT_CHAIN_FORGED = "act_chain_forged"
    INTERNAL_ERROR = "internal_error"
    """The verifier itself failed; the token is refused (fail closed)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token the broker minted, with the facts it asserts.

    Attributes:
        token: The compact JWS (a bearer credential: kept out of ``repr``).
        jti: Token id (deterministic for a seed).
        sub: The subject's SPIFFE ID.
        aud: The single audience.
        iat: Issue time (also ``nbf``).
        exp: Expiry time.
        scope: What the token allows.
        task_id: The task run a JIT token is for, else None.
        actors: Delegation chain, current actor first (RFC 8693 nesting order).
        holder: ``cnf.jkt`` thumbprint when sender-constrained, else None.
        mode: ``static`` or ``jit``.
        kid: The signing key's id.
        trust_domain: The issuing trust domain.
    """

    token: str = field(repr=False)
    jti: str
    sub: str
    aud: str
    iat: float
    exp: float
    scope: Scope
    task_id: str | None
    actors: tuple[str, ...]
    holder: str | None
    mode: str
    kid: str
    trust_domain: str

    @property
    def sender_constrained(self) -> bool:
        """Whether the token is bound to a holder key (``cnf.jkt``)."""
        return self.holder is not None

    @property
    def current_actor(self) -> str:
        """Who presents the token: the outermost actor, or the subject when not delegated."""
        return self.actors[0] if self.actors else self.sub

    def ttl_remaining(self, now: float) -> float:
        """Seconds until expiry (negative once expired)."""
        return self.exp - now


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of verifying one token for one request; never an exception.

    Fields other than ``ok``, ``reason`` and ``detail`` are filled as far as the token
    could be read: a token refused for expiry still names its jti and subject (for the
    audit log), a malformed one names nothing.

    Attributes:
        ok: Whether the token is acceptable for this request.
        reason: ``ok`` or the failure code.
        detail: A human sentence on the failure (never contains the token).
        claims: The verified payload (read-only), None unless the signature verified.
        jti: Token id, when known.
        subject: The ``sub`` SPIFFE ID, when known.
        actors: Delegation chain, current actor first.
        mode: ``static`` or ``jit``, when known.
        task_id: The JIT task run, when present.
        scope: The granted scope, when known.
        issued_at: ``iat``, when known.
        expires_at: ``exp``, when known.
        holder: ``cnf.jkt``, when the token is sender-constrained.
        trust_domain: The subject's trust domain, when known.
        issuer: ``iss``, when known.
    """

    ok: bool
    reason: TokenReason
    detail: str = ""
    claims: Mapping[str, Any] | None = None
    jti: str | None = None
    subject: str | None = None
    actors: tuple[str, ...] = ()
    mode: str | None = None
    task_id: str | None = None
    scope: Scope | None = None
    issued_at: float | None = None
    expires_at: float | None = None
    holder: str | None = None
    trust_domain: str | None = None
    issuer: str | None = None
    _static: dict[str, Any] = field(init=False, repr=False, compare=False)
    """The attributes that do not depend on the time (copied, never handed out)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_static",
            {
                "valid": self.ok,
                "reason": self.reason.value,
                "jti": self.jti,
                "mode": self.mode,
                "task_id": self.task_id,
                "scope": self.scope.entries if self.scope is not None else (),
                "sender_constrained": self.holder is not None,
                "chain_depth": len(self.actors),
                "issuer": self.issuer,
                "trust_domain": self.trust_domain,
                # Set per request by attributes(); present here so that a copy already has
                # room for them, in the order callers have always seen (no dict resize).
                "ttl_remaining": None,
                "age": None,
            },
        )

    @property
    def current_actor(self) -> str | None:
        """Who presented the token: the outermost actor, else the subject."""
        return self.actors[0] if self.actors else self.subject

    def attributes(self, now: float) -> dict[str, Any]:
        """The ``token.*`` attribute namespace for the policy engine at time ``now``.

        Keys: valid, reason, jti, mode, task_id, ttl_remaining, age, scope (tuple of
        entries), sender_constrained, chain_depth, issuer, trust_domain.
        """
        attrs = self._static.copy()
        exp = self.expires_at
        iat = self.issued_at
        attrs["ttl_remaining"] = None if exp is None else exp - now
        attrs["age"] = None if iat is None else now - iat
        return attrs

    def failed(self, reason: TokenReason, detail: str) -> Verification:
        """The same token facts with a failure reason (how a cached success becomes a refusal)."""
        return Verification(
            False, reason, detail, self.claims, self.jti, self.subject, self.actors, self.mode,
            self.task_id, self.scope, self.issued_at, self.expires_at, self.holder,
            self.trust_domain, self.issuer,
        )


class IssuanceLedger:
    """What a broker issued, by jti: a digest of each token's signed bytes, sub, act, exp.

    A verifier holding the ledger (through the trust bundle) refuses a correctly signed token
    unless its jti was issued and the SHA-256 of its signing input (the header and payload
    segments exactly as signed) is the one recorded at issuance. So a holder of the leaked
    signing key can change nothing (scope, cnf, aud, iat, nbf, exp, act, task_id, mode, an
    added claim, the header) without the token being refused: the only way to tell a
    forgery from an issued token once the key itself has leaked. Only the signature may
    differ (ECDSA signatures are randomised), which grants nothing the issued token did not.
    See ``docs/identity.md``.
    """

    __slots__ = ("_records", "horizon")

    def __init__(self) -> None:
        self._records: dict[str, tuple[bytes, str, tuple[str, ...], float]] = {}
        self.horizon = -math.inf
        """Records of tokens that expired before this time may have been pruned."""

    def record(
        self, jti: str, sub: str, actors: tuple[str, ...], exp: float, signed: bytes
    ) -> None:
        """Record an issued token.

        Args:
            jti: Its token id.
            sub: Its subject.
            actors: Its delegation chain, current actor first.
            exp: Its expiry.
            signed: Its signing input (``header.payload``, ASCII), exactly as signed.
        """
        self._records[jti] = (sha256(signed).digest(), sub, actors, exp)

    def record_digest(
        self, jti: str, sub: str, actors: tuple[str, ...], exp: float, digest: bytes
    ) -> None:
        """Record an issued token by the SHA-256 ``digest`` of its signing input.

        The same record as :meth:`record`, for a caller that already holds the digest (a
        broker minting again a token it encoded before).
        """
        self._records[jti] = (digest, sub, actors, exp)

    def check(
        self, jti: str, sub: str, actors: tuple[str, ...], exp: float, signed: bytes
    ) -> tuple[TokenReason, str] | None:
        """None when the token is one that was issued; else the reason and detail.

        Args:
            jti: The presented token's jti.
            sub: Its subject.
            actors: Its delegation chain, current actor first.
            exp: Its expiry.
            signed: Its signing input (``header.payload``, ASCII), exactly as presented.
        """
        return self.check_digest(jti, sub, actors, exp, sha256(signed).digest())

    def check_digest(
        self, jti: str, sub: str, actors: tuple[str, ...], exp: float, digest: bytes
    ) -> tuple[TokenReason, str] | None:
        """:meth:`check` given the SHA-256 ``digest`` of the presented signing input.

        For a verifier that already digested these exact bytes (a token it saw before).
        """
        rec = self._records.get(jti)
        if rec is None:
            if exp <= self.horizon:
                # Pruned (or forged to look pruned): refused whatever the verifier's leeway.
                return (
                    TokenReason.EXPIRED,
                    f"token {jti} expired at {exp:g} and has left the issuance ledger",
                )
            return TokenReason.NOT_ISSUED, f"jti {jti} was never issued by this trust domain"
        issued_digest, issued_sub, issued_actors, issued_exp = rec
        if digest == issued_digest:
            return None
        # A valid signature over bytes the broker never issued: say what differs, as far as
        # the record tells.
        if issued_sub != sub:
            return TokenReason.NOT_ISSUED, f"jti {jti} was issued to a different subject"
        if issued_actors != actors:
            return (
                TokenReason.ACT_CHAIN_FORGED,
                f"act chain {' <- '.join(actors) or '(none)'} differs from the issued chain "
                f"{' <- '.join(issued_actors) or '(none)'}",
            )
        if issued_exp != exp:
            return (
                TokenReason.NOT_ISSUED,
                f"token {jti} claims exp {exp:g}; it was issued to expire at {issued_exp:g}",
            )
        return (
            TokenReason.NOT_ISSUED,
            f"token {jti} is not the token issued under that jti: its claims or header were "
            "changed and signed again with a real key (the signing key may have leaked)",
        )

    def prune(self, before: float) -> int:
        """Forget tokens that expired before ``before``; returns how many were dropped.

        Afterwards an unknown jti whose ``exp`` is at or before the horizon is refused as
        expired, whatever clock leeway a verifier allows.
        """
        stale = [jti for jti, rec in self._records.items() if rec[3] < before]
        for jti in stale:
            del self._records[jti]
        self.horizon = max(self.horizon, before)
        return len(stale)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, jti: object) -> bool:
        return jti in self._records
