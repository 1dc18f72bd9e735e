"""Whom a verifier trusts: trust bundles of signing keys, the trust store, the revocation list.

A run's brokers publish their keys in bundles of one :class:`TrustStore`; a gateway that
trusts only some of them (an isolated environment's) verifies against a store of its own
holding those bundles. Brokers and verifiers share one :class:`RevocationList`. Both count
generations, so a verifier's cached verifications are rechecked whenever trust is withdrawn.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from engine.identity.errors import CredentialError
from engine.identity.keys import public_jwk, public_key_from_jwk
from engine.identity.spiffe import trust_domain_of, validate_trust_domain
from engine.identity.tokens import IssuanceLedger, TokenReason


@dataclass(slots=True)
class _BundleKey:
    public_key: ec.EllipticCurvePublicKey
    jwk: dict[str, Any]
    retire_after: float | None = None


class TrustBundle:
    """One trust domain's JWT-SVID signing keys (public JWKs by kid), as a verifier sees them.

    Retired keys stay until ``retire_after`` so tokens signed before a rotation keep
    verifying until they expire. A bundle may carry its issuer's
    :class:`~engine.identity.tokens.IssuanceLedger` (a broker's own bundle always does):
    verifiers then accept only tokens the issuer recorded, byte for byte.
    """

    def __init__(self, trust_domain: str, *, ledger: IssuanceLedger | None = None) -> None:
        self.trust_domain = validate_trust_domain(trust_domain)
        self.ledger = ledger
        self._keys: dict[str, _BundleKey] = {}
        self._stores: list[TrustStore] = []
        """The stores trusting it (one per gateway when environments are isolated)."""

    def add_key(self, kid: str, public_key: ec.EllipticCurvePublicKey) -> None:
        """Publish a signing key under ``kid``."""
        self._keys[kid] = _BundleKey(public_key, public_jwk(public_key, kid))

    def retire_key(self, kid: str, *, after: float) -> None:
        """Keep ``kid`` for verification until ``after`` (then it is unknown)."""
        self._keys[kid].retire_after = after

    def remove_key(self, kid: str) -> None:
        """Withdraw ``kid`` at once (a compromised key); cached verifications are rechecked."""
        if self._keys.pop(kid, None) is not None:
            for store in self._stores:
                store.generation += 1

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
    def from_jwks(
        cls,
        trust_domain: str,
        document: Mapping[str, Any],
        *,
        ledger: IssuanceLedger | None = None,
    ) -> TrustBundle:
        """A bundle from a JWK Set; only ``use: jwt-svid`` keys with a ``kid`` are taken.

        Args:
            trust_domain: The trust domain the keys sign for.
            document: The JWK Set.
            ledger: The issuer's issuance ledger, when it shares one; without it the
                domain's tokens are trusted on their signature alone (see
                ``TokenVerifier(require_ledger=...)``).

        Raises:
            CredentialError: the document is not a JWK Set of P-256 keys.
        """
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise CredentialError(f"JWK Set for {trust_domain} has no 'keys' list")
        bundle = cls(trust_domain, ledger=ledger)
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
        if self not in bundle._stores:
            bundle._stores.append(self)

    def remove(self, trust_domain: str) -> None:
        """Stop trusting a trust domain's bundle."""
        bundle = self._bundles.pop(trust_domain, None)
        if bundle is not None:
            bundle._stores.remove(self)
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
        self.changes = 0
        """Bumped on every revocation of any kind (a token's too): while it stays what a
        verifier saw when it last found a cached token unrevoked, that token still is."""
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
        # they look a cached token up by (trust domain, jti) on its first use after any
        # change instead.
        self._tokens[key] = (now, expires_at)
        self.changes += 1
        return True

    def revoke_subject(self, spiffe_id: str, *, now: float) -> None:
        """Revoke every token naming ``spiffe_id`` (subject or actor) issued at or before now."""
        self._subjects[spiffe_id] = max(now, self._subjects.get(spiffe_id, -math.inf))
        self.generation += 1
        self.changes += 1

    def revoke_key(self, trust_domain: str, kid: str, *, now: float) -> None:
        """Revoke every token signed with ``kid`` in ``trust_domain``."""
        self._keys.setdefault((trust_domain, kid), now)
        self.generation += 1
        self.changes += 1

    def distrust(self, trust_domain: str, *, now: float) -> None:
        """Refuse every token whose subject or any actor is in ``trust_domain``."""
        self._domains.setdefault(trust_domain, now)
        self.generation += 1
        self.changes += 1

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
                td = trust_domain_of(who)
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
