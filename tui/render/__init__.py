"""Renderings of the product's data for people and machines (Markdown, HTML, SARIF, tables)."""
