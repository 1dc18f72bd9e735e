"""The responder's live actions on a running simulation: inject, revoke, quarantine, tighten.

Each pauses the run, asks in a dialog, acts on the simulation and plays on as before. The
simulator records what each action did as events, which the debrief scores
(:class:`sim.score.ActionFold`); the live screen (:mod:`tui.screens.live`) binds the keys.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from textual.screen import Screen

from sim.events import Event
from tui.render.formatting import clock
from tui.run_index import RunIndex
from tui.screens.catalogue import RuleCatalogue
from tui.screens.room import RunRoom
from tui.widgets.agent_roster import AgentRoster

T = TypeVar("T")


class ResponseRoom(RunRoom):
    """A run room whose one run the responder can act on while it plays.

    The live screen that extends it fills the attributes below from the run's events.
    """

    tokens: OrderedDict[str, Event]
    """Token id -> its ``token_issued`` event (the most recent tokens)."""
    last_use: dict[str, float]
    """Token id -> simulated time of the last decision presenting it."""
    index: RunIndex
    """Every decision of the run, compact (which shadow rules are enforced, how often each
    matched)."""
    started: Event | None
    """The run's ``run_started`` event (its rules, owners and fleet)."""
    _catalogue: RuleCatalogue | None

    @property
    def sim(self) -> Any:
        """The simulation (its live controls: inject, revoke, quarantine, tighten)."""
        return self.sims[0] if self.sims else None

    @property
    def catalogue(self) -> RuleCatalogue:
        """Descriptions and framework references of the profile's rules, as the run lists them."""
        if self._catalogue is None:
            self._catalogue = RuleCatalogue.of_run(self.started)
        return self._catalogue

    def _dialog_agents(self) -> list[str]:
        return list(self.query_one(AgentRoster).agents) or [a.name for a in self.scenario.agents]

    def _pause_for_dialog(self) -> bool:
        was_playing = not self.playback.paused
        self.playback.pause()
        self._show_playback()
        return was_playing

    def _after_dialog(self, was_playing: bool) -> None:
        if was_playing and not self.done:
            self.playback.resume()
        self._show_playback()

    def _ask(self, dialog: Callable[[], Screen[T | None]], act: Callable[[T], None]) -> None:
        """Pause, show the dialog, act on its answer (none: cancelled), play on as before."""
        if self.done:
            self.notify("The run has ended.", timeout=3)
            return
        was_playing = self._pause_for_dialog()

        def answered(choice: T | None) -> None:
            if choice is not None:
                act(choice)
            self._after_dialog(was_playing)

        self.app.push_screen(dialog(), answered)

    def action_inject(self) -> None:
        """Inject an incident now: which agent, which kind."""
        from tui.screens.incident import InjectDialog, Injection

        def inject(choice: Injection) -> None:
            self.sim.inject(choice.kind, choice.agent)
            self.notify(f"Injected {choice.kind.replace('_', ' ')} into {choice.agent} "
                        f"at {clock(self.now)}.", title="incident", timeout=4)

        self._ask(lambda: InjectDialog(self._dialog_agents()), inject)

    def action_revoke(self) -> None:
        """Revoke a live token (or every token of an agent)."""
        from tui.screens.incident import RevokeDialog

        def dialog() -> RevokeDialog:
            roster = self.query_one(AgentRoster)
            holders = {name: roster.live_tokens(name) for name in self._dialog_agents()}
            facts = self._token_facts([jti for jtis in holders.values() for jti in jtis])
            return RevokeDialog(holders, facts)

        def revoke(target: str) -> None:
            self.sim.revoke(target)
            self.notify(f"Revoked {target}.", title="response", timeout=4)

        self._ask(dialog, revoke)

    def _token_facts(self, jtis: list[str]) -> dict[str, Any]:
        """Holder, scope, expiry and last use of the tokens named (from the run's events)."""
        from tui.screens.incident import TokenFacts

        facts: dict[str, Any] = {}
        for jti in jtis:
            issued = self.tokens.get(jti)
            if issued is None:
                continue
            data = issued.data
            holders = data.get("holders") or ([issued.agent] if issued.agent else [])
            exp = data.get("exp")
            facts[jti] = TokenFacts(", ".join(map(str, holders)) or "?",
                                    tuple(map(str, data.get("scope") or ())),
                                    float(exp) if isinstance(exp, int | float) else None,
                                    self.last_use.get(jti))
        return facts

    def action_quarantine(self) -> None:
        """Quarantine an agent: it may start nothing more."""
        from tui.screens.incident import QuarantineDialog

        def quarantine(agent: str) -> None:
            self.sim.quarantine(agent)
            self.notify(f"Quarantined {agent}.", title="response", timeout=4)

        self._ask(lambda: QuarantineDialog(self._dialog_agents()), quarantine)

    def action_tighten(self) -> None:
        """Enforce one of the policy's shadow rules from now on."""
        from tui.screens.shadow import ShadowDialog, ShadowRule

        enforced = {rule for _, rule in self.index.enforced}
        shadow = [ShadowRule(r.id, r.description, str(r.effect))
                  for r in self.catalogue.rules.values() if r.shadow and r.id not in enforced]
        if self.done or not shadow:
            self.notify("The run has ended." if self.done else
                        "This profile's policy has no shadow rules to enforce.", timeout=4)
            return

        def tighten(rule: str) -> None:
            self.sim.tighten(rule)
            self.notify(f"Rule {rule} is enforced from now on.", title="response", timeout=4)

        self._ask(lambda: ShadowDialog(shadow, self.index.shadow_counts(), self.index.total),
                  tighten)
