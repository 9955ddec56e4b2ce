"""Benchmarks that the repository can rerun (``python -m tests.benchmarks.<name>``)."""
