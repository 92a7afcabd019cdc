"""Synthetic enterprises and records for the demo, tests and benchmarks."""
