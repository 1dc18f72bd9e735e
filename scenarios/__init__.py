"""Built-in scenarios: YAML files and their policies, shipped as package data."""
