"""`make benchmark` (or `python -m benchmarks`): figures for the speed and memory targets."""
