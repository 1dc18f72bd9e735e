"""An MCP server's ``tools/list`` result as data for a new scenario: tools from annotations.

MCP tool annotations are hints the server itself declares, so untrusted: every tool made from
them says so in its description. The mapping (MCP's defaults when a hint is absent:
readOnlyHint false, destructiveHint true, openWorldHint true):

- readOnlyHint true -> action ``read``; else destructiveHint (default true) -> ``delete``,
  else ``write``;
- openWorldHint (default true) -> egress ``external``, else ``none``;
- risk: ``low`` for a closed-world read, ``medium`` for an open-world read or a closed-world
  write, ``high`` for a delete or an open-world write.

Reading is bounded: at most :data:`MAX_BYTES` bytes, nesting at most 64 deep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.audit.lines import JsonLineError, parse_json
from engine.errors import LoadError

MAX_BYTES = 16 * 1024 * 1024
MAX_TOOLS = 2000
TOOLS_FILE = ("an MCP tools/list result: {\"tools\": [{\"name\", \"inputSchema\", "
              "\"annotations\"...}]} or the JSON-RPC response holding it")
_ID_BAD = re.compile(r"[^A-Za-z0-9._-]+")


class ScaffoldError(LoadError):
    """An MCP tools file that cannot be turned into a scenario (file, place, expected)."""


@dataclass(frozen=True)
class McpTool:
    """One MCP tool and what its annotations say.

    Attributes:
        name: The MCP name.
        id: The scenario tool id made from it (unique within the list).
        title, description: As the server gives them.
        action, egress, risk: Derived from the annotations (see the module docstring).
        hints: The annotations as given (only the four hints this mapping reads).
        parameters: The names of the input schema's properties.
    """

    name: str
    id: str
    title: str
    description: str
    action: str
    egress: str
    risk: str
    hints: Mapping[str, bool]
    parameters: tuple[str, ...]


def read_tools(path: str | Path) -> list[McpTool]:
    """Read an MCP ``tools/list`` result (bare, or inside a JSON-RPC response).

    Raises:
        ScaffoldError: naming the file and the tool (``tools[3].annotations``) that is not
            what MCP describes.
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScaffoldError(name, TOOLS_FILE, found=exc.strerror or str(exc)) from None
    if len(raw) > MAX_BYTES:
        raise ScaffoldError(name, f"a tools file of at most {MAX_BYTES:,} bytes", found="more")
    try:
        document = parse_json(raw)
    except JsonLineError as exc:
        raise ScaffoldError(name, TOOLS_FILE, column=exc.column,
                            found=f"a file that {exc.problem}") from None
    where = "tools"
    if isinstance(document, dict) and isinstance(document.get("result"), dict):
        document, where = document["result"], "result.tools"
    tools = document.get("tools") if isinstance(document, dict) else document
    if not isinstance(tools, list):
        raise ScaffoldError(name, TOOLS_FILE, path=where, found=_kind(tools))
    if not tools:
        raise ScaffoldError(name, "at least one tool", path=where, found="an empty list")
    if len(tools) > MAX_TOOLS:
        raise ScaffoldError(name, f"at most {MAX_TOOLS} tools", path=where,
                            found=f"{len(tools)}")
    out: list[McpTool] = []
    seen: set[str] = set()
    for i, item in enumerate(tools):
        out.append(_tool(name, f"{where}[{i}]", item, seen))
    return out


def _tool(file: str, where: str, item: Any, seen: set[str]) -> McpTool:
    if not isinstance(item, dict):
        raise ScaffoldError(file, "a tool object", path=where, found=_kind(item))
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScaffoldError(file, "a tool with a 'name' string", path=f"{where}.name",
                            found=repr(name))
    schema = item.get("inputSchema", {})
    if not isinstance(schema, dict):
        raise ScaffoldError(file, "an 'inputSchema' object (a JSON Schema)",
                            path=f"{where}.inputSchema", found=_kind(schema))
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise ScaffoldError(file, "'properties' as an object", path=f"{where}.inputSchema",
                            found=_kind(props))
    notes = item.get("annotations") or {}
    if not isinstance(notes, dict):
        raise ScaffoldError(file, "an 'annotations' object", path=f"{where}.annotations",
                            found=_kind(notes))
    hints: dict[str, bool] = {}
    for hint in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"):
        if hint in notes:
            if not isinstance(notes[hint], bool):
                raise ScaffoldError(file, f"'{hint}' true or false",
                                    path=f"{where}.annotations.{hint}",
                                    found=repr(notes[hint]))
            hints[hint] = notes[hint]
    read_only = hints.get("readOnlyHint", False)
    action = "read" if read_only else ("delete" if hints.get("destructiveHint", True)
                                       else "write")
    egress = "external" if hints.get("openWorldHint", True) else "none"
    risk = ("low" if action == "read" and egress == "none" else
            "medium" if action == "read" or (action == "write" and egress == "none") else
            "high")
    base = _ID_BAD.sub("-", name.strip()).strip("-._")[:100] or "tool"
    if not base[0].isalnum():
        base = f"t{base}"
    tool_id, n = base, 2
    while tool_id in seen:
        tool_id, n = f"{base}-{n}", n + 1
    seen.add(tool_id)
    title = item.get("title") or notes.get("title") or ""
    description = item.get("description") or ""
    return McpTool(name, tool_id, str(title), str(description), action, egress, risk, hints,
                   tuple(str(p) for p in props))


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return f"an object with keys {', '.join(map(repr, sorted(value)[:6])) or 'none'}"
    return f"a JSON {type(value).__name__}"
