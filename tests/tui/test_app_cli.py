"""The ``tui`` command and ``agentrange`` with no command: clear errors, never a traceback."""

from __future__ import annotations

import pytest

from tui.cli import main


def test_no_command_outside_a_terminal_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "needs an interactive terminal" in err and "agentrange run" in err


def test_tui_names_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "support-pii-injectoin"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'support-pii-injection'" in err
    assert "Traceback" not in err


def test_tui_names_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "--profile", "jit"]) == 2
    err = capsys.readouterr().err
    assert "no profile 'jit'" in err and "static-rbac, jit-context" in err


def test_tui_compare_needs_two_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "--compare", "static-rbac"]) == 2
    assert "at least two profiles" in capsys.readouterr().err


def test_tui_rejects_a_speed_that_is_not_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["tui", "--speed", "fast"])
    assert exc.value.code == 2
    assert "expected simulated seconds per second" in capsys.readouterr().err
