"""Sharding: shard committees from beacon randomness, cross-shard receipts, their security.

Sits at the consensus layer (docs/architecture.md): it builds on the BFT core's committees
and certificates and never imports the node. docs/sharding.md is the design.
"""
