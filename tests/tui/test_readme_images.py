"""README's dashboard pictures are the SVG snapshots the tests make, not pictures left behind.

A snapshot lives at ``tests/tui/__snapshots__/<test module>/<test name>[<params>].svg``: each
link into that folder must name a file that exists and a test of that name in that module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = "tests/tui/__snapshots__/"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _tests_in(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")}


def test_every_snapshot_picture_in_the_readme_is_made_by_a_snapshot_test() -> None:
    links = [unquote(m) for m in IMAGE.findall((ROOT / "README.md").read_text("utf-8"))]
    snapshots = [link for link in links if link.startswith(SNAPSHOTS)]
    assert len(snapshots) >= 6, links
    for link in snapshots:
        path = ROOT / link
        assert path.is_file(), f"README links {link}, which does not exist"
        module, name = Path(link).parent.name, Path(link).stem.split("[")[0]
        tests = _tests_in(ROOT / "tests" / "tui" / f"{module}.py")
        assert name in tests, f"README links {link}, but no test {module}.{name} makes it"
