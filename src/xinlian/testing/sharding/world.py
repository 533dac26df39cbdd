"""A small sharded world with seeded keys, for tests and the simulation campaign.

k shard committees (BLS vote keys from a seed), client accounts with Ed25519 keys spread
over the shards, genesis balances, and the honest helpers: sign a transfer, certify a
shard header with a quorum of its committee's real keys, and build the claim that relays
a receipt. Never use these keys for a real chain: the seed gives every secret away.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from xinlian.consensus.certificates import Meter, VoteKey, combine
from xinlian.consensus.committee import Committee
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.sharding.assignment import shard_of
from xinlian.sharding.beacon import CrossLinks
from xinlian.sharding.ledger import BlockResult, ShardLedger
from xinlian.sharding.receipts import (
    CertifiedHeader,
    Claim,
    ShardHeader,
    SignedTransfer,
    Transfer,
    address_of,
    header_message,
    transfer_message,
)
from xinlian.testing.consensus.committees import local_committee

SUITE = get_suite("intl")
HASH = SUITE.hash_bytes


@dataclass
class Client:
    key: SigningKey
    address: bytes
    shard: int
    nonce: int = 0

    def transfer(self, to: bytes, amount: int) -> SignedTransfer:
        """The client's next transfer, signed (its nonce advances)."""
        t = Transfer(self.key.public_key, to, amount, self.nonce)
        self.nonce += 1
        return SignedTransfer(t, self.key.sign(transfer_message(t)))


@dataclass
class World:
    shards: int
    committees: list[tuple[Committee, dict[bytes, VoteKey]]]
    clients: list[Client]
    balance: int
    meter: Meter = field(default_factory=Meter)

    def committee_of(self, shard: int, epoch: int) -> Committee | None:
        """Each shard keeps its committee of epoch 0 (the campaign does not reshuffle)."""
        if epoch != 0 or not 0 <= shard < self.shards:
            return None
        return self.committees[shard][0]

    def links(self) -> CrossLinks:
        return CrossLinks(self.shards, self.committee_of, HASH)

    def ledgers(self) -> list[ShardLedger]:
        return [ShardLedger(s, self.shards, HASH,
                            {c.address: self.balance for c in self.clients if c.shard == s})
                for s in range(self.shards)]

    @property
    def supply(self) -> int:
        return self.balance * len(self.clients)

    def certify(self, header: ShardHeader, signers: int | None = None) -> CertifiedHeader:
        """The header certified by the first `signers` members (default: a quorum)."""
        committee, keys = self.committees[header.shard]
        message = header_message(header)
        count = committee.quorum if signers is None else signers
        votes = [(i, keys[node].sign(committee, message, self.meter))
                 for i, node in enumerate(committee.nodes[:count])]
        return CertifiedHeader(header, combine(committee, votes, self.meter))

    @staticmethod
    def claim(result: BlockResult, index: int, beacon_height: int) -> Claim:
        """The claim relaying receipt `index` of a block, cross-linked by `beacon_height`."""
        return Claim(result.receipts[index], result.header,
                     result.receipt_path(index, HASH), beacon_height)


def make_world(shards: int, members: int = 4, clients_per_shard: int = 3,
               balance: int = 1_000, seed: bytes = b"") -> World:
    """`shards` committees of `members` and `clients_per_shard` funded clients on each."""
    committees = [local_committee(members, seed=seed + b"/shard/%d" % s,
                                  nodes=[b"s%02d-node-%02d" % (s, i) for i in range(members)])
                  for s in range(shards)]
    by_shard: dict[int, list[Client]] = {s: [] for s in range(shards)}
    i = 0
    while any(len(c) < clients_per_shard for c in by_shard.values()):
        key = SUITE.generate_signing_key(hashlib.sha256(b"xinlian/testing/sharding/client/"
                                                        + seed + b"%d" % i).digest())
        i += 1
        address = address_of(key.public_key, HASH)
        home = shard_of(address, shards, HASH)
        if len(by_shard[home]) < clients_per_shard:
            by_shard[home].append(Client(key, address, home))
    clients = [c for s in range(shards) for c in by_shard[s]]
    return World(shards, committees, clients, balance)
