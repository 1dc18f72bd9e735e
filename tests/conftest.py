"""Shared fixtures: a writable copy of the built-in support scenario."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.yamldoc import load_yaml
from scenarios import library

BUILTIN = "support-pii-injection"


def builtin_dir(name: str = BUILTIN) -> Path:
    return Path(str(library.path_of(name)))


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    """A copy of the built-in support scenario (with its policies) in a temporary directory."""
    dest = tmp_path / BUILTIN
    shutil.copytree(builtin_dir(), dest)
    return dest


@pytest.fixture
def scenario_data() -> dict[str, Any]:
    """The built-in support scenario as plain data, to mutate."""
    data: dict[str, Any] = load_yaml((builtin_dir() / "scenario.yaml").read_text(),
                                     "scenario.yaml").data
    return data


@pytest.fixture
def write_scenario(scenario_dir: Path) -> Callable[[Any], Path]:
    """Write data (as JSON, which is YAML) or text as the scenario file; return its path."""

    def write(content: Any) -> Path:
        path = scenario_dir / "scenario.yaml"
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=1))
        return path

    return write
