"""Renderings of the product's data for people and machines: reports, findings (JSON, SARIF)."""
