"""Plain scalars never fail: one the integer pattern admits without a digit is a string."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import LoadError
from engine.loader import load_scenario
from engine.yamlscalars import plain_scalar


@pytest.mark.parametrize("text", ["+_", "-_", "0b_", "0x_", "-0x__", "+0o_"])
def test_an_integer_shape_without_digits_is_a_string(text: str) -> None:
    assert plain_scalar(text) == text


@pytest.mark.parametrize(("text", "value"), [("1_000", 1000), ("+0x_1f", 31), ("0o17", 15),
                                             ("-0b1_0", -2), ("0_1", 1)])
def test_integers_with_underscores_still_read_as_integers(text: str, value: int) -> None:
    assert plain_scalar(text) == value


def test_a_scenario_holding_such_a_value_is_one_load_error_not_a_traceback(
        tmp_path: Path) -> None:
    # Found by tests/engine/test_loader_fuzz.py: the document b"+_" raised ScalarError.
    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"+_")
    with pytest.raises(LoadError, match=r"scenario\.yaml"):
        load_scenario(path)
