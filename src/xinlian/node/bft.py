"""A validator node: admission as in solo mode, ordering by BFT consensus over the network.

Theory of operation. Clients submit to any validator; it admits transactions into its
mempool exactly as a solo node does (checks, batch signature verification on all cores)
and forwards the executable ones (consecutive nonces, not yet forwarded) to the consensus
core as one opaque batch payload. The core (consensus/) disseminates batches, orders their
availability certificates and delivers `Committed` blocks, then each batch's bytes
(`BatchReady`) in commit order. The node applies committed blocks one by one in their own
task: batch contents come from other validators, so they are untrusted input — decoded,
signature-verified in one batch, de-duplicated — then executed deterministically into the
next ledger block. Every validator therefore builds the same ledger: the header's proposer
is the round's leader and its timestamp the median of the batches' author timestamps (never
below the parent's); each node signs the header it stores, attesting it to its clients.

A committed block and the marker of the consensus block it came from are written in one
atomic commit. On restart, consensus blocks committed above that marker are applied again
from the core's persisted blocks and batches before the node serves.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import deque
from pathlib import Path

from xinlian import codec
from xinlian.codec import Struct
from xinlian.consensus.certificates import VoteKey
from xinlian.consensus.committee import Committee, EpochRoot, Member
from xinlian.consensus.core import (
    Committed,
    ConsensusCore,
    EpochStarted,
    Reconfigure,
    Submit,
)
from xinlian.consensus.dissemination import BatchReady
from xinlian.consensus.messages import BatchMsg
from xinlian.crypto import batch as batch_verify
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite
from xinlian.errors import XinlianError
from xinlian.execution.system import validators
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import BLS_CONSENSUS_SUITES, Genesis, Validator
from xinlian.ledger.transaction import Transaction, decode_transaction
from xinlian.network.membership import Membership, PeerInfo
from xinlian.network.runtime import NetworkRuntime, persisted
from xinlian.network.transport import Transport
from xinlian.node.chain import CONSENSUS_DB, NODE_META_DB
from xinlian.node.errors import NodeConfigError
from xinlian.node.service import Node, now_ms
from xinlian.storage.kv import WriteBatch

_APPLIED = b"consensus_applied"
MAX_FORWARD = 5000


class BatchPayload(Struct):
    """What a validator puts in a consensus batch: its clock and admitted transactions."""

    timestamp_ms: int
    txs: list[bytes]


class Applied(Struct):
    """The last consensus block applied to the ledger."""

    height: int
    block_id: bytes


def committee_of(suite: Suite, members: list[Validator], epoch: int) -> Committee:
    return Committee(epoch, suite.name, suite.name in BLS_CONSENSUS_SUITES,
                     [Member(address_of(v.node_key, suite.hash_bytes), v.power,
                             v.consensus_key, v.pop) for v in members])


def membership_of(suite: Suite, members: list[Validator]) -> Membership:
    peers = []
    for v in members:
        host, _, port = v.endpoint.rpartition(":")
        if not host or not port.isdigit():
            raise NodeConfigError(f"validator endpoint {v.endpoint!r} is not host:port")
        peers.append(PeerInfo(v.node_key, host, int(port)))
    return Membership(suite, peers)


def genesis_root(genesis: Genesis) -> EpochRoot:
    suite = genesis.crypto_suite()
    return EpochRoot(committee_of(suite, genesis.validators, 0), 0, genesis.hash())


class BftNode(Node):
    """A validator of a BFT chain (genesis lists validators); see the module docstring."""

    def __init__(self, data_dir: Path, genesis: Genesis, key: SigningKey, vote_secret: bytes,
                 *, listen: tuple[str, int] | None = None) -> None:
        if not genesis.validators:
            raise NodeConfigError("a BFT node needs validators in the genesis")
        super().__init__(data_dir, genesis, key)
        suite = self.suite
        vote_key = (VoteKey(bls_secret=vote_secret) if suite.name in BLS_CONSENSUS_SUITES
                    else VoteKey(suite_key=suite.load_signing_key(vote_secret)))
        self.node_id = address_of(key.public_key, suite.hash_bytes)
        stored = persisted(self.chain.store, CONSENSUS_DB)
        self.core = ConsensusCore(self.node_id, vote_key, genesis_root(genesis), stored=stored)
        self._validators: dict[bytes, Validator] = {}
        self._learn_validators()
        members = [self._validators[bytes(m.node)] for m in self.core.committee.members]
        self.transport = Transport(suite, key, membership_of(suite, members), listen=listen)
        self.runtime = NetworkRuntime(self.core, self.transport, self.chain.store,
                                      deliver=self._deliver, db=CONSENSUS_DB)
        self._blocks: deque[Committed] = deque()
        self._ready: dict[bytes, bytes] = {}  # digest -> batch payload, until applied
        self._forwarded: set[bytes] = set()
        self._more = asyncio.Event()
        self._applier: asyncio.Task[None] | None = None
        raw = self.chain.store.get(NODE_META_DB, _APPLIED)
        self.applied = (codec.decode(raw, Applied) if raw else
                        Applied(genesis_root(genesis).height, genesis.hash()))

    def _learn_validators(self) -> None:
        for v in [*self.genesis.validators, *validators(self.chain.read)]:
            self._validators[address_of(v.node_key, self.suite.hash_bytes)] = v

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self._replay()
        self._applier = asyncio.create_task(self._apply_loop(), name="bft-apply")
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()
        if self._applier is not None:
            self._applier.cancel()
            await asyncio.gather(self._applier, return_exceptions=True)
            self._applier = None
        await super().stop()

    async def _replay(self) -> None:
        """Apply consensus blocks committed before a crash but not yet in the ledger."""
        if self.core.committed_height <= self.applied.height:
            return
        chain, missing = self.core.tree.chain(self.core.committed_id, self.applied.block_id,
                                              self.applied.height)
        if missing is not None:
            raise NodeConfigError("committed consensus blocks are missing from the store")
        seen: set[bytes] = set()
        for bid, block in chain:
            digests = [bytes(c.digest) for c in block.payload if bytes(c.digest) not in seen]
            seen.update(digests)
            payloads = {}
            for digest in digests:
                message = self.core.pool.stored.get(digest)
                if message is None:
                    raise NodeConfigError("a committed batch is missing from the store")
                payloads[digest] = codec.decode(message, BatchMsg).batch.payload
            await self._apply(Committed(block.epoch, block.height, block.round, bid,
                                        tuple(digests), 0, block.reconfig), payloads)

    # -- from the consensus core -------------------------------------------------------

    def _deliver(self, value: object) -> None:
        if isinstance(value, Committed):
            self._blocks.append(value)
        elif isinstance(value, BatchReady):
            self._ready[value.digest] = value.batch.payload
        elif isinstance(value, EpochStarted):
            self._learn_validators()
            members = [self._validators[bytes(m.node)] for m in value.root.committee.members
                       if bytes(m.node) in self._validators]
            self.transport.set_membership(membership_of(self.suite, members))
        self._more.set()

    async def _apply_loop(self) -> None:
        while True:
            self._more.clear()
            while self._blocks and all(d in self._ready for d in self._blocks[0].digests):
                block = self._blocks.popleft()
                await self._apply(block, {d: self._ready.pop(d) for d in block.digests})
            await self._more.wait()

    async def _apply(self, committed: Committed, payloads: dict[bytes, bytes]) -> None:
        """Turn one committed consensus block into the next ledger block."""
        raws: list[bytes] = []
        stamps: list[int] = []
        for digest in committed.digests:
            try:
                payload = codec.decode(payloads[digest], BatchPayload)
            except codec.CodecError:
                continue  # a Byzantine author's junk batch: every node skips it alike
            stamps.append(payload.timestamp_ms)
            raws.extend(payload.txs)
        txs = await self._valid_transactions(raws)
        head = self.chain.head
        assert head is not None
        timestamp = max(head.header.timestamp_ms,
                        int(statistics.median_low(stamps)) if stamps else 0)
        batch = WriteBatch()
        batch.put(NODE_META_DB, _APPLIED,
                  codec.encode(Applied(committed.height, committed.block_id)))
        prepared, receipts = self._build(txs, timestamp, batch, self._leader_key(committed))
        await asyncio.get_running_loop().run_in_executor(
            self._committer, self.chain.store.commit, batch)
        self.applied = Applied(committed.height, committed.block_id)
        self._publish(prepared, receipts)
        self._forwarded = {h for h in self._forwarded if h in self.mempool}
        if committed.reconfig is None:
            self._reconfigure_if_changed()
        self._forward()

    async def _valid_transactions(self, raws: list[bytes]) -> list[Transaction]:
        """Decodable, correctly signed, first occurrence only: the same on every node."""
        decoded: dict[bytes, Transaction] = {}
        for raw in raws:
            try:
                tx = decode_transaction(raw, self.genesis.chain_id, self.suite.hash_bytes,
                                        self.genesis.params.max_tx_size)
            except XinlianError:
                continue
            decoded.setdefault(tx.hash, tx)
        txs = list(decoded.values())
        valid = await asyncio.get_running_loop().run_in_executor(
            None, batch_verify.verify_batch, [tx.verify_item() for tx in txs])
        return [tx for tx, ok in zip(txs, valid, strict=True) if ok]

    def _leader_key(self, committed: Committed) -> PublicKey:
        committee = self.core.committee
        if committee.epoch == committed.epoch:
            validator = self._validators.get(committee.leader(committed.round))
            if validator is not None:
                return validator.node_key
        return self.key.public_key  # a block of an epoch this node no longer tracks

    def _reconfigure_if_changed(self) -> None:
        """Governance changed the validator set: propose it as the next epoch's committee."""
        current = validators(self.chain.read)
        committee = committee_of(self.suite, current, self.core.epoch + 1)
        if committee.members != self.core.committee.members:
            self._learn_validators()
            self.runtime.input(Reconfigure(committee))

    # -- to the consensus core ---------------------------------------------------------

    def _on_admitted(self, txs: list[Transaction]) -> None:
        self._forward()

    def _excluded(self, excluded: list[tuple[Transaction, str]]) -> None:
        # Left out as not yet executable (say a nonce arrived before its predecessor):
        # forward it again once it can run.
        for tx, _ in excluded:
            self._forwarded.discard(tx.hash)

    def _forward(self) -> None:
        """Hand consensus the pending transactions that can execute and were not sent yet."""
        fresh = [tx for tx in self.mempool.select(MAX_FORWARD + len(self._forwarded))
                 if tx.hash not in self._forwarded][:MAX_FORWARD]
        if not fresh:
            return
        self._forwarded.update(tx.hash for tx in fresh)
        payload = codec.encode(BatchPayload(now_ms(), [tx.raw for tx in fresh]))
        self.runtime.input(Submit(payload, len(fresh)))
