"""Subcommands of the ``agentrange`` command line, one module per command."""
