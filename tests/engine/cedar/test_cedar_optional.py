"""cedarpy is optional: the core runs without it, and Cedar commands say which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Makes `import cedarpy` fail as it does when the package is not installed.
BLOCKER = textwrap.dedent("""\
    import sys
    sys.modules["cedarpy"] = None
""")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = BLOCKER + textwrap.dedent(f"""\
        from tui.cli import main
        sys.exit(main({list(args)!r}))
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_without_cedarpy_export_says_which_extra_to_install_in_one_line(
        tmp_path: Path) -> None:
    done = run_cli("export", "cedar", "support-pii-injection", "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr == ("agentrange: error: Cedar support needs cedarpy: pip install "
                           "'agentrange[cedar]'\n")
    assert not (tmp_path / "out").exists()


def test_without_cedarpy_the_native_engine_still_runs() -> None:
    done = run_cli("run", "support-pii-injection", "--until", "10m", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert '"profile"' in done.stdout


def test_without_cedarpy_a_cedar_profile_says_which_extra_to_install() -> None:
    done = run_cli("run", "refunds-cedar", "--until", "10m")
    assert done.returncode == 2
    assert "pip install 'agentrange[cedar]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_simulator_imports_without_loading_cedarpy() -> None:
    code = ("import sys\nimport sim.runner, engine.cedar.profile, tui.commands.cedar\n"
            "assert 'cedarpy' not in sys.modules, 'cedarpy imported eagerly'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def test_without_cedarpy_validate_says_the_cedar_policies_were_not_checked() -> None:
    done = run_cli("validate", "refunds-cedar")
    assert done.returncode == 0, done.stderr
    assert ("(Cedar policies of jit-context not checked: Cedar support needs cedarpy: pip "
            "install 'agentrange[cedar]')") in done.stdout
