"""Policy decision point benchmark: agentrange against Cedar (cedarpy) and PyCasbin.

One seeded workload (1,000 rules, 50 agents in 5 roles, 20 tools, 5 data classes, conditions
on record counts, data class sensitivity, egress destination, time of day and principal role)
is expressed three ways, from the same rule list:

- agentrange: a Scenario and a PolicyDocument built in code, compiled once;
- Cedar: permit/forbid policies with ``when`` clauses over context and entity attributes,
  parsed once into a ``PolicySet``, entities parsed once, decided by
  ``cedarpy.is_authorized_batch``;
- PyCasbin: one ``p`` line per rule, a matcher with ``keyMatch``, ``g`` (roles and agent kinds)
  and attribute comparisons, effect ``some(allow) && !some(deny)``.

The same requests go through each; every decision is checked against a plain-Python
reference evaluation of the workload (allow / explicit deny / no match, and which rules
matched), so a disagreement fails the run loudly. Then the run prints decisions/s (medians over
repeats), the ratios and whether the targets were met. A separate line measures agentrange with
session tracking and 10 sequence rules (the peers have no sequence rules), checked against a
reference of the sequence semantics.

agentrange is timed two ways: a fresh engine per repeat (its value classes, explanations and
entries fill while deciding, as at the start of a run), and "steady": an engine that has
already decided as many other requests of the same fleet (another seed), as in a long
simulation. Either way the policy's plans were built ahead, once per policy and before any
decision (as a simulation builds them when it starts); that time is printed apart. The
peers are given their cheapest inputs: Cedar gets its context pre-serialised to JSON, Casbin
gets integers in its p lines (no parsing in the matcher). Before each timed phase, what is
alive is frozen with ``gc.freeze()``: the heap that setup built (three workloads, ~200k
objects), as a long-running decision point freezes what it loaded, and what earlier phases
keep (the peers' results, earlier engines' decisions), so that a phase's collector time is
the passes its own allocations cause over its own objects, whatever ran before it; a
repeat's result is released before the next repeat. ``--no-freeze`` times without. The
share of agentrange's time spent in the collector is printed either way, with its passes by
generation, against its target (under 10%).

Three more lines show what this machine can do at all: agentrange when every explanation is
already seen (the same requests decided again), and a "CPython floor", a hand-written loop
that does only what any decision point returning per-request explanations must do (check
the token, find the candidate set with one dict lookup, read the request's condition values,
build one Decision holding them) and decides nothing, once keeping every decision as the
timed engines' are kept, once dropping each at once (the floor without retained objects,
whose difference is the collector's price for kept objects).

Targets (issue 21): >= 100x cedarpy's batch rate and a collector share under 10%, checked
here; fresh >= 1.6x, steady >= 1.3x and with the sequence rules >= 1.3x the commit before
that work, measured with ``benchmarks/against.py REF --same-benchmark --
benchmarks/pdp_vs_peers.py`` (this harness on both sides; ``AGENTRANGE_PRODUCT_TREE`` names
the tree whose engine is measured).

Run: ``python benchmarks/pdp_vs_peers.py [--quick] [--seed S] [--repeats R] [--cedar-repeats R]
[--casbin-repeats R] [--no-freeze] [--profile fresh|steady|sequences|sequences-steady]
[--json]`` (or ``python -m benchmarks.pdp ...``; about 5 minutes at full size, most of it in
the peers). It prints figures; it is not a test (``tests/engine/test_bench_pdp_smoke.py`` runs
the quick mode for agreement only). ``--json`` prints the figures as one JSON object on
standard output and the report on standard error.

Modules: ``estate`` and ``workload`` (what is decided), ``reference`` (the plain-Python
answers and the agreement check), one encoder per engine (``agentrange``, ``cedar``,
``pycasbin``), ``timing``, ``report`` and ``benchmark`` (one run); ``__main__`` is the
command line.
"""
