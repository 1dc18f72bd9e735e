"""The printed report: agreement, decisions/s, ratios, the collector's share and the targets.

Also the same figures as one JSON object, for ``--json`` and ``benchmarks/against.py``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import engine
from benchmarks.pdp.reference import ALLOW, DENY, NO_MATCH, Agreement
from benchmarks.pdp.workload import SEQUENCES, Sizes, Workload

TARGET_VS_CEDAR = 100.0
"""agentrange rate over cedarpy's batch rate, measured in the same run (issue 21)."""
TARGET_GC_SHARE = 0.10
"""The most of agentrange's time the cycle collector may take (issue 21)."""
RELATIVE_TARGETS = ("fresh >= 1.6x, steady >= 1.3x and with the sequence rules >= 1.3x the "
                    "commit before issue 21's work, measured in one run with "
                    "benchmarks/against.py")
"""Issue 21's targets against an earlier commit (they replace the absolute rates of issue 3,
which pure CPython cannot reach on this workload: see the floor lines)."""
PRODUCT_TREE = str(Path(engine.__file__).resolve().parents[1])
"""The tree whose engine is measured (``benchmarks/against.py --same-benchmark`` checks it)."""


@dataclass
class Report:
    """Figures of one benchmark run."""

    sizes: Sizes
    agreement: Agreement
    sequence_agreement: Agreement
    rates: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def rule_mix(w: Workload) -> str:
    """How many of the workload's rules allow and how many deny, as text."""
    allows = sum(1 for r in w.rules if r.effect == "allow")
    return f"{allows} allow, {len(w.rules) - allows} deny"


def print_agreement(out: Callable[[str], None], a: Agreement, s: Agreement,
                     seq_denials: int) -> None:
    """Print the outcome counts and whether every engine agreed with the references."""
    c = a.counts
    out(f"decisions: {c[ALLOW]} allow, {c[DENY]} explicit deny, {c[NO_MATCH]} no match "
        f"(default deny)")
    if a.ok:
        out(f"agreement: agentrange, cedarpy and PyCasbin agree with the reference on all "
            f"{a.checked} requests (agentrange and Cedar also on the deciding rules)")
    else:
        out(f"DISAGREEMENT on {len(a.mismatched)} of {a.checked} requests:")
        for line in a.examples:
            out(f"  {line}")
    if s.ok:
        out(f"sequences: agentrange agrees with the sequence reference on all {s.checked} "
            f"requests ({seq_denials} denied by a sequence rule)")
    else:
        out(f"SEQUENCE DISAGREEMENT on {len(s.mismatched)} of {s.checked} requests:")
        for line in s.examples:
            out(f"  {line}")


def print_rates(out: Callable[[str], None], r: Report, reps: tuple[int, int, int]) -> None:
    """Print the machine, decisions/s, ratios, the collector's share and the targets met."""
    rates = r.rates
    out(f"machine: {os.cpu_count()} cores, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.machine()}, load average "
        f"{os.getloadavg()[0]:.1f} (a shared machine's figures are lower when it is high)")
    out(f"decisions/s, median of {reps[0]} repeats (cedarpy: {reps[1]}, PyCasbin: {reps[2]}); "
        "every decision kept:")
    rows = (
        ("agentrange, fresh engine (cold caches)", "agentrange"),
        ("agentrange, steady (engine warmed on other requests)", "agentrange_steady"),
        ("cedarpy is_authorized_batch (policies parsed once)", "cedarpy"),
        ("PyCasbin batch_enforce", "casbin"),
    )
    for label, key in rows:
        out(f"  {label:<58}{rates[key]:>12,.0f}")
    out(f"agentrange with session tracking and {len(SEQUENCES)} sequence rules (no peer has them):")
    out(f"  {'fresh engine (cold caches)':<58}{rates['agentrange_sequences']:>12,.0f}")
    out(f"  {'steady (engine warmed on other requests)':<58}"
        f"{rates['agentrange_sequences_steady']:>12,.0f}")
    cedar, casbin = rates["cedarpy"], rates["casbin"]
    out(f"ratios: agentrange / cedarpy = {rates['agentrange'] / cedar:.1f}x fresh, "
        f"{rates['agentrange_steady'] / cedar:.1f}x steady; agentrange / PyCasbin = "
        f"{rates['agentrange'] / casbin:.0f}x fresh; cedarpy / PyCasbin = {cedar / casbin:.0f}x")
    plans = r.extra.get("plans")
    if plans:
        (built, sets, seconds), (_built, _sets, seq_seconds) = plans
        out(f"agentrange plans built ahead, once per policy and before any decision (not in "
            f"the rates): {built:,} plans over {sets:,} candidate sets in {seconds:.2f} s "
            f"({seq_seconds:.2f} s with the sequence rules); compiling the policy "
            f"{r.extra['compile_s']:.2f} s")
    shares = r.extra["gc_share"]
    out(f"agentrange explanations spelled out afterwards (matched, shadow and failed rules of "
        f"every kept decision, as tuples): {r.extra['spell_us']:.2f} us per decision")
    out(f"agentrange time in the cyclic garbage collector: {shares['fresh']:.0%} fresh, "
        f"{shares['steady']:.0%} steady"
        + (" (what was alive frozen with gc.freeze() before each timed phase)"
           if r.extra["frozen"] else " (--no-freeze: nothing frozen)"))
    passes = r.extra.get("gc_passes", {})
    for mode in ("fresh", "steady"):
        if mode in passes:
            counts, seconds = passes[mode]
            out(f"  {mode}: " + ", ".join(
                f"{n:,} {name} passes {s * 1e3:,.0f} ms" for name, n, s in
                zip(("young", "middle", "full"), counts, seconds, strict=True)))
    if "floor" in rates and "floor" in shares:
        per = {mode: shares[mode] * 1e6 / rates[mode if mode.startswith("floor") else key]
               for mode, key in (("fresh", "agentrange"), ("steady", "agentrange_steady"),
                                 ("floor", ""), ("floor_flat", ""))}
        out(f"  collector time per kept decision: {per['fresh']:.2f} us fresh, "
            f"{per['steady']:.2f} us steady; the CPython floor below (one kept Decision per "
            f"request, nothing else) {per['floor']:.2f} us, {shares['floor']:.0%} of its time; "
            f"the floor keeping flat tuples of atoms instead {per['floor_flat']:.2f} us, "
            f"{shares['floor_flat']:.0%}")
    if "dropped" in shares and "agentrange_dropped" in rates:
        out(f"agentrange, fresh, each decision dropped once made (as the simulator consumes "
            f"them): {rates['agentrange_dropped']:,.0f}/s, {shares['dropped']:.0%} of its time "
            f"in the collector (target < {TARGET_GC_SHARE:.0%}: "
            f"{'met' if shares['dropped'] < TARGET_GC_SHARE else 'NOT met'})")
    if "sim_gc" in r.extra:
        threshold, fresh, steady, seq_steady = r.extra["sim_gc"]
        out(f"agentrange with the simulator's collector setting (young generation every "
            f"{threshold:,} allocations): {fresh:,.0f} fresh, {steady:,.0f} steady, "
            f"{seq_steady:,.0f} steady with sequences")
    out("what CPython itself takes per decision on this workload, measured in this run:")
    for label, key in (
            ("agentrange, every explanation already seen (the ceiling of its memo)",
             "agentrange_seen"),
            ("CPython floor: read each request's values, build its Decision, decide nothing",
             "floor"),
            ("the same floor, each Decision dropped at once (no retained objects)",
             "floor_shared"),
            ("the same floor, keeping a flat tuple of atoms per request (untracked)",
             "floor_flat")):
        if key in rates:
            out(f"  {label:<78}{rates[key]:>10,.0f}/s = {1e6 / rates[key]:.2f} us")
    for mode, suffix in (("fresh", ""), ("steady", "_steady")):
        rate = rates["agentrange" + suffix]
        share = shares[mode]
        checks = (
            (f"agentrange >= {TARGET_VS_CEDAR:.0f}x cedarpy ({rate / cedar:.0f}x)",
             rate / cedar >= TARGET_VS_CEDAR),
            (f"collector share < {TARGET_GC_SHARE:.0%} ({share:.0%})",
             share < TARGET_GC_SHARE),
        )
        out(f"targets ({mode}): " + "; ".join(
            f"{label} {'met' if met else 'NOT met'}" for label, met in checks))
    out(f"targets against the previous commit: {RELATIVE_TARGETS}")


def figures(r: Report) -> dict[str, float]:
    """The run's speeds in decisions/s (higher is better), by the names ``--json`` gives them.

    ``rates`` as timed, and the three rates under the simulator's collector setting as
    ``sim_gc_fresh``, ``sim_gc_steady`` and ``sim_gc_sequences_steady``.
    """
    out = dict(r.rates)
    if "sim_gc" in r.extra:
        _threshold, fresh, steady, seq_steady = r.extra["sim_gc"]
        out.update(sim_gc_fresh=fresh, sim_gc_steady=steady, sim_gc_sequences_steady=seq_steady)
    return out


def to_json(r: Report, seed: int) -> dict[str, Any]:
    """The run as one JSON-ready object: its figures, the checks and the machine's load."""
    return {
        "benchmark": "pdp_vs_peers",
        "seed": seed,
        "sizes": {"agents": r.sizes.agents, "rules": r.sizes.rules,
                  "requests": r.sizes.requests},
        "agreement": r.agreement.ok,
        "sequence_agreement": r.sequence_agreement.ok,
        "figures": figures(r),
        "gc_share": r.extra.get("gc_share", {}),
        "product_tree": PRODUCT_TREE,
        "spell_us": r.extra.get("spell_us"),
        "plans": r.extra.get("plans"),
        "compile_s": r.extra.get("compile_s"),
        "load_average": os.getloadavg()[0],
        "cores": os.cpu_count(),
    }
