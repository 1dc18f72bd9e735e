"""Fixtures shared by the command-line tests of tests/tui."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scenarios import library


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """support-pii-injection with a hundred times the tickets: each run takes a minute."""
    target = tmp_path_factory.mktemp("busy") / "busy"
    shutil.copytree(library.path_of("support-pii-injection"), target)
    doc = target / "scenario.yaml"
    doc.write_text(doc.read_text().replace("rate: 30, per: 1h", "rate: 3000, per: 1h"))
    return target
