"""Workload credentials: a broker minting ES256 JWT-SVIDs and a verifier that checks every request.

The pieces of one run share two objects: a :class:`TrustStore` (each trust domain's bundle
of public keys, published by its :class:`CredentialBroker`) and a :class:`RevocationList`
(revoked tokens, quarantined subjects, revoked keys, distrusted trust domains). A
:class:`TokenVerifier` reads both on every request.

Time is always passed in (``now``, Unix seconds): the simulator owns the clock, so nothing
here reads the wall clock. Keys, kids and jtis are derived from the run's seed, so the
same run issues the same token ids; only the ECDSA signatures themselves are randomised.

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

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm

from engine.errors import AgentrangeError
from engine.keys import (
    jwk_thumbprint,
    load_private_key,
    public_jwk,
    public_key_from_jwk,
    signing_key,
    write_private_key,
)
from engine.spiffe import SpiffeId, SpiffeIdError, validate_trust_domain

MODES = ("static", "jit")
DEFAULT_MAX_TOKEN_BYTES = 8192
DEFAULT_MAX_CHAIN_DEPTH = 4
DEFAULT_CACHE_SIZE = 65536
_PARSE_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Alg:
    """An ECDSA JWS algorithm (RFC 7518 §3.4): curve, hash, and the r || s size."""

    name: str
    curve: type[ec.EllipticCurve]
    ecdsa: ec.ECDSA
    coordinate_bytes: int


SUPPORTED_ALGORITHMS: Mapping[str, _Alg] = {
    "ES256": _Alg("ES256", ec.SECP256R1, ec.ECDSA(hashes.SHA256()), 32),
    "ES384": _Alg("ES384", ec.SECP384R1, ec.ECDSA(hashes.SHA384()), 48),
    "ES512": _Alg("ES512", ec.SECP521R1, ec.ECDSA(hashes.SHA512()), 66),
}
"""Algorithms a verifier may allow: asymmetric ones JWT-SVID §2.1 permits and we can check."""

_ES256_SIGNER = ECAlgorithm(ECAlgorithm.SHA256)
_HEADER_CACHE_SIZE = 1024
# json.dumps with non-default options builds a new encoder per call; build it once.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_ALLOWED_HEADER = frozenset({"alg", "kid", "typ"})  # JWT-SVID §2: no other header parameters
_ACT_MEMBERS = frozenset({"sub", "iss", "act"})  # RFC 8693 §4.1: identity claims only
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_SCOPE_ID = re.compile(r"[^\s*:][^\s]*")


class CredentialError(AgentrangeError):
    """A credential operation was refused (bad argument, unknown token, quarantined agent)."""


class QuarantinedError(CredentialError):
    """A token was requested for (or through) a quarantined workload."""


class ScopeError(CredentialError):
    """A scope value or ``scope`` claim is not well-formed."""


# --- scope ----------------------------------------------------------------------------------


def _check_ids(kind: str, values: frozenset[str]) -> None:
    for value in values:
        if value != "*" and (not isinstance(value, str) or _SCOPE_ID.fullmatch(value) is None):
            raise ScopeError(f"invalid {kind} in scope: {value!r}")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a token allows: tools and data classes; ``*`` in either set means all of them.

    Rendered in the ``scope`` claim as space-separated ``tool:<id>`` and ``data:<class>``
    entries (``tool:*``, ``data:*``), or ``*`` alone when both sets are unlimited.

    Attributes:
        tools: Tool ids, or ``{"*"}`` for every tool.
        data_classes: Data class ids, or ``{"*"}`` for every data class.
        entries: The claim entries, sorted (the ``token.scope`` attribute).
        claim: The ``scope`` claim string.
    """

    tools: frozenset[str] = frozenset()
    data_classes: frozenset[str] = frozenset()
    entries: tuple[str, ...] = field(init=False, repr=False, compare=False)
    claim: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tools, frozenset):
            object.__setattr__(self, "tools", frozenset(self.tools))
        if not isinstance(self.data_classes, frozenset):
            object.__setattr__(self, "data_classes", frozenset(self.data_classes))
        _check_ids("tool", self.tools)
        _check_ids("data class", self.data_classes)
        all_tools = "*" in self.tools
        all_data = "*" in self.data_classes
        if all_tools and all_data:
            entries: tuple[str, ...] = ("*",)
        else:
            tools = ["tool:*"] if all_tools else sorted(f"tool:{t}" for t in self.tools)
            data = ["data:*"] if all_data else sorted(f"data:{d}" for d in self.data_classes)
            entries = (*tools, *data)
        object.__setattr__(self, "entries", entries)
        object.__setattr__(self, "claim", " ".join(entries))

    @classmethod
    def of(cls, tools: Iterable[str] = (), data_classes: Iterable[str] = ()) -> Scope:
        """A scope from any iterables of tool ids and data classes."""
        return cls(frozenset(tools), frozenset(data_classes))

    @classmethod
    def everything(cls) -> Scope:
        """The unlimited scope ``*`` (what an over-broad static profile grants)."""
        return EVERYTHING

    @classmethod
    def parse(cls, claim: str) -> Scope:
        """Parse a ``scope`` claim.

        Raises:
            ScopeError: an entry is neither ``*``, ``tool:<id>`` nor ``data:<class>``.
        """
        if not isinstance(claim, str):
            raise ScopeError("scope claim must be a string")
        tools: set[str] = set()
        data: set[str] = set()
        if claim:
            for entry in claim.split(" "):
                if entry == "*":
                    tools.add("*")
                    data.add("*")
                elif entry.startswith("tool:"):
                    tools.add(entry[5:])
                elif entry.startswith("data:"):
                    data.add(entry[5:])
                else:
                    raise ScopeError(f"scope entry {entry[:40]!r} is not tool:<id> or data:<class>")
        return cls(frozenset(tools), frozenset(data))

    @property
    def is_wildcard(self) -> bool:
        """True when the scope grants all tools or all data classes (over-broad)."""
        return "*" in self.tools or "*" in self.data_classes

    def covers(self, tool: str, data_class: str | None = None) -> bool:
        """Whether a call of ``tool`` touching ``data_class`` (None: no data) is in scope."""
        tools = self.tools
        if tool not in tools and "*" not in tools:
            return False
        if data_class is None:
            return True
        data = self.data_classes
        return data_class in data or "*" in data

    def intersect(self, other: Scope) -> Scope:
        """The scope both allow (delegation attenuation)."""

        def meet(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
            if "*" in a:
                return b
            if "*" in b:
                return a
            return a & b

        return Scope(meet(self.tools, other.tools), meet(self.data_classes, other.data_classes))


EVERYTHING = Scope(frozenset({"*"}), frozenset({"*"}))


# --- results --------------------------------------------------------------------------------


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
    _static: Mapping[str, Any] = field(init=False, repr=False, compare=False)

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
        attrs = dict(self._static)
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


def _failure(reason: TokenReason, detail: str) -> Verification:
    return Verification(False, reason, detail)


# --- trust: issuance ledger, bundles, store, revocations --------------------------------------


class IssuanceLedger:
    """What a broker issued, by jti: the subject and delegation chain it put in each token.

    A verifier holding the ledger (through the trust bundle) refuses a correctly signed
    token whose jti the broker never issued, or whose ``act`` chain differs from the one the
    broker recorded: the only way to tell a forged chain from a real one once the signing
    key itself has leaked.
    """

    __slots__ = ("_records", "horizon")

    def __init__(self) -> None:
        self._records: dict[str, tuple[str, tuple[str, ...], float]] = {}
        self.horizon = -math.inf
        """Records of tokens that expired before this time may have been pruned."""

    def record(self, jti: str, sub: str, actors: tuple[str, ...], exp: float) -> None:
        """Record an issued token."""
        self._records[jti] = (sub, actors, exp)

    def check(
        self, jti: str, sub: str, actors: tuple[str, ...], exp: float
    ) -> tuple[TokenReason, str] | None:
        """None when the token matches what was issued; else the reason and detail."""
        rec = self._records.get(jti)
        if rec is None:
            if exp <= self.horizon:
                return None  # expired and pruned: the expiry check refuses it anyway
            return TokenReason.NOT_ISSUED, f"jti {jti} was never issued by this trust domain"
        if rec[0] != sub:
            return TokenReason.NOT_ISSUED, f"jti {jti} was issued to a different subject"
        if rec[1] != actors:
            return (
                TokenReason.ACT_CHAIN_FORGED,
                f"act chain {' <- '.join(actors) or '(none)'} differs from the issued chain "
                f"{' <- '.join(rec[1]) or '(none)'}",
            )
        return None

    def prune(self, before: float) -> int:
        """Forget tokens that expired before ``before``; returns how many were dropped."""
        stale = [jti for jti, rec in self._records.items() if rec[2] < before]
        for jti in stale:
            del self._records[jti]
        self.horizon = max(self.horizon, before)
        return len(stale)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, jti: object) -> bool:
        return jti in self._records


@dataclass(slots=True)
class _BundleKey:
    public_key: ec.EllipticCurvePublicKey
    jwk: dict[str, Any]
    retire_after: float | None = None


class TrustBundle:
    """One trust domain's JWT-SVID signing keys (public JWKs by kid), as a verifier sees them.

    Retired keys stay until ``retire_after`` so tokens signed before a rotation keep
    verifying until they expire.
    """

    def __init__(self, trust_domain: str, *, ledger: IssuanceLedger | None = None) -> None:
        self.trust_domain = validate_trust_domain(trust_domain)
        self.ledger = ledger
        self._keys: dict[str, _BundleKey] = {}
        self._store: TrustStore | None = None

    def add_key(self, kid: str, public_key: ec.EllipticCurvePublicKey) -> None:
        """Publish a signing key under ``kid``."""
        self._keys[kid] = _BundleKey(public_key, public_jwk(public_key, kid))

    def retire_key(self, kid: str, *, after: float) -> None:
        """Keep ``kid`` for verification until ``after`` (then it is unknown)."""
        self._keys[kid].retire_after = after

    def remove_key(self, kid: str) -> None:
        """Withdraw ``kid`` at once (a compromised key); cached verifications are rechecked."""
        if self._keys.pop(kid, None) is not None and self._store is not None:
            self._store.generation += 1

    def key(self, kid: str, now: float) -> ec.EllipticCurvePublicKey | None:
        """The public key for ``kid`` at ``now``; None when unknown or retired."""
        entry = self._keys.get(kid)
        if entry is None or (entry.retire_after is not None and now > entry.retire_after):
            return None
        return entry.public_key

    @property
    def kids(self) -> tuple[str, ...]:
        """Every published kid, retired ones included."""
        return tuple(self._keys)

    def to_jwks(self, now: float | None = None) -> dict[str, Any]:
        """The bundle as a JWK Set (keys with ``use: jwt-svid`` and ``kid``), live at ``now``."""
        keys = [
            dict(k.jwk)
            for k in self._keys.values()
            if now is None or k.retire_after is None or now <= k.retire_after
        ]
        return {"keys": keys}

    @classmethod
    def from_jwks(cls, trust_domain: str, document: Mapping[str, Any]) -> TrustBundle:
        """A bundle from a JWK Set; only ``use: jwt-svid`` keys with a ``kid`` are taken.

        Raises:
            CredentialError: the document is not a JWK Set of P-256 keys.
        """
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise CredentialError(f"JWK Set for {trust_domain} has no 'keys' list")
        bundle = cls(trust_domain)
        for jwk in keys:
            if not isinstance(jwk, dict) or jwk.get("use") != "jwt-svid":
                continue
            kid = jwk.get("kid")
            if not isinstance(kid, str) or not kid:
                raise CredentialError(f"JWK Set for {trust_domain}: a jwt-svid key has no kid")
            try:
                bundle.add_key(kid, public_key_from_jwk(jwk))
            except (ValueError, binascii.Error) as exc:
                raise CredentialError(f"JWK Set for {trust_domain}: key {kid}: {exc}") from None
        return bundle


class TrustStore:
    """The trust bundles a verifier accepts, by trust domain."""

    def __init__(self, bundles: Iterable[TrustBundle] = ()) -> None:
        self._bundles: dict[str, TrustBundle] = {}
        self.generation = 0
        """Bumped whenever trust is withdrawn, so cached verifications get rechecked."""
        for bundle in bundles:
            self.add(bundle)

    def add(self, bundle: TrustBundle) -> None:
        """Trust a bundle.

        Raises:
            CredentialError: a different bundle is already trusted for that domain.
        """
        current = self._bundles.get(bundle.trust_domain)
        if current is not None and current is not bundle:
            raise CredentialError(f"trust domain {bundle.trust_domain} already has a bundle")
        self._bundles[bundle.trust_domain] = bundle
        bundle._store = self

    def remove(self, trust_domain: str) -> None:
        """Stop trusting a trust domain's bundle."""
        bundle = self._bundles.pop(trust_domain, None)
        if bundle is not None:
            bundle._store = None
            self.generation += 1

    def get(self, trust_domain: str) -> TrustBundle | None:
        """The bundle of a trust domain, or None when it is not trusted."""
        return self._bundles.get(trust_domain)

    def __contains__(self, trust_domain: object) -> bool:
        return trust_domain in self._bundles

    def __iter__(self) -> Iterator[str]:
        return iter(self._bundles)

    def __len__(self) -> int:
        return len(self._bundles)


class RevocationList:
    """Revocations shared by the brokers and verifiers of a run.

    Four kinds, each with its own refusal reason: a token (by trust domain and jti), a
    subject (every token naming that workload as subject or actor issued at or before the
    revocation: quarantine), a signing key (every token under that kid), and a whole trust
    domain (every token whose subject or any actor belongs to it: a distrusted vendor).
    """

    def __init__(self) -> None:
        self.generation = 0
        """Bumped on every revocation of a subject, key or trust domain, so cached
        verifications get rechecked (a single token's revocation is looked up per use)."""
        self._tokens: dict[tuple[str, str], tuple[float, float | None]] = {}
        self._subjects: dict[str, float] = {}
        self._keys: dict[tuple[str, str], float] = {}
        self._domains: dict[str, float] = {}

    def revoke_token(
        self, trust_domain: str, jti: str, *, now: float, expires_at: float | None = None
    ) -> bool:
        """Revoke one token; False when it was already revoked.

        ``expires_at`` lets :meth:`prune` forget the entry once the token has expired.
        """
        key = (trust_domain, jti)
        if key in self._tokens:
            return False
        # No generation bump: it would make verifiers recheck every other cached token;
        # they look this token up by (trust domain, jti) on every use instead.
        self._tokens[key] = (now, expires_at)
        return True

    def revoke_subject(self, spiffe_id: str, *, now: float) -> None:
        """Revoke every token naming ``spiffe_id`` (subject or actor) issued at or before now."""
        self._subjects[spiffe_id] = max(now, self._subjects.get(spiffe_id, -math.inf))
        self.generation += 1

    def revoke_key(self, trust_domain: str, kid: str, *, now: float) -> None:
        """Revoke every token signed with ``kid`` in ``trust_domain``."""
        self._keys.setdefault((trust_domain, kid), now)
        self.generation += 1

    def distrust(self, trust_domain: str, *, now: float) -> None:
        """Refuse every token whose subject or any actor is in ``trust_domain``."""
        self._domains.setdefault(trust_domain, now)
        self.generation += 1

    def is_distrusted(self, trust_domain: str) -> bool:
        """Whether a trust domain has been distrusted."""
        return trust_domain in self._domains

    def is_revoked(self, trust_domain: str, jti: str) -> bool:
        """Whether this token was revoked by jti."""
        return (trust_domain, jti) in self._tokens

    def check(
        self,
        trust_domain: str,
        jti: str,
        kid: str,
        subject: str,
        actors: tuple[str, ...],
        issued_at: float,
    ) -> tuple[TokenReason, str] | None:
        """None when nothing revokes this token; else the reason and detail."""
        if self._domains:
            for who in (subject, *actors):
                td = _trust_domain_of(who)
                if td in self._domains:
                    return (
                        TokenReason.TRUST_DOMAIN_DISTRUSTED,
                        f"trust domain {td} was distrusted at {self._domains[td]:g}",
                    )
        if (trust_domain, kid) in self._keys:
            when = self._keys[trust_domain, kid]
            return TokenReason.KEY_REVOKED, f"signing key {kid} was revoked at {when:g}"
        revoked = self._tokens.get((trust_domain, jti))
        if revoked is not None:
            return TokenReason.REVOKED, f"token {jti} was revoked at {revoked[0]:g}"
        if self._subjects:
            for who in (subject, *actors):
                cutoff = self._subjects.get(who)
                if cutoff is not None and issued_at <= cutoff:
                    return (
                        TokenReason.SUBJECT_REVOKED,
                        f"{who} was quarantined at {cutoff:g}; token {jti} was issued before",
                    )
        return None

    def prune(self, before: float) -> int:
        """Forget revoked tokens that expired before ``before`` (expiry refuses them anyway)."""
        stale = [k for k, (_, exp) in self._tokens.items() if exp is not None and exp < before]
        for k in stale:
            del self._tokens[k]
        return len(stale)


def _trust_domain_of(spiffe_id: str) -> str:
    # Only called on IDs that were parsed and validated when the token was first verified.
    return spiffe_id[9:].partition("/")[0]


# --- the broker -----------------------------------------------------------------------------


class CredentialBroker:
    """Mints, renews and revokes ES256 JWT-SVIDs for one trust domain.

    The signing key is derived from ``seed`` (or kept in ``key_dir`` when a run persists),
    published in :attr:`bundle` and added to :attr:`trust`. Every token minted is recorded
    (by jti, and by task for JIT revocation) so that it can be renewed or revoked and so
    that verifiers can detect forged delegation chains.

    Args:
        trust_domain: The trust domain this broker issues for.
        seed: The run's seed (keys and jtis derive from it).
        audience: The default ``aud`` of minted tokens.
        trust: The run's trust store (a new one when None).
        revocations: The run's revocation list (a new one when None).
        key_dir: Keep signing keys in this directory (``<td>.<generation>.pem``, mode 0600);
            an existing file is loaded (and refused if others may read it).
        jti_prefix: Prefix of jtis (default: the first label of the trust domain).
        retire_grace: Seconds a rotated-out key stays published after its last token
            expires (covers verifiers' clock leeway).

    Raises:
        SpiffeIdError: the trust domain name is invalid.
        CredentialError: the trust store already has a bundle for the trust domain.
        KeyFileError: a key file could not be read or written.
    """

    def __init__(
        self,
        trust_domain: str,
        *,
        seed: int,
        audience: str,
        trust: TrustStore | None = None,
        revocations: RevocationList | None = None,
        key_dir: Path | str | None = None,
        jti_prefix: str | None = None,
        retire_grace: float = 300.0,
    ) -> None:
        self.trust_domain = validate_trust_domain(trust_domain)
        if not audience:
            raise CredentialError("a broker needs a default audience")
        self.audience = audience
        self.seed = seed
        self.issuer = f"spiffe://{trust_domain}"
        self.trust = trust if trust is not None else TrustStore()
        self.revocations = revocations if revocations is not None else RevocationList()
        self.ledger = IssuanceLedger()
        self.bundle = TrustBundle(trust_domain, ledger=self.ledger)
        self.retire_grace = retire_grace
        self._key_dir = Path(key_dir) if key_dir is not None else None
        self._prefix = jti_prefix or trust_domain.split(".")[0]
        self._counter = 0
        self._generation = 0
        self._issued: dict[str, IssuedToken] = {}
        self._by_task: dict[str, list[str]] = {}
        self._quarantined: set[str] = set()
        self._max_exp: dict[str, float] = {}
        self._known_ids: dict[str, str] = {}  # validated SPIFFE ID string -> its trust domain
        self._key, self.kid = self._install_key(0)
        self.trust.add(self.bundle)

    def __repr__(self) -> str:
        return f"CredentialBroker({self.trust_domain!r}, kid={self.kid!r})"

    def _install_key(self, generation: int) -> tuple[ec.EllipticCurvePrivateKey, str]:
        if self._key_dir is None:
            key = signing_key(self.seed, self.trust_domain, generation)
        else:
            path = self._key_dir / f"{self.trust_domain}.{generation}.pem"
            if path.exists():
                key = load_private_key(path)
            else:
                key = signing_key(self.seed, self.trust_domain, generation)
                write_private_key(key, path)
        public = key.public_key()
        # A thumbprint prefix: stable for a key, distinct across keys and trust domains.
        kid = jwk_thumbprint(public)[:16]
        self.bundle.add_key(kid, public)
        # The header is the same for every token of a key: encode it once.
        header = _COMPACT_JSON({"alg": "ES256", "kid": kid, "typ": "JWT"})
        self._header_segment = _b64encode(header.encode("ascii"))
        return key, kid

    def _spiffe(self, value: SpiffeId | str, what: str) -> tuple[str, str]:
        text = str(value)
        td = self._known_ids.get(text)
        if td is None:
            try:
                parsed = SpiffeId.parse(text)
            except SpiffeIdError as exc:
                raise CredentialError(f"{what}: {exc}") from None
            if str(parsed) != text:
                raise CredentialError(f"{what}: use the canonical form {parsed}")
            td = parsed.trust_domain
            self._known_ids[text] = td
        return text, td

    # --- issuing ------------------------------------------------------------------------

    def mint(
        self,
        subject: SpiffeId | str,
        *,
        now: float,
        ttl: float,
        scope: Scope,
        task_id: str | None = None,
        actors: Sequence[SpiffeId | str] = (),
        holder_thumbprint: str | None = None,
        mode: str = "jit",
        audience: str | None = None,
    ) -> IssuedToken:
        """Mint a JWT-SVID.

        Args:
            subject: The workload the token is about (must be in this trust domain).
            now: Issue time (``iat`` and ``nbf``).
            ttl: Lifetime in seconds (``exp = now + ttl``).
            scope: Tools and data classes the token allows.
            task_id: The task run a JIT token is for.
            actors: Delegation chain, current actor first (RFC 8693 ``act`` nesting).
            holder_thumbprint: Bind the token to this holder key (``cnf.jkt``).
            mode: ``static`` or ``jit``.
            audience: The token's single audience (default: the broker's).

        Raises:
            CredentialError: a bad argument (subject outside this trust domain, invalid
                SPIFFE ID, non-positive TTL, unknown mode).
            QuarantinedError: the subject or an actor is quarantined.
        """
        sub, td = self._spiffe(subject, "subject")
        if td != self.trust_domain:
            raise CredentialError(
                f"broker for {self.trust_domain} cannot issue a token for {sub}"
            )
        if not math.isfinite(now):
            raise CredentialError(f"now must be a finite time, not {now!r}")
        if task_id is not None and not isinstance(task_id, str):
            raise CredentialError(f"task_id must be a string, not {task_id!r}")
        if holder_thumbprint is not None and not isinstance(holder_thumbprint, str):
            raise CredentialError("holder_thumbprint must be an RFC 7638 thumbprint string")
        if not (ttl > 0 and math.isfinite(ttl)):
            raise CredentialError(f"ttl must be a positive number of seconds, not {ttl!r}")
        if mode not in MODES:
            raise CredentialError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        chain = tuple(self._spiffe(a, "actor")[0] for a in actors)
        if self._quarantined:
            for who in (sub, *chain):
                if who in self._quarantined:
                    raise QuarantinedError(f"{who} is quarantined; no token issued")
        aud = audience or self.audience
        self._counter += 1
        jti = f"{self._prefix}-{self._counter:08d}"
        exp = now + ttl
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": aud,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": jti,
            "scope": scope.claim,
            "mode": mode,
        }
        if task_id is not None:
            claims["task_id"] = task_id
        if chain:
            act: dict[str, Any] | None = None
            for actor in reversed(chain):
                act = {"sub": actor} if act is None else {"sub": actor, "act": act}
            claims["act"] = act
        if holder_thumbprint is not None:
            claims["cnf"] = {"jkt": holder_thumbprint}
        # What jwt.encode does, minus re-encoding the constant header and its generic
        # checks: compact JSON, base64url, and pyjwt's own ES256 signer (r || s, RFC 7518).
        payload = _COMPACT_JSON(claims)
        signing_input = f"{self._header_segment}.{_b64encode(payload.encode('ascii'))}"
        signature = _ES256_SIGNER.sign(signing_input.encode("ascii"), self._key)
        token = f"{signing_input}.{_b64encode(signature)}"
        issued = IssuedToken(
            token, jti, sub, aud, now, exp, scope, task_id, chain, holder_thumbprint, mode,
            self.kid, self.trust_domain,
        )
        self._issued[jti] = issued
        self.ledger.record(jti, sub, chain, exp)
        if task_id is not None:
            self._by_task.setdefault(task_id, []).append(jti)
        if exp > self._max_exp.get(self.kid, -math.inf):
            self._max_exp[self.kid] = exp
        return issued

    def renew(self, jti: str, *, now: float, ttl: float | None = None) -> IssuedToken:
        """Replace a still-valid token with a fresh one (same facts, new jti); revoke the old.

        Args:
            jti: The token to renew.
            now: Renewal time.
            ttl: New lifetime (default: the old token's lifetime).

        Raises:
            CredentialError: the token is unknown, expired or revoked.
            QuarantinedError: its subject or an actor is quarantined.
        """
        old = self._issued.get(jti)
        if old is None:
            raise CredentialError(f"cannot renew {jti}: not issued by {self.trust_domain}")
        if now >= old.exp:
            raise CredentialError(f"cannot renew {jti}: it expired at {old.exp:g}")
        refused = self.revocations.check(
            self.trust_domain, jti, old.kid, old.sub, old.actors, old.iat
        )
        if refused is not None:
            raise CredentialError(f"cannot renew {jti}: {refused[1]}")
        new = self.mint(
            old.sub,
            now=now,
            ttl=ttl if ttl is not None else old.exp - old.iat,
            scope=old.scope,
            task_id=old.task_id,
            actors=old.actors,
            holder_thumbprint=old.holder,
            mode=old.mode,
            audience=old.aud,
        )
        self.revoke(jti, now=now)
        return new

    # --- looking up ---------------------------------------------------------------------

    def issued(self, jti: str) -> IssuedToken | None:
        """The token minted under ``jti`` (None if unknown or pruned)."""
        return self._issued.get(jti)

    def is_quarantined(self, spiffe_id: SpiffeId | str) -> bool:
        """Whether the broker refuses to mint for this workload."""
        return str(spiffe_id) in self._quarantined

    def is_valid(self, issued: IssuedToken, now: float) -> bool:
        """Whether an issued token is unexpired and not revoked at ``now``."""
        if not issued.iat <= now < issued.exp:
            return False
        return (
            self.revocations.check(
                issued.trust_domain, issued.jti, issued.kid, issued.sub, issued.actors,
                issued.iat,
            )
            is None
        )

    def tokens_of(self, spiffe_id: SpiffeId | str, now: float) -> tuple[IssuedToken, ...]:
        """Valid tokens that ``spiffe_id`` presents (as subject or current actor) at ``now``.

        What a compromised workload's credentials could still reach (blast radius).
        """
        who = str(spiffe_id)
        return tuple(
            t for t in self._issued.values()
            if t.current_actor == who and self.is_valid(t, now)
        )

    def jwks(self, now: float | None = None) -> dict[str, Any]:
        """This trust domain's JWT-SVID bundle as a JWK Set."""
        return self.bundle.to_jwks(now)

    def verifier(self, **options: Any) -> TokenVerifier:
        """A verifier for this broker's audience over the shared trust store and revocations.

        Keyword arguments are passed to :class:`TokenVerifier` (leeway, max_chain_depth...).
        """
        options.setdefault("audience", self.audience)
        options.setdefault("revocations", self.revocations)
        return TokenVerifier(self.trust, **options)

    # --- revoking -----------------------------------------------------------------------

    def revoke(self, jti: str, *, now: float) -> bool:
        """Revoke one token; False when it was already revoked."""
        issued = self._issued.get(jti)
        return self.revocations.revoke_token(
            self.trust_domain, jti, now=now, expires_at=issued.exp if issued else None
        )

    def revoke_task(self, task_id: str, *, now: float) -> tuple[str, ...]:
        """Revoke every token minted for a task run (it completed, failed or was cancelled).

        Returns:
            The jtis newly revoked.
        """
        jtis = self._by_task.pop(task_id, [])
        return tuple(j for j in jtis if self.revoke(j, now=now))

    def revoke_subject(self, spiffe_id: SpiffeId | str, *, now: float) -> tuple[str, ...]:
        """Quarantine a workload: revoke its tokens and refuse new ones until released.

        Every token naming the workload as subject or actor, issued at or before ``now``,
        is refused from now on, including delegated tokens it passed on.

        Returns:
            The jtis of this broker's tokens that were valid and are now revoked.

        Raises:
            CredentialError: ``spiffe_id`` is not a valid SPIFFE ID.
        """
        who, _ = self._spiffe(spiffe_id, "quarantine")
        affected = tuple(
            t.jti for t in self._issued.values()
            if (t.sub == who or who in t.actors) and self.is_valid(t, now)
        )
        self._quarantined.add(who)
        self.revocations.revoke_subject(who, now=now)
        return affected

    def release(self, spiffe_id: SpiffeId | str) -> None:
        """End a quarantine: new tokens may be minted; revoked ones stay revoked."""
        self._quarantined.discard(str(spiffe_id))

    def rotate_key(self, *, now: float, compromised: bool = False) -> str:
        """Switch to a new signing key (the next generation) and return its kid.

        The old key stays published until its last token expires (plus ``retire_grace``),
        so tokens already issued keep working. With ``compromised`` the old key is
        withdrawn at once and every token it signed is refused (``key_revoked``).
        """
        old = self.kid
        self._generation += 1
        self._key, self.kid = self._install_key(self._generation)
        if compromised:
            self.revocations.revoke_key(self.trust_domain, old, now=now)
            self.bundle.remove_key(old)
        else:
            last = self._max_exp.get(old, now)
            self.bundle.retire_key(old, after=max(last, now) + self.retire_grace)
        return self.kid

    def distrust(self, *, now: float) -> None:
        """Withdraw trust in this whole trust domain (a compromised vendor).

        Every token whose subject or any actor belongs to it is refused from now on
        (``trust_domain_distrusted``).
        """
        self.revocations.distrust(self.trust_domain, now=now)

    def prune(self, now: float) -> int:
        """Forget tokens expired more than ``retire_grace`` ago; returns how many.

        Keeps memory flat over long runs; pruned tokens can no longer be renewed or listed.
        """
        before = now - self.retire_grace
        stale = [jti for jti, t in self._issued.items() if t.exp < before]
        for jti in stale:
            del self._issued[jti]
        for task_id in [t for t, jtis in self._by_task.items() if all(j not in self._issued
                                                                        for j in jtis)]:
            del self._by_task[task_id]
        self.ledger.prune(before)
        self.revocations.prune(before)
        return len(stale)


# --- the verifier ---------------------------------------------------------------------------


class _Entry:
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


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    """Strict base64url (RFC 7515 §2): no padding, no stray characters, canonical last bits."""
    if len(segment) % 4 == 1 or _B64URL.fullmatch(segment) is None:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    # Decoders ignore a final character's unused bits; a token that differs only there must
    # not verify as the original.
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode("ascii"):
        raise ValueError("non-canonical base64url")
    return raw


def _decode_json(segment: str) -> Any:
    return json.loads(_b64decode(segment))


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


class TokenVerifier:
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
        self.audience = audience
        self.revocations = revocations if revocations is not None else RevocationList()
        self.leeway = float(leeway)
        self.max_chain_depth = max_chain_depth
        self.max_token_bytes = max_token_bytes
        self.algorithms = algs
        self._algs = {alg: SUPPORTED_ALGORITHMS[alg] for alg in algs}
        self._cache: dict[str, _Entry] = {}
        self._cache_size = cache_size
        # Subjects, actors and scopes repeat across tokens: parse each distinct string once.
        self._ids: dict[str, SpiffeId] = {}
        self._scopes: dict[str, Scope] = {}
        self._headers: dict[str, tuple[_Alg, str]] = {}

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

    def _recheck(self, entry: _Entry, now: float) -> Verification | None:
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
            if _trust_domain_of(actor) not in self.trust:
                return ok.failed(
                    TokenReason.ACT_CHAIN_UNTRUSTED, f"actor {actor} is no longer trusted"
                )
        entry.gen = self.revocations.generation
        entry.tgen = self.trust.generation
        return None

    def _verify_signed(self, token: str, now: float) -> _Entry | Verification:
        """Parse, check the header, verify the signature and the static claims; cache."""
        fail = _failure
        if not token.isascii():
            return fail(TokenReason.MALFORMED, "token contains non-ASCII characters")
        h64, dot, rest = token.partition(".")
        p64, dot2, s64 = rest.partition(".")
        if not dot or not dot2 or "." in s64:
            return fail(TokenReason.MALFORMED, "expected three dot-separated segments (JWS)")
        parsed: tuple[_Alg, str] | Verification | None = self._headers.get(h64)
        if parsed is None:
            parsed = self._parse_header(h64)
        if isinstance(parsed, Verification):
            return parsed
        algorithm, kid = parsed
        try:
            payload = _decode_json(p64)
        except (ValueError, RecursionError):
            return fail(TokenReason.MALFORMED, "payload is not base64url-encoded JSON")
        if not isinstance(payload, dict):
            return fail(TokenReason.MALFORMED, "payload is not a JSON object")

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
            return fail(TokenReason.FOREIGN_TRUST_DOMAIN, f"trust domain {td} is not trusted")
        public_key = bundle.key(kid, now)
        if public_key is None:
            return fail(TokenReason.UNKNOWN_KID, f"kid {kid[:40]!r} is not in the {td} bundle")
        if not isinstance(public_key.curve, algorithm.curve):
            return fail(
                TokenReason.ALG_NOT_ALLOWED, f"alg {algorithm.name} does not match key {kid}"
            )
        try:
            signature = _b64decode(s64)
        except ValueError:
            return fail(TokenReason.MALFORMED, "signature is not base64url")
        size = algorithm.coordinate_bytes
        if len(signature) != 2 * size:
            return fail(TokenReason.BAD_SIGNATURE, f"signature is not {2 * size} bytes (r || s)")
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        try:
            public_key.verify(der, token[: len(h64) + 1 + len(p64)].encode("ascii"),
                              algorithm.ecdsa)
        except InvalidSignature:
            return fail(TokenReason.BAD_SIGNATURE, f"signature does not verify with key {kid}")

        return self._check_claims(token, payload, sid, kid, bundle)

    def _parse_header(self, h64: str) -> tuple[_Alg, str] | Verification:
        """Check a header segment: JSON object, allowed alg, JWT-SVID parameters, a kid."""
        fail = _failure
        try:
            header = _decode_json(h64)
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
        self, token: str, payload: dict[str, Any], sid: SpiffeId, kid: str, bundle: TrustBundle
    ) -> _Entry | Verification:
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
        if not (_number(exp) and _number(iat) and _number(nbf)):
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
        if bundle.ledger is not None:
            forged = bundle.ledger.check(jti, sub, actors, float(exp))
            if forged is not None:
                return fail(*forged)

        ok = Verification(
            True, TokenReason.OK, "", _freeze(payload), jti, sub, actors, mode, task_id,
            scope, float(iat), float(exp), holder, td, iss,
        )
        entry = _Entry(ok, scope, auds, exp + self.leeway, nbf - self.leeway, kid, bundle)
        cache = self._cache
        if len(cache) >= self._cache_size:
            del cache[next(iter(cache))]  # oldest first: O(1), bounded
        cache[token] = entry
        return entry

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
