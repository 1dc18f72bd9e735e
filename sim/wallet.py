"""Credentials in a run: tokens from the broker per profile, expiry events, revocation, renewal.

The wallet mints real JWT-SVIDs through :class:`engine.identity.broker.CredentialBroker` (one
broker per trust domain: the scenario's, each vendor's and, under a profile that isolates
environments, each environment's), verifies every request's token with a
:class:`engine.identity.verifier.TokenVerifier` per gateway (:attr:`Wallet.verifiers`: the
estate-wide one trusts every bundle; an isolated environment's trusts its own bundle and the
vendors' only, so a token minted in test is refused in production, NHI8:2025), and keeps the
simulator's view of each token (:class:`Credential`): who holds it, its scope, when it
expires in simulated time and whether it was revoked.

Expiry is a simulated-time event: a token expiring before the run ends schedules a timeout
that emits ``token_expired``. Renewal (``renew_before``) happens when a holder is about to
use a token that expires within that margin. Sender-constrained profiles bind each token to
its holder's workload key (``cnf.jkt``); every workload has its own deterministic key.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL

from engine.identity.broker import CredentialBroker
from engine.identity.errors import QuarantinedError
from engine.identity.keys import jwk_thumbprint, workload_key
from engine.identity.scope import Scope
from engine.identity.tokens import Verification
from engine.identity.trust import RevocationList, TrustStore
from engine.identity.verifier import TokenVerifier
from engine.model import Credentials, Scenario
from sim.agenda import Agenda
from sim.events import EventKind
from sim.world import EPOCH, World

AUDIENCE = "spiffe://agentrange/gateway"
"""The audience every token is minted for: the tool gateway the policy engine guards."""

Emit = Callable[[EventKind, str | None, dict[str, Any]], int]
"""(kind, agent, data) -> event seq."""
EndHook = Callable[["Credential", str], None]
"""Called when a credential stops working: (credential, "expired" | "revoked")."""


@dataclass(eq=False, slots=True)
class Credential:
    """The simulator's view of one minted token.

    Attributes:
        jti: Token id.
        token: The signed JWT.
        holder: Agent name of the workload holding and presenting it (the current actor;
            the first agent for a shared credential).
        origin: Agent name of the subject (the holder unless delegated).
        subject: The ``sub`` SPIFFE ID (the origin of a delegation chain).
        domain: The issuing trust domain (the subject's).
        iat: Issued at (simulated seconds).
        exp: Expires at (simulated seconds).
        scope: What it allows (tools and data classes).
        mode: ``static`` or ``jit``.
        task: Task id for JIT tokens.
        run: The task run it was minted for (None for static tokens).
        actors: The delegation chain of a delegated token, current actor first, origin
            excluded (agent names; empty when not delegated).
        cnf: The holder key thumbprint it is bound to (None: a bearer token).
        shared: A static credential several agents hold (NHI9).
        incident: Set when an attacker minted it (vendor compromise, over-broad grant).
        state: ``live``, ``revoked`` or ``expired``.
    """

    jti: str
    token: str
    holder: str
    origin: str
    subject: str
    domain: str
    iat: float
    exp: float
    scope: Scope
    mode: str
    task: str | None
    run: str | None
    actors: tuple[str, ...]
    cnf: str | None
    shared: bool = False
    incident: str | None = None
    state: str = "live"
    holders: set[str] = field(default_factory=set)

    @property
    def chain(self) -> tuple[str, ...]:
        """Agent names of the chain it acts for: current actor first, the origin last."""
        return (*self.actors, self.origin) if self.actors else (self.holder,)

    @property
    def live(self) -> bool:
        """Neither revoked nor expired (as far as the simulation knows)."""
        return self.state == "live"


class Wallet:
    """Mints, verifies, expires, renews and revokes the tokens of one run.

    Args:
        env: The simulation environment.
        scenario: The scenario (agents, vendors, trust domains).
        credentials: The profile's credential settings.
        seed: The run's seed (keys and token ids derive from it).
        emit: Emits an event; returns its seq.
        on_end: Told when a credential stops working.
        end: The run's end; expiries after it are not scheduled.
        world: The run's world: the agents' identities and the environments' own trust
            domains under the profile (as loaded, environments shared, when None).
    """

    def __init__(self, env: Agenda, scenario: Scenario, credentials: Credentials,
                 seed: int, emit: Emit, on_end: EndHook, end: float,
                 world: World | None = None) -> None:
        self.env = env
        self.scenario = scenario
        self.config = credentials
        self.seed = seed
        self.emit = emit
        self.on_end = on_end
        self.end = end
        self.trust = TrustStore()
        self.revocations = RevocationList()
        self.brokers: dict[str, CredentialBroker] = {}
        world = World(scenario) if world is None else world
        isolated = world.environment_domains
        vendor_domains = [v.trust_domain for v in scenario.vendors]
        domains = [scenario.trust_domain, *isolated.values(), *vendor_domains]
        for domain in dict.fromkeys(domains):
            self.brokers[domain] = CredentialBroker(
                domain, seed=seed, audience=AUDIENCE, trust=self.trust,
                revocations=self.revocations)
        # Tokens are used during their task run only, so a cache a few times the fleet
        # holds every live one; a larger one only keeps dead tokens in memory.
        cache = max(64, 8 * len(scenario.agents))
        self.verifier = TokenVerifier(self.trust, audience=AUDIENCE,
                                      revocations=self.revocations, cache_size=cache)
        self.verifiers: dict[str | None, TokenVerifier] = {None: self.verifier}
        """Environment id (None: the estate-wide gateway) -> the verifier guarding it."""
        for env_id in (e.id for e in scenario.environments):
            if env_id not in isolated:
                self.verifiers[env_id] = self.verifier
                continue
            # The environment's gateway trusts its own bundle and the federated vendors'.
            own = TrustStore(self.brokers[d].bundle
                             for d in dict.fromkeys((isolated[env_id], *vendor_domains)))
            self.verifiers[env_id] = TokenVerifier(own, audience=AUDIENCE,
                                                   revocations=self.revocations,
                                                   cache_size=cache)
        self.spiffe: dict[str, str] = {name: str(sid) for name, sid in world.identities.items()}
        self.domain: dict[str, str] = {name: sid.trust_domain
                                       for name, sid in world.identities.items()}
        self.thumbprints: dict[str, str] = {
            a.name: jwk_thumbprint(workload_key(seed, self.spiffe[a.name]).public_key())
            for a in scenario.agents}
        self.attacker_thumbprint = jwk_thumbprint(
            workload_key(seed, "spiffe://attacker.invalid/elsewhere").public_key())
        self.live: dict[str, Credential] = {}
        self.by_agent: dict[str, dict[str, Credential]] = {a.name: {} for a in scenario.agents}
        self.issued = 0
        self.revoked = 0
        self.expired = 0
        self.renewed = 0
        self.mint_listeners: list[Callable[[Credential], None]] = []
        # Pending expiries (exp, event id, credential); see _schedule_expiry.
        self._expiries: list[tuple[float, int, Credential]] = []
        self._armed: set[int] = set()
        if credentials.mode == "jit":
            env.process(self._prune_every(max(credentials.ttl, 300.0)))

    def _prune_every(self, interval: float) -> Generator[simpy.Event, Any, None]:
        """Let the brokers forget long-expired tokens, so memory stays flat in long runs."""
        while self.env.now + interval < self.end:
            yield self.env.timeout(interval)
            for broker in self.brokers.values():
                broker.prune(EPOCH + self.env.now)

    # --- minting ------------------------------------------------------------------------

    def mint(self, agent: str, *, scope: Scope, mode: str, ttl: float | None = None,
             task: str | None = None, run: str | None = None, chain: Iterable[str] = (),
             bind: bool | None = None, shared_by: Iterable[str] = (),
             incident: str | None = None, renewed_from: str | None = None
             ) -> Credential | None:
        """Mint a token held by ``agent`` and emit ``token_issued``.

        Args:
            agent: The holder, who presents it (the current actor of a delegated token).
            scope: What the token admits.
            mode: ``static`` or ``jit``.
            ttl: Lifetime (the profile's TTL when None).
            task: Task id carried by a JIT token.
            run: The task run it is minted for.
            chain: The delegation chain after the holder (earlier actors, the origin
                last); the origin becomes ``sub`` and the others ``act`` (RFC 8693).
            bind: Bind to the holder's key (the profile's setting when None).
            shared_by: Other agents holding the same static credential.
            incident: The incident that minted it (an attacker's token).
            renewed_from: The jti this token renews.

        Returns:
            The credential, or None when the broker refuses because an agent in the chain
            is quarantined.
        """
        env = self.env
        now = env.now
        ttl = self.config.ttl if ttl is None else ttl
        # A JIT task token (no chain, no sharers) is the common case: no tuples to build.
        earlier = chain if type(chain) is tuple else tuple(chain)
        spiffe = self.spiffe
        if earlier:
            origin = earlier[-1]
            actors: tuple[str, ...] = (agent, *earlier[:-1])
            actor_ids = tuple([spiffe[a] for a in actors])
        else:
            origin = agent
            actors = actor_ids = ()
        sharers = tuple([a for a in shared_by if a != agent]) if shared_by else ()
        if bind is None:
            bind = self.config.sender_constrained
        # A secret several workloads share cannot be bound to one workload's key.
        cnf = self.thumbprints[agent] if bind and not sharers else None
        domain = self.domain[origin]
        try:
            issued = self.brokers[domain].mint(
                spiffe[origin], now=EPOCH + now, ttl=ttl, scope=scope,
                task_id=task, actors=actor_ids, holder_thumbprint=cnf, mode=mode)
        except QuarantinedError:
            return None
        jti = issued.jti
        exp = now + ttl
        cred = Credential(jti, issued.token, agent, origin, issued.sub, domain, now,
                          exp, scope, mode, task, run, actors, cnf, bool(sharers),
                          incident)
        if sharers:
            holders = cred.holders = {agent, *sharers}
            for holder in holders:
                self.by_agent[holder][jti] = cred
            listed = sorted(holders)
        else:
            cred.holders = {agent}
            self.by_agent[agent][jti] = cred
            listed = [agent]
        self.live[jti] = cred
        self.issued += 1
        if renewed_from is not None:
            self.renewed += 1
        self.emit(EventKind.TOKEN_ISSUED, agent, {
            "jti": jti, "mode": mode, "ttl": ttl, "exp": exp,
            "scope": scope.entries, "task": task, "run": run, "sub": issued.sub,
            "actors": list(actors), "sender_constrained": cnf is not None,
            "holders": listed, "shared": cred.shared,
            "renewed_from": renewed_from, "incident": incident,
        })
        if exp < self.end:
            self._schedule_expiry(cred, ttl)
        if self.mint_listeners:
            for listener in list(self.mint_listeners):
                listener(cred)
        return cred

    def renew_if_due(self, cred: Credential) -> Credential:
        """A fresh token when ``cred`` is live and expires within ``renew_before``.

        The old token stays valid until it expires; the holder simply stops using it.
        """
        margin = self.config.renew_before
        if margin is None or not cred.live or cred.incident is not None:
            return cred
        if cred.exp - self.env.now > margin:
            return cred
        renewed = self.reissue(cred)
        return cred if renewed is None else renewed

    def reissue(self, cred: Credential) -> Credential | None:
        """A replacement for a task's own token that expired while its holder waited.

        A workload whose request sat in an approval queue past its token's lifetime asks its
        broker again, as it would at the start of the task: same holder, scope, task, run and
        chain, a fresh lifetime. None when the broker refuses (a quarantined agent in the chain).
        """
        return self.mint(cred.holder, scope=cred.scope, mode=cred.mode, task=cred.task,
                         run=cred.run, chain=cred.chain[1:], bind=cred.cnf is not None,
                         shared_by=cred.holders, renewed_from=cred.jti)

    # --- verification ---------------------------------------------------------------------

    def verify(self, cred: Credential, tool: str, data_class: str | None,
               presenter: str | None, environment: str | None = None) -> Verification:
        """Verify a presented token for one request (signature cached; the rest per call).

        ``environment`` names the gateway it is presented at (None: the estate-wide one).
        """
        return self.verifiers[environment].verify(
            cred.token, now=EPOCH + self.env.now, tool=tool, data_class=data_class,
            presenter_thumbprint=presenter)

    def trusted_at(self, domain: str, environment: str | None) -> bool:
        """Whether the gateway of ``environment`` trusts tokens of ``domain``."""
        return domain in self.verifiers[environment].trust

    # --- ending ---------------------------------------------------------------------------

    def _schedule_expiry(self, cred: Credential, ttl: float) -> None:
        """Expire ``cred`` after ``ttl`` exactly as a timeout scheduled now would, lazily.

        JIT tokens are mostly revoked when their task ends, long before they expire; a
        timeout per token would keep thousands of dead entries in simpy's queue, deepening
        every push and pop of the run. Instead the expiry takes its event id now (its place
        among events of the same instant, as a timeout made now would) and waits in the
        wallet's own heap; only the earliest pending expiry sits in simpy's queue, under
        that id. Expiries whose token already ended never enter it: they would do nothing.
        """
        env = self.env
        entry = (env.now + ttl, next(env._eid), cred)
        heappush(self._expiries, entry)
        if self._expiries[0] is entry:
            self._arm(entry)

    def _arm(self, entry: tuple[float, int, Credential]) -> None:
        """Put one pending expiry into simpy's queue, in the place its event id gives it."""
        event = simpy.Event(self.env)
        event._ok = True
        event._value = None
        event.callbacks.append(_Expiry(self, entry[2]))
        self._armed.add(entry[1])
        self.env.insert(entry[0], NORMAL, entry[1], event)

    def _expired_now(self, cred: Credential) -> None:
        """The earliest pending expiry fired: expire its token and arm the next live one."""
        heap = self._expiries
        # simpy fires events in (time, priority, id) order and the earliest pending expiry
        # is always armed, so the one firing is the wallet heap's first.
        _, eid, first = heappop(heap)
        assert first is cred, "expiries fired out of order"
        self._armed.discard(eid)
        self._expire(cred)
        armed = self._armed
        while heap and heap[0][1] not in armed and not heap[0][2].live:
            heappop(heap)  # ended before expiring: its expiry would do nothing
        # An armed first entry (live or not) fires and pops itself in its turn.
        if heap and heap[0][1] not in armed:
            self._arm(heap[0])

    def _expire(self, cred: Credential) -> None:
        if not cred.live:
            return
        cred.state = "expired"
        self._forget(cred)
        self.expired += 1
        self.emit(EventKind.TOKEN_EXPIRED, cred.holder, {"jti": cred.jti})
        self.on_end(cred, "expired")

    def _ended(self, cred: Credential, reason: str, incident: str | None) -> None:
        cred.state = "revoked"
        self._forget(cred)
        self.revoked += 1
        self.emit(EventKind.TOKEN_REVOKED, cred.holder,
                  {"jti": cred.jti, "reason": reason, "incident": incident})
        self.on_end(cred, "revoked")

    def revoke(self, cred: Credential, reason: str, incident: str | None = None) -> bool:
        """Revoke one token (no-op when it already ended); True when it was live."""
        if not cred.live:
            return False
        self.brokers[cred.domain].revoke(cred.jti, now=EPOCH + self.env.now)
        self._ended(cred, reason, incident)
        return True

    def revoke_agent(self, agent: str, reason: str, incident: str | None = None
                     ) -> list[Credential]:
        """Revoke every live token an agent holds; returns them."""
        creds = sorted(self.by_agent[agent].values(), key=lambda c: c.jti)
        return [c for c in creds if self.revoke(c, reason, incident)]

    def quarantine(self, agent: str, incident: str | None = None) -> list[Credential]:
        """Quarantine a workload: every token naming it is refused, and no new one is minted.

        Tokens naming it as an actor (delegated to others) end too.
        """
        spiffe = self.spiffe[agent]
        now = EPOCH + self.env.now
        for broker in self.brokers.values():
            broker.revoke_subject(spiffe, now=now)
        ended = [c for c in sorted(self.live.values(), key=lambda c: c.jti)
                 if agent in c.holders or c.subject == spiffe or agent in c.actors]
        for cred in ended:
            self._ended(cred, "quarantine", incident)
        return ended

    def distrust(self, trust_domain: str, incident: str | None = None) -> list[Credential]:
        """Stop trusting a (vendor) trust domain: its tokens fail verification from now on."""
        broker = self.brokers.get(trust_domain)
        if broker is not None:
            broker.distrust(now=EPOCH + self.env.now)
        else:
            self.revocations.distrust(trust_domain, now=EPOCH + self.env.now)
        ended = [c for c in sorted(self.live.values(), key=lambda c: c.jti)
                 if c.domain == trust_domain
                 or any(self.domain[a] == trust_domain for a in (*c.holders, *c.actors))]
        for cred in ended:
            self._ended(cred, "vendor_distrust", incident)
        return ended

    def _forget(self, cred: Credential) -> None:
        self.live.pop(cred.jti, None)
        for holder in cred.holders:
            self.by_agent[holder].pop(cred.jti, None)

    def latest(self, agent: str) -> Credential | None:
        """The most recently issued live token an agent holds."""
        creds = self.by_agent[agent]
        if not creds:
            return None
        return max(creds.values(), key=lambda c: (c.iat, c.jti))


class _Expiry:
    """The callback a token's expiry event runs (a class: cheaper than a closure to type)."""

    __slots__ = ("cred", "wallet")

    def __init__(self, wallet: Wallet, cred: Credential) -> None:
        self.wallet = wallet
        self.cred = cred

    def __call__(self, _event: simpy.Event) -> None:
        self.wallet._expired_now(self.cred)
