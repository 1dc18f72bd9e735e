"""One benchmark run: build the workload, decide it with the three engines, check, time, print."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from benchmarks.pdp.agentrange import (
    agentrange_outcome,
    agentrange_requests,
    build_scenario,
    check_sequences,
    compile_agentrange,
    first_failed,
    run_agentrange,
    warmup_requests,
)
from benchmarks.pdp.cedar import cedar_outcome, cedar_setup, run_cedar
from benchmarks.pdp.estate import DATA_CLASSES, ROLES, TOOLS
from benchmarks.pdp.pycasbin import casbin_enforcer, casbin_requests, run_casbin
from benchmarks.pdp.reference import (
    ALLOW,
    check_agreement,
    reference_outcome,
    reference_sequence_allowed,
)
from benchmarks.pdp.report import Report, print_agreement, print_rates, rule_mix
from benchmarks.pdp.timing import GcClock, timed, timed_floor, timed_seen, timed_steady
from benchmarks.pdp.workload import Sizes, make_workload
from engine.policy import Decision, Reason

plan_book: Callable[[Any], Any] | None
try:
    from engine.policy.plans import plan_book
except ImportError:  # an engine from before plans were built ahead (benchmarks/against.py)
    plan_book = None


def run(sizes: Sizes, seed: int, *, repeats: int | None = None, cedar_repeats: int | None = None,
        casbin_repeats: int = 1, time_it: bool = True, freeze: bool = True,
        out: Callable[[str], None] = print) -> Report:
    """Build the workload, cross-check the three engines, and time them.

    Args:
        sizes: Agents, rules, requests and repeats.
        seed: The workload seed.
        repeats: Override ``sizes.repeats`` (agentrange).
        cedar_repeats: Repeats for cedarpy (default: ``sizes.cedar_repeats``).
        casbin_repeats: Repeats for PyCasbin (it is by far the slowest).
        time_it: False: decide once per engine and check agreement only.
        freeze: Freeze the setup heap (``gc.freeze()``) before timing.
        out: Where lines go.
    """
    reps = repeats or sizes.repeats
    cedar_reps = cedar_repeats or sizes.cedar_repeats
    if not time_it:
        reps = cedar_reps = casbin_repeats = 1
    t0 = time.perf_counter()
    w = make_workload(sizes, seed)
    scenario = build_scenario(w)
    start = time.perf_counter()
    compiled = compile_agentrange(w, scenario, sequences=False)
    compile_s = time.perf_counter() - start
    compiled_seq = compile_agentrange(w, scenario, sequences=True)
    # The plans every combination of the scenario can reach, built once per policy before
    # any decision (as a simulation builds them when it starts): timed apart from deciding.
    books = (plan_book(compiled), plan_book(compiled_seq)) if plan_book is not None else None
    requests = agentrange_requests(w, scenario)
    cedar = cedar_setup(w)
    enforcer = casbin_enforcer(w)
    casbin_reqs = casbin_requests(w)
    reference = [reference_outcome(w, c) for c in w.calls]
    setup_s = time.perf_counter() - t0
    n = len(w.calls)
    out(f"workload: seed {seed}, {len(w.rules)} rules ({rule_mix(w)}), {len(w.agents)} agents "
        f"in {len(ROLES)} roles, {len(TOOLS)} tools, {len(DATA_CLASSES)} data classes, "
        f"{n} requests in {len(w.session_last)} sessions (setup {setup_s:.1f} s)")

    freeze = freeze and time_it

    def phase() -> None:
        # Each timed phase starts with everything alive frozen: the setup heap (three
        # engines' workloads), as a long-running decision point freezes what it loaded, and
        # what earlier phases keep (the peers' results, earlier engines' decisions). So a
        # phase's collector time is the passes its own allocations cause over its own
        # objects, and the same for every engine whatever ran before it.
        if freeze:
            gc.collect()
            gc.freeze()
    clocks = {"fresh": GcClock(), "steady": GcClock(), "floor": GcClock(),
              "floor_flat": GcClock(), "dropped": GcClock()}
    phase()
    ar_s, ar_decisions = timed(lambda: run_agentrange(compiled, requests), reps,
                               clocks["fresh"])
    phase()
    cedar_s, cedar_results = timed(lambda: run_cedar(cedar), cedar_reps)
    phase()
    casbin_s, casbin_results = timed(lambda: run_casbin(enforcer, casbin_reqs), casbin_repeats)
    base_allowed = [o == ALLOW for o, _ in reference]
    phase()
    seq_s, seq_decisions = timed(
        lambda: run_agentrange(compiled_seq, requests, w.session_last), reps, clocks["fresh"])
    warm_s, warm_decisions, seq_warm_s = 1.0, ar_decisions, 1.0
    seq_warm_decisions: list[Decision] = []
    if time_it:
        warmup = warmup_requests(w, scenario)
        phase()
        warm_s, warm_decisions = timed_steady(compiled, warmup, requests, frozenset(), reps,
                                              clocks["steady"])
        phase()
        seq_warm_s, seq_warm_decisions = timed_steady(compiled_seq, warmup, requests,
                                                      w.session_last, reps, clocks["steady"])
        phase()
        seen_s = timed_seen(compiled, warmup, requests, reps)
        like = ar_decisions[first_failed(ar_decisions)]
        phase()
        floor_s = timed_floor(requests, like, reps, clock=clocks["floor"])
        phase()
        floor_shared_s = timed_floor(requests, like, reps, keep=False)
        phase()
        floor_flat_s = timed_floor(requests, like, reps, flat=True, clock=clocks["floor_flat"])
        # The engine as the simulator uses it: each decision dropped once folded.
        phase()
        dropped_s, _ = timed(lambda: run_agentrange(compiled, requests, keep=False), reps,
                             clocks["dropped"])

    # A decision keeps its explanation as the stop set it was read off; the lists of matched,
    # shadow and failed rules are spelled out as tuples when first read (once per distinct
    # explanation). What spelling out every kept decision costs, measured apart:
    start = time.perf_counter()
    for d in ar_decisions:
        d.matched, d.shadow, d.failed  # noqa: B018 - reading is the point
    spell_s = time.perf_counter() - start
    effects = {r.id: r.effect for r in w.rules}
    agreement = check_agreement(w, reference, {
        "agentrange": [agentrange_outcome(effects, d) for d in ar_decisions],
        "agentrange (warmed)": [agentrange_outcome(effects, d) for d in warm_decisions],
        "cedar": [cedar_outcome(w, r) for r in cedar_results],
        "casbin": casbin_results,
    })
    seq_reference = reference_sequence_allowed(w, base_allowed)
    runs = {"agentrange": seq_decisions}
    if seq_warm_decisions:
        runs["agentrange (warmed)"] = seq_warm_decisions
    seq_agreement = check_sequences(w, seq_reference, runs)

    report = Report(sizes, agreement, seq_agreement)
    report.rates = {"agentrange": n / ar_s, "agentrange_steady": n / warm_s,
                    "cedarpy": n / cedar_s, "casbin": n / casbin_s,
                    "agentrange_sequences": n / seq_s,
                    "agentrange_sequences_steady": n / seq_warm_s}
    if time_it:
        report.rates.update({"agentrange_seen": n / seen_s, "floor": n / floor_s,
                             "floor_shared": n / floor_shared_s, "floor_flat": n / floor_flat_s,
                             "agentrange_dropped": n / dropped_s})
    report.extra = {"sequence_denials": sum(1 for d in seq_decisions
                                            if d.reason is Reason.SEQUENCE),
                    "gc_share": {mode: c.share for mode, c in clocks.items()},
                    "gc_passes": {mode: (tuple(c.passes), tuple(c.by_generation))
                                  for mode, c in clocks.items()},
                    "frozen": freeze,
                    "explanation": ar_decisions[first_failed(ar_decisions)].explain(),
                    "compile_s": compile_s,
                    "plans": [(b.built, len(b.sets), b.seconds) for b in books or ()],
                    "spell_us": spell_s / n * 1e6}
    if time_it:
        # The simulator, the engine's main user, runs with fewer young-generation passes
        # (its hot path and the engine's make no reference cycles): the same passes again.
        from sim.runner import fewer_gc_passes
        phase()
        with fewer_gc_passes():
            sim_fresh, _ = timed(lambda: run_agentrange(compiled, requests), reps)
            sim_steady, _ = timed_steady(compiled, warmup, requests, frozenset(), reps)
            sim_seq, _ = timed_steady(compiled_seq, warmup, requests, w.session_last, reps)
            threshold = gc.get_threshold()[0]
        report.extra["sim_gc"] = (threshold, n / sim_fresh, n / sim_steady, n / sim_seq)
    if freeze:
        gc.unfreeze()
    print_agreement(out, agreement, seq_agreement, report.extra["sequence_denials"])
    if time_it:
        print_rates(out, report, (reps, cedar_reps, casbin_repeats))
    return report
