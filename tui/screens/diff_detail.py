"""The decision diff's detail: one logical request, decided under each compared profile.

A row of the compare screen's decision diff names a request (agent, task, run, step,
incident) whose effect differs between profiles. The comparison keeps only each decision's
effect, so the full records are found again by replaying each profile's run on the same seed
(runs are deterministic: same scenario, profile and seed, same events) up to that request;
:func:`find_decision` does it, off the UI thread, and :class:`DiffDetailScreen` shows each
profile's decision in full, side by side when the terminal is wide, else stacked.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from engine.model import Scenario
from sim.events import Event, EventKind
from sim.result import DecisionKey
from tui.screens.catalogue import RuleCatalogue
from tui.screens.detail import DecisionView
from tui.screens.playback import SimulationFactory

TOKENS_KEPT = 2000
"""Token records kept while replaying (the one the decision used is usually recent)."""

SIDE_BY_SIDE = 140
"""Terminal columns from which the profiles' decisions show side by side."""


class Found(NamedTuple):
    """One profile's decision of the request, with what its detail names."""

    profile: str
    event: Event | None
    """The decision event (None: the request was not made under this profile)."""
    started: Event | None
    token: Event | None
    incident: Event | None


class _Finder:
    """A sink that watches a replay for one request's decision and what it refers to."""

    def __init__(self, key: DecisionKey) -> None:
        self.key = key
        self.found: Event | None = None
        self.started: Event | None = None
        self.tokens: OrderedDict[str, Event] = OrderedDict()
        self.incidents: dict[str, Event] = {}

    def __call__(self, event: Event) -> None:
        if self.found is not None:
            return
        kind = event.kind
        if kind is EventKind.DECISION:
            d = event.data
            if (event.agent, d.get("task"), d.get("run"), d.get("step"),
                    d.get("incident")) == self.key:
                self.found = event
        elif kind is EventKind.TOKEN_ISSUED:
            self.tokens[str(event.data.get("jti"))] = event
            if len(self.tokens) > TOKENS_KEPT:
                self.tokens.popitem(last=False)
        elif kind is EventKind.INCIDENT:
            self.incidents[str(event.data.get("id"))] = event
        elif kind is EventKind.RUN_STARTED:
            self.started = event


def find_decision(simulation: SimulationFactory, scenario: Scenario, profile: str, seed: int,
                  key: DecisionKey, chunks: int = 200) -> Found:
    """Replay ``profile``'s run on ``seed`` until the request ``key`` is decided.

    Args:
        simulation: Builds the simulation (the compare screen's own factory).
        scenario: The scenario compared.
        profile: The profile to replay.
        seed: The seed the comparison used.
        key: The request: (agent, task, run, step, incident).
        chunks: Steps the run is replayed in (the replay stops after the one that found it).
    """
    finder = _Finder(key)
    sim = simulation(scenario, profile, seed, finder, record_decisions=False)
    step = scenario.duration / chunks
    t = 0.0
    while finder.found is None and not sim.done and t < scenario.duration:
        t = min(scenario.duration, t + step)
        sim.step_until(t)
    event = finder.found
    if event is None:
        return Found(profile, None, finder.started, None, None)
    return Found(profile, event, finder.started,
                 finder.tokens.get(str(event.data.get("jti"))),
                 finder.incidents.get(str(event.data.get("incident"))))


class DiffDetailScreen(ModalScreen[None]):
    """One request's decision under each compared profile, in full.

    Args:
        request: The diff row's label.
        found: Each profile's decision, in the comparison's order.
        scenario: The scenario compared (owner names).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Close")]

    DEFAULT_CSS = """
    DiffDetailScreen {
        align: center middle;
        & > Vertical {
            width: 96%;
            height: 92%;
            border: thick $accent;
            background: $surface;
            padding: 0 1;
        }
        & #diff-sides { height: 1fr; }
        & #diff-sides > VerticalScroll { width: 1fr; padding-right: 1; }
        & #diff-stack { height: 1fr; }
        & .diff-profile { text-style: bold reverse; width: 100%; }
    }
    """

    def __init__(self, request: str, found: Sequence[Found], scenario: Scenario) -> None:
        super().__init__()
        self.request = request
        self.found = list(found)
        self.scenario = scenario

    def view_of(self, found: Found) -> Any:
        """The renderable of one profile's decision (or why there is none)."""
        if found.event is None:
            return Text("This request was not made under this profile (its run stopped "
                        "earlier, or never got there).", style="italic")
        agents = (found.started.data.get("agents") or ()) if found.started else ()
        agent = next((a for a in agents if a.get("name") == found.event.agent), None)
        return DecisionView(found.event, token=found.token, incident=found.incident,
                            agent=agent, rules=RuleCatalogue.of_run(found.started),
                            scenario=self.scenario).render_detail()

    def compose(self) -> ComposeResult:
        """A title line, then one column (wide) or one block (narrow) per profile."""
        with Vertical() as box:
            box.border_title = f"decision diff: {self.request}"
            wide = self.app.size.width >= SIDE_BY_SIDE
            if wide:
                with Horizontal(id="diff-sides"):
                    for found in self.found:
                        with VerticalScroll():
                            yield Static(Text(f" {found.profile} "), classes="diff-profile")
                            yield Static(self.view_of(found), classes="diff-body")
            else:
                with VerticalScroll(id="diff-stack"):
                    for found in self.found:
                        yield Static(Text(f" {found.profile} "), classes="diff-profile")
                        yield Static(self.view_of(found), classes="diff-body")
        yield Footer()

    def action_close(self) -> None:
        """Back to the comparison."""
        self.dismiss(None)
