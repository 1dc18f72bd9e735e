"""Renderers: the engine's plain data shaped for people and tools (JSON, SARIF)."""
