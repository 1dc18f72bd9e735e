"""Running a sweep's grid on Dask: a LocalCluster sized by ``jobs``, or a scheduler's address.

Needs the optional extra ``agentrange[dask]`` (distributed); without it the executor is a
one-line error naming the extra. The grid (every cell's scenario variant and policy document)
travels once per worker, as a worker plugin the scheduler also installs on any worker that
joins later (a restarted one); a task carries only its cell index and seed. Results are put
back in grid order, so the output is the same as the local executor's with ``jobs`` 1.

A worker lost mid-sweep (killed, its machine gone) has its runs rescheduled by Dask on the
others; the runs are deterministic, so the output does not change. A scheduler that cannot be
reached within the connect timeout is a :class:`~sim.sweep_grid.SweepError`, as is a run a
worker could not finish after Dask's allowed failures. The workers must run the same
agentrange (installed where they run).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import resource_tracker
from typing import Any

from sim.budget import RunStopped
from sim.gc_passes import YOUNG_GC_THRESHOLD
from sim.sweep_grid import SweepError
from sim.sweep_pool import (
    Grid,
    Progress,
    RunOutcome,
    Task,
    _Runner,
    sigint_held,
    start_method,
    stopped,
)

try:
    from distributed import WorkerPlugin
except ImportError:  # the extra is missing: DaskExecutor.run says so, naming it
    WorkerPlugin = object  # type: ignore[misc,assignment]

EXTRA = "agentrange[dask]"
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler before giving up (``--connect-timeout``)."""

PROFILER_CALLBACKS = ("profile", "profile-cycle")
"""A Dask worker's periodic callbacks that run its statistical profiler (paused by a sweep)."""

GUIDED = 2
"""Each Dask task takes 1/(GUIDED x worker threads) of the runs still left (see :func:`chunks`)."""

_QUIET = ("distributed", "tornado", "bokeh")
"""Loggers quietened for the sweep: a restarted worker is not news on the terminal."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise SweepError(f"--executor dask needs the optional extra {EXTRA} (pip install "
                         f"'{EXTRA}')") from None
    return distributed


def require() -> None:
    """Fail now, before any run, if the Dask extra is missing.

    Raises:
        SweepError: naming the extra.
    """
    _distributed()


class GridPlugin(WorkerPlugin):
    """The grid on a worker: installed once per worker; builds its runner there."""

    def __init__(self, name: str, grid: Grid) -> None:
        self.name = name
        # The compiled policies stay behind: each worker compiles what it runs.
        self.variants = list(grid.variants)
        self.documents = list(grid.documents)
        self.budget = grid.budget
        self.runner: _Runner | None = None
        self.threshold: tuple[int, int, int] | None = None
        self.paused: list[Any] = []

    def setup(self, worker: Any) -> None:
        """Build this worker's runner; collect garbage as a headless run does, while it lasts.

        Runs execute on the worker's task thread, where ``fewer_gc_passes`` leaves the
        process-wide collector alone; the plugin raises the young-generation threshold for
        the sweep instead (the simulator's hot path makes no cycles) and restores it after.
        Dask's statistical profiler is paused meanwhile: every 10 ms it walks the task
        thread's stack from the event loop, which made each run 10-17% slower (measured: the
        README's sweep scaling notes). Called on the worker's event loop.
        """
        self.runner = _Runner(self.variants, self.documents, self.budget)
        if self.threshold is None:
            self.threshold = gc.get_threshold()
            if 0 < self.threshold[0] < YOUNG_GC_THRESHOLD:
                gc.set_threshold(YOUNG_GC_THRESHOLD, *self.threshold[1:])
        for key in PROFILER_CALLBACKS:
            callback = getattr(worker, "periodic_callbacks", {}).get(key)
            if callback is not None and callback.is_running():
                callback.stop()
                self.paused.append(callback)

    def teardown(self, worker: Any) -> None:
        """Drop the runner (and the policies it compiled); restore the collector and profiler."""
        self.runner = None
        if self.threshold is not None:
            gc.set_threshold(*self.threshold)
            self.threshold = None
        for callback in self.paused:
            callback.start()
        self.paused.clear()


class ChunkStopped(Exception):
    """A run of a chunk crossed its budget: which one (its place in the chunk) and why."""

    def __init__(self, place: int, stop: RunStopped) -> None:
        super().__init__(place, stop)
        self.place = place
        self.stop = stop


def _run(name: str, chunk: Sequence[Task]) -> list[RunOutcome]:
    """A chunk of runs on a Dask worker, with the runner of the grid plugin ``name``."""
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins[name]
    assert isinstance(plugin, GridPlugin)
    runner = plugin.runner
    if runner is None:  # setup has not run (it runs on the event loop; this is the task thread)
        runner = plugin.runner = _Runner(plugin.variants, plugin.documents, plugin.budget)
    out = []
    for place, task in enumerate(chunk):
        try:
            out.append(runner.run(*task))
        except RunStopped as stop:
            raise ChunkStopped(place, stop) from None
    return out


def chunks(runs: int, threads: int) -> list[range]:
    """The sweep's runs grouped into Dask tasks: large ones first, single runs at the end.

    One task per run pays Dask's per-task costs (the scheduler's round trip, the result's
    fetch, the hand-over to the task thread) on every run; equal chunks leave a worker idle
    while another finishes a whole chunk at the end. Each chunk takes a 1/(GUIDED * threads)
    share of the runs still left (guided self-scheduling), so the last tasks are single runs.
    """
    out = []
    start = 0
    while start < runs:
        size = max(1, -(-(runs - start) // (GUIDED * max(1, threads))))
        out.append(range(start, start + size))
        start += size
    return out


@dataclass(frozen=True)
class DaskExecutor:
    """Runs a sweep on Dask.

    Attributes:
        jobs: Workers of the LocalCluster started when no scheduler is named (one process
            and one thread each).
        scheduler: A running scheduler's address (``tcp://HOST:PORT``); None starts a
            LocalCluster on 127.0.0.1 for the sweep.
        connect_timeout: Seconds to wait for the scheduler.
        processes: LocalCluster workers as processes (False: threads of this process, for
            tests).
    """

    jobs: int = 1
    scheduler: str | None = None
    connect_timeout: float = CONNECT_TIMEOUT
    processes: bool = True

    def run(self, grid: Grid, tasks: Sequence[Task], progress: Progress | None
            ) -> list[RunOutcome]:
        """Every task's outcome, in the order of ``tasks`` (see ``SweepExecutor``)."""
        distributed = _distributed()
        with _quiet(), self._client(distributed) as client:
            name = f"agentrange-sweep-{uuid.uuid4().hex}"
            client.register_plugin(GridPlugin(name, grid), name=name)
            try:
                return _gather(distributed, client, name, grid, tasks, progress)
            finally:
                with contextlib.suppress(Exception):
                    client.unregister_worker_plugin(name)

    @contextlib.contextmanager
    def _client(self, distributed: Any) -> Iterator[Any]:
        if self.scheduler is None:
            # Ctrl-C is this process's (sim.sweep_pool.sigint_held): the cluster's workers and
            # its event-loop thread start with SIGINT blocked, and a Ctrl-C while it starts is
            # delivered once the cluster is ours to close. multiprocessing's resource tracker
            # is started first: starting it unblocks SIGINT in the thread that does (the
            # cluster's event loop otherwise), and every worker started from there after.
            # Workers fork from a caller that runs one thread, as the local pool's do: they
            # start in a tenth of a second with the simulator imported, not in a second.
            method = start_method() if self.processes else "spawn"
            if self.processes:
                resource_tracker.ensure_running()
            with sigint_held() as release, _start_config(method):
                try:
                    cluster = distributed.LocalCluster(
                        n_workers=self.jobs, threads_per_worker=1, processes=self.processes,
                        protocol="tcp://", host="127.0.0.1",
                        # The scheduler always serves HTTP; a free loopback port, not 8787.
                        dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
                except RuntimeError as exc:
                    raise SweepError(f"the local Dask cluster did not start "
                                     f"({_first_line(exc)}); a script that sweeps on Dask must "
                                     "guard its entry point with if __name__ == '__main__'"
                                     ) from None
                with cluster:
                    release()
                    with distributed.Client(cluster) as client:
                        yield client
            return
        try:
            client = distributed.Client(self.scheduler, timeout=self.connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"--scheduler {self.scheduler}: cannot reach a Dask scheduler "
                             f"within {self.connect_timeout:g}s ({_first_line(exc)})") from None
        with client:
            yield client


def _gather(distributed: Any, client: Any, name: str, grid: Grid, tasks: Sequence[Task],
            progress: Progress | None) -> list[RunOutcome]:
    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    parts = chunks(len(tasks), threads)
    # Pure: False, as every task is its runs, even two with equal arguments.
    futures = [client.submit(_run, name, [tasks[i] for i in part], pure=False,
                             key=f"{name}-{part.start}") for part in parts]
    where = {f.key: part for f, part in zip(futures, parts, strict=True)}
    out: list[RunOutcome | None] = [None] * len(tasks)
    done = 0
    try:
        for future in distributed.as_completed(futures):
            part = where[future.key]
            try:
                outcomes = future.result()
            except ChunkStopped as exc:
                raise stopped(tasks[part[exc.place]], exc.stop, grid.labels) from None
            except distributed.KilledWorker as exc:
                runs = ", ".join(f"{grid.labels[tasks[i][0]]} with seed {tasks[i][2]}"
                                 for i in part)
                raise SweepError(f"the runs of {runs} killed every Dask worker that tried "
                                 f"them ({_first_line(exc)})") from None
            out[part.start:part.stop] = outcomes
            done += len(outcomes)
            if progress is not None:
                progress(done, len(tasks))
    finally:
        client.cancel(futures)
    return [o for o in out if o is not None]


@contextlib.contextmanager
def _start_config(method: str) -> Iterator[None]:
    """Dask's configuration while a LocalCluster starts: its workers' start method."""
    import dask

    with dask.config.set({"distributed.worker.multiprocessing-method": method}):
        yield


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in _QUIET]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
