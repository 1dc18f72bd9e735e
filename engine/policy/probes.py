"""Generated code of a candidate set: its probe (read, class, look up) and its evaluator.

The probe runs for every request, so it is generated rather than looped: straight-line code
reading the attribute paths the set's conditions name, mapping each value to its local
class, and looking the combination up in the set's memo (:mod:`engine.policy.plans`). The
evaluator strings the rules' generated checks (:mod:`engine.policy.codegen`) together for
the rule-by-rule path, taken when a condition raises or a value cannot key a table, so errors
say exactly where and what. Only validated attribute paths reach the source text and every
constant is bound as a name in the function's globals, so each text depends on a shape alone
and compiles once per shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import CodeType
from typing import Any

from engine.policy.codegen import compiled, read_lines, rule_check
from engine.policy.conditions import EvalError
from engine.policy.decision import (
    RESTRICTIVENESS,
    Decision,
    Effect,
    Envelope,
    Reason,
    ShadowMatch,
    _Core,
    owner_of,
)
from engine.policy.plans import (
    ERROR,
    MAX_DECISIONS,
    REASONS,
    CandidateSet,
    EvalFn,
    ProbeContext,
    ProbeFn,
    StaticsFn,
)
from engine.policy.request import Request
from engine.policy.rules import CompiledRule

_DENY = Effect.DENY
_LEGAL = Envelope.LEGAL
_make = Decision._make


def probe_function(shared: CandidateSet, ctx: ProbeContext
                   ) -> tuple[ProbeFn, StaticsFn | None]:
    """Generate the decision function of a candidate set: read, classify, look up, adapt.

    Generated rather than looped because it runs for every request; only validated
    attribute paths reach the code, and every constant is bound as a name in ``env``. The
    text depends only on the kinds of the paths read and the number of slow rules, so it
    compiles once per shape.
    """
    tables = ctx.tables
    item_paths = tables.item_paths
    fast = {p for r in shared.rules if r.index in item_paths for p in item_paths[r.index]}
    kinds = []
    env: dict[str, Any] = {"Mapping": Mapping, "EvalError": EvalError, "full": full,
                           "shared": shared, "memo_get": shared.memo.get, "miss": ctx.miss,
                           "localise": shared.localise, "decisions": shared.decisions,
                           "decisions_get": shared.decisions.get,
                           "MAX_DECISIONS": MAX_DECISIONS,
                           "ERROR": ERROR, "make": _make, "LEGAL": _LEGAL,
                           "legal_owner": ctx.legal_owner}
    terms = shared.terms
    for i, path in enumerate(shared.paths):
        table = tables.paths.get(path) if path in fast else None
        if table is None:
            kinds.append("-")
            continue
        kinds.append("n" if table.numeric else "p")
        env[f"C{i}"] = table.classify
        env[f"G{i}"] = (table.by_number if table.numeric else table.by_key).get
        of_class: dict[int, int] = {}
        env[f"T{i}"], env[f"J{i}"] = of_class.get, len(terms)
        shared.local.append((table, of_class, {}))
        terms.append([])
    for k, rule in enumerate(shared.slow):
        env[f"SC{k}"] = rule.check
        j = shared.rules.index(rule)
        terms.append((*(1 << (c * shared.m + j) for c in range(shared.positions)), 0))
    shape = (tuple(zip(shared.paths, kinds, strict=True)), len(shared.slow))
    found = _PROBES.get(shape)
    if found is None:
        if len(_PROBES) >= MAX_SHAPES:
            _PROBES.clear()
        constants: dict[str, Any] = {}
        found = _PROBES[shape] = (_probe_code(shape, constants), constants)
    code, constants = found
    env.update(constants)
    exec(code, env)
    fn: ProbeFn = env.pop("probe")  # not left in its own globals: no reference cycle
    statics: StaticsFn | None = env.pop("statics", None)
    return fn, statics


_PROBES: dict[tuple[tuple[tuple[str, str], ...], int], tuple[CodeType, dict[str, Any]]] = {}
_EVALUATORS: dict[tuple[bool, ...], CodeType] = {}
MAX_SHAPES = 4096
"""Probe and evaluator shapes kept compiled (the source of each is built once per shape)."""


STATIC_NAMESPACES = ("principal", "tool", "resource")
"""Namespaces a request takes from the read-only views of its agent, tool and resource."""


def _is_static(path: str) -> bool:
    return path == "action" or path.partition(".")[0] in STATIC_NAMESPACES


def _probe_code(shape: tuple[tuple[tuple[str, str], ...], int], constants: dict[str, Any]
                ) -> CodeType:
    """The probe's code for paths read in this order (each: table n/p or value only -).

    Paths of the principal, tool and resource (and the action) can come precomputed, as
    ``st``: their values then their local classes, from the ``statics`` function generated
    alongside when there are any. The names of the attribute keys read go into ``constants``.
    """
    paths, slow = shape
    static = [i for i, (path, _kind) in enumerate(paths) if _is_static(path)]
    dynamic = [i for i in range(len(paths)) if i not in static]

    def classify(i: int, kind: str, indent: str) -> list[str]:
        if kind == "n":  # bool is not a number here (True == 1 as a key)
            head = [f"t = type(v{i})", f"k{i} = G{i}(v{i}) if t is int or t is float else None"]
        else:
            head = [f"k{i} = G{i}(v{i} if type(v{i}) is str else (type(v{i}), v{i}))"]
        body = [*head, f"if k{i} is None:", f"    k{i} = C{i}(v{i})", f"l{i} = T{i}(k{i})",
                f"if l{i} is None:", f"    l{i} = localise(J{i}, k{i})"]
        return [indent + line for line in body]

    static_reads = [line for i in static for line in read_lines(i, paths[i][0], constants)]
    classed = [i for i in static if paths[i][1] != "-"]
    unpack = "".join(f"v{i}, " for i in static) + "".join(f"l{i}, " for i in classed)
    lines = []
    if static:
        lines += ["def statics(req):", *static_reads]
        if classed:
            lines.append("    try:")
            for i in classed:
                lines += classify(i, paths[i][1], "        ")
            lines += ["    except (TypeError, EvalError):",
                      "        return None"]
        lines.append(f"    return ({unpack})")
    lines.append("def probe(req, cv, st=None):")
    for i in dynamic:
        lines += read_lines(i, paths[i][0], constants)
    if static:
        lines += ["    if st is not None:", f"        {unpack.rstrip()} = st"]
        lines += ["    else:", *("    " + line for line in static_reads)]
    values = "".join(f"v{i}, " for i in range(len(paths)))
    keys = [f"l{i}" for i in range(len(paths)) if paths[i][1] != "-"]
    lines.append("    try:")
    if classed:
        lines.append("        if st is None:")
        for i in classed:
            lines += classify(i, paths[i][1], "            ")
    for i in dynamic:
        if paths[i][1] != "-":
            lines += classify(i, paths[i][1], "        ")
    for k in range(slow):
        lines.append(f"        n{k} = SC{k}(req, cv)")
        keys.append(f"n{k}")
    key = keys[0] if len(keys) == 1 else "(" + "".join(f"{k}, " for k in keys) + ")"
    lines += [
        f"        key = {key}",
        "    except (TypeError, EvalError):  # unhashable value or an error: rule by rule",
        f"        return full(shared, req, cv, ({values}), legal_owner)",
        "    c = memo_get(key)",
        "    if c is None:",
        "        c = miss(shared, key)",
        "    if c is ERROR:  # some condition raises: rule by rule says where and what",
        f"        return full(shared, req, cv, ({values}), legal_owner)",
        "    env = c.envelope",
        "    if env is None:",
        "        owner = None",
        "    elif env is LEGAL:",
        "        owner = legal_owner",
        "    else:",
        "        owners = req.principal.get('owners')",
        "        owner = None if owners is None else owners.get(env)",
        "    # Requests with the same explanation and values share one (immutable) decision;",
        "    # one with nothing failed holds no values.",
        f"    values = ({values}) if c.stops else ()",
        "    try:",
        "        d = decisions_get((c, values))",
        "    except TypeError:  # an unhashable value: a decision of its own",
        "        return make(c, values, owner)",
        "    if d is None or d.owner != owner:",
        "        if len(decisions) >= MAX_DECISIONS:",
        "            decisions.clear()",
        "        d = decisions[(c, values)] = make(c, values, owner)",
        "    return d",
    ]
    return compiled("\n".join(lines))


def full(shared: CandidateSet, req: Request, cv: Mapping[str, Any],
         values: tuple[Any, ...], legal_owner: str | None) -> Decision:
    """Decide rule by rule (a condition raised, or a value cannot key a table)."""
    core = evaluate_rules(shared, req, cv)
    owner = owner_of(core.envelope, req.principal, legal_owner)
    return _make(core, values if core.failed else (), owner)


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
