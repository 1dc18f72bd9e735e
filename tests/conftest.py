"""Shared fixtures (a writable copy of the built-in support scenario) and the suite's order."""

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

DASHBOARD_MODULES = ("tests/tui/test_app_", "tests/tui/test_snapshots")
"""Modules whose tests run the dashboard (``App.run_test``)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the dashboard's tests first, each module's tests still in their order.

    The app runs a full collection of the cyclic collector at each start and each new run
    (:func:`tui.memory.settle_memory`), and in a test worker that walks everything the
    worker's earlier tests left alive: imported modules, hypothesis's and the engines' caches,
    about 160,000 objects after collection and 400,000-500,000 late in a worker. First, the
    dashboard's tests walk the smaller heap. With ``--dist worksteal`` the first worker
    starts on them and the other steals from its queue once it is idle.
    """
    items.sort(key=lambda item: not item.nodeid.startswith(DASHBOARD_MODULES))


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
