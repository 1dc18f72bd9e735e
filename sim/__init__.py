"""The agentrange discrete-event simulator: drives the engine through simpy scenarios."""
