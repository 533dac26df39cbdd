"""Deterministic discrete-event runtime for the sans-I/O protocol cores."""
