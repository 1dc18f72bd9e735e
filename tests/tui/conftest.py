"""Fixtures shared by the command-line tests of tests/tui."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual._styles_cache import StylesCache

from scenarios import library


@pytest.fixture(autouse=True)
def _forget_textual_style_caches() -> Iterator[None]:
    """Let each test's widgets go when it ends.

    Textual memoises ``StylesCache.get_inner_outer`` with ``lru_cache(1024)`` on the
    instance, so the style caches of up to 1,024 widgets (with every strip they rendered)
    outlive their apps. In a test worker that is most of the heap after a few dozen
    dashboard tests, and every full collection (the app runs one at each start) walks it:
    measured 0.45 s of a 1 s dashboard test.
    """
    yield
    StylesCache.get_inner_outer.cache_clear()


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """support-pii-injection with a hundred times the tickets: each run takes a minute."""
    target = tmp_path_factory.mktemp("busy") / "busy"
    shutil.copytree(library.path_of("support-pii-injection"), target)
    doc = target / "scenario.yaml"
    doc.write_text(doc.read_text().replace("rate: 30, per: 1h", "rate: 3000, per: 1h"))
    return target
