"""The credential broker: mints, renews and revokes ES256 JWT-SVIDs for one trust domain.

Keys and jtis derive from the run's seed, so the same run issues the same token ids; the
ECDSA signatures are deterministic (RFC 6979), so it issues the same tokens too. Time is
passed in (``now``, Unix seconds): the simulator owns the clock, so nothing here reads the
wall clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from hashlib import sha256
from pathlib import Path
from typing import Any

from engine.identity.errors import CredentialError, QuarantinedError
from engine.identity.jws import MEMO_SIZE, Es256Signer, b64encode, compact_json, evict_oldest
from engine.identity.keys import jwk_thumbprint, load_signing_key, signing_key
from engine.identity.known import remember_payload
from engine.identity.scope import Scope
from engine.identity.spiffe import SpiffeId, SpiffeIdError, validate_trust_domain
from engine.identity.tokens import MODES, IssuanceLedger, IssuedToken
from engine.identity.trust import RevocationList, TrustBundle, TrustStore
from engine.identity.verifier import TokenVerifier
from engine.keyfiles import save_private_key

# Claims (and the signing key) -> (the issued token, the SHA-256 of its signing input),
# process-wide and bounded. IssuedToken is frozen, so runs that mint the same token share it.
_TOKENS: dict[tuple[Any, ...], tuple[IssuedToken, bytes]] = {}
_PLAIN_NUMBERS = (int, float)
"""Numbers whose JSON text decodes to an equal value of the same type (not bool, not a
subclass)."""


class CredentialBroker:
    """Mints, renews and revokes ES256 JWT-SVIDs for one trust domain.

    The signing key is derived from ``seed`` (or kept in ``key_dir`` when a run persists),
    published in :attr:`bundle` and added to :attr:`trust`. Every token minted is recorded
    (by jti, and by task for JIT revocation) so that it can be renewed or revoked, and in
    :attr:`ledger` (a digest of its signed bytes) so that verifiers refuse any token signed
    with this broker's key that it did not issue byte for byte (a leaked key).

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
        self._signer, self.kid = self._install_key(0)
        self.trust.add(self.bundle)

    def __repr__(self) -> str:
        return f"CredentialBroker({self.trust_domain!r}, kid={self.kid!r})"

    def _install_key(self, generation: int) -> tuple[Es256Signer, str]:
        if self._key_dir is None:
            key = signing_key(self.seed, self.trust_domain, generation)
        else:
            path = self._key_dir / f"{self.trust_domain}.{generation}.pem"
            if path.exists():
                key = load_signing_key(path)
            else:
                key = signing_key(self.seed, self.trust_domain, generation)
                save_private_key(key, path)
        public = key.public_key()
        # A thumbprint prefix: stable for a key, distinct across keys and trust domains.
        kid = jwk_thumbprint(public)[:16]
        self.bundle.add_key(kid, public)
        # The header is the same for every token of a key: encode it once.
        header = compact_json({"alg": "ES256", "kid": kid, "typ": "JWT"})
        self._header_segment = b64encode(header.encode("ascii"))
        return Es256Signer(key), kid

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
        chain = tuple([self._spiffe(a, "actor")[0] for a in actors]) if actors else ()
        if self._quarantined:
            for who in (sub, *chain):
                if who in self._quarantined:
                    raise QuarantinedError(f"{who} is quarantined; no token issued")
        aud = audience or self.audience
        self._counter += 1
        jti = f"{self._prefix}-{self._counter:08d}"
        exp = now + ttl
        # Deterministic signatures make the token a pure function of these: a sweep's runs
        # of one seed issue many identical tokens. The signer's public point fixes the kid
        # and the issuer the trust domain; the scope is keyed whole (its claim drops the
        # tools a ``*`` covers, its sets keep them: keyed by its two sets, which are what
        # makes scopes equal, without the dataclass's hash and equality calls). A time is
        # keyed as JSON writes it: by its type and value (equal numbers of one type write the
        # same text), a zero by its text (0.0 and -0.0 are equal but write differently).
        memo_key = (self._signer.id, self.issuer, sub, aud, type(now), now or repr(now),
                    type(exp), exp or repr(exp), jti, scope.tools, scope.data_classes, mode,
                    task_id, chain, holder_thumbprint)
        known = _TOKENS.get(memo_key)
        if known is None:
            token, signed = self._encode(sub, aud, now, exp, jti, scope, mode, task_id, chain,
                                         holder_thumbprint)
            known = (IssuedToken(token, jti, sub, aud, now, exp, scope, task_id, chain,
                                 holder_thumbprint, mode, self.kid, self.trust_domain),
                     sha256(signed).digest())
            if len(_TOKENS) >= MEMO_SIZE:
                evict_oldest(_TOKENS)
            _TOKENS[memo_key] = known
        issued, digest = known
        self._issued[jti] = issued
        self.ledger.record_digest(jti, sub, chain, exp, digest)
        if task_id is not None:
            self._by_task.setdefault(task_id, []).append(jti)
        if exp > self._max_exp.get(self.kid, -math.inf):
            self._max_exp[self.kid] = exp
        return issued

    def _encode(
        self, sub: str, aud: str, now: float, exp: float, jti: str, scope: Scope, mode: str,
        task_id: str | None, chain: tuple[str, ...], holder_thumbprint: str | None,
    ) -> tuple[str, bytes]:
        """The compact JWS of a token's claims, and its signing input."""
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
        # checks: compact JSON, base64url, ES256 as r || s (RFC 7518).
        payload = compact_json(claims)
        segment = b64encode(payload.encode("ascii"))
        if type(aud) is str and type(now) in _PLAIN_NUMBERS and type(exp) in _PLAIN_NUMBERS:
            # These claims are what decoding the segment gives back (strings, dicts, ints and
            # floats survive JSON unchanged): a verifier that meets it skips decoding it again.
            # The token's signature, claims and ledger digest are still checked from its bytes.
            remember_payload(segment, claims)
        signing_input = f"{self._header_segment}.{segment}"
        signed = signing_input.encode("ascii")
        signature = self._signer.sign(signed)
        return f"{signing_input}.{b64encode(signature)}", signed

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
        self._signer, self.kid = self._install_key(self._generation)
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
        issued = self._issued.keys()
        for task_id in [t for t, jtis in self._by_task.items() if issued.isdisjoint(jtis)]:
            del self._by_task[task_id]
        self.ledger.prune(before)
        self.revocations.prune(before)
        return len(stale)
