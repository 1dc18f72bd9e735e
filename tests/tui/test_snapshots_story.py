"""SVG snapshots of the compare screen's story banner, paused just after the first incident.

Regenerate after an intended change with ``pytest tests/tui/test_snapshots_story.py
--snapshot-update`` and review the SVGs under ``tests/tui/__snapshots__/``.
"""

from __future__ import annotations

import math
from typing import Any

from tests.tui.test_snapshots import paused_compare
from tui.app import make_app

SCENARIO = "support-pii-injection"
AFTER_INCIDENT = 2 * 3600.0 + 15 * 60
"""02:15: the injection (02:00) has played out under both profiles."""


def test_story_banner_on_an_80x24_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=math.inf,
                   pause_at=AFTER_INCIDENT)
    assert snap_compare(app, terminal_size=(80, 24), run_before=paused_compare(AFTER_INCIDENT))


def test_story_banner_on_a_large_terminal(snap_compare: Any) -> None:
    app = make_app(SCENARIO, compare="static-rbac,jit-context", speed=math.inf,
                   pause_at=AFTER_INCIDENT)
    assert snap_compare(app, terminal_size=(160, 45),
                        run_before=paused_compare(AFTER_INCIDENT))
