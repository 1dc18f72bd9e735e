"""Fixtures shared by the dashboard and command-line tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")  # module: module-scoped fixtures run too
def _a_grown_worker_keeps_its_runs() -> Iterator[None]:
    """Runs in this process get a memory budget above the pytest worker's own size.

    The budget is the resident memory of the process; a worker that has run hundreds of tests
    is past the default 450 MB before its run starts, so in-process dashboards and sweeps can be
    stopped at once (five such failures, all on one CI worker). Budget tests pass their own
    limits, or run the command in a process of its own.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sim.budget.DEFAULT_MAX_MEMORY_MB", 4096)
        yield
