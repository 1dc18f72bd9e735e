"""The simulator's per-tool-call shortcuts keep the meaning of what they replace."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.identity.scope import EVERYTHING
from sim.events import Event
from sim.gc_passes import YOUNG_GC_THRESHOLD, fewer_gc_passes
from sim.runner import Simulation
from tests.sim.support import ALLOW_ALL, base, kinds, policy, run, scenario

TIME_RULES = {"policy": "clock", "rules": [
    {"id": "everything", "envelope": "security", "effect": "allow"},
    {"id": "second-hour", "envelope": "security", "effect": "deny",
     "when": {"attr": "time.hour", "eq": 1}},
    {"id": "fridays", "envelope": "security", "effect": "deny",
     "when": {"attr": "time.weekday", "eq": 4}},
]}


def _two_agents_on_one_clock() -> dict[str, Any]:
    data = base(duration="26h")
    helper = data["agents"][1]
    helper["tasks"][0]["arrival"] = {"kind": "fixed", "interval": "10m"}
    return data


def test_time_rules_see_the_hour_and_weekday_of_each_request() -> None:
    _, events = run(_two_agents_on_one_clock(), "static", TIME_RULES)
    decisions = kinds(events, "decision")
    instants = [e.time for e in decisions]
    assert len(instants) > len(set(instants))  # requests share instants
    for e in decisions:
        # Simulated 0 is a Thursday (weekday 3) at midnight.
        hour = int(e.time // 3600) % 24
        weekday = int((e.time + 3 * 86400) // 86400) % 7
        expected = "deny" if hour == 1 or weekday == 4 else "allow"
        assert e.data["decision"]["effect"] == expected, (e.time, e.data["decision"])
    effects = {e.data["decision"]["effect"] for e in decisions}
    assert effects == {"allow", "deny"}


def _thresholds_seen(start: Callable[[Callable[[], None]], None]) -> list[tuple[int, ...]]:
    """The collector thresholds each event of a JIT run saw (the run started by ``start``)."""
    seen: list[tuple[int, ...]] = []
    s = scenario(base())

    def sink(event: Event) -> None:
        seen.append(gc.get_threshold())

    start(lambda: Simulation(s, "jit", policy=policy(s, TIME_RULES), sink=sink).run())
    return seen


def _in_worker(run: Callable[[], None]) -> None:
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()


@pytest.fixture
def collector() -> Iterator[None]:
    """Each test sets the collector's thresholds as it needs; they are restored after."""
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_run_collects_young_garbage_less_often_and_restores_the_setting(collector: None
                                                                        ) -> None:
    gc.set_threshold(700, 10, 10)
    seen = _thresholds_seen(lambda run: run())
    assert seen and all(t == (YOUNG_GC_THRESHOLD, 10, 10) for t in seen)
    assert gc.get_threshold() == (700, 10, 10)


def test_fewer_gc_passes_restores_the_threshold_when_the_block_raises(collector: None) -> None:
    gc.set_threshold(500, 7, 9)
    try:
        with fewer_gc_passes():
            assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, 7, 9)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == (500, 7, 9)


def test_a_higher_threshold_already_set_is_left_alone(collector: None) -> None:
    gc.set_threshold(10 * YOUNG_GC_THRESHOLD, 10, 10)
    with fewer_gc_passes():
        assert gc.get_threshold()[0] == 10 * YOUNG_GC_THRESHOLD
    assert gc.get_threshold()[0] == 10 * YOUNG_GC_THRESHOLD


def test_a_run_in_a_worker_thread_leaves_the_collector_setting_alone(collector: None) -> None:
    gc.set_threshold(700, 10, 10)
    seen = _thresholds_seen(_in_worker)
    assert seen and all(t == (700, 10, 10) for t in seen)
    assert gc.get_threshold() == (700, 10, 10)


def test_token_expiries_fire_at_their_time_in_mint_order_whatever_the_lifetimes() -> None:
    s = scenario(base(duration="2h"))
    events: list[Event] = []
    sim = Simulation(s, "jit", policy=policy(s, ALLOW_ALL), sink=events.append)
    sim.step_until(10.0)
    wallet = sim.wallet
    longest = wallet.mint("helper", scope=EVERYTHING, mode="jit", ttl=600.0)
    short = wallet.mint("helper", scope=EVERYTHING, mode="jit", ttl=100.0)
    revoked = wallet.mint("helper", scope=EVERYTHING, mode="jit", ttl=50.0)
    same_instant = wallet.mint("helper", scope=EVERYTHING, mode="jit", ttl=100.0)
    assert None not in (longest, short, revoked, same_instant)
    assert revoked is not None and wallet.revoke(revoked, "live")
    sim.run()
    mine = {c.jti for c in (longest, short, revoked, same_instant) if c is not None}
    expired = [(e.time, e.data["jti"]) for e in kinds(events, "token_expired")
               if e.data["jti"] in mine]
    assert short is not None and same_instant is not None and longest is not None
    assert expired == [(110.0, short.jti), (110.0, same_instant.jti), (610.0, longest.jti)]
    assert revoked.state == "revoked"
    # The worker's task tokens, revoked when each task ended, never expired.
    assert all(e.data["jti"] in mine for e in kinds(events, "token_expired"))


Op = tuple[int, float, int | None]
"""(mint at, lifetime, revoke this many seconds later or never)."""


def _expiry_stream(ops: list[Op], *, reference: bool) -> list[str]:
    s = scenario(base(duration="1h"))
    events: list[Event] = []
    sim = Simulation(s, "jit", policy=policy(s, ALLOW_ALL), sink=events.append)
    wallet, env = sim.wallet, sim.env
    if reference:
        # What the wallet did before: one simpy timeout per token, made when it is minted.
        def one_timeout(cred: Any, ttl: float) -> None:
            env.timeout(ttl).callbacks.append(lambda _e, c=cred: wallet._expire(c))

        wallet._schedule_expiry = one_timeout  # type: ignore[method-assign]

    def revoke_later(cred: Any, after: int) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(after)
        wallet.revoke(cred, "live")

    def script() -> Generator[simpy.Event, Any, None]:
        for at, ttl, revoke_after in sorted(ops, key=lambda op: op[0]):
            if at > env.now:
                yield env.timeout(at - env.now)
            cred = wallet.mint("helper", scope=EVERYTHING, mode="jit", ttl=ttl)
            if revoke_after is not None:
                env.process(revoke_later(cred, revoke_after))

    sim.step_until(1.0)
    env.process(script())
    sim.run()
    return [e.to_json() for e in events]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 900), st.sampled_from([30.0, 60.0, 300.0, 600.0]),
                          st.one_of(st.none(), st.integers(0, 700))),
                min_size=1, max_size=10))
def test_lazy_expiries_give_the_stream_of_one_timeout_per_token(ops: list[Op]) -> None:
    assert _expiry_stream(ops, reference=False) == _expiry_stream(ops, reference=True)
