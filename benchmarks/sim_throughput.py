"""Simulator throughput: a generated fleet of 1,000 agents making 1,000,000 tool calls.

For a static and a JIT profile it prints tool calls per second, the time spent signing
(minting) and verifying tokens measured around those calls, our own time per tool call
without them (split into the policy engine and the simulator with simpy, garbage collection
shown), peak memory, and, measured in the same process, raw simpy events per second as a
reference (our own time is also given in raw simpy events, a unit that travels between
machines better than microseconds). Each profile runs in a fresh child process (so peak
RSS is that profile's own) and the figures are medians over the repeats. Events go to a
streaming sink that keeps nothing (``--sink jsonl`` writes them to /dev/null as JSON Lines
instead). Each run alternates with a run whose policy engine is replaced by a fixed answer,
so the simulator's own time per call (beyond the engine, signing and verifying) is printed
both ways in the same invocation; the plans the engine builds ahead at set-up are timed
apart (not in the rates).

Targets (issue 21, replacing issue 5's absolute rates): static tool calls/s >= 1.5x and the
simulator's own time per call at most half of the commit before that work, measured with
``benchmarks/against.py REF -- benchmarks/sim_throughput.py``; peak RSS < 1 GB.

Run: ``python benchmarks/sim_throughput.py [--agents N] [--calls N] [--repeats R]
[--profiles static,jit] [--policy contextual|rbac] [--sink count|jsonl]
[--profile-with pyinstrument] [--json]``. ``--json`` prints the speeds as one JSON object on
standard output and the report on standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simpy

from engine.loader import as_tuples
from engine.model import Scenario
from engine.policy import (
    CompiledPolicy,
    Decision,
    Effect,
    Envelope,
    PolicyDocument,
    Reason,
    compile_policy,
)
from engine.policy.plans import plan_book
from engine.references import reference_problems
from sim.events import Event, JsonlSink
from sim.runner import Simulation

STEPS_PER_TASK = 5
RSS_TARGET_MB = 1024.0
N_TOOLS = 24
N_RESOURCES = 12
CLASSES = ("pii", "finance", "docs", "tickets")


def fleet(agents: int, calls: int) -> Scenario:
    """A generated scenario: ``agents`` agents whose runs add up to ``calls`` tool calls.

    Each agent has one task of five tool steps (one second each) arriving every minute,
    with a fixed count of runs; every fifth agent hands its last step to a peer by
    delegation. Four roles split the 24 tools; data classes, systems and records vary.
    """
    runs = max(1, calls // (agents * STEPS_PER_TASK))
    resources = [{"id": f"res{r}", "system": f"sys{r % 4}", "data_class": CLASSES[r % 4],
                  "records": 1000 * (r + 1)} for r in range(N_RESOURCES)]
    tools = [{"id": f"tool{t}", "action": ("read", "write", "export", "send")[t % 4],
              "resources": [f"res{t % N_RESOURCES}"],
              "egress": "external" if t % 4 == 3 else "none"} for t in range(N_TOOLS)]
    roles = [{"id": f"role{k}", "tools": [f"tool{t}" for t in range(N_TOOLS) if t % 4 != k]}
             for k in range(4)]
    agent_list = []
    for a in range(agents):
        role = a % 4
        usable = [t for t in range(N_TOOLS) if t % 4 != role and t % 4 != 2]
        steps: list[dict[str, Any]] = []
        for s in range(STEPS_PER_TASK):
            t = usable[(a + 3 * s) % len(usable)]
            steps.append({"tool": f"tool{t}", "resource": f"res{t % N_RESOURCES}",
                          "records": 1 + (a + s) % 5, "duration": 1.0})
        agent_list.append({
            "name": f"agent-{a:04d}", "roles": [f"role{role}"],
            "owners": {"business": "biz", "security": "sec", "incident": "soc"},
            "tasks": [{"id": "work", "steps": steps,
                       "arrival": {"kind": "fixed", "interval": 60.0, "start": float(a % 60),
                                   "count": runs}}]})
    data = {
        "name": "fleet", "trust_domain": "fleet.example", "seed": 1,
        "duration": float(runs * 60 + 120),
        "owners": [{"id": o, "name": o} for o in ("biz", "sec", "soc", "dpo")],
        "data_classes": [{"id": c, "sensitivity": "confidential"} for c in CLASSES],
        "systems": [{"id": f"sys{k}"} for k in range(4)],
        "resources": resources, "tools": tools, "roles": roles, "agents": agent_list,
        "approvers": {"count": 4, "service_time": 60.0, "expiry": 1800.0},
        "profiles": [
            {"id": "static", "credentials": {"mode": "static", "ttl": "90d", "scope": "role"},
             "policy": "generated"},
            {"id": "jit", "credentials": {"mode": "jit", "ttl": "10m", "scope": "task",
                                          "revoke_on_completion": True,
                                          "sender_constrained": True},
             "policy": "generated"},
        ],
    }
    scenario = Scenario.model_validate(as_tuples(data))
    problems = reference_problems(scenario)
    if problems:
        raise SystemExit(f"generated scenario is invalid: {problems[:3]}")
    return scenario


def fleet_policy(scenario: Scenario, *, rbac_only: bool = False) -> CompiledPolicy:
    """Role rules with record caps, a legal deny, a counter and a shadow sequence.

    With ``rbac_only``: the four role rules alone, without conditions.
    """
    rules: list[dict[str, Any]] = [
        {"id": f"role{k}-tools", "envelope": "security", "effect": "allow",
         "target": {"principals": [f"role:role{k}"]},
         **({} if rbac_only else {"when": {"attr": "request.records", "lte": 100}})}
        for k in range(4)]
    if rbac_only:
        doc = {"policy": "generated-rbac", "rules": rules}
        return compile_policy(PolicyDocument.model_validate(as_tuples(doc)), scenario)
    rules += [
        {"id": "no-export-of-pii", "envelope": "legal", "effect": "deny",
         "target": {"actions": ["export"], "data_classes": ["pii"]}},
        {"id": "bulk-reads", "envelope": "legal", "effect": "deny",
         "target": {"data_classes": ["pii", "finance"]},
         "when": {"attr": "counter.records-per-run", "gt": 1000}},
        {"id": "off-plan", "envelope": "business", "effect": "deny", "mode": "shadow",
         "when": {"attr": "task.approved", "eq": False}},
    ]
    doc = {
        "policy": "generated", "legal_owner": "dpo",
        "counters": [{"id": "records-per-run", "scope": "session",
                      "measure": "request.records", "target": {"data_classes": ["pii"]}}],
        "rules": rules,
        "sequences": [{"id": "read-then-send", "envelope": "legal", "effect": "deny",
                       "mode": "shadow", "scope": "session", "window": "10m",
                       "steps": [{"target": {"data_classes": ["pii"], "actions": ["read"]}},
                                 {"target": {"actions": ["send"]}}]}],
    }
    return compile_policy(PolicyDocument.model_validate(as_tuples(doc)), scenario)


class CountingSink:
    """A streaming sink that keeps nothing: it counts events."""

    def __init__(self) -> None:
        self.events = 0

    def __call__(self, event: Event) -> None:
        """Count one event."""
        self.events += 1


class Timed:
    """Wraps a callable and adds up the wall time spent in it."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def instrument(sim: Simulation) -> dict[str, Timed]:
    """Time minting, verification (all of it, and signatures alone) and the policy engine."""
    timers: dict[str, Timed] = {}
    for broker in sim.wallet.brokers.values():
        timer = timers.setdefault("mint", Timed(None))
        original = broker.mint

        def mint(*args: Any, _fn: Any = original, _t: Timed = timer, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                _t.seconds += time.perf_counter() - start
                _t.calls += 1

        broker.mint = mint  # type: ignore[method-assign]
    verifier = sim.wallet.verifier
    timers["verify"] = Timed(verifier.verify)
    verifier.verify = timers["verify"]  # type: ignore[method-assign]
    timers["signature"] = Timed(verifier._verify_signed)
    verifier._verify_signed = timers["signature"]  # type: ignore[method-assign]
    timers["engine"] = Timed(sim.engine.decide)
    sim.engine.decide = timers["engine"]  # type: ignore[method-assign]
    return timers


def wrapper_cost(n: int = 200_000) -> float:
    """Seconds one :class:`Timed` wrapper adds to a call outside the time it records.

    Measured around a no-op as the loop's time minus what the wrapper recorded (the median
    of five rounds). The split subtracts it once per timed call, so that the wrappers' own
    clock reads and frames are not counted as the simulator's time.
    """

    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    costs = []
    for _ in range(5):
        timed = Timed(noop)
        start = time.perf_counter()
        for _ in range(n):
            timed(1, now=2)
        costs.append(max(0.0, (time.perf_counter() - start - timed.seconds) / n))
    return statistics.median(costs)


class GcTimer:
    """Adds up the time the cyclic garbage collector runs (through ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.passes = 0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        """Called by the collector at the start and the stop of each pass."""
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.passes += 1


FIXED = Decision(Effect.ALLOW, Reason.ALLOWED, "role0-tools", ("role0-tools",),
                 envelope=Envelope.SECURITY, owner="sec")
"""The answer of the engine a fixed-answer run puts in place of the policy engine."""


def one_run(profile: str, agents: int, calls: int, sink_kind: str,
            policy_kind: str, engine: str = "real") -> dict[str, Any]:
    """Build and run one simulation; the figures of that run.

    Minting and verification are timed by wrappers (two clock reads per call, well under
    a microsecond), so one run gives both the throughput and the split. With ``engine``
    ``fixed`` the policy engine is replaced by a function returning :data:`FIXED` (the
    plans are built all the same), so the simulator's own time is measured without it.
    """
    scenario = fleet(agents, calls)
    policy = fleet_policy(scenario, rbac_only=policy_kind == "rbac")
    sink: Any = CountingSink()
    devnull = None
    if sink_kind == "jsonl":
        devnull = open(os.devnull, "w", encoding="utf-8")
        sink = JsonlSink(devnull)
    start = time.perf_counter()
    sim = Simulation(scenario, profile, policy=policy, sink=sink, record_decisions=False)
    plans_s = time.perf_counter() - start  # the run's set-up: its plans are built now
    plan_s = plan_book(sim.engine.policy).seconds  # built by the engine just made
    if engine == "fixed":
        sim.engine.decide = lambda req: FIXED  # type: ignore[method-assign]
    timers = instrument(sim)
    collector = GcTimer()
    gc.callbacks.append(collector)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = sim.run()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    gc.callbacks.remove(collector)
    if devnull is not None:
        devnull.close()
    decisions = result.metric("decisions.total")
    figures = {"profile": profile, "engine": engine, "setup_s": plans_s,
               "plan_s": plan_s, "seconds": elapsed, "calls": decisions,
               "calls_per_s": decisions / elapsed, "cpu_s": cpu,
               "load_average": os.getloadavg()[0],
               "events": result.metric("events"),
               "allow": result.metric("decisions.allow"),
               "tokens": result.metric("tokens.issued"),
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "gc_s": collector.seconds, "gc_passes": collector.passes}
    for name, timer in timers.items():
        figures[f"{name}_s"] = timer.seconds
        figures[f"{name}_calls"] = timer.calls
    # The wrappers' own cost outside what they record, for the outermost ones (the signature
    # timer runs inside the verify timer, so its cost is already in verify_s).
    figures["wrapper_s"] = wrapper_cost() * sum(t.calls for name, t in timers.items()
                                                if name != "signature")
    return figures


def raw_simpy(events: int = 1_000_000, processes: int = 1000) -> float:
    """Events per second of bare simpy: processes that only wait on timeouts."""
    env = simpy.Environment()
    per = events // processes

    def proc() -> Any:
        for _ in range(per):
            yield env.timeout(1.0)

    for _ in range(processes):
        env.process(proc())
    start = time.perf_counter()
    env.run()
    return per * processes / (time.perf_counter() - start)


def child(args: argparse.Namespace) -> None:
    """Run one profile once and print its figures as JSON (in a fresh process)."""
    # Before the run, on a fresh heap: measured after a JIT run, the collector's passes over
    # what the run left behind made bare simpy look up to twice as slow.
    # As many bare events as the run makes tool calls (at least 100,000): a short run's
    # child is not dominated by a million-event yardstick.
    simpy_rate = raw_simpy(max(100_000, min(1_000_000, args.calls)))
    figures = one_run(args.child, args.agents, args.calls, args.sink, args.policy,
                      args.engine)
    figures["raw_simpy_events_per_s"] = simpy_rate
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profiles", default="static,jit")
    parser.add_argument("--sink", choices=("count", "jsonl"), default="count")
    parser.add_argument("--profile-with", choices=("pyinstrument",), default=None,
                        help="profile one run of the first profile and print the report")
    parser.add_argument("--json", action="store_true",
                        help="print the speeds as one JSON object (the report goes to stderr)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=("real", "fixed"), default="real",
                        help=argparse.SUPPRESS)
    parser.add_argument("--policy", choices=("contextual", "rbac"), default="contextual",
                        help="the generated policy: role rules with record caps, a counter "
                        "and sequences (default), or role rules only")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    profiles = [p for p in args.profiles.split(",") if p]
    if args.profile_with:
        from pyinstrument import Profiler

        scenario = fleet(args.agents, args.calls)
        sim = Simulation(scenario, profiles[0], policy=fleet_policy(scenario),
                         sink=CountingSink(), record_decisions=False)
        with Profiler() as profiler:
            sim.run()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    figures: dict[str, float] = {}
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        print(f"sim throughput: {args.agents} agents, {args.calls:,} tool calls, "
              f"{args.repeats} repeats per profile, policy={args.policy}, sink={args.sink}, "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
        for profile in profiles:
            runs, fixed = [], []
            for _ in range(args.repeats):  # alternating: a drift in load hits both alike
                runs.append(_spawn(args, profile))
                fixed.append(_spawn(args, profile, "fixed"))
            report(profile, runs, fixed)
            figures.update({f"{profile}.{k}": v for k, v in speeds(runs).items()})
            figures.update({f"{profile}.fixed_engine.{k}": v
                            for k, v in speeds(fixed).items()})
            figures[f"{profile}.simulator_calls_per_own_s"] = 1e6 / statistics.median(
                own_time(r) for r in runs)
            figures[f"{profile}.fixed_engine.simulator_calls_per_own_s"] = (
                1e6 / statistics.median(own_time(r) for r in fixed))
    if args.json:
        print(json.dumps({"benchmark": "sim_throughput", "agents": args.agents,
                          "calls": args.calls, "repeats": args.repeats, "policy": args.policy,
                          "sink": args.sink, "figures": figures,
                          "load_average": os.getloadavg()[0], "cores": os.cpu_count()}))


def _spawn(args: argparse.Namespace, profile: str, engine: str = "real") -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", profile, "--agents", str(args.agents),
           "--calls", str(args.calls), "--sink", args.sink, "--policy", args.policy,
           "--engine", engine]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def speeds(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over the runs of one profile: tool calls per second (wall and CPU), raw simpy.

    Higher is better for each; ``--json`` reports these, prefixed with the profile.
    """
    return {
        "calls_per_s": statistics.median(float(r["calls_per_s"]) for r in runs),
        # On a shared machine wall time includes waiting for a core: CPU time and the load
        # average say how much of a slow figure is the machine's.
        "calls_per_cpu_s": statistics.median(float(r["calls"]) / float(r["cpu_s"])
                                             for r in runs if r.get("cpu_s")),
        "raw_simpy_events_per_s": statistics.median(float(r["raw_simpy_events_per_s"])
                                                    for r in runs),
    }


def own_time(r: dict[str, Any]) -> float:
    """The simulator's own time per tool call of one run, in microseconds.

    Its wall time without signing, verifying, the policy engine (or the fixed answer in its
    place) and the timing wrappers' own cost: the simulator, simpy and the run's folds.
    """
    rest = float(r["seconds"]) - float(r.get("wrapper_s", 0.0))
    parts = sum(float(r[p]) for p in ("mint_s", "verify_s", "engine_s"))
    return (rest - parts) * 1e6 / float(r["calls"])


def report(profile: str, runs: list[dict[str, Any]],
           fixed: list[dict[str, Any]] | None = None) -> None:
    """Print medians over the runs of one profile, and the split of the time.

    ``fixed``: runs of the same profile with the engine replaced by a fixed answer, made
    alternately with ``runs`` in the same invocation.
    """

    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in runs)

    medians = speeds(runs)
    calls = med("calls")
    rate = medians["calls_per_s"]
    seconds = med("seconds")
    simpy_rate = medians["raw_simpy_events_per_s"]
    print(f"\n[{profile}] {calls:,.0f} tool calls ({med('allow'):,.0f} allowed), "
          f"{med('events'):,.0f} events, {med('tokens'):,.0f} tokens minted")
    print(f"  wall time            median {seconds:8.2f} s   (runs: "
          f"{', '.join(format(r['seconds'], '.2f') for r in runs)})")
    cpu_rate = medians["calls_per_cpu_s"]
    print(f"  tool calls/s         median {rate:10,.0f}   (per CPU-second {cpu_rate:,.0f}; "
          f"load average {med('load_average'):.1f} on {os.cpu_count()} cores)")
    print(f"  raw simpy events/s   median {simpy_rate:10,.0f}   (tool calls per raw simpy "
          f"event: {rate / simpy_rate:.3f})")
    simpy_us = 1e6 / simpy_rate

    def split(key: str) -> float:
        # Per run, then the median: the parts of one run add up to that run's wall time.
        return statistics.median(float(r[key]) * 1e6 / float(r["calls"]) for r in runs)

    def own_of(r: dict[str, Any], *parts: str) -> float:
        rest = float(r["seconds"]) - float(r.get("wrapper_s", 0.0))
        return (rest - sum(float(r[p]) for p in parts)) * 1e6 / float(r["calls"])

    own = statistics.median(own_of(r, "mint_s", "verify_s") for r in runs)
    sim_own = statistics.median(own_of(r, "mint_s", "verify_s", "engine_s") for r in runs)
    mint = med("mint_s")
    verify = med("verify_s")
    signature = med("signature_s")
    print(f"  signing (mint)       {mint:8.2f} s {100 * mint / seconds:5.1f}%  "
          f"{med('mint_calls'):,.0f} tokens, {split('mint_s'):6.2f} us per tool call")
    print(f"  verifying (all)      {verify:8.2f} s {100 * verify / seconds:5.1f}%  "
          f"{split('verify_s'):6.2f} us per tool call; signatures (first verification of "
          f"{med('signature_calls'):,.0f} tokens) {signature:.2f} s")
    print(f"  timer wrappers       {split('wrapper_s'):6.2f} us per tool call (measured; "
          f"subtracted below)")
    print(f"  our own time         {own:6.2f} us per tool call without signing and verifying "
          f"= {own / simpy_us:.1f} raw simpy events; "
          f"{own + split('verify_s') - split('signature_s'):.2f} us if cached verifications "
          f"count as ours")
    engine = split("engine_s")
    print(f"    policy engine      {engine:6.2f} us per tool call "
          f"({100 * engine / own:4.1f}% of our own time)")
    print(f"    simulator + simpy  {sim_own:6.2f} us per tool call "
          f"({100 * sim_own / own:4.1f}%), of which garbage collection "
          f"{split('gc_s'):.2f} us ({med('gc_passes'):,.0f} passes)")
    rss = max(float(r["peak_rss_mb"]) for r in runs)
    print(f"  peak RSS             {rss:8.1f} MB (target < {RSS_TARGET_MB:g} MB): "
          f"{'met' if rss < RSS_TARGET_MB else 'NOT met'}")
    cached = split("verify_s") - split("signature_s")
    print(f"  the parts no simulator skips: verifying {cached:.2f} (cached signature) + one raw "
          f"simpy event {simpy_us:.2f} us per tool call")
    print(f"  plans built ahead    {med('plan_s'):8.2f} s at set-up (set-up in all "
          f"{med('setup_s'):.2f} s; not in the rates)")
    if fixed:
        own_real = statistics.median(own_time(r) for r in runs)
        own_fixed = statistics.median(own_time(r) for r in fixed)
        fixed_rate = statistics.median(float(r["calls_per_s"]) for r in fixed)
        print(f"  simulator's own time {own_real:6.2f} us per tool call with the policy engine; "
              f"{own_fixed:.2f} us with the engine replaced by a fixed answer "
              f"({fixed_rate:,.0f} tool calls/s; {len(fixed)} runs alternating with these)")
        fixed_speeds = speeds(fixed)
        print(f"  fixed-answer engine  tool calls/s median {fixed_speeds['calls_per_s']:,.0f} "
              f"(per CPU-second {fixed_speeds['calls_per_cpu_s']:,.0f}); raw simpy events/s "
              f"median {fixed_speeds['raw_simpy_events_per_s']:,.0f}")
        print(f"  simulator calls per own second {1e6 / own_real:,.0f} with the policy engine, "
              f"{1e6 / own_fixed:,.0f} with a fixed answer")
    print("  targets (issue 21): static tool calls/s >= 1.5x and the simulator's own time "
          "per call <= half of the commit before that work, measured in one run with "
          "benchmarks/against.py")


if __name__ == "__main__":
    main()
