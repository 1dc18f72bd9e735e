"""The core is reachable without the TUI: engine and sim never pull in textual or rich."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

CORE_MODULES = ["engine", "engine.loader", "engine.model", "engine.spiffe", "engine.yamldoc",
                "sim"]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_modules_do_not_import_textual_or_rich(module: str) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"m = importlib.import_module({module!r})\n"
        "for info in pkgutil.walk_packages(getattr(m, '__path__', []), m.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imported {out.stdout.strip()}"


def test_import_linter_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter not installed (it is in the dev extra)")
    out = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"\b[1-9]\d* kept, 0 broken", out.stdout), out.stdout
