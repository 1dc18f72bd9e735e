"""``--theme`` and the remembered theme: chosen on the command line or in the palette, kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tui.pilot_support import wait_for
from tui.app import make_app
from tui.cli import main
from tui.screens.live import LiveScreen
from tui.settings import UnknownThemeError, load_theme, settings_path


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path


def test_the_settings_live_under_xdg_config_home(config_home: Path) -> None:
    assert settings_path() == config_home / "agentrange" / "settings.json"


def test_without_xdg_config_home_they_live_under_dot_config(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert settings_path() == tmp_path / ".config" / "agentrange" / "settings.json"


async def test_a_theme_given_is_used_and_remembered_and_a_change_in_the_palette_too() -> None:
    app = make_app("support-pii-injection", autoplay=False, theme="textual-light",
                   remember_theme=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        assert app.theme == "textual-light"
        assert load_theme() == ("textual-light", None)
        app.theme = "nord"  # what the palette's theme command does
        await pilot.pause(0.1)
        assert load_theme() == ("nord", None)
    again = make_app("support-pii-injection", autoplay=False, theme=load_theme()[0])
    async with again.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(again.screen, LiveScreen))
        assert again.theme == "nord"


async def test_an_app_not_asked_to_remember_writes_no_settings() -> None:
    app = make_app("support-pii-injection", autoplay=False, theme="nord")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        app.theme = "gruvbox"
        await pilot.pause(0.1)
    assert not settings_path().exists()


def test_an_unknown_theme_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UnknownThemeError, match=r"no theme 'norde'; there are .*nord"):
        make_app("support-pii-injection", theme="norde")
    assert main(["tui", "--theme", "norde"]) == 2
    err = capsys.readouterr().err
    assert "--theme: no theme 'norde'" in err and "Traceback" not in err


def test_a_broken_settings_file_is_ignored_with_a_warning_naming_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("{theme: nord", encoding="utf-8")
    theme, warning = load_theme()
    assert theme is None and warning is not None
    assert str(path) in warning and "line 1 column 2" in warning
    assert main([]) == 2  # no terminal here, but the warning came first, on one line
    err = capsys.readouterr().err
    assert f"agentrange: warning: {path}: line 1 column 2" in err


def test_other_settings_in_the_file_are_kept() -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"theme": "nord", "later": 1}), encoding="utf-8")
    from tui.settings import save_theme

    save_theme("gruvbox")
    assert json.loads(path.read_text(encoding="utf-8")) == {"theme": "gruvbox", "later": 1}
