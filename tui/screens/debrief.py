"""The debrief: when a run ends, score detection, containment and blast radius against baseline.

Both sides are folds of events: the played run's figures come from the live screen's metrics
collector, the baseline's from a collector fed a headless run of the baseline profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.model import Scenario
from sim.collectors.metrics import MetricsCollector
from tui.render.formatting import count, duration, metric
from tui.render.metrics import MetricRow, select_rows
from tui.screens.messages import OpenCompare, OpenPicker
from tui.screens.playback import SimulationFactory
from tui.widgets.key_footer import KeyFooter

SCORES: tuple[MetricRow, ...] = select_rows((
    "time to detect", "time to contain", "records exposed", "money moved",
    "data classes / systems touched", "exposure window", "out-of-scope attempts stopped",
    "benign steps denied"))
"""The metrics rows the debrief scores a run on."""


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


def score_table(result: Mapping[str, Any], baseline: Mapping[str, Any] | None,
                profile: str, baseline_id: str) -> Table:
    """Your run against the baseline: detection, containment and blast radius."""
    table = Table(box=None, padding=(0, 2), header_style="bold", expand=True)
    table.add_column("", style="dim", no_wrap=True)
    table.add_column(f"your run ({profile})", justify="right")
    table.add_column(f"baseline ({baseline_id})", justify="right")
    table.add_column("change", justify="right")
    for row in SCORES:
        table.add_row(row.label, row.cell(result),
                      row.cell(baseline) if baseline is not None else "...",
                      _change(row, result, baseline) if baseline is not None else Text(""))
    return table


class DebriefScreen(ModalScreen[None]):
    """The run's scores next to the unguarded baseline, run headless on the same seed.

    Args:
        scenario: The scenario played.
        profile: The profile played.
        seed: The seed played.
        result: The played run's figures, as its screen folded them.
        simulation: Builds the baseline simulation.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close"),
        Binding("c", "compare", "Compare"),
        Binding("s", "scenarios", "Scenarios"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, scenario: Scenario, profile: str, seed: int,
                 result: Mapping[str, Any], simulation: SimulationFactory) -> None:
        super().__init__()
        self.scenario = scenario
        self.profile = profile
        self.seed = seed
        self.result: Mapping[str, Any] = result
        self.simulation = simulation
        self.baseline_id = baseline_profile(scenario, profile)
        self.baseline: Mapping[str, Any] | None = None

    def compose(self) -> ComposeResult:
        """The score card."""
        box = VerticalScroll(Static(Text("scoring..."), id="debrief-body"), id="debrief-box")
        box.border_title = f"debrief: {self.scenario.name}"
        yield box
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        """Show the run's scores, then fold the baseline's run in a worker thread."""
        self._show(self.result, None)
        if self.baseline_id == self.profile:
            self._show(self.result, self.result)
        else:
            self._score()

    @work(thread=True, exclusive=True, group="debrief", exit_on_error=False)
    def _score(self) -> None:
        try:
            baseline = MetricsCollector(record_decisions=False)
            base = self.simulation(self.scenario, self.baseline_id, self.seed, baseline,
                                   record_decisions=False)
            base.step_until(self.scenario.duration)
            figures = dict(baseline.result(base.now).data)
        except Exception as exc:  # a failing baseline must not take the debrief down
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._show, self.result, figures)

    def _failed(self, exc: Exception) -> None:
        self.query_one("#debrief-body", Static).update(
            Text(f"Could not score the run: {exc}", style="red"))

    def _show(self, result: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> None:
        self.baseline = baseline
        parts: list[RenderableType] = [
            Text(f"{self.scenario.title or self.scenario.name}", style="bold"),
            Text(f"profile {self.profile}, seed {self.seed}; baseline: {self.baseline_id} "
                 "on the same seed", style="dim"),
            Text(""),
            score_table(result, baseline, self.profile, self.baseline_id),
        ]
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
