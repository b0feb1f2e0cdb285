"""Side-by-side benchmarks of omniload's parts against the tools users would pick instead."""
