"""Generated Python for the hot path: per-rule condition checks and attribute reads.

Conditions are compiled into closures (:mod:`engine.policy.conditions`) for clarity; the
decision point runs generated straight-line code instead, with the same semantics (the
comparison helpers are shared). Only validated attribute paths reach the source text and
every constant is bound as a name in the function's globals, so the text depends only on
the shape of a condition: compiled code objects are cached per shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any

from engine.policy.conditions import (
    Atom,
    EvalError,
    Node,
    _contains,
    _eq,
    _glob,
    _in,
    _ordered,
)

MAX_CODE = 4096
"""Distinct shapes of generated code kept compiled."""

RuleCheck = Callable[[Any, Mapping[str, Any]], int]
"""``check(request, counter values)``: -1 when the condition holds, else the number of the
first failed item (see :func:`rule_check`); raises EvalError as the closures do."""

_CODE: dict[str, CodeType] = {}


def compiled(source: str) -> CodeType:
    """Compile generated source once per shape (constants live in env, not in the text)."""
    code = _CODE.get(source)
    if code is None:
        if len(_CODE) >= MAX_CODE:
            _CODE.clear()
        code = _CODE[source] = compile(source, "<agentrange policy code>", "exec")
    return code


def helpers() -> dict[str, Any]:
    """The names generated expressions may call."""
    return {"EvalError": EvalError, "NUM": frozenset((int, float)), "LISTS": (tuple, list),
            "eq": _eq, "in_": _in, "ordered": _ordered, "glob": _glob,
            "contains": _contains, "Mapping": Mapping}


def read_lines(i: int, path: str, env: dict[str, Any], target: str = "v") -> list[str]:
    """Statements reading attribute ``path`` of ``req`` into ``{target}{i}`` (None if absent)."""
    var = f"{target}{i}"
    if path == "action":
        return [f"    {var} = req.action"]
    ns, _, rest = path.partition(".")
    env[f"K{i}"] = rest
    if ns == "counter":
        return [f"    {var} = cv.get(K{i})"]
    if rest.startswith("attributes.") and ns == "request":
        first, second = "attributes", rest[len("attributes."):]
    elif "." in rest:
        first, second = rest.split(".", 1)
    elif ns == "resource":  # the only namespace that may be None
        return [f"    m = req.{ns}", f"    {var} = None if m is None else m.get(K{i})"]
    else:
        return [f"    {var} = req.{ns}.get(K{i})"]
    env[f"K{i}"], env[f"L{i}"] = first, second
    return [
        f"    m = req.{ns}",
        f"    m = None if m is None else m.get(K{i})",
        f"    {var} = m.get(L{i}) if isinstance(m, Mapping) else None",
    ]


def atom_expression(name: str, atom: Atom, v: str, env: dict[str, Any]) -> str:
    """A parenthesised expression for one comparison on variable ``v`` (constants in env).

    Its truth and the EvalError it may raise are those of
    :func:`engine.policy.conditions.atom_test`; fast paths only skip a helper call where
    its outcome is certain.
    """
    env[f"{name}c"], env[f"{name}p"] = atom.value, atom.path
    c, p = f"{name}c", f"{name}p"
    op = atom.op
    if op == "exists":
        return f"({v} is not None)" if atom.value else f"({v} is None)"
    if op in ("eq", "ne"):
        test = f"eq({p}, {v}, {c})"
        if isinstance(atom.value, str):
            test = f"({v} == {c} if type({v}) is str else {test})"
        return f"({test})" if op == "eq" else f"(not {test})"
    if op in ("in", "not_in"):
        test = f"in_({p}, {v}, {c})"
        strings = frozenset(x for x in atom.value if isinstance(x, str))
        if strings:
            env[f"{name}s"] = strings
            test = f"({v} in {name}s if type({v}) is str else {test})"
        if op == "in":
            return f"({test})"
        return f"({v} is None or not {test})"
    if op == "contains":
        if type(atom.value) is str:
            # A str operand absent from a list equals none of its members: False for sure.
            return (f"(False if type({v}) in LISTS and {c} not in {v} "
                    f"else contains({p}, {v}, {c}))")
        return f"contains({p}, {v}, {c})"
    if op == "glob":
        return f"glob({p}, {v}, {c})"
    symbol = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
    if atom.type.kind == "enum":
        ranks = {m: n for n, m in enumerate(atom.type.values)}
        env[f"{name}r"], env[f"{name}k"] = ranks, ranks[atom.value]
        return (f"({name}r[{v}] {symbol} {name}k if type({v}) is str and {v} in {name}r "
                f"else ordered({p}, {op!r}, {v}, {c}, {name}r))")
    return f"({v} {symbol} {c} if type({v}) in NUM else ordered({p}, {op!r}, {v}, {c}, None))"


def condition_items(node: Node) -> list[Node]:
    """The conjuncts whose first failure explains a failed condition (nested alls flattened)."""
    if node.kind != "all":
        return [node]
    out: list[Node] = []
    for child in node.children:
        out += condition_items(child)
    return out


def _expression(node: Node, variables: Mapping[str, str], env: dict[str, Any],
                counter: list[int]) -> str:
    if node.kind == "atom":
        atom = node.atoms[0]
        counter[0] += 1
        return atom_expression(f"A{counter[0]}_", atom, variables[atom.path], env)
    if node.kind == "not":
        return f"(not {_expression(node.children[0], variables, env, counter)})"
    parts = [_expression(c, variables, env, counter) for c in node.children]
    if not parts:
        return "True" if node.kind == "all" else "False"
    return "(" + (" and " if node.kind == "all" else " or ").join(parts) + ")"


def rule_check(cond: Node) -> tuple[RuleCheck, tuple[tuple[str, str], ...]]:
    """Generate the check of one rule's condition, and what each failure reports.

    Returns ``(check, failures)``: ``check(req, cv)`` is -1 when the condition holds and
    otherwise ``n``, where ``failures[n]`` is the (condition text, attribute path) that
    :meth:`~engine.policy.conditions.Node.failure` reports — the first conjunct that failed,
    an ``any`` or ``not`` whole at its first path. Conjuncts are evaluated left to right and
    stop at the first false one, so an EvalError propagates exactly when the closure's would.
    """
    env = helpers()
    paths = list(dict.fromkeys(a.path for a in cond.atoms))
    variables = {p: f"v{i}" for i, p in enumerate(paths)}
    lines = ["def check(req, cv):"]
    # Reads never raise (absent reads as None), so reading everything first is equivalent.
    for i, path in enumerate(paths):
        lines += read_lines(i, path, env)
    failures = []
    counter = [0]
    for n, item in enumerate(condition_items(cond)):
        lines.append(f"    if not {_expression(item, variables, env, counter)}:")
        lines.append(f"        return {n}")
        failures.append((item.text, item.atoms[0].path if item.atoms else ""))
    lines.append("    return -1")
    exec(compiled("\n".join(lines)), env)
    fn: RuleCheck = env.pop("check")  # not left in its own globals: no reference cycle
    return fn, tuple(failures)


def item_test(item: Node) -> Callable[[Any], bool]:
    """Generate ``test(value)`` for a condition item that reads a single attribute path.

    Truthy when the item holds for that value of its path; raises EvalError exactly where
    the item's part of :func:`rule_check` would.
    """
    env = helpers()
    path = item.atoms[0].path
    expression = _expression(item, {path: "v"}, env, [0])
    exec(compiled(f"def test(v):\n    return {expression}"), env)
    fn: Callable[[Any], bool] = env.pop("test")
    return fn


def condition_test(cond: Node) -> Callable[[Any, Mapping[str, Any]], bool]:
    """Generate ``test(request, counter values)`` for a whole condition: True when it holds.

    The same truth and the same EvalError as the condition's closure, as generated code.
    """
    env = helpers()
    paths = list(dict.fromkeys(a.path for a in cond.atoms))
    lines = ["def test(req, cv):"]
    for i, path in enumerate(paths):
        lines += read_lines(i, path, env)
    variables = {p: f"v{i}" for i, p in enumerate(paths)}
    lines.append(f"    return bool({_expression(cond, variables, env, [0])})")
    exec(compiled("\n".join(lines)), env)
    fn: Callable[[Any, Mapping[str, Any]], bool] = env.pop("test")
    return fn
