"""The house's shape holds: the core is reachable without the TUI (engine, sim and scenarios
never import textual or rich), the import-linter contracts are kept, and no modules import
each other."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

CORE_MODULES = ["engine", "engine.loader", "engine.model", "engine.identity.spiffe",
                "engine.yamldoc", "sim", "scenarios"]


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
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    contracts = len(pyproject["tool"]["importlinter"]["contracts"])
    assert f"{contracts} kept, 0 broken" in out.stdout


PROJECT_PACKAGES = ("engine", "sim", "tui", "scenarios")


@pytest.fixture(scope="module")
def cyclic_imports() -> list[tuple[str, str]]:
    """Every direct import ``a -> b`` of the project whose target imports ``a`` back."""
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (dev extra)")
    graph = grimp.build_graph(*PROJECT_PACKAGES, cache_dir=None)
    return sorted(
        (a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
        if graph.chain_exists(importer=b, imported=a))


def _in_tui(edge: tuple[str, str]) -> bool:
    return any(m == "tui" or m.startswith("tui.") for m in edge)


def test_no_import_cycle_in_engine_sim_or_scenarios(
        cyclic_imports: list[tuple[str, str]]) -> None:
    cycles = [e for e in cyclic_imports if not _in_tui(e)]
    assert cycles == [], "imports that close a cycle: " + ", ".join(
        f"{a} -> {b}" for a, b in cycles)


def test_no_import_cycle_in_the_tui(cyclic_imports: list[tuple[str, str]]) -> None:
    cycles = [e for e in cyclic_imports if _in_tui(e)]
    assert cycles == [], "imports that close a cycle: " + ", ".join(
        f"{a} -> {b}" for a, b in cycles)
