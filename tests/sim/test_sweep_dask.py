"""Sweeps on Dask: the same result as one local process, a run over budget, a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.model import Scenario
from scenarios.library import load_scenario
from sim.sweep import SweepResult, sweep
from sim.sweep_grid import SweepError, parse_variation
from sim.sweep_pool import SweepStoppedError


@pytest.fixture(scope="module")
def distributed() -> Any:
    """The ``distributed`` module, imported when a test here first runs.

    Not at collection: every pytest worker collects this file, and ``distributed`` (which
    ``sim.sweep_dask`` imports) adds tens of thousands of objects that every full collection
    of the dashboard's tests would then walk, in both workers.
    """
    return pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_sweep(distributed: Any) -> Any:
    """:mod:`sim.sweep_dask`, imported with ``distributed`` (see above)."""
    import sim.sweep_dask

    return sim.sweep_dask

GRID: dict[str, Any] = {
    "profiles": ["static-rbac", "jit-context"], "seeds": [1, 2, 3],
    "variations": [parse_variation("profile.credentials.ttl=5m,1h")], "until": 3600.0}
"""12 runs of an hour of the support scenario: a few seconds in all."""


def on_dask(dask_sweep: Any, scheduler: str, **options: Any) -> Any:
    """A Dask executor sending the runs to ``scheduler``."""
    return dask_sweep.DaskExecutor(scheduler=scheduler, **options)


@pytest.fixture(scope="module")
def support() -> Scenario:
    return load_scenario("support-pii-injection")


@pytest.fixture(scope="module")
def local(support: Scenario) -> SweepResult:
    return sweep(support, jobs=1, **GRID)


@pytest.fixture(scope="module")
def cluster(distributed: Any) -> Iterator[Any]:
    """A LocalCluster on 127.0.0.1: two single-threaded workers in this process (fast)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as c:
        yield c


def test_a_dask_sweep_equals_the_local_one(support: Scenario, local: SweepResult,
                                           cluster: Any, dask_sweep: Any) -> None:
    seen: list[tuple[int, int]] = []
    result = sweep(support, executor=on_dask(dask_sweep, cluster.scheduler_address),
                   progress=lambda done, total: seen.append((done, total)), **GRID)
    assert result.to_dict() == local.to_dict()
    assert result.rows() == local.rows()
    # Runs travel in chunks, so progress comes a chunk at a time, ending with every run.
    assert seen[-1] == (12, 12) and all(total == 12 for _, total in seen)
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})


def test_runs_are_chunked_large_first_and_single_at_the_end(dask_sweep: Any) -> None:
    chunks = dask_sweep.chunks
    assert [len(c) for c in chunks(40, 2)] == [10, 8, 6, 4, 3, 3, 2, 1, 1, 1, 1]
    assert [len(c) for c in chunks(3, 8)] == [1, 1, 1]
    assert chunks(0, 2) == []
    for runs in range(0, 60):
        for threads in (1, 2, 3, 8):
            parts = chunks(runs, threads)
            assert [i for part in parts for i in part] == list(range(runs))
            sizes = [len(part) for part in parts]
            assert sizes == sorted(sizes, reverse=True)
            assert not parts or sizes[-1] == 1


def test_the_sweep_pauses_the_workers_profiler_and_restarts_it(
        support: Scenario, cluster: Any, distributed: Any, dask_sweep: Any) -> None:
    def running(client: Any) -> set[bool]:
        return set(client.run(lambda dask_worker: dask_worker.periodic_callbacks[
            "profile"].is_running()).values())

    with distributed.Client(cluster) as client:
        assert running(client) == {True}
        during: list[set[bool]] = []
        sweep(support, executor=on_dask(dask_sweep, cluster.scheduler_address),
              progress=lambda done, total: during.append(running(client)), **GRID)
        assert during and all(seen == {False} for seen in during)
        assert running(client) == {True}


def test_the_grid_plugin_leaves_the_workers_with_the_sweep(
        support: Scenario, cluster: Any, distributed: Any, dask_sweep: Any) -> None:
    with distributed.Client(cluster) as client:
        sweep(support, executor=on_dask(dask_sweep, cluster.scheduler_address), **GRID)
        plugins = client.run(lambda dask_worker: [
            n for n in dask_worker.plugins if n.startswith("agentrange-sweep-")])
    assert plugins and all(names == [] for names in plugins.values())


def test_a_run_over_budget_stops_a_dask_sweep_naming_it(support: Scenario, cluster: Any,
                                                        dask_sweep: Any) -> None:
    with pytest.raises(SweepStoppedError, match=r"with seed \d stopped the sweep"):
        sweep(support, executor=on_dask(dask_sweep, cluster.scheduler_address),
              max_events=50, **GRID)


def test_a_scheduler_nobody_runs_is_one_error_within_the_timeout(
        support: Scenario, dask_sweep: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SweepError, match=f"--scheduler {address}: cannot reach"):
        sweep(support, executor=on_dask(dask_sweep, address, connect_timeout=0.5), **GRID)


@pytest.mark.slow
def test_a_killed_worker_has_its_runs_retried_and_the_result_is_unchanged(
        support: Scenario, local: SweepResult, distributed: Any, dask_sweep: Any) -> None:
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

        result = sweep(support, executor=on_dask(dask_sweep, c.scheduler_address),
                       progress=kill_one, **GRID)
        now = client.run(os.getpid)
    assert killed and killed[0] not in now.values()
    assert result.to_dict() == local.to_dict()


@pytest.mark.parametrize("threads", [1, 2])
def test_a_local_cluster_forks_its_workers_from_one_thread_only(threads: int,
                                                                distributed: Any) -> None:
    # A forked worker inherits the caller's __main__ (and its imports); a spawned one does not.
    code = ("import sys, threading, distributed\n"
            "from sim.sweep_dask import DaskExecutor\n"
            "MARK = 'from the caller'\n"
            "stop = threading.Event()\n"
            f"extra = [threading.Thread(target=stop.wait) for _ in range({threads} - 1)]\n"
            "[t.start() for t in extra]\n"
            "if __name__ == '__main__':\n"
            "    with DaskExecutor(2)._client(distributed) as client:\n"
            "        seen = client.run(lambda: getattr(sys.modules['__main__'], 'MARK', None))\n"
            "    stop.set()\n"
            "    print(sorted(set(map(str, seen.values()))))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parents[2], timeout=120)
    expected = "['from the caller']" if threads == 1 else "['None']"
    assert done.stdout.strip() == expected, done.stderr[-2000:]
