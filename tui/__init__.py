"""The terminal faces of agentrange: the Textual dashboard and the command line."""
