"""The benchmark's fixed estate: 5 roles, 20 tools, 11 resources in 5 data classes, 2 vendors.

Every workload (any seed, any size) runs against this estate; agents, rules and calls vary.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.model import SENSITIVITY_RANK


@dataclass(frozen=True)
class ToolSpec:
    """A tool: one action on some resources, with its egress."""

    id: str
    action: str
    egress: str
    risk: str
    resources: tuple[str, ...]


@dataclass(frozen=True)
class ResourceSpec:
    """A resource: records of one data class in one system."""

    id: str
    system: str
    data_class: str
    records: int


@dataclass(frozen=True)
class AgentSpec:
    """An agent: its roles (the first is its main role), kind and vendor."""

    name: str
    roles: tuple[str, ...]
    kind: str
    vendor: str | None


DATA_CLASSES: dict[str, str] = {
    "public-content": "public",
    "internal-docs": "internal",
    "financial": "confidential",
    "customer-pii": "restricted",
    "secrets": "restricted",
}

RESOURCES: tuple[ResourceSpec, ...] = (
    ResourceSpec("kb.articles", "kb", "public-content", 800),
    ResourceSpec("web.pages", "web", "public-content", 300),
    ResourceSpec("wiki.pages", "wiki", "internal-docs", 5_000),
    ResourceSpec("helpdesk.tickets", "helpdesk", "internal-docs", 20_000),
    ResourceSpec("cloud.logs", "cloud", "internal-docs", 50_000),
    ResourceSpec("ledger.entries", "ledger", "financial", 100_000),
    ResourceSpec("warehouse.sales", "warehouse", "financial", 2_000_000),
    ResourceSpec("crm.customers", "crm", "customer-pii", 250_000),
    ResourceSpec("warehouse.customers", "warehouse", "customer-pii", 1_000_000),
    ResourceSpec("vault.secrets", "vault", "secrets", 400),
    ResourceSpec("cloud.config", "cloud", "secrets", 150),
)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("kb.search", "read", "none", "low", ("kb.articles", "web.pages")),
    ToolSpec("kb.publish", "write", "external", "medium", ("kb.articles", "web.pages")),
    ToolSpec("wiki.read", "read", "none", "low", ("wiki.pages",)),
    ToolSpec("wiki.edit", "write", "none", "low", ("wiki.pages",)),
    ToolSpec("helpdesk.read", "read", "none", "low", ("helpdesk.tickets",)),
    ToolSpec("helpdesk.update", "write", "none", "medium", ("helpdesk.tickets",)),
    ToolSpec("crm.lookup", "read", "none", "medium", ("crm.customers",)),
    ToolSpec("crm.update", "write", "none", "medium", ("crm.customers",)),
    ToolSpec("crm.export", "export", "external", "critical", ("crm.customers",)),
    ToolSpec("ledger.read", "read", "none", "medium", ("ledger.entries",)),
    ToolSpec("payments.refund", "write", "external", "high", ("ledger.entries",)),
    ToolSpec("warehouse.query", "read", "none", "medium",
             ("warehouse.sales", "warehouse.customers")),
    ToolSpec("vault.read", "read", "none", "high", ("vault.secrets",)),
    ToolSpec("vault.rotate", "write", "none", "high", ("vault.secrets",)),
    ToolSpec("cloud.deploy", "write", "internal", "high", ("cloud.config",)),
    ToolSpec("cloud.logs", "read", "none", "low", ("cloud.logs",)),
    ToolSpec("email.send", "send", "external", "high",
             ("crm.customers", "helpdesk.tickets", "wiki.pages", "kb.articles",
              "ledger.entries")),
    ToolSpec("email.internal", "send", "internal", "low",
             ("wiki.pages", "helpdesk.tickets", "ledger.entries", "crm.customers")),
    ToolSpec("http.post", "send", "external", "high",
             ("wiki.pages", "warehouse.sales", "cloud.logs", "vault.secrets")),
    ToolSpec("slack.post", "send", "internal", "low",
             ("wiki.pages", "helpdesk.tickets", "cloud.logs")),
)

ROLES: dict[str, tuple[str, ...]] = {
    "support": ("kb.search", "helpdesk.read", "helpdesk.update", "crm.lookup", "crm.update",
                "email.send", "email.internal", "slack.post"),
    "finance": ("ledger.read", "payments.refund", "warehouse.query", "email.internal",
                "email.send", "wiki.read", "crm.lookup"),
    "devops": ("cloud.deploy", "cloud.logs", "vault.read", "vault.rotate", "wiki.read",
               "wiki.edit", "slack.post", "http.post"),
    "analyst": ("warehouse.query", "wiki.read", "kb.search", "crm.lookup", "ledger.read",
                "email.internal", "http.post"),
    "sales": ("crm.lookup", "crm.update", "crm.export", "email.send", "kb.search", "kb.publish",
              "warehouse.query"),
}
"""Each role's tool catalogue: what its agents mostly call (and what its role grants)."""

GUARDED_TOOLS: dict[str, str] = {
    "payments.refund": "finance",
    "vault.rotate": "devops",
    "cloud.deploy": "devops",
    "crm.export": "sales",
    "kb.publish": "sales",
}
"""Tools only agents holding the named role may use (separation of duties)."""

VENDORS = ("outsource-co", "helpdesk-saas")
TOOL_BY_ID = {t.id: t for t in TOOLS}
RESOURCE_BY_ID = {r.id: r for r in RESOURCES}
PREFIXES = sorted({t.id.split(".")[0] for t in TOOLS})
EXTERNAL_TOOLS = tuple(t.id for t in TOOLS if t.egress == "external")


def sensitivity(resource_id: str) -> int:
    """The sensitivity rank (0 public .. 3 restricted) of a resource's data class."""
    return SENSITIVITY_RANK[DATA_CLASSES[RESOURCE_BY_ID[resource_id].data_class]]


def tool_data_classes(tool_id: str) -> tuple[str, ...]:
    """The data classes a tool's resources hold, in declaration order."""
    out: list[str] = []
    for rid in TOOL_BY_ID[tool_id].resources:
        dc = RESOURCE_BY_ID[rid].data_class
        if dc not in out:
            out.append(dc)
    return tuple(out)


def tool_matches(pattern: str, tool_id: str) -> bool:
    """``*``, an exact tool id, or ``<prefix>.*`` (agentrange glob, Casbin keyMatch)."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return tool_id.startswith(pattern[:-1])
    return pattern == tool_id
