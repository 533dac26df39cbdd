"""Planted short-id collisions: they break an unsalted scheme, not the per-link salted one.

An attacker who can predict short ids grinds two transactions with the same short id,
puts one in the victims' pools and gets the other into a block: every victim rebuilds
the wrong list and must fetch the whole block again (a stall per block, for everyone).
Grinding a collision costs about 2^(4 * width) hashes (birthday bound); the unsalted scheme
here is 3 bytes wide so that the test grinds in milliseconds; at the relay's 6 bytes the
grind is 2^24 hashes for an unsalted scheme, and impossible in advance for the salted one,
whose key depends on the link's secret nonces and the block id.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from functools import partial

from xinlian.network.relay.core import (
    BlockDelivered,
    PublishBlock,
    PublishTx,
    match_short_ids,
    short_id_key,
    short_ids,
    tx_id,
)
from xinlian.network.relay.messages import GetBlockTxs

from .test_relay_core import Net


def unsalted(ids: Sequence[bytes]) -> list[int]:
    return [int.from_bytes(i[:3], "little") for i in ids]


def planted_pair() -> tuple[bytes, bytes]:
    seen: dict[int, bytes] = {}
    k = 0
    while True:
        tx = b"attacker-%d" % k
        sid = unsalted([tx_id(tx)])[0]
        if sid in seen:
            return seen[sid], tx
        seen[sid] = tx
        k += 1


def test_the_planted_pair_collides_unsalted_and_misleads_reconstruction() -> None:
    decoy, real = planted_pair()
    honest = [tx_id(b"honest-%d" % i) for i in range(50)]
    block = [*honest, tx_id(real)]
    pool = [*honest, tx_id(decoy)]  # the victim holds the decoy, not the real one
    rebuilt = match_short_ids(unsalted(block), pool, unsalted)
    assert rebuilt[-1] == tx_id(decoy) != tx_id(real)


def test_salted_short_ids_keep_the_planted_pair_apart_on_every_link() -> None:
    decoy, real = planted_pair()
    honest = [tx_id(b"honest-%d" % i) for i in range(50)]
    block = [*honest, tx_id(real)]
    pool = [*honest, tx_id(decoy)]
    rng = random.Random(5)
    for _ in range(200):
        key = short_id_key(rng.randbytes(16), hashlib.sha256(rng.randbytes(8)).digest())
        salted = short_ids(key, [tx_id(decoy), tx_id(real)])
        assert salted[0] != salted[1]
        rebuilt = match_short_ids(short_ids(key, block), pool, partial(short_ids, key))
        assert rebuilt == [*honest, None]  # the real one is simply missing: fetch just it


def test_a_relay_node_holding_the_decoy_rebuilds_the_block_without_a_full_refetch() -> None:
    decoy, real = planted_pair()
    net = Net(2)
    net.connect(0, 1)
    net.run_ms(1_000)
    honest = tuple(b"honest-%d" % i for i in range(20))
    for tx in (*honest, decoy):
        net.sim.input(1, net.sim.now_us, PublishTx(tx))
    net.run_ms(10)
    net.sent.clear()
    net.sim.input(0, net.sim.now_us, PublishBlock(b"h", (*honest, real)))
    net.run_ms(1_000)
    assert [m.indexes for m in net.sent if isinstance(m, GetBlockTxs)] == [[20]]
    assert net.cores[1].collisions == 0
    blocks = [v for n, v in net.delivered if n == 1 and isinstance(v, BlockDelivered)]
    assert blocks[0].txs == (*honest, real)
