"""The dashboard app: screen routing, the command palette, and the one factory that builds it.

Screens never import the app: they post the messages of :mod:`tui.screens.messages` and the
app's handlers open the screens asked for. The app owns the process's full garbage
collections while it runs (see :mod:`tui.memory`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES

from engine.errors import AgentrangeError
from engine.model import Scenario
from scenarios.library import load_scenario
from sim.drill import Drill
from sim.score import Score
from sim.tradeoff import TradeOff
from tui.memory import COLLECT_CHECK, FullPasses, settle_memory
from tui.screens.compare import CompareScreen
from tui.screens.debrief import DebriefScreen
from tui.screens.help import HelpScreen, purpose
from tui.screens.live import LiveScreen
from tui.screens.messages import OpenCompare, OpenPicker, RunFinished
from tui.screens.picker import Choice, PickerScreen
from tui.screens.playback import SimulationFactory, default_speed, real_simulation
from tui.screens.too_small import TooSmallScreen, too_small
from tui.settings import check_theme, save_theme, settings_path

__all__ = ["DEFAULT_SCENARIO", "AgentrangeApp", "SimulationFactory", "UnknownProfileError",
           "make_app", "real_simulation"]

DEFAULT_SCENARIO = "support-pii-injection"
"""What ``agentrange`` with no arguments plays."""


class UnknownProfileError(AgentrangeError):
    """A profile named on the command line is not one of the scenario's."""


class AgentrangeApp(App[int]):
    """The agentrange dashboard. Build it with :func:`make_app`."""

    CSS_PATH = "agentrange.tcss"
    TITLE = "agentrange"
    SUB_TITLE = "a flight simulator for AI-agent governance"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (150, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        # Only while Textual's keys panel is open (see check_action): Esc closes it.
        Binding("escape", "hide_keys", "Close the keys panel", show=False, priority=True),
    ]

    def __init__(self, *, scenario: Scenario | None, profile: str | None,
                 compare: Sequence[str] | None, pick: bool, speed: float | None,
                 autoplay: bool, seed: int | None, pause_at: float | None, debrief: bool,
                 roots: Sequence[Path] | None,
                 simulation: SimulationFactory | None = None,
                 sweep: tuple[TradeOff, str] | None = None, theme: str | None = None,
                 remember_theme: bool = False, blind: bool = False,
                 scores: Path | None = None, drill: Drill | None = None,
                 participant: str | None = None) -> None:
        super().__init__()
        self.start_sweep = sweep
        self.start_theme = theme
        self.remember_theme = remember_theme
        """Save the theme whenever it changes (the CLI asks; tests and benchmarks do not)."""
        self.blind = blind
        self.scores = scores
        self.drill = drill
        self.participant = participant
        self.drill_recorded = False
        """True once this participant's drill score is in the results."""
        self.start_scenario = scenario
        self.start_profile = profile
        self.start_compare = list(compare) if compare else None
        self.start_pick = pick
        self.speed = speed
        self.autoplay = autoplay
        self.seed = seed
        self.pause_at = pause_at
        self.debrief = debrief
        self.roots = list(roots) if roots is not None else None
        self.simulation_factory = simulation or real_simulation
        self.full_passes = FullPasses()
        """The app's hold on full garbage collections (taken on mount, released on unmount)."""

    # --- memory --------------------------------------------------------------------------

    def _own_full_passes(self) -> None:
        self.full_passes.take()
        self.set_interval(COLLECT_CHECK, self.collect_old, name="full collection")

    def collect_old(self) -> bool:
        """Run a full collection if one is due and the UI thread is free; True if it ran."""
        return self.full_passes.collect_if_due()

    def on_unmount(self) -> None:
        """Leave the collector as the app found it (tests build many apps in one process)."""
        self.full_passes.release()

    # --- screens -------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Open the picker, a comparison or the live run, as the factory was told."""
        self._own_full_passes()
        self._apply_theme()
        scenario = self.start_scenario
        if self.start_sweep is not None:  # lazily: its plot library is an optional extra
            from tui.screens.sweep_plot import SweepPlotScreen

            settle_memory()
            self.push_screen(SweepPlotScreen(*self.start_sweep))
        elif self.drill is not None and self.participant is None and scenario is not None:
            settle_memory()
            self.ask_participant(scenario)
        elif self.start_pick or scenario is None:
            settle_memory()
            self.open_picker()
        # A run's room settles memory itself once its simulations are built (start-up objects
        # included): settling here as well would walk the whole heap twice before the first
        # frame of the run.
        elif self.start_compare:
            self.open_compare(scenario, self.start_compare, self.seed, replace=True)
        else:
            self.open_live(scenario, self.start_profile or scenario.default_profile_id,
                           replace=True)
        self.call_after_refresh(self._check_size)

    # --- theme ---------------------------------------------------------------------------

    def _apply_theme(self) -> None:
        if self.start_theme is not None:
            self.theme = self.start_theme
        if self.remember_theme:
            if self.start_theme is not None:
                self._save_theme(self.theme)
            self.theme_changed_signal.subscribe(self, lambda theme: self._save_theme(theme.name))

    def _save_theme(self, name: str) -> None:
        """Remember the theme for the next run; a file that cannot be written is only said."""
        try:
            save_theme(name)
        except OSError as exc:
            self.notify(f"{settings_path()}: the theme is not remembered ({exc.strerror})",
                        severity="warning", timeout=6)

    # --- help ----------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the keys of this screen and what the board's words mean."""
        if not isinstance(self.screen, HelpScreen | TooSmallScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_hide_keys(self) -> None:
        """Close the keys panel."""
        self.action_hide_help_panel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc belongs to the keys panel only while it is open."""
        if action == "hide_keys":
            return bool(self.screen.query("HelpPanel"))
        return True

    # --- the terminal's size -------------------------------------------------------------

    def on_resize(self) -> None:
        """Cover the board with a notice while the terminal is too small to lay it out."""
        self.call_after_refresh(self._check_size)

    def _check_size(self) -> None:
        small = too_small(*self.size)
        notice = self.screen if isinstance(self.screen, TooSmallScreen) else None
        if small and notice is None:
            self.push_screen(TooSmallScreen())
        elif notice is not None:
            notice.show_size() if small else notice.dismiss()

    def ask_participant(self, scenario: Scenario) -> None:
        """Ask the drill participant's name, then play the drill (Esc leaves)."""
        from tui.screens.drill_name import NameScreen

        def named(name: str | None) -> None:
            if name is None:
                self.exit(0)
                return
            self.participant = name
            self.open_live(scenario, self.start_profile or scenario.default_profile_id)

        assert self.drill is not None
        self.push_screen(NameScreen(f"drill {self.drill.directory.name}"), named)

    def _speed_for(self, scenario: Scenario) -> float:
        return self.speed if self.speed is not None else default_speed(scenario)

    def open_live(self, scenario: Scenario, profile: str, *, replace: bool = False) -> None:
        """Play ``scenario`` under ``profile`` (replacing the current run, if any)."""
        screen = LiveScreen(scenario, profile, seed=self.seed, speed=self._speed_for(scenario),
                            autoplay=self.autoplay, pause_at=self.pause_at,
                            simulation=self.simulation_factory, blind=self.blind)
        self._show(screen, replace)

    def open_compare(self, scenario: Scenario, profiles: Sequence[str] | None,
                     seed: int | None, *, replace: bool = False) -> None:
        """Run profiles of ``scenario`` side by side (all of them when None)."""
        ids = list(profiles) if profiles else [p.id for p in scenario.profiles]
        screen = CompareScreen(scenario, ids, seed=seed, speed=self._speed_for(scenario),
                               autoplay=self.autoplay, pause_at=self.pause_at,
                               simulation=self.simulation_factory)
        self._show(screen, replace)

    def _show(self, screen: Screen[Any], replace: bool) -> None:
        if replace and len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self._push_under_notice(screen)

    def _push_under_notice(self, screen: Screen[Any]) -> None:
        """Open ``screen``; while the terminal is too small, under the notice, not over it.

        A screen that opens by itself (the debrief when a run ends) would otherwise cover
        the notice and show cut to pieces.
        """
        if isinstance(self.screen, TooSmallScreen):
            self.pop_screen()
            self.push_screen(screen)
            self.push_screen(TooSmallScreen())
        else:
            self.push_screen(screen)

    def open_picker(self) -> None:
        """Choose a scenario; the current run pauses underneath and is replaced on a choice."""
        under = self.screen if len(self.screen_stack) > 1 else None
        playback = getattr(under, "playback", None)
        was_playing = playback is not None and not playback.paused
        if playback is not None:
            playback.pause()

        def chosen(choice: Choice | None) -> None:
            if choice is not None:
                self.open_live(choice.scenario, choice.profile, replace=under is not None)
            elif under is None:
                self.exit(0)
            elif playback is not None and was_playing:
                playback.resume()

        playing = getattr(under, "scenario", None)
        current = playing.name if isinstance(playing, Scenario) else DEFAULT_SCENARIO
        self.push_screen(PickerScreen(self.roots, current=current), chosen)

    # --- what screens ask for ------------------------------------------------------------

    def on_open_picker(self, message: OpenPicker) -> None:
        """A screen asked to choose another scenario."""
        self.open_picker()

    def on_open_compare(self, message: OpenCompare) -> None:
        """A screen asked to compare profiles of a scenario."""
        self.open_compare(message.scenario, message.profiles, message.seed)

    def on_run_finished(self, message: RunFinished) -> None:
        """A live run ended: show the debrief (if enabled)."""
        if self.drill is not None and self.participant is not None \
                and message.scenario is self.start_scenario:  # not another one from `s`
            self._record_drill(message)
        if self.debrief:
            self._push_under_notice(DebriefScreen(
                message.scenario, message.profile, message.seed, message.result,
                self.simulation_factory, actions=message.actions.actions,
                injections=message.actions.injections, scores=self.scores))

    def _record_drill(self, message: RunFinished) -> None:
        """Append the participant's score to the drill's results (once per run)."""
        assert self.drill is not None and self.participant is not None
        score = Score.of(message.result, message.actions.actions, message.actions.injections)
        try:
            self.drill.append(self.participant, score)
        except AgentrangeError as exc:
            self.notify(str(exc), title="score not recorded", severity="error", timeout=30)
            return
        self.drill_recorded = True
        self.notify(f"Your score is in {self.drill.results}.", title="drill", timeout=8)

    # --- the command palette -------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every key binding the current screen answers now is also a palette command.

        Each says what it does (the action's own docstring) and which key does it; a
        command Textual already lists (Quit, Keys, Theme...) is listed once, Textual's.
        """
        textual = list(super().get_system_commands(screen))
        taken = {command.title.casefold() for command in textual}
        for binding in screen.BINDINGS:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            action = binding.action
            name = action.split("(", 1)[0]
            if binding.description.casefold() in taken or name == "quit" \
                    or not screen.check_action(name, ()):
                continue
            taken.add(binding.description.casefold())
            key = (binding.key_display or binding.key).split(",")[0]
            yield SystemCommand(binding.description, f"{purpose(screen, name)} (key {key})",
                                _runner(screen, action))
        yield from textual


def _runner(screen: Screen[Any], action: str) -> Callable[[], Any]:
    async def run() -> None:
        await screen.run_action(action)

    return run


def make_app(
    scenario: str | Path | Scenario | None = DEFAULT_SCENARIO,
    profile: str | None = None,
    compare: Sequence[str] | str | None = None,
    pick: bool = False,
    speed: float | None = None,
    autoplay: bool = True,
    *,
    seed: int | None = None,
    pause_at: float | None = None,
    debrief: bool = True,
    roots: Sequence[Path] | None = None,
    simulation: SimulationFactory | None = None,
    sweep: tuple[TradeOff, str] | None = None,
    theme: str | None = None,
    remember_theme: bool = False,
    blind: bool = False,
    scores: Path | None = None,
    drill: Drill | None = None,
    participant: str | None = None,
) -> AgentrangeApp:
    """Build the dashboard; the CLI, the tests and the benchmarks all start here.

    Args:
        scenario: A built-in name, a path, or a loaded scenario (None: open the picker).
        profile: The profile to run (default: the scenario's default profile).
        compare: Profiles to compare side by side (a list or ``"a,b"``); opens the compare
            screen instead of a single live run.
        pick: Open the scenario picker first.
        speed: Simulated seconds per wall second (``math.inf``: as fast as the UI keeps up;
            None: fast enough that the first incident shows within about 15 seconds).
        autoplay: Start playing at once (else paused at time zero).
        seed: The run's seed (None: the scenario's).
        pause_at: Pause by itself when the simulated clock reaches this time.
        debrief: Show the debrief when a live run ends.
        roots: Directories the picker searches for scenario files (None: working dir).
        simulation: Factory of simulations (None: the real simulator).
        sweep: A saved sweep's trade-off and title: open its chart (``tui --sweep``).
        theme: A Textual theme's name (None: Textual's default).
        remember_theme: Save the theme, and every change of it, in the settings file
            (:mod:`tui.settings`); the CLI asks for this, tests and benchmarks do not.
        blind: Hide the compromised agent until an alert detects it (what a SOC sees).
        scores: Append each debrief's scores to this JSON Lines file.
        drill: Play this drill: its scenario, profile, seed and incident time, blind (a drill
            is a detection exercise).
        participant: The drill participant's name (their score is appended to the results).

    Raises:
        LoadError: the scenario does not load.
        UnknownProfileError: a named profile is not in the scenario.
        UnknownThemeError: ``theme`` is not one of Textual's themes.
    """
    if theme is not None:
        check_theme(theme, list(BUILTIN_THEMES))
    if drill is not None:
        scenario, profile, seed, blind = drill_scenario(drill), drill.profile, drill.seed, True
    loaded = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
    profiles = [p.strip() for p in compare.split(",")] if isinstance(compare, str) else (
        list(compare) if compare else None)
    if loaded is not None:
        known = [p.id for p in loaded.profiles]
        for name in [profile, *(profiles or [])]:
            if name is not None and name not in known:
                raise UnknownProfileError(
                    f"{loaded.source}: no profile {name!r}; the scenario has "
                    f"{', '.join(known)}")
        if profiles is not None and len(profiles) < 2:
            raise UnknownProfileError(
                f"--compare needs at least two profiles (the scenario has {', '.join(known)})")
    return AgentrangeApp(scenario=loaded, profile=profile, compare=profiles, pick=pick,
                         speed=speed, autoplay=autoplay, seed=seed, pause_at=pause_at,
                         debrief=debrief, roots=roots, simulation=simulation, sweep=sweep,
                         theme=theme, remember_theme=remember_theme, blind=blind,
                         scores=scores, drill=drill, participant=participant)


def drill_scenario(drill: Drill) -> Scenario:
    """The drill's scenario, staged: its first incident at the drill's time.

    Raises:
        LoadError: the scenario does not load.
        DrillError: the incident time does not fit the scenario.
    """
    return drill.staged(load_scenario(drill.scenario))
