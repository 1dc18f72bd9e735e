"""The debrief: when a run ends, score detection, containment and blast radius against baseline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from sim.events import Event
from tui.render.formatting import count, duration, metric
from tui.widgets.key_footer import KeyFooter


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


def _change(yours: Any, base: Any, lower_is_better: bool = True) -> Text:
    if not isinstance(yours, int | float) or not isinstance(base, int | float):
        return Text("-", style="dim")
    if base == yours:
        return Text("same", style="dim")
    better = (yours < base) == lower_is_better
    if base:
        pct = 100.0 * (yours - base) / base
        label = f"{pct:+.1f}%"
    else:
        label = f"{yours - base:+,.0f}"
    return Text(label, style="bold green" if better else "bold red")


def score_table(result: Mapping[str, Any], baseline: Mapping[str, Any] | None,
                profile: str, baseline_id: str) -> Table:
    """Your run against the baseline: detection, containment and blast radius."""
    table = Table(box=None, padding=(0, 2), header_style="bold", expand=True)
    table.add_column("", style="dim", no_wrap=True)
    table.add_column(f"your run ({profile})", justify="right")
    table.add_column(f"baseline ({baseline_id})", justify="right")
    table.add_column("change", justify="right")

    def secs(v: Any) -> str:
        return "never" if v is None else duration(float(v))

    rows: list[tuple[str, str, Callable[[Any], str]]] = [
        ("time to detect", "time_to_detect", secs),
        ("time to contain", "time_to_contain", secs),
        ("records exposed", "blast_radius.records", count),
        ("money moved", "blast_radius.amount", count),
        ("data classes exposed", "blast_radius.data_classes", count),
        ("systems exposed", "blast_radius.systems", count),
        ("exposure window", "blast_radius.exposure_window", secs),
        ("out-of-scope attempts stopped", "out_of_scope.stopped", count),
        ("benign steps denied", "delivery.benign_denied", count),
    ]
    for label, path, show in rows:
        yours = metric(result, path)
        base = metric(baseline, path) if baseline is not None else None
        better_low = path != "out_of_scope.stopped"
        table.add_row(label, show(yours), show(base) if baseline is not None else "...",
                      _change(yours, base, better_low) if baseline is not None else Text(""))
    return table


class DebriefScreen(ModalScreen[None]):
    """The run's scores next to the unguarded baseline, run headless on the same seed.

    Args:
        scenario: The scenario played.
        profile: The profile played.
        seed: The seed played.
        sim: The finished simulation (its result is read, not recomputed).
        factory: Builds the baseline simulation.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close"),
        Binding("c", "compare", "Compare"),
        Binding("s", "scenarios", "Scenarios"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, scenario: Scenario, profile: str, seed: int, sim: Any,
                 factory: Callable[..., Any]) -> None:
        super().__init__()
        self.scenario = scenario
        self.profile = profile
        self.seed = seed
        self.sim = sim
        self.factory = factory
        self.baseline_id = baseline_profile(scenario, profile)
        self.result: Mapping[str, Any] | None = None
        self.baseline: Mapping[str, Any] | None = None

    def compose(self) -> ComposeResult:
        """The score card."""
        box = VerticalScroll(Static(Text("scoring..."), id="debrief-body"), id="debrief-box")
        box.border_title = f"debrief: {self.scenario.name}"
        yield box
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        """Read the result and run the baseline in a worker thread."""
        self._score()

    @work(thread=True, exclusive=True, group="debrief", exit_on_error=False)
    def _score(self) -> None:
        try:
            result = self.sim.result().to_dict()
            self.app.call_from_thread(self._show, result, None)
            if self.baseline_id == self.profile:
                baseline = result
            else:
                base = self.factory(self.scenario, self.baseline_id, self.seed,
                                    _discard)
                baseline = base.run().to_dict()
        except Exception as exc:  # a failing baseline must not take the debrief down
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._show, result, baseline)

    def _failed(self, exc: Exception) -> None:
        self.query_one("#debrief-body", Static).update(
            Text(f"Could not score the run: {exc}", style="red"))

    def _show(self, result: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> None:
        self.result = result
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
        from tui.app import AgentrangeApp

        self.dismiss(None)
        app = self.app
        if isinstance(app, AgentrangeApp):
            app.open_compare(self.scenario, None, self.seed)

    def action_scenarios(self) -> None:
        """Choose another scenario."""
        from tui.app import AgentrangeApp

        self.dismiss(None)
        if isinstance(self.app, AgentrangeApp):
            self.app.open_picker()

    def action_quit(self) -> None:
        """Leave agentrange."""
        self.app.exit()


def _discard(event: Event) -> None:
    """The baseline's events are not shown."""
