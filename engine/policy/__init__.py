"""The policy decision point: policy documents, compilation, decisions, sequences."""
