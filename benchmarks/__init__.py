"""Benchmarks: each module prints one JSON object per line (see benchmarks.report)."""
