"""The sharded simulation harness: committees of real cores, cross-shard transfers done."""

from __future__ import annotations

from xinlian.consensus.core import Config
from xinlian.testing.sharding.simnet import CLAIM, ShardedSim, chunk, read_chunks

COSTS = {"bls_sign": 365.0, "bls_pairing": 599.0, "bls_pk_add": 1.7, "bls_sig_add": 85.0,
         "hash_bytes": 0.00055}


def test_chunks_round_trip() -> None:
    payload = chunk(7, 3, 100, CLAIM, 2) + chunk(9, 1, 10, 0, 0)
    assert read_chunks(payload) == [(7, 3, CLAIM, 2), (9, 1, 0, 0)]


def test_cross_shard_transfers_complete_after_their_intra_shard_peers() -> None:
    net = ShardedSim(3, shards=2, size=4, beacon_size=4, costs=COSTS,
                     config=Config(batch_delay_ms=20), one_way_ms=25,
                     nic_bytes_per_s=100e6 / 8)
    net.load(2000, 0.3, 0, 1500)
    net.sim.run_until(2500)
    intra = sum(c for _, _, c in net.tally.intra)
    cross = sum(c for _, _, c in net.tally.cross)
    debited = sum(count for debits in net.links for _, count, _ in debits)
    assert intra > 0 and 0 < cross <= debited  # never more done than were debited
    # a cross-shard transfer waits for three commits (source, beacon, destination)
    fastest_cross = min(lat for _, lat, _ in net.tally.cross)
    assert fastest_cross > 2 * min(lat for _, lat, _ in net.tally.intra)
