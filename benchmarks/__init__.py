"""Performance benchmarks: scripts that print medians and ratios (not timed tests)."""
