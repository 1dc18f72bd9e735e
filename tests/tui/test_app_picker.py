"""Pilot tests of the scenario picker: built-ins and files on disk, loaded off the UI thread."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from benchmarks.loading import many_owners
from tests.tui.pilot_support import plain, wait_for
from tui.app import make_app
from tui.screens import picker
from tui.screens.live import LiveScreen
from tui.screens.picker import LOADING, PickerScreen


def listed(screen: PickerScreen) -> list[str]:
    return [e.ref for e in screen.entries]


def rows(screen: PickerScreen) -> list[str | None]:
    listing = screen.query_one("#picker-list", OptionList)
    return [listing.get_option_at_index(i).id for i in range(listing.option_count)]


async def test_picker_lists_builtins_and_files_on_disk(scenario_dir: Path,
                                                       tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "scenario.yaml").write_text("name: broken\nagents: 3\n")
    app = make_app(pick=True, roots=[tmp_path], autoplay=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen)
                       and not app.screen.loading)
        screen = app.screen
        assert isinstance(screen, PickerScreen)
        refs = listed(screen)
        assert "support-pii-injection" in refs
        # The default scenario is highlighted first, so Enter plays it.
        assert screen.selected is not None and screen.selected.ref == "support-pii-injection"
        assert str(scenario_dir / "scenario.yaml") in refs
        bad = next(e for e in screen.entries if e.ref == str(broken / "scenario.yaml"))
        assert bad.scenario is None and bad.problem and "scenario.yaml" in bad.problem
        about = screen.query_one("#picker-about-text", Static)
        assert "Support bot" in plain(about)
        profiles = screen.query_one("#picker-profiles", OptionList)
        assert [profiles.get_option_at_index(i).id for i in range(profiles.option_count)] == [
            "static-rbac", "jit-context"]


async def test_enter_runs_the_highlighted_scenario_with_the_chosen_profile(
        tmp_path: Path) -> None:
    app = make_app(pick=True, roots=[tmp_path], autoplay=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen)
                       and not app.screen.loading)
        await pilot.press("tab")
        profiles = app.screen.query_one("#picker-profiles", OptionList)
        assert profiles.has_focus
        profiles.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        assert screen.scenario.name == "support-pii-injection"
        assert screen.profile_id == "static-rbac"


async def test_escape_on_a_first_picker_quits(tmp_path: Path) -> None:
    app = make_app(pick=True, roots=[tmp_path])
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.is_running)


async def test_a_scenario_that_does_not_load_is_explained_not_run(tmp_path: Path) -> None:
    broken = tmp_path / "broken.scenario.yaml"
    shutil.copy(Path(__file__), broken)
    app = make_app(pick=True, roots=[tmp_path])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen)
                       and not app.screen.loading)
        screen = app.screen
        assert isinstance(screen, PickerScreen)
        listing = screen.query_one("#picker-list", OptionList)
        index = next(i for i in range(listing.option_count)
                     if listing.get_option_at_index(i).id == str(len(listed(screen)) - 1))
        listing.highlighted = index
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.screen is screen
        assert "broken.scenario.yaml" in plain(screen.query_one("#picker-about-text", Static))


async def test_the_picker_shows_loading_and_answers_keys_before_the_library_has_loaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The picker used to load everything on the UI thread, deaf meanwhile. Big files on disk
    # kept the worker busy only as long as the machine was slow (an idle CI machine loaded
    # them before the key was answered), so the real catalogue is held at its first file by
    # a gate the test opens once the key has been answered.
    for name in ("big-a", "big-b"):
        many_owners(tmp_path / name, 1024 * 1024)
    gate = threading.Event()
    real = picker.catalogue

    def gated(roots: Sequence[Path]) -> Iterator[picker.Entry]:
        for entry in real(roots):
            if entry.origin == "file":
                gate.wait(timeout=120)
            yield entry

    monkeypatch.setattr(picker, "catalogue", gated)
    app = make_app(pick=True, roots=[tmp_path], autoplay=False)
    async with app.run_test(size=(100, 30)) as pilot:
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
            screen = app.screen
            assert isinstance(screen, PickerScreen)
            assert screen.loading and rows(screen)[-1] == LOADING
            # Built-ins appear as they load, above the "loading" row, the default highlighted.
            await wait_for(pilot, lambda: "support-pii-injection" in listed(screen))
            await wait_for(pilot, lambda: screen.selected is not None
                           and screen.selected.ref == "support-pii-injection")
            assert rows(screen)[-1] == LOADING
            await pilot.press("up")
            await wait_for(pilot, lambda: "Poisoned memory" in plain(
                screen.query_one("#picker-about-text", Static)))
            assert screen.loading
            assert screen.selected is not None and screen.selected.ref == "rogue-and-poisoned"
        finally:
            gate.set()
        # Then the files, and the "loading" row goes.
        await wait_for(pilot, lambda: not screen.loading, timeout=60)
        assert LOADING not in rows(screen)
        assert {str(tmp_path / n / "scenario.yaml") for n in ("big-a", "big-b")} <= set(
            listed(screen))
        assert screen.selected is not None and screen.selected.ref == "rogue-and-poisoned"
