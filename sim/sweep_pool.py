"""Running a sweep's grid: one run per cell and seed, in this process or a local process pool.

A :class:`SweepExecutor` runs a :class:`Grid`'s tasks and returns each run's outcome in grid
order: :class:`LocalExecutor` here (this process, or a local process pool), the Dask one in
:mod:`sim.sweep_dask`. Workers are forked from a caller that runs one thread (the command
line): they start at once with the variants and compiled policies already in memory. A caller
with other threads (the dashboard) spawns them instead, since a fork copies locks another thread
may hold; a spawned worker receives the variants once and compiles a cell's policy the first
time it runs that cell. Results come back
in grid order, whatever finishes first, so the output is the same whatever runs them.

A run's outcome is its metric values and whether the scenario's ``expect:`` assertions about
its profile all held (None when there are none; see :mod:`sim.expectations`).

Every run has the sweep's budget (:class:`sim.budget.RunBudget`; a worker's memory is its own
process's). A run over it stops the sweep: the runs not started are cancelled, the workers
still running are ended, and :class:`SweepStoppedError` names the run (its cell and seed).

Ctrl-C is the caller's alone: a terminal sends SIGINT to every process of its foreground group,
and a worker that took it would print a traceback of its own. Workers start with SIGINT blocked
(:func:`sigint_held`, as multiprocessing starts its resource tracker); the caller's
``KeyboardInterrupt`` ends them as a stopped sweep does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from engine.loader import as_tuples
from engine.model import DecisionExpectation, Scenario
from engine.policy import (
    CompiledPolicy,
    PolicyDocument,
    compile_policy,
    load_profile_policy,
    profile_policy_file,
)
from sim.budget import RunBudget, RunStopped
from sim.expectations import check
from sim.runner import Simulation
from sim.sweep_grid import SweepError

if TYPE_CHECKING:  # imported where a pool starts: a sweep run here (jobs 1) needs none
    from concurrent.futures import Future, ProcessPoolExecutor


class SweepStoppedError(SweepError):
    """A run of the sweep crossed its budget, which stopped the whole sweep."""


class RunOutcome(NamedTuple):
    """What one run of the grid gives back."""

    values: tuple[float | None, ...]
    """Each metric's value, in the sweep's metric order."""
    held: bool | None
    """Whether every ``expect:`` assertion about the run's profile held (None: there are none)."""


class _Runner:
    """Runs the grid's cells, compiling each cell's policy once (per process)."""

    def __init__(self, variants: Sequence[Scenario], documents: Sequence[dict[str, Any] | None],
                 budget: RunBudget, policies: Sequence[CompiledPolicy] | None = None) -> None:
        self.variants = variants
        self.budget = budget
        self.documents = documents
        self.policies: list[CompiledPolicy | None] = (
            list(policies) if policies is not None else [None] * len(variants))

    def run(self, cell: int, profile: str, seed: int, until: float | None,
            metrics: tuple[str, ...]) -> RunOutcome:
        """One run's value of each metric, and whether its expectations held."""
        scenario = self.variants[cell]
        policy = self.policies[cell]
        if policy is None:
            policy = self.policies[cell] = self._compile(cell, profile)
        expects = [e for e in scenario.expect if e.profile == profile]
        # Decisions are kept only where an expectation asks about one (they cost memory).
        decisions = any(isinstance(e, DecisionExpectation) for e in expects)
        result = Simulation(scenario, profile, seed=seed, until=until, policy=policy,
                            record_decisions=decisions, max_events=self.budget.max_events,
                            max_memory_mb=self.budget.max_memory_mb).run()
        held = all(v.passed for v in check(scenario, {profile: result})) if expects else None
        return RunOutcome(tuple(_number(result.metric(m)) for m in metrics), held)

    def _compile(self, cell: int, profile: str) -> CompiledPolicy:
        scenario, data = self.variants[cell], self.documents[cell]
        if data is None:
            return load_profile_policy(scenario, profile)
        # Already compiled once in the caller, where any error was reported.
        _file, source = profile_policy_file(scenario, profile)
        return compile_policy(PolicyDocument.model_validate(as_tuples(data)), scenario,
                              source=source)


_WORKER: list[_Runner] = []
"""The runner of a worker process, set once by :func:`_start_worker` (never in the caller)."""


def _start_worker(variants: Sequence[Scenario], documents: Sequence[dict[str, Any] | None],
                  budget: RunBudget, policies: Sequence[CompiledPolicy] | None) -> None:
    _WORKER.append(_Runner(variants, documents, budget, policies))


def _worker_run(cell: int, profile: str, seed: int, until: float | None,
                metrics: tuple[str, ...]) -> RunOutcome:
    return _WORKER[0].run(cell, profile, seed, until, metrics)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    return float(value)


Task = tuple[int, str, int, "float | None", tuple[str, ...]]
"""(cell index, profile, seed, until, metrics): one run of the grid."""


@dataclass(frozen=True)
class Grid:
    """What every worker needs to run any task of a sweep (shipped to each worker once).

    Attributes:
        variants: Each cell's scenario.
        documents: Each cell's varied policy document (None: the profile's own file).
        policies: Each cell's compiled policy (used in this process; workers compile their
            own).
        budget: Each run's budget.
        labels: Each cell's name, for the error of a run over its budget.
    """

    variants: Sequence[Scenario]
    documents: Sequence[dict[str, Any] | None]
    policies: Sequence[CompiledPolicy]
    budget: RunBudget
    labels: Sequence[str]


Progress = Callable[[int, int], None]
"""Called with (runs done, runs in all) as runs finish."""


class SweepExecutor(Protocol):
    """Runs a sweep's tasks somewhere and gives back their outcomes in the order of ``tasks``."""

    def run(self, grid: Grid, tasks: Sequence[Task], progress: Progress | None
            ) -> list[RunOutcome]:
        """Every task's outcome, in the order of ``tasks``.

        Raises:
            SweepStoppedError: a run crossed its budget (the sweep stops).
            SweepError: the executor could not run the sweep (a worker died, no scheduler).
        """
        ...


@dataclass(frozen=True)
class LocalExecutor:
    """This process (``jobs`` 1) or a pool of ``jobs`` local processes."""

    jobs: int = 1

    def run(self, grid: Grid, tasks: Sequence[Task], progress: Progress | None
            ) -> list[RunOutcome]:
        """Every task's outcome, in the order of ``tasks`` (see :class:`SweepExecutor`)."""
        return run_all(grid.variants, grid.documents, grid.policies, tasks,
                       max(1, min(self.jobs, len(tasks))), progress, budget=grid.budget,
                       labels=grid.labels)


def run_all(variants: Sequence[Scenario], documents: Sequence[dict[str, Any] | None],
            policies: Sequence[CompiledPolicy], tasks: Sequence[Task], jobs: int,
            progress: Progress | None, *, budget: RunBudget | None = None,
            labels: Sequence[str] | None = None) -> list[RunOutcome]:
    """Run every task of the grid; each run's metric values, in the order of ``tasks``.

    Args:
        variants: Each cell's scenario.
        documents: Each cell's varied policy document (None: the profile's own file).
        policies: Each cell's compiled policy (used here; workers compile their own).
        tasks: The runs.
        jobs: Worker processes (1: run here, one after another).
        progress: Called with (runs done, runs in all) as runs finish.
        budget: Each run's budget (None: the defaults).
        labels: Each cell's name, for the error of a run over its budget.

    Raises:
        SweepStoppedError: a run crossed its budget (the sweep stops).
        SweepError: when a worker process dies.
    """
    budget = budget or RunBudget()
    total = len(tasks)
    if jobs == 1:
        runner = _Runner(variants, documents, budget, policies)
        out = []
        for n, task in enumerate(tasks, 1):
            try:
                out.append(runner.run(*task))
            except RunStopped as stop:
                raise stopped(task, stop, labels) from None
            if progress is not None:
                progress(n, total)
        return out
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    method = start_method()
    # A forked worker inherits the compiled policies; a spawned one compiles its own.
    inherited = policies if method == "fork" else None
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context(method),
                                 initializer=_start_worker,
                                 initargs=(variants, documents, budget, inherited)) as pool:
            with sigint_held():  # the workers start on submit, and keep SIGINT blocked
                futures: list[Future[RunOutcome]] = [
                    pool.submit(_worker_run, *task) for task in tasks]
            done = 0
            try:
                for future in futures:  # grid order, whatever finishes first
                    future.result()
                    done += 1
                    if progress is not None:
                        progress(done, total)
            except BaseException as exc:
                _abandon(pool)
                if isinstance(exc, RunStopped):
                    raise stopped(tasks[done], exc, labels) from None
                raise
            return [f.result() for f in futures]
    except BrokenProcessPool as exc:
        raise SweepError(f"a sweep worker process died ({exc}); a script that sweeps with "
                         "jobs > 1 must guard its entry point with if __name__ == "
                         "'__main__'; jobs=1 runs in this process") from None


def start_method() -> str:
    """``fork`` where it is safe and available (one thread in this process), else ``spawn``.

    A forked worker starts in milliseconds with everything already imported and compiled; a
    spawned one imports the simulator first (about a second). Forking copies the locks other
    threads hold at that moment, so a process with other threads (the dashboard) spawns.
    """
    from multiprocessing import get_all_start_methods

    if threading.active_count() == 1 and "fork" in get_all_start_methods():
        return "fork"
    return "spawn"


@contextlib.contextmanager
def sigint_held() -> Iterator[Callable[[], None]]:
    """Block SIGINT in this thread meanwhile: processes and threads started here keep it blocked.

    A Ctrl-C meanwhile is not lost: it is delivered (``KeyboardInterrupt`` in the main thread)
    as soon as the block ends. The block ends on leaving, or earlier by calling the function
    the context gives (once is enough; later calls do nothing). Where signals cannot be masked
    (Windows) this does nothing.
    """
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield lambda: None
        return
    before = mask(signal.SIG_BLOCK, {signal.SIGINT})
    held = [True]

    def release() -> None:
        if held:
            held.clear()
            mask(signal.SIG_SETMASK, before)

    try:
        yield release
    finally:
        release()


def stopped(task: Task, stop: RunStopped, labels: Sequence[str] | None) -> SweepStoppedError:
    """The error that ends a sweep whose run ``task`` crossed its budget."""
    cell, profile, seed = task[0], task[1], task[2]
    name = labels[cell] if labels is not None else profile
    return SweepStoppedError(f"the run of {name} with seed {seed} stopped the sweep: {stop}")


def _abandon(pool: ProcessPoolExecutor) -> None:
    """Cancel the runs not started and end the workers' runs (the sweep has stopped).

    Without this, leaving the pool would wait for every queued run. The standard library
    has no public way to end a pool's workers before Python 3.14's ``terminate_workers``;
    its private process table is the one way before that.
    """
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    # Taken before shutting down, which forgets them.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)
