"""Benchmarks: what they time, on which inputs, with the figures returned for the tools to print."""
