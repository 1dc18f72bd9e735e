"""``agentrange sweep``: one scenario over seeds, profiles and parameter values, summarised.

Engineers tuning a policy ask what a choice does across seeds, not in one lucky run: the sweep
runs every profile x parameter combination x seed (in parallel, ``--jobs``) and prints, per
combination, the median and range of each metric, and in how many runs it had no value (an
incident never contained), then the trade-off: which combinations are on the harm/cost frontier
and how reliably each holds the scenario's ``expect:`` assertions (pass^k; :mod:`sim.tradeoff`).
``--format json`` prints ``SweepResult.to_dict()`` (see :mod:`sim.sweep`); ``--format csv``
one row per run, for a notebook or a spreadsheet; ``--plot FILE`` draws harm against cost.
``--executor dask`` sends the runs to a Dask cluster (:mod:`sim.sweep_dask`), with the same
output; the progress bar (stderr, on a terminal only) shows runs done, their rate and the time
left for either executor.
Each run has the budget of ``--max-events`` and ``--max-memory`` (what a run adds to its
worker's resident memory); a run over it stops the sweep with one line naming the combination
and seed (exit 2). Ctrl-C stops it with one line saying how many runs had finished (exit 130);
the workers, which never see the signal themselves (:func:`sim.sweep_pool.sigint_held`), are
ended with it. Ctrl-C before the runs start (while loading) is one line too. SIGTERM does the
same (exit 143).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from engine.durations import format_duration
from scenarios.library import load_scenario
from sim.sweep import Summary, SweepResult, sweep
from sim.sweep_grid import SweepError, parse_seeds, parse_variation
from sim.sweep_pool import LocalExecutor, SweepExecutor, default_jobs
from tui.commands.options import PROGRESS_AFTER, parse_profiles, parse_until
from tui.render import tradeoff as tradeoff_view
from tui.render.formatting import markdown_table


class _Terminated(KeyboardInterrupt):
    """SIGTERM reached the command: stop as Ctrl-C does (the same clean-up paths)."""


def sweep_command(args: argparse.Namespace) -> int:
    """Run the sweep and print its summary (Ctrl-C: one line, exit 130; SIGTERM: 143)."""
    progress = _Progress()
    terminated: list[bool] = []
    try:
        with _terminate_as_interrupt(terminated):
            return _sweep(args, progress)
    except KeyboardInterrupt as stop:
        done = (f"after {progress.done:,} of {progress.total:,} runs" if progress.total
                else "before any run")
        if isinstance(stop, _Terminated) or terminated:
            print(f"agentrange: terminated by SIGTERM {done}", file=sys.stderr)
            return 143
        print(f"agentrange: interrupted by SIGINT {done}", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _terminate_as_interrupt(terminated: list[bool]) -> Iterator[None]:
    """SIGTERM raises :class:`_Terminated` in this process meanwhile, so workers are ended.

    Killed outright (the default), the command left its pool's workers running. A worker
    forked meanwhile inherits the handler: there SIGTERM (how the pool ends its workers) ends
    the process at once, as the default would. While SIGINT is held (a Dask cluster starting,
    :func:`sim.sweep_pool.sigint_held`) SIGTERM becomes a SIGINT delivered once it is released,
    so a half-started cluster is never left behind; ``terminated`` then says it was SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    parent = os.getpid()

    def handler(signum: int, frame: object) -> None:
        if os.getpid() != parent:
            os._exit(128 + signum)
        terminated.append(True)
        mask = getattr(signal, "pthread_sigmask", None)
        if mask is not None and signal.SIGINT in mask(signal.SIG_BLOCK, set()):
            os.kill(parent, signal.SIGINT)
            return
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sweep(args: argparse.Namespace, progress: _Progress) -> int:
    scenario = load_scenario(args.scenario)
    profiles = parse_profiles(scenario, args.profiles)
    seeds = parse_seeds(args.seeds, scenario.seed)
    variations = [parse_variation(v) for v in args.vary]
    jobs = default_jobs() if args.jobs is None else args.jobs
    if jobs < 1:
        raise SweepError(f"--jobs: expected 1 or more, found {jobs}")
    executor = _executor(args, jobs)
    if args.plot:
        tradeoff_view.check_plot_file(args.plot)
    progress.total = len(profiles) * math.prod(len(v.values) for v in variations) * len(seeds)
    with progress:
        result = sweep(scenario, profiles=profiles, seeds=seeds, variations=variations,
                       metrics=args.metric or None, until=parse_until(args.until), jobs=jobs,
                       progress=progress.update, max_events=args.max_events,
                       max_memory_mb=args.max_memory, executor=executor)
    _print(result, args.format)
    if args.plot:
        drawn = tradeoff_view.write_plot(result.tradeoff(), args.plot, _title(result))
        print(f"agentrange: wrote {args.plot}: {drawn}", file=sys.stderr)
    return 0


def _executor(args: argparse.Namespace, jobs: int) -> SweepExecutor:
    """The executor the options ask for (a missing Dask extra fails here, before any run)."""
    name = args.executor or ("dask" if args.scheduler else "local")
    if name == "local":
        if args.scheduler:
            raise SweepError("--scheduler: only with --executor dask")
        return LocalExecutor(jobs)
    from sim.sweep_dask import DaskExecutor, require

    require()
    if not args.connect_timeout > 0:
        raise SweepError(f"--connect-timeout: expected seconds above 0, found "
                         f"{args.connect_timeout:g}")
    return DaskExecutor(jobs, args.scheduler, args.connect_timeout)


def _print(result: SweepResult, form: str) -> None:
    tradeoff = result.tradeoff()
    if form == "json":
        print(json.dumps(result.to_dict(), indent=2))
    elif form == "csv":
        records = result.rows()
        writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    elif form == "markdown":
        print(f"## {_title(result)}\n")
        print(markdown_table(*_table(result, ranges=True)))
        print(f"\n{_legend(result, ranges=True)}")
        lines = markdown_table(tradeoff_view.header(tradeoff), tradeoff_view.rows(tradeoff))
        print(f"\n### Trade-off\n\n{lines}")
        print(f"\n{tradeoff_view.legend(tradeoff)}")
    else:
        out = Console(highlight=False, soft_wrap=True)
        header, rows = _table(result, ranges=False)
        table = Table(title=_title(result))
        keys = 1 + len(result.variations)  # profile and varied values: never cut short
        for i, name in enumerate(header):
            if i < keys:
                table.add_column(name, no_wrap=True,
                                 min_width=max(len(name), *(len(row[i]) for row in rows)))
            else:
                table.add_column(name, justify="right", overflow="fold")
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        out.print(table)
        out.print(_legend(result, ranges=False), markup=False)
        trade = Table(title="trade-off")
        for i, name in enumerate(tradeoff_view.header(tradeoff)):
            trade.add_column(name, no_wrap=i == 0, justify="left" if i < 2 else "right")
        for row in tradeoff_view.rows(tradeoff):
            trade.add_row(*(Text(cell) for cell in row))
        out.print(trade)
        out.print(tradeoff_view.legend(tradeoff), markup=False)


class _Progress:
    """A progress bar on the terminal once the sweep has taken over a second."""

    def __init__(self) -> None:
        self.total = 0
        """Runs in the sweep (0 until the grid is known)."""
        self.done = 0
        """Runs finished so far."""
        self.console = Console(stderr=True)
        self.started = time.monotonic()
        self.bar: Progress | None = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, done: int, total: int) -> None:
        """Runs done so far, of ``total``."""
        self.done, self.total = done, total
        if self.bar is None:
            if time.monotonic() - self.started < PROGRESS_AFTER or not self.console.is_terminal:
                return
            self.bar = progress_bar(self.console)
            self.task = self.bar.add_task("sweep", total=total)
            self.bar.start()
        self.bar.update(self.task, completed=done)


def progress_bar(console: Console) -> Progress:
    """The sweep's bar: runs done of all, their rate, the time left."""
    return Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


class RateColumn(ProgressColumn):
    """Runs finished per second (per minute when slower than one a second)."""

    def render(self, task: Task) -> Text:
        """The rate over the last updates, or nothing before there is one."""
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        return Text(f"{speed:.1f} runs/s" if speed >= 1 else f"{60 * speed:.1f} runs/min")


# --- rendering -------------------------------------------------------------------------------


def _title(r: SweepResult) -> str:
    seeds = r.seeds
    consecutive = list(seeds) == list(range(seeds[0], seeds[-1] + 1))
    span = f"{seeds[0]}-{seeds[-1]}" if consecutive and len(seeds) > 1 else ", ".join(
        map(str, seeds))
    runs = len(r.cells) * len(seeds)
    combos = f"{len(r.cells)} combination" + ("" if len(r.cells) == 1 else "s")
    seeded = f"{len(seeds)} seed" + ("" if len(seeds) == 1 else "s")
    return f"{r.scenario}: {runs} run{'' if runs == 1 else 's'} ({combos} x {seeded}: {span})"


def _legend(r: SweepResult, *, ranges: bool) -> str:
    what = "median [min-max]" if ranges else "median"
    more = "" if ranges else "; ranges with --format markdown, every run with --format csv"
    seeds = f"the {len(r.seeds)} seeds" if len(r.seeds) > 1 else "the one seed"
    return (f"{what} over {seeds} of each row; \"never in k\": runs in which "
            f"an incident was never detected or contained (left out of the median){more}")


def _table(r: SweepResult, *, ranges: bool) -> tuple[list[str], list[list[str]]]:
    header = ["profile", *(v.name.rsplit(".", 1)[-1] for v in r.variations),
              *(_label(m) for m in r.metrics)]
    rows = []
    for cell, summary in zip(r.cells, r.summaries, strict=True):
        rows.append([cell.profile, *(_plain(v) for _, v in cell.values),
                     *(_cell(m, summary[m], len(r.seeds), ranges) for m in r.metrics)])
    return header, rows


LABELS = {
    "blast_radius.records": "records exposed",
    "blast_radius.amount": "money moved",
    "blast_radius.exposure_window": "exposure window",
    "time_to_contain": "time to contain",
    "time_to_detect": "time to detect",
    "delivery.task_latency_p95": "task latency p95",
    "delivery.task_latency_p50": "task latency p50",
    "delivery.approval_wait_mean": "approval wait",
    "delivery.benign_denied_rate": "benign denied",
}


def _label(metric: str) -> str:
    return LABELS.get(metric, metric)


def _cell(metric: str, s: Summary, runs: int, ranges: bool) -> str:
    never = metric.rsplit(".", 1)[-1].startswith("time_to_")  # None: it never happened
    if s.median is None:
        return f"never in {runs}" if never else "-"
    text = _value(metric, s.median)
    if ranges and s.low != s.high:
        text += f" [{_value(metric, s.low)}-{_value(metric, s.high)}]"
    if s.missing:
        text += f", never in {s.missing}" if never else f", none in {s.missing}"
    return text


def _is_time(metric: str) -> bool:
    leaf = metric.rsplit(".", 1)[-1]
    return (leaf.startswith("time_to_") or "window" in leaf or "latency" in leaf
            or "wait" in leaf or leaf in ("time", "duration"))


def _value(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if _is_time(metric):
        return format_duration(value)
    if metric.endswith("_rate") or metric.endswith("coverage"):
        return f"{100 * value:.1f}%"
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _plain(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
