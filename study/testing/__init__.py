"""Helpers for tests and benchmarks that must live in the package (Ray workers import them by
module path): a stand-in trainable that sleeps instead of training. No product path uses it."""
