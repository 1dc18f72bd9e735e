"""Sweeps on Dask: the same result as one local process, a run over budget, a killed worker."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from engine.model import Scenario
from scenarios.library import load_scenario
from sim.sweep import SweepResult, sweep
from sim.sweep_dask import DaskExecutor
from sim.sweep_grid import SweepError, parse_variation
from sim.sweep_pool import SweepStoppedError

distributed = pytest.importorskip("distributed")

GRID: dict[str, Any] = {
    "profiles": ["static-rbac", "jit-context"], "seeds": [1, 2, 3],
    "variations": [parse_variation("profile.credentials.ttl=5m,1h")], "until": 3600.0}
"""12 runs of an hour of the support scenario: a few seconds in all."""


@pytest.fixture(scope="module")
def support() -> Scenario:
    return load_scenario("support-pii-injection")


@pytest.fixture(scope="module")
def local(support: Scenario) -> SweepResult:
    return sweep(support, jobs=1, **GRID)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster on 127.0.0.1: two single-threaded workers in this process (fast)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as c:
        yield c


def test_a_dask_sweep_equals_the_local_one(support: Scenario, local: SweepResult,
                                           cluster: Any) -> None:
    seen: list[tuple[int, int]] = []
    result = sweep(support, executor=DaskExecutor(scheduler=cluster.scheduler_address),
                   progress=lambda done, total: seen.append((done, total)), **GRID)
    assert result.to_dict() == local.to_dict()
    assert result.rows() == local.rows()
    assert seen == [(n, 12) for n in range(1, 13)]


def test_the_grid_plugin_leaves_the_workers_with_the_sweep(
        support: Scenario, cluster: Any) -> None:
    with distributed.Client(cluster) as client:
        sweep(support, executor=DaskExecutor(scheduler=cluster.scheduler_address), **GRID)
        plugins = client.run(lambda dask_worker: [
            n for n in dask_worker.plugins if n.startswith("agentrange-sweep-")])
    assert plugins and all(names == [] for names in plugins.values())


def test_a_run_over_budget_stops_a_dask_sweep_naming_it(support: Scenario,
                                                        cluster: Any) -> None:
    with pytest.raises(SweepStoppedError, match=r"with seed \d stopped the sweep"):
        sweep(support, executor=DaskExecutor(scheduler=cluster.scheduler_address),
              max_events=50, **GRID)


def test_a_scheduler_nobody_runs_is_one_error_within_the_timeout(support: Scenario) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SweepError, match=f"--scheduler {address}: cannot reach"):
        sweep(support, executor=DaskExecutor(scheduler=address, connect_timeout=0.5), **GRID)


@pytest.mark.slow
def test_a_killed_worker_has_its_runs_retried_and_the_result_is_unchanged(
        support: Scenario, local: SweepResult) -> None:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as c, \
            distributed.Client(c) as client:
        pids = client.run(os.getpid)
        killed: list[int] = []

        def kill_one(done: int, total: int) -> None:
            if not killed:  # after the first run: the rest are queued or running
                killed.append(next(iter(pids.values())))
                os.kill(killed[0], signal.SIGKILL)

        result = sweep(support, executor=DaskExecutor(scheduler=c.scheduler_address),
                       progress=kill_one, **GRID)
        now = client.run(os.getpid)
    assert killed and killed[0] not in now.values()
    assert result.to_dict() == local.to_dict()
