"""Benchmarks that print the figures quoted in README: `python -m bench.<name>`."""
