"""The debrief: when a run ends, score the response against the run without it.

Every side is a fold of events (:class:`sim.score.ScoreFold`): the played run's figures come
from the live screen's metrics collector; the baselines from headless runs on the same seed
with the same live injections and no response: (i) the played profile, (ii) the scenario's
least-guarded profile. Both are named on the card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, cast

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.errors import AgentrangeError
from engine.model import Scenario
from sim.score import Action, Injection, Replayable, Score, ScoreFold, unanswered
from sim.score_log import append_record
from tui.render.formatting import clock, count, duration, metric
from tui.render.metrics import MetricRow, select_rows
from tui.screens.messages import OpenCompare, OpenPicker
from tui.screens.playback import SimulationFactory
from tui.widgets.key_footer import KeyFooter

SCORES: tuple[MetricRow, ...] = (*select_rows((
    "time to detect", "time to contain", "records exposed", "money moved",
    "data classes / systems touched", "exposure window", "out-of-scope attempts stopped")),
    MetricRow("benign steps denied", lambda d: count(metric(d, "delivery.benign_denied")),
              "delivery.benign_denied"))
"""The metrics rows the debrief scores a run on (benign steps denied as the score counts
them: a number, where the metrics table gives a rate)."""


def baseline_profile(scenario: Scenario, played: str) -> str:
    """The scenario's unguarded baseline: its least-guarded profile.

    That is the first non-production profile with static credentials, else the first
    non-production profile, else the first profile other than the one played.

    Args:
        scenario: The scenario.
        played: The profile the run used (the baseline is another one when possible).
    """
    profiles = list(scenario.profiles)
    for pick in (
        lambda p: not p.production and p.credentials.mode == "static",
        lambda p: not p.production,
        lambda p: p.id != played,
    ):
        found = [p for p in profiles if pick(p)]
        if found:
            return found[0].id
    return profiles[0].id


def _change(row: MetricRow, yours: Mapping[str, Any], base: Mapping[str, Any]) -> Text:
    mine, theirs = row.ranked(yours), row.ranked(base)
    if mine is None or theirs is None:
        return Text("-", style="dim")
    if mine == theirs:
        return Text("same", style="dim")
    better = (mine < theirs) == row.lower_is_better
    if theirs:
        label = f"{100.0 * (mine - theirs) / theirs:+.1f}%"
    else:
        label = f"{mine - theirs:+,.0f}"
    return Text(label, style="bold green" if better else "bold red")


class Baseline(NamedTuple):
    """A run the response is measured against: its name and its figures (None: scoring)."""

    header: str
    """Its column's short heading."""
    label: str
    """What it is, in full (the card names it above the table)."""
    profile: str
    figures: Mapping[str, Any] | None


def score_table(result: Mapping[str, Any], baselines: Sequence[Baseline]) -> Table:
    """Your run against each baseline: detection, containment and blast radius."""
    table = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    # Figures never wrap or shorten; on a narrow terminal the row labels wrap instead.
    table.add_column("", style="dim", overflow="fold", min_width=16)
    table.add_column("your run", justify="right", no_wrap=True)
    for base in baselines:
        table.add_column(base.header, justify="right", no_wrap=True)
        table.add_column("change", justify="right", no_wrap=True)
    for row in SCORES:
        cells: list[RenderableType] = [row.label, row.cell(result)]
        for base in baselines:
            if base.figures is None:
                cells += ["...", Text("")]
            else:
                cells += [row.cell(base.figures), _change(row, result, base.figures)]
        table.add_row(*cells)
    return table


class DebriefScreen(ModalScreen[None]):
    """The run's scores next to the same run unanswered and the least-guarded profile.

    Args:
        scenario: The scenario played.
        profile: The profile played.
        seed: The seed played.
        result: The played run's figures, as its screen folded them.
        simulation: Builds the baseline simulations.
        actions: The live responses taken (what the baselines leave out).
        injections: The incidents injected live (what the baselines replay).
        scores: A JSON Lines file the scores are appended to once the baselines are in.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close"),
        Binding("c", "compare", "Compare"),
        Binding("s", "scenarios", "Scenarios"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, scenario: Scenario, profile: str, seed: int,
                 result: Mapping[str, Any], simulation: SimulationFactory, *,
                 actions: Sequence[Action] = (), injections: Sequence[Injection] = (),
                 scores: Path | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.profile = profile
        self.seed = seed
        self.result: Mapping[str, Any] = result
        self.simulation = simulation
        self.actions = tuple(actions)
        self.injections = tuple(injections)
        self.scores_path = scores
        self.baseline_id = baseline_profile(scenario, profile)
        self.baseline: Mapping[str, Any] | None = None
        """The same run without the response, once scored."""
        self.least: Mapping[str, Any] | None = None
        """The least-guarded profile's run without the response, once scored."""

    @property
    def scored(self) -> bool:
        """True once both baselines are in."""
        return self.baseline is not None and self.least is not None

    def baselines(self) -> list[Baseline]:
        """The two baselines, named (one column when they are the same run)."""
        unanswered_label = f"unanswered: {self.profile} without your response"
        if self.baseline_id == self.profile:
            return [Baseline("unanswered", f"{unanswered_label} (also the least guarded: "
                             f"{self.profile})", self.profile, self.baseline)]
        return [Baseline("unanswered", unanswered_label, self.profile, self.baseline),
                Baseline("least guarded", f"least guarded: {self.baseline_id}",
                         self.baseline_id, self.least)]

    def compose(self) -> ComposeResult:
        """The score card."""
        box = VerticalScroll(Static(Text("scoring..."), id="debrief-body"), id="debrief-box")
        box.border_title = f"debrief: {self.scenario.name}"
        yield box
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        """Show the run's scores, then fold the baselines' runs in a worker thread."""
        self._show()
        self._score()

    def _unanswered(self, profile: str) -> dict[str, Any]:
        fold = ScoreFold()
        sim = self.simulation(self.scenario, profile, self.seed, fold, record_decisions=False)
        unanswered(cast(Replayable, sim), self.scenario.duration, self.injections)
        return dict(fold.metrics.result(sim.now).data)

    @work(thread=True, exclusive=True, group="debrief", exit_on_error=False)
    def _score(self) -> None:
        try:
            same = self._unanswered(self.profile)
            least = same if self.baseline_id == self.profile else \
                self._unanswered(self.baseline_id)
        except Exception as exc:  # a failing baseline must not take the debrief down
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._scored, same, least)

    def _failed(self, exc: Exception) -> None:
        self.query_one("#debrief-body", Static).update(
            Text(f"Could not score the run: {exc}", style="red"))

    def _scored(self, same: Mapping[str, Any], least: Mapping[str, Any]) -> None:
        self.baseline, self.least = same, least
        self._show()
        if self.scores_path is not None:
            try:
                append_record(self.scores_path, self.record())
            except AgentrangeError as exc:
                self.notify(str(exc), title="scores not kept", severity="error", timeout=10)
            else:
                self.notify(f"Score kept in {self.scores_path}.", timeout=4)

    def record(self) -> dict[str, Any]:
        """The score and both baselines' scores, as ``--scores`` keeps them (one line)."""
        score = Score.of(self.result, self.actions, self.injections).to_dict()
        return {"kind": "debrief", **score,
                "baselines": {
                    "unanswered": Score.of(self.baseline or {}).to_dict(),
                    "least_guarded": Score.of(self.least or {}).to_dict()}}

    def _show(self) -> None:
        result = self.result
        bases = self.baselines()
        names = "; ".join(b.label for b in bases)
        parts: list[RenderableType] = [
            Text(f"{self.scenario.title or self.scenario.name}", style="bold"),
            Text(f"profile {self.profile}, seed {self.seed}; scored against: {names} "
                 "(same seed, same incidents, no live response)", style="dim"),
            Text(""),
            score_table(result, bases),
        ]
        if self.actions:
            parts += [Text(""), Text("your actions", style="bold underline")]
            for action in self.actions:
                state = "" if action.applied else " (not applied)"
                parts.append(Text(f"{clock(action.time)}  {action.kind.replace('_', ' ')} "
                                  f"{action.target}{state}"))
        incidents = result.get("incidents") or []
        if incidents:
            parts += [Text(""), Text("incidents", style="bold underline")]
            for inc in incidents:
                line = Text(f"{inc.get('id')} ({inc.get('kind')}): ")
                line.append(f"detected after {duration(inc.get('time_to_detect'))}, "
                            f"contained after {duration(inc.get('time_to_contain'))}, "
                            f"{count(metric(inc, 'blast_radius.records'))} records")
                parts.append(line)
        self.query_one("#debrief-body", Static).update(Group(*parts))

    def action_close(self) -> None:
        """Back to the finished run."""
        self.dismiss(None)

    def action_compare(self) -> None:
        """Compare the scenario's profiles."""
        self.dismiss(None)
        self.app.post_message(OpenCompare(self.scenario, None, self.seed))

    def action_scenarios(self) -> None:
        """Choose another scenario."""
        self.dismiss(None)
        self.app.post_message(OpenPicker())

    def action_quit(self) -> None:
        """Leave agentrange."""
        self.app.exit()
