"""The dashboard's collector policy and paint handshake: what keeps the UI thread from stalling."""

from __future__ import annotations

import gc
import math
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Static

from engine.model import Scenario
from scenarios.library import load_scenario
from tests.tui.pilot_support import live, wait_for
from tui.app import AgentrangeApp, make_app
from tui.memory import FULL_PASSES_OFF
from tui.screens.live import LiveScreen
from tui.screens.playback import after_paint
from tui.widgets.decision_stream import DecisionStream

APP_PASSES = {"collect_if_due", "settle_memory"}
"""The dashboard's own functions that run full collections (in tui/memory.py)."""


@contextmanager
def full_passes() -> Iterator[list[tuple[str, str]]]:
    """Record each full collection: (its thread, the app's method that started it or '')."""
    seen: list[tuple[str, str]] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase != "start" or info["generation"] != 2:
            return
        frame: Any = sys._getframe(1)
        by = ""
        while frame is not None:
            code = frame.f_code
            if code.co_name in APP_PASSES and code.co_filename.endswith("memory.py"):
                by = code.co_name
                break
            frame = frame.f_back
        seen.append((threading.current_thread().name, by))

    gc.callbacks.append(watch)
    try:
        yield seen
    finally:
        gc.callbacks.remove(watch)


async def test_while_a_run_streams_only_the_app_starts_full_collections() -> None:
    scenario = load_scenario("support-pii-injection")
    scenario = scenario.model_copy(update={"duration": 40 * 3600.0})
    app = make_app(scenario, speed=math.inf, debrief=False)
    with full_passes() as passes:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
            screen = live(app)
            # Survivors of the young generations, as a growing run makes: on the collector's
            # own rule they would start a full pass within a few hundred allocations.
            kept: list[list[list[int]]] = [[[] for _ in range(200)] for _ in range(400)]
            await wait_for(pilot, lambda: screen.done, timeout=60)
            # How many young passes the run made depends on the machine's speed; make a full
            # pass due for certain (and overdue, so a busy event loop runs it too) and let the
            # app's check, every 0.1 s, run it.
            for _ in range(5 * max(1, app.full_passes.found[2]) + 1):
                gc.collect(1)  # each counts towards the oldest generation's threshold
            await wait_for(pilot, lambda: ("MainThread", "collect_if_due") in passes)
            del kept
    main = threading.main_thread().name
    assert all(thread == main and by for thread, by in passes), passes


async def test_the_app_owns_full_passes_and_hands_the_collector_back_as_found() -> None:
    found = gc.get_threshold()
    gc.set_threshold(900, 11, 12)
    try:
        app = make_app(speed=math.inf, debrief=False, autoplay=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
            assert gc.get_threshold() == (900, 11, FULL_PASSES_OFF)
            assert gc.get_freeze_count() > 0  # start-up and the run's simulation
            for _ in range(12):
                gc.collect(1)  # each counts towards the oldest generation's threshold
            assert gc.get_count()[2] > 11  # due, yet the collector started no full pass
            await wait_for(pilot, lambda: gc.get_count()[2] == 0)  # the app ran it
            assert not app.collect_old()  # nothing due any more
        assert gc.get_threshold() == (900, 11, 12)
        assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*found)


async def test_starting_on_a_run_walks_the_heap_once_before_the_run_plays() -> None:
    # The run's room settles memory once its simulations are built, start-up included; a
    # settle at the app's own start as well was a second walk of the whole heap.
    app = make_app(speed=math.inf, debrief=False, autoplay=False)
    with full_passes() as passes:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
            await wait_for(pilot, lambda: live(app).driver is not None)
            settles = [by for _thread, by in passes if by == "settle_memory"]
    assert settles == ["settle_memory"], passes
    assert gc.get_freeze_count() == 0  # handed back on exit


class Counted(Static):
    """A real Static that counts how often it is rendered."""

    def __init__(self) -> None:
        super().__init__("0")
        self.renders = 0

    def render(self) -> Any:
        """Count, then render as usual."""
        self.renders += 1
        return super().render()


class Poke(Message):
    """Asks the board to change its panels, as a tick does."""


class Board(Screen[None]):
    """Two panels changed in one message handler, like the live screen's tick."""

    def __init__(self) -> None:
        super().__init__()
        self.painted_after: list[tuple[int, int]] = []

    def compose(self) -> ComposeResult:
        """Two panels."""
        yield Counted()
        yield Counted()

    def on_poke(self, message: Poke) -> None:
        """Change both panels, then ask to hear once the screen has painted them."""
        first, second = self.query(Counted)
        first.update("1")
        second.update("2")

        def painted() -> None:
            self.painted_after.append((first.renders, second.renders))

        after_paint(self, [first, second], painted)


class BoardApp(App[None]):
    """Shows the board."""

    def on_mount(self) -> None:
        """Open the board."""
        self.push_screen(Board())


async def test_after_paint_calls_back_only_once_the_changed_panels_are_painted() -> None:
    app = BoardApp()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        board = app.screen
        assert isinstance(board, Board)
        before = [panel.renders for panel in board.query(Counted)]
        board.post_message(Poke())
        await wait_for(pilot, lambda: bool(board.painted_after))
        assert all(now > then for now, then in zip(board.painted_after[0], before,
                                                   strict=True)), (before, board.painted_after)


async def test_the_worker_hears_painted_only_after_the_stream_painted_the_tick(
        monkeypatch: Any) -> None:
    # The worker waits for a paint after a step longer than the interpreter's switch
    # interval; at 1 ms (not 5) nearly every step at full speed is one, however fast the
    # machine, so the handshake is exercised on every tick, not on a load-dependent few.
    monkeypatch.setattr(sys, "getswitchinterval", lambda: 0.001)
    scenario = load_scenario("support-pii-injection")
    scenario = scenario.model_copy(update={"duration": 20 * 3600.0})
    app = make_app(scenario, speed=math.inf, debrief=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = live(app)
        stream = screen.query_one(DecisionStream)
        refreshed = [0]  # the stream's total when it last asked to be repainted
        rendered = [0]  # the stream's total when it last painted a line
        early: list[tuple[int, int]] = []
        waited = [0]
        refresh, render_line, painted = stream.refresh, stream.render_line, screen.playback.painted

        def counted_refresh(*args: Any, **kwargs: Any) -> Any:
            refreshed[0] = stream.total
            return refresh(*args, **kwargs)

        def counted_render_line(y: int) -> Strip:
            rendered[0] = stream.total
            return render_line(y)

        def checked_painted() -> None:
            # A tick the worker does not wait on (its step was short) is acknowledged at once.
            awaited = sys._getframe(1).f_code.co_name != "on_sim_tick"
            if awaited:
                waited[0] += 1
                if rendered[0] < refreshed[0]:
                    early.append((rendered[0], refreshed[0]))
            painted()

        stream.refresh = counted_refresh  # type: ignore[method-assign]
        stream.render_line = counted_render_line  # type: ignore[method-assign]
        screen.playback.painted = checked_painted  # type: ignore[method-assign]
        await wait_for(pilot, lambda: screen.done, timeout=60)
        assert waited[0] > 5
        # The handshake is the worker's courtesy (it waits at most PAINT_WAIT), and under heavy
        # load (load average ~10 in CI) one acknowledgement in dozens has come before the
        # stream's paint; a broken handshake acknowledges most ticks early.
        assert len(early) <= max(1, waited[0] // 10), (early, waited[0])


async def test_runs_replaced_one_after_another_are_reclaimed_not_kept_frozen() -> None:
    # Textual keeps a replaced screen reachable until the next run's worker has started, so
    # the run's screen that settles memory freezes it; the next one must unfreeze it again.
    app = make_app(speed=math.inf, debrief=False, autoplay=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        scenario = live(app).scenario
        first = weakref.ref(live(app).sim)
        for profile in ("static-rbac", "jit-context", "static-rbac"):
            await replace_run(pilot, app, scenario, profile)
        assert first() is None


async def replace_run(pilot: Pilot[Any], app: AgentrangeApp, scenario: Scenario,
                      profile: str) -> None:
    """Replace the playing run with ``profile``'s and wait until the new one ticks."""
    before = app.screen
    app.open_live(scenario, profile, replace=True)
    await wait_for(pilot, lambda: app.screen is not before
                   and isinstance(app.screen, LiveScreen) and app.screen.ticks_handled > 0)
