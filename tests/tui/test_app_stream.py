"""Streaming a long real run through the dashboard keeps its memory bounded."""

from __future__ import annotations

import gc
import math
from pathlib import Path

from scenarios.library import load_scenario
from sim.events import Event
from tests.tui.pilot_support import wait_for
from tui.app import make_app
from tui.screens.live import TOKEN_MEMORY, LiveScreen
from tui.widgets.alert_list import AlertList
from tui.widgets.chain_tree import ChainTree
from tui.widgets.decision_stream import DecisionStream

EVENTS = 100_000
HOURS = 1500.0
"""Simulated hours of the support scenario that produce well over EVENTS events."""


def resident_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


def live_events() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Event)


async def test_streaming_100k_events_keeps_memory_bounded() -> None:
    scenario = load_scenario("support-pii-injection")
    scenario = scenario.model_copy(update={"duration": HOURS * 3600.0})
    app = make_app(scenario, profile="static-rbac", speed=math.inf, debrief=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                       and app.screen.events_seen >= EVENTS // 5, timeout=120)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        gc.collect()
        early_rss, early_events = resident_bytes(), live_events()
        # Generous timeouts: 100k events take ~5 s idle, and CI machines run at load ~10.
        await wait_for(pilot, lambda: screen.events_seen >= EVENTS, timeout=120)
        screen.playback.pause()
        await wait_for(pilot, lambda: screen.playback.inflight == 0)
        gc.collect()
        late_rss, late_events = resident_bytes(), live_events()
        stream = screen.query_one(DecisionStream)
        assert stream.total > stream.capacity and stream.kept == stream.capacity
        alerts = screen.query_one(AlertList)
        assert len(alerts.alerts) <= alerts.capacity
        assert len(screen.tokens) <= TOKEN_MEMORY
        chains = screen.query_one(ChainTree)
        assert len(chains.chains) <= chains.capacity * 4
        # What the app holds does not grow with the stream: four times the events, about the
        # same number of records alive and no more than a few MB more resident memory. The
        # last tick handled stays referenced until the next message arrives, and ticks differ
        # in size by up to a whole batch, so the allowance is one batch more.
        assert screen.driver is not None
        allowance = 1000 + screen.driver.max_batch
        assert late_events <= early_events + allowance, (early_events, late_events)
        assert late_rss - early_rss < 32 * 2**20, (early_rss, late_rss)
