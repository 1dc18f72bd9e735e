"""The compare screen's story banner: every built-in tells its story within a minute.

The story is read from each run's collector (:mod:`tui.render.story`); these tests check it
against headless runs of the same profiles and seed, and that at compare's default speed the
first incident and how each profile ended it reach the screen within 60 wall seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import pytest

from scenarios import library
from scenarios.library import load_scenario
from sim.collectors.metrics import MetricsCollector
from sim.runner import Simulation
from tests.tui.pilot_support import wait_for
from tui.app import make_app
from tui.render.story import Story, story_of
from tui.screens.compare import CompareScreen
from tui.screens.playback import default_speed
from tui.widgets.story_banner import StoryBanner

WALL_SECONDS = 60.0
"""How long a room may wait, from opening compare, to see the whole story."""


@cache
def headless_story(name: str) -> Story:
    """The story of every profile of a built-in, from headless runs on its seed."""
    scenario = load_scenario(name)
    runs: list[tuple[str, MetricsCollector]] = []
    for profile in scenario.profiles:
        sim = Simulation(scenario, profile.id, seed=scenario.seed, record_decisions=False)
        sim.run()
        runs.append((profile.id, sim.collector))
    return story_of(runs)


@pytest.fixture(scope="module", autouse=True)
def _forget_stories() -> Iterator[None]:
    """Let the cached stories (every profile's collector) go when the module's tests end:
    kept to the end of the worker, they made every full collection the dashboard tests run
    later in it walk them too."""
    yield
    headless_story.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("name", library.names())
def test_every_built_in_tells_its_story_within_a_minute_at_the_default_speed(
        name: str) -> None:
    scenario = load_scenario(name)
    story = headless_story(name)
    speed = default_speed(scenario)
    if not scenario.incidents:  # nothing to tell but the cost, which shows from the start
        assert story.incident_at is None
        return
    assert story.incident_at is not None
    assert story.incident_at / speed <= WALL_SECONDS, story.text()
    assert story.settled is not None, story.text()  # every profile's ending is known
    assert story.settled / speed <= WALL_SECONDS, (story.settled / speed, story.text())


def test_the_story_names_the_incident_and_each_profiles_ending_in_plain_words() -> None:
    story = headless_story("support-pii-injection")
    text = story.text()
    assert text.startswith("02:00 injected instruction hits support-bot · ")
    assert "static-rbac: 250,001 records exposed, contained at 02:05" in text
    assert "jit-context: 1 record exposed, stopped at 02:00 by default deny" in text


def test_a_profile_that_stops_the_incident_names_the_rule_that_stopped_it() -> None:
    text = headless_story("vendor-hosted-agent").text()
    assert "jit-context: stopped at 16:00 by rule vendor-contract-limit" in text
    assert "cost: benign steps denied, jit-context 145" in text


async def test_compare_opens_at_the_default_speed_and_its_banner_tells_the_headless_story(
) -> None:
    name = "vendor-hosted-agent"
    scenario = load_scenario(name)
    profiles = [p.id for p in scenario.profiles]
    app = make_app(name, compare=",".join(profiles), autoplay=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.playback.speed == default_speed(scenario)
        banner = screen.query_one(StoryBanner)
        assert banner.text.startswith("no incident yet")
        screen.playback.speed = float("inf")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.done, timeout=60)
        await pilot.pause(0.3)
        assert banner.text == headless_story(name).text()
