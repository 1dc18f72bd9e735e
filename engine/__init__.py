"""agentrange policy engine: model, policies, identity, decisions and audit; pure Python."""
