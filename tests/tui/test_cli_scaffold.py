"""``agentrange scaffold``: from MCP tools or a starter, the result validates and checks."""

from __future__ import annotations

import json

from tui.cli import main

TOOLS = {"jsonrpc": "2.0", "id": 1, "result": {"tools": [
    {"name": "search_issues", "inputSchema": {"type": "object"},
     "annotations": {"readOnlyHint": True, "openWorldHint": False}},
    {"name": "create issue!", "inputSchema": {"type": "object"},
     "annotations": {"destructiveHint": False, "openWorldHint": False}},
    {"name": "delete_repo", "inputSchema": {"type": "object"}},
]}}


def test_mcp_tools_scaffold_validates_and_checks_with_missing_owners(tmp_path, capsys):
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(TOOLS))
    out = tmp_path / "new" / "scenario.yaml"
    assert main(["scaffold", "--mcp", str(tools), "-o", str(out), "--name", "gh"]) == 0
    text = out.read_text()
    assert "derived from untrusted hints" in text
    assert "action: read" in text and "action: write" in text and "action: delete" in text
    assert "id: \"create-issue\"" in text
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["check", str(out), "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert "agent-owners" in json.dumps(findings)


def test_plain_scaffold_writes_a_starter_that_validates(tmp_path):
    out = tmp_path / "scenario.yaml"
    assert main(["scaffold", "-o", str(out)]) == 0
    assert (tmp_path / "policies" / "starter.yaml").exists()
    assert main(["validate", str(out)]) == 0


def test_scaffold_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "scenario.yaml"
    out.write_text("keep")
    assert main(["scaffold", "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == "keep"


def test_bad_tools_files_are_one_line_errors(tmp_path, capsys):
    for content, expected in (("not json", "tools.json"),
                              ('{"tools": [{"name": 3}]}', "tools[0].name"),
                              ('{"tools": [{"name": "x", "annotations": {"readOnlyHint": "y"}}]}',
                               "readOnlyHint"),
                              ("[" * 10000 + "]" * 10000, "deep")):
        tools = tmp_path / "tools.json"
        tools.write_text(content)
        assert main(["scaffold", "--mcp", str(tools)]) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err
