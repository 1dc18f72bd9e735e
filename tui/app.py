"""The dashboard app: screen routing, the command palette, and the one factory that builds it.

Memory policy of the dashboard process. The simulator runs in a worker thread and shares the
interpreter lock with the UI, so a full (oldest-generation) pass of the cyclic garbage
collector stops the screen for as long as it walks the heap, whichever thread starts it: 30-80
ms on a 2-core machine with a live run's heap (the simulator's token-verification cache, the
panels' buffers and render caches: about 55,000 objects). Left to the collector, a full pass
starts inside whatever allocation crosses its threshold, in the worker mid-step or in the UI
thread mid-paint, and a pass on top of a paint made the dashboard's longest stalls (over 100
ms). So while the app runs it owns
full passes: it raises the oldest generation's threshold out of reach (young passes stay
automatic and short) and runs a full collection itself, on the UI thread, when the
collector's own rule says one is due and the event loop has just been idle
(:meth:`AgentrangeApp.collect_old`). Start-up objects and a new run's simulation are frozen
out of full passes once built (:meth:`AgentrangeApp.settle_memory`). A run's later growth is
not frozen: Textual's rendered strips reference themselves from their caches, so freezing the
heap as it grows keeps every repainted line alive (measured: over a thousand objects a
second, even at normal speed). When the app ends it restores the thresholds it found and
unfreezes what it froze.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from engine.errors import AgentrangeError
from engine.model import Scenario
from scenarios.library import load_scenario
from sim.events import Sink
from tui.screens.playback import LiveSim, SinkBuffer, default_speed

DEFAULT_SCENARIO = "support-pii-injection"
"""What ``agentrange`` with no arguments plays."""

FULL_PASSES_OFF = 1_000_000
"""Oldest-generation threshold while the app runs: the collector never starts a full pass."""

COLLECT_CHECK = 0.1
"""Wall seconds between the app's checks for a due full collection."""

IDLE_SLACK = 0.02
"""A check this late ran behind other work (a tick, a paint): the full pass waits."""

OVERDUE = 4
"""A full pass overdue by this many thresholds runs even if the event loop was busy."""


class SimulationFactory(Protocol):
    """Builds a simulation to play: (scenario, profile id, seed, sink)."""

    def __call__(self, scenario: Scenario, profile: str, seed: int, sink: Sink, *,
                 record_decisions: bool = True) -> LiveSim:
        """A simulation; ``record_decisions`` keeps every decision's key for a diff."""
        ...


class UnknownProfileError(AgentrangeError):
    """A profile named on the command line is not one of the scenario's."""


def real_simulation(scenario: Scenario, profile: str, seed: int, sink: Sink, *,
                    record_decisions: bool = True) -> LiveSim:
    """The simulator the product ships: :class:`sim.runner.Simulation`."""
    from sim.runner import Simulation

    sim: LiveSim = Simulation(scenario, profile, seed=seed, sink=sink,
                              record_decisions=record_decisions)
    return sim


def observe_blast(sim: Any) -> Any:
    """The simulation's current blast-radius figures (read in the worker thread)."""
    blast = getattr(sim, "blast_radius", None)
    return blast() if callable(blast) else blast


class AgentrangeApp(App[int]):
    """The agentrange dashboard. Build it with :func:`make_app`."""

    CSS_PATH = "agentrange.tcss"
    TITLE = "agentrange"
    SUB_TITLE = "a flight simulator for AI-agent governance"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (150, "-wide")]

    def __init__(self, *, scenario: Scenario | None, profile: str | None,
                 compare: Sequence[str] | None, pick: bool, speed: float | None,
                 autoplay: bool, seed: int | None, pause_at: float | None, debrief: bool,
                 roots: Sequence[Path] | None,
                 simulation: SimulationFactory | None = None) -> None:
        super().__init__()
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
        self.observe: Callable[[Any], Any] = observe_blast
        self.gc_found = gc.get_threshold()
        """The collector's thresholds when the app started (restored when it ends)."""
        self._last_check = 0.0

    # --- screens -------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Open the picker, a comparison or the live run, as the factory was told."""
        self._own_full_passes()
        self.settle_memory()
        scenario = self.start_scenario
        if self.start_pick or scenario is None:
            self.open_picker()
        elif self.start_compare:
            self.open_compare(scenario, self.start_compare, self.seed, replace=True)
        else:
            self.open_live(scenario, self.start_profile or scenario.default_profile_id,
                           replace=True)

    def settle_memory(self) -> None:
        """Collect everything once, then keep what is alive out of the collector's full passes.

        Modules, styles, the scenario and a new run's simulation live as long as the screen
        or the app; a full collection walks all of them and stalls a frame for tens of
        milliseconds each time. Called at start-up and when a run's screen has built it.
        Frozen objects are unfrozen first, so what earlier runs left is reclaimed here:
        Textual keeps a replaced run's screen reachable until the next run's worker has
        started, so each run is frozen once more with the next one and reclaimed after.
        """
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def _own_full_passes(self) -> None:
        self.gc_found = gc.get_threshold()
        self._last_check = time.monotonic()
        gc.set_threshold(*self.gc_found[:2], FULL_PASSES_OFF)
        self.set_interval(COLLECT_CHECK, self.collect_old, name="full collection")

    def collect_old(self) -> bool:
        """Run a full collection if one is due and the UI thread is free (every COLLECT_CHECK s).

        Due is the collector's own rule: more young-generation passes since the last full one
        than the oldest generation's threshold the app found. Free is a check that ran on
        time, so nothing long ran just before it on the event loop; a pass long overdue runs
        regardless. Returns whether it ran one.
        """
        now = time.monotonic()
        late = now - self._last_check - COLLECT_CHECK
        self._last_check = now
        due = gc.get_count()[2] - self.gc_found[2]
        if not gc.isenabled() or due <= 0 or (late > IDLE_SLACK and
                                               due <= OVERDUE * max(1, self.gc_found[2])):
            return False
        gc.collect()
        self._last_check = time.monotonic()
        return True

    def on_unmount(self) -> None:
        """Leave the collector as the app found it (tests build many apps in one process)."""
        gc.set_threshold(*self.gc_found)
        gc.unfreeze()

    def new_simulation(self, scenario: Scenario, profile: str, seed: int,
                       sink: SinkBuffer, *, record_decisions: bool = True) -> Any:
        """A simulation for a screen to play (the factory the app was built with).

        Args:
            scenario: The scenario.
            profile: The profile id.
            seed: The run's seed.
            sink: Where it emits events.
            record_decisions: Keep every decision's key (a comparison's diff needs them).
        """
        return self.simulation_factory(scenario, profile, seed, sink,
                                       record_decisions=record_decisions)

    def _speed_for(self, scenario: Scenario) -> float:
        return self.speed if self.speed is not None else default_speed(scenario)

    def open_live(self, scenario: Scenario, profile: str, *, replace: bool = False) -> None:
        """Play ``scenario`` under ``profile`` (replacing the current run, if any)."""
        from tui.screens.live import LiveScreen

        screen = LiveScreen(scenario, profile, seed=self.seed, speed=self._speed_for(scenario),
                            autoplay=self.autoplay, pause_at=self.pause_at)
        self._show(screen, replace)

    def open_compare(self, scenario: Scenario, profiles: Sequence[str] | None,
                     seed: int | None, *, replace: bool = False) -> None:
        """Run profiles of ``scenario`` side by side (all of them when None)."""
        from tui.screens.compare import CompareScreen

        ids = list(profiles) if profiles else [p.id for p in scenario.profiles]
        screen = CompareScreen(scenario, ids, seed=seed, speed=self._speed_for(scenario),
                               autoplay=self.autoplay, pause_at=self.pause_at)
        self._show(screen, replace)

    def _show(self, screen: Screen[Any], replace: bool) -> None:
        if replace and len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def open_picker(self) -> None:
        """Choose a scenario; the current run pauses underneath and is replaced on a choice."""
        from tui.screens.picker import Choice, PickerScreen

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

    def run_finished(self, screen: Any) -> None:
        """A live run ended: show the debrief (if enabled)."""
        if not self.debrief:
            return
        from tui.screens.debrief import DebriefScreen

        self.push_screen(DebriefScreen(screen.scenario, screen.profile_id, screen.seed,
                                       screen.sim, self.simulation_factory))

    # --- the command palette -------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every key binding of the current screen is also a palette command."""
        for binding in screen.BINDINGS:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            action = binding.action
            key = (binding.key_display or binding.key).split(",")[0]
            yield SystemCommand(binding.description, f"key {key}",
                                _runner(screen, action))
        yield from super().get_system_commands(screen)


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

    Raises:
        LoadError: the scenario does not load.
        UnknownProfileError: a named profile is not in the scenario.
    """
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
                         debrief=debrief, roots=roots, simulation=simulation)
