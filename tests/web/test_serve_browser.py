"""`agentrange serve --drill` driven by a real browser: headless Chromium through Playwright.

The browser is the distribution's Chromium (.ci/run installs it when missing; browser
downloads are not possible here). The test is skipped, saying why, only where no Chromium is
installed. It keeps a screenshot of the finished drill and prints where.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
PARTICIPANT = "ada"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
"""This machine's network refuses background connections: the browser makes none."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"no Chromium at {CHROMIUM} (.ci/run installs Debian's "
                       "`chromium` package; run it as root, or install the package)"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=60, check=False)


@pytest.fixture
def drill_dir(tmp_path: Path) -> Path:
    """A drill on the support scenario, its incident an hour in."""
    directory = tmp_path / "drill"
    done = _cli("drill", "new", "support-pii-injection", "--incident-at", "1h", "-o",
                str(directory), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return directory


@pytest.fixture
def server(drill_dir: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`agentrange serve --drill DIR --speed max` on a free localhost port."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", "--drill", str(drill_dir), "--port",
         str(port), "--speed", "max"], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate(timeout=5)
                pytest.fail(f"serve did not start: {err or out}")
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_a_browser_joins_a_served_drill_plays_it_and_its_score_lands_in_the_results(
        server: tuple[str, subprocess.Popen[str]], drill_dir: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, proc = server
    profile = tmp_path / "chromium-profile"
    shot = tmp_path / "served-drill.png"
    results = drill_dir / "results.jsonl"
    with sync_playwright() as playwright:
        # A fresh profile directory per run (Playwright passes it as --user-data-dir).
        browser = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800})
        try:
            page = browser.new_page()
            page.goto(url, wait_until="domcontentloaded")
            # The app's first byte reaches the page: textual-serve marks the body.
            page.wait_for_selector("body.-first-byte", timeout=15_000)
            page.wait_for_selector(".xterm-screen canvas", timeout=5_000)
            # xterm.js draws on a canvas: there is no text to wait for. The name prompt is
            # the app's first screen; give it a moment to take the keyboard.
            page.wait_for_timeout(1_000)
            page.locator(".xterm-screen").click()
            page.keyboard.type(PARTICIPANT)
            page.keyboard.press("Enter")
            deadline = time.monotonic() + 60  # a bound for a loaded machine; ~10 s idle
            while not results.exists() or PARTICIPANT not in results.read_text():
                assert proc.poll() is None, "the server stopped"
                assert time.monotonic() < deadline, "no score in the results in time"
                time.sleep(0.2)
            page.wait_for_timeout(500)
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    print(f"screenshot of the served drill: {shot}")
    (line,) = [json.loads(x) for x in results.read_text().splitlines()]
    assert line["participant"] == PARTICIPANT
    assert line["scenario"] == "support-pii-injection"
    assert line["time_to_detect"] is not None
    assert shot.stat().st_size > 0
    keep = os.environ.get("AGENTRANGE_ARTEFACTS")
    if keep:  # CI keeps the screenshot beside its other artefacts
        shutil.copy(shot, Path(keep) / shot.name)


def test_serve_refuses_a_port_in_use_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _cli("serve", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"agentrange: error: port {port} on 127.0.0.1 is already "
                                   "in use; choose another with --port")
