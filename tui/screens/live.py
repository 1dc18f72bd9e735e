"""The live-run screen: header, agent roster, decision stream, chains, alerts, blast radius."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input

from engine.model import Scenario
from sim.blind import BlindView
from sim.events import Event, EventKind
from sim.score import ActionFold
from tui.render.formatting import clock
from tui.run_index import RunIndex
from tui.run_query import QueryError, parse_query
from tui.screens.catalogue import RuleCatalogue
from tui.screens.live_response import ResponseRoom
from tui.screens.messages import OpenCompare, RunFinished
from tui.screens.playback import SimTick, SimulationFactory
from tui.screens.room import PLAYBACK_KEYS, Sample
from tui.widgets.agent_roster import AgentRoster
from tui.widgets.alert_list import AlertList
from tui.widgets.blast_panel import BlastPanel
from tui.widgets.chain_tree import ChainTree
from tui.widgets.decision_stream import DecisionStream
from tui.widgets.key_footer import KeyFooter
from tui.widgets.run_header import RunHeader

REFRESH = 0.2
"""Wall seconds between redraws of the slower panels (roster, chains, blast) while playing."""

STREAM_REFRESH = 0.1
"""Wall seconds between repaints of the decision stream while playing."""

TOKEN_MEMORY = 2000
"""Token records kept for the decision detail (oldest forgotten first)."""


def _completes_sequence(event: Event) -> bool:
    """A decision that completed a sequence rule (read without rendering the whole record)."""
    record = event.data["decision"]
    decision = getattr(record, "decision", None)
    return bool(decision.sequences if decision is not None else record.get("sequences"))


def alerts_title(total: int) -> str:
    """The alerts panel's title: how many alerts the run has raised."""
    return f"alerts ({total:,})" if total else "alerts"


class LiveScreen(ResponseRoom):
    """One simulation playing live, with the controls a trainer or responder needs.

    Args:
        scenario: The loaded scenario.
        profile_id: The profile to run under.
        seed: The run's seed (None: the scenario's).
        speed: Initial speed, simulated seconds per wall second.
        autoplay: Start playing at once (else paused at time zero).
        pause_at: Pause by itself once the simulated clock reaches this time.
        simulation: Builds the simulation (None: the real simulator).
        blind: Show what a SOC would see: the compromised agent stays hidden until an alert
            detects it (see :mod:`sim.blind`).
    """

    AUTO_FOCUS = "#stream"
    """The stream, not the first focusable panel (the roster): one focus change, not two."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *PLAYBACK_KEYS,
        # A priority binding: it acts before the keys typed after it are handed on.
        Binding("f", "filter", "Filter", priority=True),
        Binding("a", "next_alert", "Alert"),
        Binding("c", "compare", "Compare"),
        Binding("s", "scenarios", "Scenarios"),
        Binding("i", "inject", "Inject"),
        Binding("r", "revoke", "Revoke"),
        Binding("x", "quarantine", "Quarantine"),
        Binding("t", "tighten", "Tighten a rule", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, scenario: Scenario, profile_id: str, *, seed: int | None = None,
                 speed: float = 600.0, autoplay: bool = True,
                 pause_at: float | None = None,
                 simulation: SimulationFactory | None = None, blind: bool = False) -> None:
        # A single run shows no diff, so it need not remember every decision's key.
        super().__init__(scenario, [profile_id], seed=seed, speed=speed, autoplay=autoplay,
                         pause_at=pause_at, simulation=simulation, record_decisions=False)
        self.profile_id = profile_id
        self.tokens: OrderedDict[str, Event] = OrderedDict()
        self.incidents: dict[str, Event] = {}
        self.fleet: dict[str, Mapping[str, Any]] = {}
        self.started: Event | None = None
        """The run's ``run_started`` event (its rules, owners and fleet)."""
        self._last_refresh = 0.0
        self._last_stream = 0.0
        self._resume_on_return = False
        self._catalogue: RuleCatalogue | None = None
        self.index = RunIndex()
        """Every decision of the run, compact: the filter and alert jumps reach all of it."""
        self._enforced_shown = 0
        self.last_use: dict[str, float] = {}
        """Token id -> simulated time of the last decision presenting it."""
        self.actions = ActionFold()
        """The responder's live actions and injections, folded from the run's events."""
        self.blind = BlindView() if blind else None
        """In blind mode, what a SOC sees of the stream (None: everything is shown)."""

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header, main column (roster, stream), side column (blast, chains, alerts), footer."""
        yield RunHeader(id="run-header")
        with Horizontal(id="live-body"):
            with Vertical(id="live-main"):
                roster = AgentRoster(id="roster")
                roster.border_title = "agents"
                yield roster
                stream = DecisionStream(id="stream")
                stream.border_title = "decisions"
                yield stream
                yield Input(placeholder="filter the whole run: effect:deny agent:support-bot "
                            "tool:email.* or words; Esc clears", id="filter")
            with Vertical(id="live-side"):
                blast = BlastPanel(id="blast")
                blast.border_title = "blast radius"
                yield blast
                chains = ChainTree(id="chains")
                chains.border_title = "escalation chains"
                yield chains
                alerts = AlertList(id="alerts")
                alerts.border_title = alerts_title(0)
                yield alerts
        yield KeyFooter(compact=True)

    def prepare(self) -> None:
        """Name the run in the header, hide the filter and focus the stream."""
        self.query_one(RunHeader).profile = self.profile_id
        if self.blind is not None:
            self.query_one(AgentRoster).border_title = "agents (blind until detection)"
            self.query_one(BlastPanel).blind = "detected so far"
        self.query_one("#filter", Input).display = False
        stream = self.query_one(DecisionStream)
        stream.index = self.index
        stream.focus()

    # --- ticks ---------------------------------------------------------------------------

    def panels(self) -> tuple[Widget, ...]:
        """The widgets a tick redraws."""
        return (self.query_one(RunHeader), self.query_one(AgentRoster),
                self.query_one(DecisionStream), self.query_one(ChainTree),
                self.query_one(AlertList), self.query_one(BlastPanel))

    def apply(self, message: SimTick, samples: list[list[Sample]]) -> None:
        """Hand the tick's events to every panel, and the run's figures to the blast panel."""
        frame = message.frames[0]
        feed = self.feeds[0]
        if self.blind is not None:  # the actions fold the whole stream, not what is shown
            self._fold_actions(frame.events)
        events = self._visible(frame.events)
        # One pass splits the batch: decisions are most of it and only two panels want them.
        decision = EventKind.DECISION
        decisions = [e for e in events if e.kind is decision]
        others = ([e for e in events if e.kind is not decision]
                  if len(decisions) < len(events) else [])
        sequenced = [e for e in decisions if _completes_sequence(e)]
        self._note_use(decisions)
        self._remember(others)
        if self.blind is None:
            self._fold_actions(others)
        stream = self.query_one(DecisionStream)
        roster = self.query_one(AgentRoster)
        chains = self.query_one(ChainTree)
        alerts = self.query_one(AlertList)
        header = self.query_one(RunHeader)
        self.index.add_decisions(decisions)
        if others:
            self.index.add_others(others)
        with self.app.batch_update():
            stream.add_events(decisions)
            if len(self.index.enforced) != self._enforced_shown:
                self._show_policy_changed()
            rows_before = len(roster.agents)
            roster_changed = roster.add_events(others)
            chains.add_events(others + sequenced if sequenced else others)
            if alerts.add_events(others):
                alerts.border_title = alerts_title(sum(feed.collector.alerts.values()))
            wall = time.monotonic()
            # A tick already under way when space paused lands after the pause: its
            # message says playing, but the header must show where the clock stopped.
            settled = message.paused or frame.done or self.playback.paused
            if settled or wall - self._last_stream >= STREAM_REFRESH:
                self._last_stream = wall
                stream.flush()
            if settled or wall - self._last_refresh >= REFRESH:
                self._last_refresh = wall
                header.now = frame.now
                header.speed = message.speed
                header.paused = self.playback.paused
                roster.now = frame.now
                if roster_changed:
                    # A full reflow only when the roster gains rows; else repaint it alone.
                    roster.refresh(layout=len(roster.agents) != rows_before)
                chains.redraw()
                self._show_blast(frame.now, frame.done)
        if frame.done and not self.done:
            self.done = True
            header.done = True
            header.now = frame.now
            self.post_message(RunFinished(self.scenario, self.profile_id, self.seed,
                                          feed.result(), self.actions))

    def _show_blast(self, now: float, done: bool) -> None:
        """The blast radius; blind, only of detected incidents until the run ends.

        A detected incident shows whole, what leaked before its detection included (the
        SOC's lesson); when the run ends every incident is revealed, the undetected too.
        """
        panel = self.query_one(BlastPanel)
        collector = self.feeds[0].collector
        if self.blind is None:
            panel.show_run(collector, now)
            return
        panel.blind = "all, revealed" if done else "detected so far"
        panel.show_run(collector, now, None if done else set(self.blind.detected))

    def _note_use(self, decisions: list[Event]) -> None:
        """Remember when each token was last presented (the revoke dialog shows it)."""
        last = self.last_use
        for event in decisions:
            jti = event.data.get("jti")
            if jti is not None:
                last[jti] = event.time
        if len(last) > 4 * TOKEN_MEMORY:  # forget the first-seen half: early tokens are long gone
            for jti in list(last)[: len(last) // 2]:
                del last[jti]

    def _fold_actions(self, events: Sequence[Event]) -> None:
        """Fold the responder's live actions from the whole stream (blind or not)."""
        fold = self.actions
        for event in events:
            if event.kind is not EventKind.DECISION:
                fold(event)

    def _visible(self, events: tuple[Event, ...]) -> tuple[Event, ...]:
        """The tick's events the panels may show (in blind mode, what a SOC sees)."""
        view = self.blind
        if view is None:
            return events
        before = len(view.detected)
        shown = tuple(view.visible(events))
        if len(view.detected) > before:
            found = [f"{i} ({view.victims.get(i, '?')})" for i in list(view.detected)[before:]]
            self.notify(f"Detected: {', '.join(found)}.", title="detection", timeout=6)
        return shown

    def _show_policy_changed(self) -> None:
        """Say in the header that a rule was enforced mid-run: the policy is not the profile's."""
        enforced = self.index.enforced
        self._enforced_shown = len(enforced)
        rules = ", ".join(rule for _, rule in enforced)
        self.query_one(RunHeader).profile = (
            f"{self.profile_id} · policy changed: {rules} enforced since "
            f"{clock(enforced[0][0])}")

    def _remember(self, events: list[Event]) -> None:
        """Keep what the detail and incident dialogs look up: tokens, incidents, the fleet."""
        tokens = self.tokens
        for event in events:
            kind = event.kind
            if kind is EventKind.DECISION:
                continue
            if kind is EventKind.TOKEN_ISSUED:
                tokens[str(event.data.get("jti"))] = event
                if len(tokens) > TOKEN_MEMORY:
                    tokens.popitem(last=False)
            elif kind is EventKind.INCIDENT:
                self.incidents[str(event.data.get("id"))] = event
            elif kind is EventKind.RUN_STARTED:
                self.started = event
                self._catalogue = None
                self.fleet = {str(a["name"]): a for a in event.data.get("agents") or ()}

    # --- reactions to widgets ------------------------------------------------------------

    @on(DecisionStream.Selected)
    def _open_detail(self, message: DecisionStream.Selected) -> None:
        from tui.screens.detail import DecisionDetailScreen

        event = message.event
        token = self.tokens.get(str(event.data.get("jti")))
        incident = self.incidents.get(str(event.data.get("incident")))
        agent = self.fleet.get(event.agent or "")
        self.app.push_screen(DecisionDetailScreen(
            event, token=token, incident=incident, agent=agent,
            rules=self.catalogue, scenario=self.scenario,
            kept=self.index.recent_capacity))

    @on(AlertList.Jumped)
    def _show_alert(self, message: AlertList.Jumped) -> None:
        stream = self.query_one(DecisionStream)
        seq = message.event.data.get("decision")
        if isinstance(seq, int) and stream.select_seq(seq, reach=True):
            return
        if not stream.select_near(message.event.time, message.event.agent):
            self.notify("The decision behind this alert is no longer indexed "
                        f"(the run's oldest {self.index.dropped:,} were forgotten).",
                        timeout=3)

    @on(Input.Submitted, "#filter")
    def _apply_filter(self, message: Input.Submitted) -> None:
        try:
            parse_query(message.value)
        except QueryError as exc:
            self.notify(str(exc), title="filter", severity="error", timeout=8)
            return
        stream = self.query_one(DecisionStream)
        stream.filter_text = message.value
        if not stream.whole_run:
            stream.border_subtitle = f"filter: {message.value}" if message.value else ""
        message.input.display = False
        stream.focus()

    def on_key(self, event: Any) -> None:
        """Escape in the filter clears it."""
        filt = self.query_one("#filter", Input)
        if event.key == "escape" and filt.display:
            filt.value = ""
            filt.display = False
            stream = self.query_one(DecisionStream)
            stream.filter_text = ""
            stream.border_subtitle = ""
            stream.focus()
            event.stop()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``f`` opens the filter only while it is closed (else the letter is filter text)."""
        if action == "filter":
            return not self.query_one("#filter", Input).display
        return super().check_action(action, parameters)

    # --- actions -------------------------------------------------------------------------

    def action_filter(self) -> None:
        """Show the filter box for the decision stream."""
        filt = self.query_one("#filter", Input)
        filt.display = True
        # Focus now, not after the next refresh: keys typed fast after "f" are already
        # queued and must reach the box, not the screen's bindings (c would compare).
        self.app.set_focus(filt)

    def action_next_alert(self) -> None:
        """Jump to the next alert and the decision it came from."""
        if self.query_one(AlertList).next_alert() is None:
            self.notify("No alerts yet.", timeout=2)

    def action_compare(self) -> None:
        """Run the scenario's profiles side by side (this run waits, paused, underneath)."""
        if self.blind is not None and not self.done:
            # The comparison shows every incident: it would give the exercise away.
            self.notify("Blind mode: compare opens when the run has ended.", timeout=4)
            return
        self._resume_on_return = self._pause_for_dialog()
        self.post_message(OpenCompare(self.scenario, None, self.seed))

    def on_screen_resume(self) -> None:
        """Back from the comparison: play on if the run was playing when it opened."""
        if self._resume_on_return:
            self._resume_on_return = False
            self._after_dialog(True)
