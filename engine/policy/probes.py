"""Generated code of a candidate set: its probe (read, look up, OR) and its evaluator.

The probe runs for every request, so it is generated rather than looped: straight-line code
reading the per-call attribute paths the set's conditions name, looking each value's stop
bits up in the decision point's caches (:mod:`engine.policy.caches`), ORing them into the
static stop set of the request's views (known before any per-call value is read: see
:mod:`engine.policy.plans`), and looking the result up. The evaluator strings the rules'
generated checks (:mod:`engine.policy.codegen`) together for the rule-by-rule path, taken
when a condition raises or a value cannot key a cache, so errors say exactly where and what.
Only validated attribute paths reach the source text and every constant is bound as a name
in the function's globals, so each text depends on a shape alone and compiles once per shape.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any

from engine.policy.bitcore import make_stop_decision
from engine.policy.codegen import compiled, read_lines, rule_check
from engine.policy.conditions import EvalError
from engine.policy.decision import (
    RESTRICTIVENESS,
    Decision,
    Effect,
    Reason,
    ShadowMatch,
    _Core,
    make_decision,
    owner_of,
)
from engine.policy.plans import REASONS, CandidateSet, EvalFn
from engine.policy.request import EMPTY, Request
from engine.policy.rules import CompiledRule
from engine.policy.tables import MAX_VALUES
from engine.policy.values import Captured

_DENY = Effect.DENY
_make = make_decision

ProbeFn = Callable[[Request, Mapping[str, Any], Any], Decision]
"""``probe(request, counter values, entry)``: the decision (see :func:`bind_probe`)."""


def bind_probe(cache: Any) -> ProbeFn:
    """The probe of one engine's caches for a candidate set (a ``SetCache``).

    Generated rather than looped because it runs for every request; only validated
    attribute paths reach the code, and every constant is bound as a name in its globals.
    The text depends only on the per-call paths read, their kinds and the number of slow
    rules, so it compiles once per shape; binding it to an engine's caches is one ``exec``.
    """
    shared: CandidateSet = cache.shared
    kinds = tuple("n" if table.numeric else "p" for table, _of_class in cache.dyn)
    shape = (tuple(zip(shared.dynamic, kinds, strict=True)), len(shared.slow), shared.untabled)
    found = _PROBES.get(shape)
    if found is None:
        if len(_PROBES) >= MAX_SHAPES:
            _PROBES.clear()
        constants: dict[str, Any] = {}
        found = _PROBES[shape] = (_probe_code(shape, constants), constants)
    code, constants = found
    env: dict[str, Any] = {
        **constants, "Mapping": Mapping, "EvalError": EvalError, "cache": cache,
        "full": full, "CORE": cache.cores.get,
        "LIMIT": shared.limit, "COUNTERS": shared.counter_items, "SW": cache.switch,
        "UNKNOWN": UNKNOWN, "MAKE": make_stop_decision, "Captured": Captured, "POS": bisect_left,
        "LEN": len, "MAXV": MAX_VALUES}
    for i, (table, of_class) in enumerate(cache.dyn):
        # What is read on every call is bound (the table's lookup is shared by every probe over
        # it); what runs on a miss only is reached through its object, so an engine's probes
        # keep fewer objects for the collector to walk.
        env[f"Y{i}"], env[f"TH{i}"], env[f"EX{i}"] = (table.lookup, table.thresholds,
                                                     table.exact)
        env[f"N{i}"], env[f"NB{i}"] = table.by_number.get, table.by_number
        env[f"C{i}"], env[f"T{i}"] = table, of_class.get
    for k, rule in enumerate(shared.slow):
        assert rule.cond is not None  # slow rules are those with conditions
        env[f"SC{k}"] = rule.check if rule.check is not None else rule_check(rule.cond)[0]
        env[f"SB{k}"] = shared.slow_bits[k]
    exec(code, env)
    fn: ProbeFn = env.pop("probe")  # not left in its own globals: no reference cycle
    # A code object of its own: CPython specialises a code object's global reads for one
    # globals dict, and probes of one shape bound to other caches would keep undoing that.
    fn.__code__ = fn.__code__.replace()
    return fn


UNKNOWN = object()
"""What an entry's owners say of an envelope whose owner is not computed yet."""
Shape = tuple[tuple[tuple[str, str], ...], int, tuple[str, ...]]
"""(per-call table paths with their kind, number of slow rules, per-call paths without a
table): what a probe's text depends on."""
_PROBES: dict[Shape, tuple[CodeType, dict[str, Any]]] = {}
_EVALUATORS: dict[tuple[bool, ...], CodeType] = {}
MAX_SHAPES = 4096
"""Probe and evaluator shapes kept compiled (the source of each is built once per shape)."""


def _probe_code(shape: Shape, constants: dict[str, Any]) -> CodeType:
    """The probe's code for per-call paths read in this order (kind n: numbers, p: other).

    The names of the attribute keys read go into ``constants``.
    """
    paths, slow, untabled = shape
    lines = ["def probe(req, cv, e):"]
    for i, (path, _kind) in enumerate(paths):
        lines += read_lines(i, path, constants)
    # Requests of this entry bringing the same per-call values (of the same types: True == 1
    # as a key) share one decision, found before anything is classed.
    values = [f"v{i}" for i in range(len(paths))]
    lines += ["    if SW.on and e.stable:"]
    for j, path in enumerate(untabled, len(paths)):
        lines += ["    " + line for line in read_lines(j, path, constants, "u")]
        values.append(f"u{j}")
    types = [f"type({v})" for v in values]
    lines += [
        f"        key = ({''.join(k + ', ' for k in values + types)})",
        "        try:",
        "            x = e.memo.get(key)",
        "        except TypeError:  # an unhashable value: nothing to share",
        "            key = None",
        "        else:",
        "            next(SW.count)",
        "            if x is not None:",
        "                return x",
        "    else:",
        "        key = None",
        "    s = e.static",
        "    if s is None:  # a view's value cannot be classed: rule by rule",
        "        return full(cache, req, cv, e)",
        "    try:"]
    for i, (_path, kind) in enumerate(paths):
        # A value's class, as the path's table keys it (numbers on a numeric path by value,
        # other values by (type, value): bool is not a number here and True == 1 as a key).
        if kind == "n":  # a number's class is its position among the thresholds
            # Numbers met before are looked up by value (1 and 1.0 compare alike; a bool is
            # not a number here), the others placed among the thresholds and remembered
            # (stored inline: the method, which starts afresh at MAX_VALUES, only when full).
            lines += [f"        t = type(v{i})",
                      f"        if (t is int or t is float) and v{i} == v{i}:",
                      f"            k = N{i}(v{i})",
                      "            if k is None:",
                      f"                k = Y{i}(POS(TH{i}, v{i}) * 2 + (v{i} in EX{i}))",
                      "                if k is not None:",
                      f"                    if LEN(NB{i}) < MAXV:",
                      f"                        NB{i}[v{i}] = k",
                      "                    else:",
                      f"                        C{i}.remember(v{i}, k)",
                      "        else:",
                      f"            k = Y{i}(v{i} if t is str else (t, v{i}))"]
        else:
            lines += [f"        k = Y{i}(v{i} if type(v{i}) is str else (type(v{i}), v{i}))"]
        lines += ["        if k is None:",
                  f"            k = C{i}.classify(v{i})",
                  f"        b = T{i}(k)",
                  "        if b is None:",
                  f"            b = cache.local({i}, k)",
                  "        s |= b"]
    for k in range(slow):
        lines += [f"        n = SC{k}(req, cv)",
                  "        if n >= 0:",
                  f"            s |= SB{k}[n]"]
    if not paths and not slow:
        lines.pop()  # nothing read per call: the static stop set is the whole stop set
    else:
        lines += ["    except (TypeError, EvalError):  # unhashable, or an error: rule by rule",
                  "        return full(cache, req, cv, e)"]
    lines += [
        "    if s >= LIMIT:  # some condition raises: rule by rule says where and what",
        "        return full(cache, req, cv, e)",
        "    if s == e.static:  # no per-call value stops anything: the entry's own decision",
        "        x = e.fixed",
        "        if x is None:",
        "            x = e.fix()",
        "        if key is not None:",
        "            e.keep(key, x)",
        "        return x",
        "    c = CORE(s)",
        "    if c is None:",
        "        c = cache.core(s)",
        "    owner = e.owners.get(c.envelope, UNKNOWN)",
        "    if owner is UNKNOWN:",
        "        owner = e.owner_for(c.envelope)",
        "    if key is not None:",
        "        return e.share(c, s, key, owner)",
        "    # Its own: it reads its values from the request when asked.",
        "    return MAKE(c, Captured(req, cv) if s & COUNTERS else req, owner, s)",
    ]
    return compiled("\n".join(lines))


def full(cache: Any, req: Request, cv: Mapping[str, Any], e: Any) -> Decision:
    """Decide rule by rule (a condition raised, or a value cannot key a cache)."""
    core = evaluate_rules(cache.shared, req, cv)
    owner = owner_of(core.envelope, req.principal, cache.legal_owner)
    if not core.failed:
        return _make(core, (), owner)
    return _make(core, req if cv is EMPTY else Captured(req, cv), owner)


def evaluate_rules(shared: CandidateSet, req: Request, cv: Mapping[str, Any]) -> _Core:
    """Evaluate every candidate rule (the complete path, for a class not yet memoised)."""
    fn = shared.evaluator
    if fn is None:  # generated when first needed: errors are rare
        fn = shared.evaluator = evaluator(shared.rules, shared.index)
    matched, shadow, failed, errors, errored = fn(req, cv)
    decider: CompiledRule | None = None
    best = -1
    for r in matched:  # the first deny, else the first approval, else the first allow
        rank = RESTRICTIVENESS[r.effect]
        if rank > best:
            best, decider = rank, r
            if rank == 2:
                break
    if decider is None:
        effect, reason = _DENY, Reason.NO_MATCHING_ALLOW
    else:
        effect = decider.effect
        reason = REASONS[effect]
    obligations: tuple[str, ...] = ()
    if decider is not None:
        obs = [o for r in matched if r.effect is effect for o in r.obligations]
        if obs:
            obligations = tuple(dict.fromkeys(obs))
    for rule in errored:
        if RESTRICTIVENESS[rule.effect] > RESTRICTIVENESS[effect]:
            # Fail closed: a rule that might have restricted the request was skipped.
            effect, reason, decider, obligations = _DENY, Reason.ERROR, rule, ()
            break
    return _Core(
        effect, reason, decider.id if decider is not None else None,
        tuple([r.id for r in matched]), tuple(shadow), tuple(failed), (), obligations,
        decider.envelope if decider is not None else None, tuple(errors),
    )


def _holds(req: Request, cv: Mapping[str, Any]) -> int:
    return -1


def evaluator(rules: tuple[CompiledRule, ...], index: Mapping[str, int]) -> EvalFn:
    """Generate the evaluation of a candidate set: each rule's check, in document order.

    The checks were generated once per rule by the compiler; this only strings calls to
    them together (the text depends on the rules' shapes alone, so it compiles rarely).
    """
    env: dict[str, Any] = {"EvalError": EvalError}
    for k, rule in enumerate(rules):
        check, failures = rule.check, rule.failures
        if rule.cond is not None and check is None:  # built without the compiler
            check, failures = rule_check(rule.cond)
        names = _names(k)
        env[names[0]] = rule
        if rule.shadow:
            env[names[4]] = ShadowMatch(rule.id, rule.effect)
        # A rule without a condition calls a check that always holds, so the text depends
        # only on the number of rules and which are shadow: built once per shape.
        env[names[1]], env[names[2]] = check or _holds, f"rule {rule.id} skipped: "
        env[names[3]] = tuple([(rule.id, text, path, index[path]) for text, path in failures])
    shape = tuple(rule.shadow for rule in rules)
    code = _EVALUATORS.get(shape)
    if code is None:
        if len(_EVALUATORS) >= MAX_SHAPES:
            _EVALUATORS.clear()
        code = _EVALUATORS[shape] = _evaluator_code(shape)
    exec(code, env)
    fn: EvalFn = env.pop("evaluate")
    return fn


_NAMES: list[tuple[str, str, str, str, str]] = []


def _names(k: int) -> tuple[str, str, str, str, str]:
    """The env names of candidate ``k``: rule, check, error prefix, failures, shadow match."""
    while len(_NAMES) <= k:
        n = len(_NAMES)
        _NAMES.append((f"R{n}", f"C{n}", f"E{n}", f"F{n}", f"SH{n}"))
    return _NAMES[k]


def _evaluator_code(shadow: tuple[bool, ...]) -> CodeType:
    lines = ["def evaluate(req, cv):",
             "    matched = []; shadow = []; failed = []; errors = []; errored = []"]
    for k, is_shadow in enumerate(shadow):
        on_match = f"shadow.append(SH{k})" if is_shadow else f"matched.append(R{k})"
        lines += [
            "    try:",
            f"        n = C{k}(req, cv)",
            "    except EvalError as exc:",
            f"        errors.append(E{k} + str(exc))",
            *([] if is_shadow else [f"        errored.append(R{k})"]),
            "    else:",
            "        if n < 0:",
            f"            {on_match}",
            "        else:",
            f"            failed.append(F{k}[n])",
        ]
    lines.append("    return matched, shadow, failed, errors, errored")
    return compiled("\n".join(lines))
