"""Who serves where: accounts to shards, and nodes to committees from beacon randomness.

An account's shard is a hash of its address modulo the shard count, fixed at genesis. Nodes
are dealt to committees each epoch by a Fisher-Yates shuffle whose indices are drawn from a
SHAKE-256 stream of the epoch's beacon randomness (a threshold-BLS signature, unique, hence
unbiasable: `epoch_randomness`). Rejection sampling keeps every index uniform, so given the
randomness every permutation is equally likely, which is what the hypergeometric analysis
in security.py assumes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xinlian.crypto.threshold import tbls
from xinlian.sharding.errors import InvalidParameters

SHARD_DOMAIN = b"xinlian/shard/"
SHUFFLE_DOMAIN = b"xinlian/shard/shuffle/"


def shard_of(address: bytes, shards: int, hash_bytes: Callable[[bytes], bytes]) -> int:
    """The shard holding `address` (hash_bytes: the chain suite's hash). 64 bits of the hash
    modulo at most 1,024 shards: the bias is below 2^-54."""
    if not 1 <= shards <= 1024:
        raise InvalidParameters(f"1..1024 shards, not {shards}")
    return int.from_bytes(hash_bytes(SHARD_DOMAIN + address)[:8], "big") % shards


def epoch_randomness(group_key: bytes, epoch: int, previous_signature: bytes,
                     signature: bytes) -> bytes:
    """The randomness of `epoch`: beacon round `epoch` of the validators' threshold-BLS key,
    checked (raises tbls.InvalidBeaconError unless the signature verifies)."""
    return tbls.verify_beacon(group_key, epoch, previous_signature, signature)


class _Stream:
    """Uniform integers below a bound from SHAKE-256 of a seed."""

    def __init__(self, seed: bytes) -> None:
        self._shake = hashlib.shake_256(seed)
        self._taken = 0
        self._buffer = b""

    def _bytes(self, k: int) -> bytes:
        if len(self._buffer) < k:
            more = max(4096, k)
            self._buffer += self._shake.digest(self._taken + more)[self._taken:]
            self._taken += more
        out, self._buffer = self._buffer[:k], self._buffer[k:]
        return out

    def below(self, bound: int) -> int:
        """Uniform in [0, bound): draw 8 bytes, reject the top partial range."""
        span = 2**64
        limit = span - span % bound
        while True:
            value = int.from_bytes(self._bytes(8), "big")
            if value < limit:
                return value % bound


def shuffle(items: Sequence[bytes], seed: bytes) -> list[bytes]:
    """A uniformly random permutation of `items` determined by `seed` (Fisher-Yates)."""
    out = list(items)
    stream = _Stream(seed)
    for i in range(len(out) - 1, 0, -1):
        j = stream.below(i + 1)
        out[i], out[j] = out[j], out[i]
    return out


@dataclass(frozen=True)
class Assignment:
    """One epoch's committees: the beacon's, each shard's (index = shard), the standbys."""

    epoch: int
    beacon: tuple[bytes, ...]
    shards: tuple[tuple[bytes, ...], ...]
    standby: tuple[bytes, ...]

    def shard_of_node(self, node: bytes) -> int | None:
        """The shard `node` serves this epoch (None: beacon or standby)."""
        return next((s for s, members in enumerate(self.shards) if node in members), None)


def assign(epoch: int, nodes: Sequence[bytes], randomness: bytes, shards: int,
           size: int) -> Assignment:
    """Deal `nodes` into a beacon committee and `shards` shard committees of `size` each."""
    if len(set(nodes)) != len(nodes):
        raise InvalidParameters("a node is listed twice")
    if shards < 1 or size < 1 or (shards + 1) * size > len(nodes):
        raise InvalidParameters(f"{shards} shards and a beacon of {size} members each do not "
                                f"fit in {len(nodes)} nodes")
    order = shuffle(sorted(nodes), SHUFFLE_DOMAIN + epoch.to_bytes(8, "big") + randomness)
    committees = tuple(tuple(order[i * size:(i + 1) * size]) for i in range(shards + 1))
    return Assignment(epoch, committees[0], committees[1:], tuple(order[(shards + 1) * size:]))


def movers(old: Assignment, new: Assignment) -> dict[bytes, int]:
    """Nodes that serve a shard in `new` other than the one they served in `old` (or none),
    with their new shard: each must fetch that shard's state before the epoch starts."""
    out = {}
    for shard, members in enumerate(new.shards):
        for node in members:
            if old.shard_of_node(node) != shard:
                out[node] = shard
    return out
