"""Consensus harnesses: local committees, the simulated consensus network, Byzantine
behaviours, the seed campaign and the performance model."""
