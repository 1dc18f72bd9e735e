"""The files a scaffold writes: a scenario and its starter policy, as commented YAML text.

:func:`from_mcp` makes them from MCP tools (:mod:`engine.scaffold.mcp`): the tools, one role
granting them, a placeholder agent whose owners are left for the team to fill in (so
``agentrange check`` reports them missing until they are), and a policy that allows reads
and sends writes, deletes and external calls to approval. :func:`starter` is the same shape
with one example tool, every section commented. Strings are written as JSON strings, which
YAML reads as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from engine.scaffold.mcp import McpTool

POLICY_FILE = "policies/starter.yaml"


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def from_mcp(tools: Sequence[McpTool], name: str, source: str) -> tuple[str, str]:
    """The scenario and policy texts for these tools.

    Args:
        tools: The tools read from the server's ``tools/list``.
        name: The scenario name.
        source: Where the tools came from (named in the header comment).
    """
    lines = [
        f"# Scaffolded by `agentrange scaffold --mcp` from {source}.",
        "# Tool actions, egress and risk are DERIVED FROM UNTRUSTED HINTS: the MCP server's own",
        "# annotations (readOnlyHint, destructiveHint, idempotentHint, openWorldHint). Check each",
        "# one, add the resources each tool touches, and fill in the agent's owners:",
        "# `agentrange check` reports them missing until you do.",
        f"name: {_q(name)}",
        f"title: {_q(f'Agents using the MCP tools of {source}')}",
        "trust_domain: example.org  # your SPIFFE trust domain",
        "seed: 1",
        "duration: 8h",
        "default_profile: starter",
        "",
        "owners: []  # add {id, name, contact} for the agent's business, security and "
        "incident owners",
        "",
        "tools:",
    ]
    for t in tools:
        hints = ", ".join(f"{k}={str(v).lower()}" for k, v in t.hints.items()) or \
            "no annotations (MCP defaults: not read-only, destructive, open world)"
        about = ": ".join(x for x in (t.title, t.description) if x).strip()
        description = (f"{about} " if about else "") + \
            f"[MCP tool {t.name!r}; derived from untrusted hints: {hints}]"
        lines += [f"  - id: {_q(t.id)}",
                  f"    action: {t.action}",
                  f"    egress: {t.egress}",
                  f"    risk: {t.risk}",
                  f"    description: {_q(description)}"]
        if t.parameters:
            lines.append(f"    # parameters: {', '.join(t.parameters)}")
    lines += [
        "",
        "roles:",
        "  - id: mcp-client",
        "    description: Every tool the MCP server lists",
        f"    tools: [{', '.join(_q(t.id) for t in tools)}]",
        "",
        "agents:",
        "  - name: mcp-agent",
        "    description: A placeholder for the agent that uses these tools; rename it",
        "    # owners: {business: ..., security: ..., incident: ...}  (ids from owners above)",
        "    roles: [mcp-client]",
        "    intent: Use the MCP server's tools",
        "    tasks:",
        "      - id: use-tools",
        "        intent: One pass over the server's tools (replace with the agent's real tasks)",
        "        arrival: {kind: fixed, interval: 1h}",
        "        steps:",
        *(f"          - {{tool: {_q(t.id)}, records: 1}}" for t in tools),
        "",
        "profiles:",
        "  - id: starter",
        "    description: Fifteen-minute task-scoped tokens; reads allowed, the rest approved",
        "    credentials: {mode: jit, ttl: 15m, scope: task, revoke_on_completion: true}",
        f"    policy: {POLICY_FILE}",
    ]
    reads = [t.id for t in tools if t.action == "read" and t.egress != "external"]
    others = [t.id for t in tools if t.id not in reads]
    policy = [
        "# Starter policy scaffolded from MCP tool annotations (untrusted hints): closed-world",
        "# reads are allowed; writes, deletes and open-world calls need an approval.",
        "policy: starter",
        "description: Reads allowed; everything that changes or leaves the estate approved",
        "rules:",
    ]
    if reads:
        policy += ["  - id: reads",
                   "    description: Closed-world reads the server marks read-only",
                   "    envelope: security",
                   "    effect: allow",
                   f"    target: {{tools: [{', '.join(_q(i) for i in reads)}]}}"]
    if others:
        policy += ["  - id: changes-need-approval",
                   "    description: Writes, deletes and open-world calls (by the server's "
                   "hints)",
                   "    envelope: business",
                   "    effect: require_approval",
                   f"    target: {{tools: [{', '.join(_q(i) for i in others)}]}}"]
    return "\n".join(lines) + "\n", "\n".join(policy) + "\n"


def starter(name: str) -> tuple[str, str]:
    """A commented starter scenario with one example tool, and its policy."""
    example = McpTool("lookup", "crm.lookup_customer", "", "Look up one customer record",
                      "read", "none", "low", {}, ())
    scenario, policy = from_mcp([example], name, "nothing (a starter)")
    header = (
        "# A starter scenario (`agentrange scaffold`). Fill in, then:\n"
        "#   agentrange validate scenario.yaml && agentrange check scenario.yaml\n"
        "#   agentrange run scenario.yaml\n"
        "# Sections: owners (people and functions accountable), tools (what agents call:\n"
        "# action, egress none|internal|external, risk), resources and data_classes (what tools\n"
        "# touch), roles (tool grants), agents (with business, security and incident owners,\n"
        "# roles and tasks of steps), profiles (credentials and a policy file each). The\n"
        "# scenario format: `agentrange schema`.\n")
    body = scenario.split("\n", 5)[5]
    return header + body.replace(
        "title: \"Agents using the MCP tools of nothing (a starter)\"",
        "title: \"A starter scenario\""), policy
