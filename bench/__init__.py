"""Benchmarks: latency, real-time factor, quality."""
