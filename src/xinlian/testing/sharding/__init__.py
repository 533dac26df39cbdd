"""Harnesses for sharding: a seeded sharded world and the cross-shard simulation campaign."""
