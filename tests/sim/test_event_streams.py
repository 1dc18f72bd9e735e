"""Every built-in scenario, under each profile with its own seed, streams the same JSON Lines.

The digests in ``fixtures/event_stream_digests.json`` were made by this file run as a script
on main before the speed work (issue 21) reshaped the decision step and the engine: the
stream a user writes with ``agentrange run NAME --profile P --seed S --events FILE`` must
stay byte-identical. A change that means to alter event content regenerates them:
``PYTHONPATH=. python tests/sim/test_event_streams.py > FIXTURE`` (the path below), and says
so. Scenarios added after the digests were made are not checked here.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "event_stream_digests.json"
SEEDS: tuple[int | None, ...] = (None,)
"""The scenario's own seed (another seed, 7, was compared once by hand: identical too)."""


class _Hashing:
    """A text stream that hashes what is written to it and keeps nothing."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.lines = 0

    def write(self, text: str) -> int:
        self.hash.update(text.encode())
        self.lines += text.count("\n")
        return len(text)


def stream_digest(name: str, profile: str, seed: int | None) -> tuple[str, int]:
    """The sha256 and line count of the JSON Lines ``--events`` would write."""
    from scenarios.library import load_scenario
    from sim.events import JsonlSink
    from sim.runner import Simulation

    out = _Hashing()
    Simulation(load_scenario(name), profile, seed=seed, sink=JsonlSink(out)).run()  # type: ignore[arg-type]
    return out.hash.hexdigest(), out.lines


def _key(name: str, profile: str, seed: int | None) -> str:
    return f"{name} {profile} {'default' if seed is None else seed}"


def all_digests() -> dict[str, list[Any]]:
    """Every built-in x profile x seed -> [sha256, lines]."""
    from scenarios.library import load_scenario, names

    out: dict[str, list[Any]] = {}
    for name in names():
        for profile in load_scenario(name).profiles:
            for seed in SEEDS:
                out[_key(name, profile.id, seed)] = list(stream_digest(name, profile.id, seed))
    return out


def _cases() -> list[tuple[str, str, int | None]]:
    if not FIXTURE.exists():
        return []
    cases = []
    for key in json.loads(FIXTURE.read_text()):
        name, profile, seed = key.split(" ")
        cases.append((name, profile, None if seed == "default" else int(seed)))
    return cases


def test_the_digests_cover_every_built_in() -> None:
    from scenarios.library import names

    covered = {case[0] for case in _cases()}
    assert len(covered) >= 10
    assert covered <= set(names())


@pytest.mark.parametrize(("name", "profile", "seed"), _cases())
def test_the_event_stream_is_byte_identical_to_mains(name: str, profile: str,
                                                     seed: int | None) -> None:
    if name == "refunds-cedar":
        pytest.importorskip("cedarpy")
    expected = json.loads(FIXTURE.read_text())[_key(name, profile, seed)]
    assert list(stream_digest(name, profile, seed)) == expected


if __name__ == "__main__":
    json.dump(all_digests(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
