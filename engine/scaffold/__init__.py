"""Scaffolding new scenarios from an MCP server's tools or a commented starter.

:mod:`engine.scaffold.mcp` reads the tools; :mod:`engine.scaffold.documents` writes the texts.
"""
