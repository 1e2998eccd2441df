"""Signal primitives shared by the runtime, the benchmarks and the trainers (numpy only)."""
