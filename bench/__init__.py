"""Benchmarks: each measures hostapp against a baseline in the same run (see bench/README.md)."""
