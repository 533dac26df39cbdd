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

Joining. A node that is not a genesis validator and has never run consensus catches up
from a state snapshot before it starts (`catch_up`, the protocol in statesync.py): the
proven epoch root it joins at, the ledger block that epoch starts on (attested by more
than 1/3 of the committee's power) and the state under it are written in one commit, with
the epoch proofs and blocks a member that lived through those epochs would hold; then it
runs as any member, from that root. Every validator answers those requests (`serve`), from
its consensus store and from the ledger block recorded when each epoch started.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
from collections import deque
from pathlib import Path

from xinlian import codec
from xinlian.codec import Struct
from xinlian.consensus import blocks as consensus_blocks
from xinlian.consensus.blocks import block_id
from xinlian.consensus.certificates import VoteKey
from xinlian.consensus.committee import Committee, EpochRoot, Member
from xinlian.consensus.core import (
    EPOCH_KEY,
    PROOF_PREFIX,
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
from xinlian.ledger import merkle
from xinlian.ledger.account import address_of
from xinlian.ledger.block import Block as LedgerBlock
from xinlian.ledger.block import header_hash, sign_header
from xinlian.ledger.errors import LedgerError
from xinlian.ledger.genesis import Genesis, Validator
from xinlian.ledger.transaction import Transaction, decode_transaction
from xinlian.network.membership import Membership, PeerInfo
from xinlian.network.runtime import NetworkRuntime, persisted
from xinlian.network.shaper import ShapeFor
from xinlian.network.transport import Transport
from xinlian.node import statesync
from xinlian.node.chain import CONSENSUS_DB, NODE_META_DB, ChainStore
from xinlian.node.errors import NodeConfigError
from xinlian.node.service import Node, now_ms
from xinlian.protocol import NodeId
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.snapshot import Chunk, read_chunk

_APPLIED = b"consensus_applied"
_EPOCH_LEDGER = b"epoch_ledger/"  # + epoch: the ledger height that epoch starts on
MAX_FORWARD = 5000


class BatchPayload(Struct):
    """What a validator submits to consensus: its clock and admitted transactions."""

    timestamp_ms: int
    txs: list[bytes]


_FRAME = struct.Struct(">I")


def frame_payload(payload: BatchPayload) -> bytes:
    """A Submit's bytes. Dissemination joins the Submits that fall into one batch end to
    end, so each carries its length."""
    data = codec.encode(payload)
    return _FRAME.pack(len(data)) + data


def batch_payloads(data: bytes) -> list[BatchPayload]:
    """The payloads of a committed batch, alike on every node: a frame that does not decode
    (a Byzantine author's junk) is skipped; a length that runs past the end ends the batch."""
    out: list[BatchPayload] = []
    offset = 0
    while offset + _FRAME.size <= len(data):
        (size,) = _FRAME.unpack_from(data, offset)
        offset += _FRAME.size
        if size > len(data) - offset:
            break
        chunk, offset = data[offset:offset + size], offset + size
        try:
            out.append(codec.decode(chunk, BatchPayload))
        except codec.CodecError:
            continue
    return out


class Applied(Struct):
    """The last consensus block applied to the ledger."""

    height: int
    block_id: bytes


def committee_of(suite: Suite, members: list[Validator], epoch: int) -> Committee:
    return Committee(epoch, suite.name, suite.aggregate_votes,
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


def _epoch_ledger_key(epoch: int) -> bytes:
    return _EPOCH_LEDGER + str(epoch).encode()


# -- joining from a snapshot -------------------------------------------------------------------

def needs_snapshot(chain: ChainStore, genesis: Genesis, node_id: bytes) -> bool:
    """A node that is no genesis validator and has never entered an epoch must catch up."""
    return (genesis_root(genesis).committee.index(node_id) is None
            and chain.store.get(CONSENSUS_DB, EPOCH_KEY) is None)


async def catch_up(data_dir: Path, genesis: Genesis, key: SigningKey,
                   listen: tuple[str, int] | None,
                   config: statesync.SyncConfig | None = None) -> statesync.Synced | None:
    """Bring a joining validator's data directory to a snapshot of the current epoch, from
    the genesis validators (reached over the authenticated transport, this node listening
    on `listen`: its endpoint in the AddValidator proposal). Returns None at once when the
    node does not need it (see `needs_snapshot`)."""
    suite = genesis.crypto_suite()
    node_id = address_of(key.public_key, suite.hash_bytes)
    chain = ChainStore(Path(data_dir) / "chain", genesis)
    try:
        if chain.head is None:
            chain.init_genesis(key, genesis.timestamp_ms)
        if not needs_snapshot(chain, genesis, node_id):
            return None
        if listen is None:
            raise NodeConfigError("a joining validator needs its listen address "
                                  "(`xinlian init --listen host:port`)")
        root = genesis_root(genesis)

        def valid_block(block: LedgerBlock) -> bool:
            header = block.header
            try:
                hashes = chain.tx_hashes(block)
            except (XinlianError, codec.CodecError):
                return False
            return (header.chain_id == genesis.chain_id and header.tx_count == len(hashes)
                    and merkle.root(hashes, suite.hash_bytes) == header.tx_root)

        sync = statesync.StateSync(node_id, root, root.committee.nodes, suite.hash_bytes,
                                   valid_block, config)
        transport = Transport(suite, key, membership_of(suite, genesis.validators),
                              listen=listen)
        done: asyncio.Future[statesync.Synced] = asyncio.get_running_loop().create_future()

        def deliver(value: object) -> None:
            if isinstance(value, statesync.Synced) and not done.done():
                done.set_result(value)

        runtime = NetworkRuntime(sync, transport, chain.store, deliver=deliver, db=CONSENSUS_DB)
        await runtime.start()
        try:
            synced = await done
        finally:
            await runtime.stop()
        _write_snapshot(chain, synced, key)
        return synced
    finally:
        chain.close()


def _write_snapshot(chain: ChainStore, synced: statesync.Synced, key: SigningKey) -> None:
    """One commit: the state and ledger block at the snapshot, the epoch proofs and blocks,
    the epoch root consensus starts from, and the applied marker."""
    header = synced.block.header
    batch = WriteBatch()
    if header.height > chain.height:
        synced.state.write(chain.tree, header.height, batch)
        stored = LedgerBlock(header, sign_header(header, key), list(synced.block.txs))
        chain.index.write_block(batch, height=header.height,
                                block_hash=header_hash(header, chain.hash),
                                block=codec.encode(stored), txs=[])
    committee = synced.root.committee
    for proof in synced.proofs:
        batch.put(CONSENSUS_DB, PROOF_PREFIX + str(proof.qc.epoch).encode(),
                  codec.encode(proof.qc))
        for block in proof.blocks:
            batch.put(CONSENSUS_DB, consensus_blocks.PREFIX + block_id(committee, block),
                      codec.encode(block))
    batch.put(CONSENSUS_DB, EPOCH_KEY, codec.encode(synced.root))
    batch.put(NODE_META_DB, _APPLIED,
              codec.encode(Applied(synced.root.height, bytes(synced.root.block_id))))
    batch.put(NODE_META_DB, _epoch_ledger_key(committee.epoch), codec.encode(header.height))
    chain.store.commit(batch)


class BftNode(Node):
    """A validator of a BFT chain (genesis lists validators); see the module docstring."""

    def __init__(self, data_dir: Path, genesis: Genesis, key: SigningKey, vote_secret: bytes,
                 *, listen: tuple[str, int] | None = None,
                 shape_for: ShapeFor | None = None) -> None:
        """`shape_for`: the transport's test shaper, to cap this validator's egress when
        several run on one machine (tests, benchmarks)."""
        if not genesis.validators:
            raise NodeConfigError("a BFT node needs validators in the genesis")
        super().__init__(data_dir, genesis, key)
        suite = self.suite
        vote_key = (VoteKey(bls_secret=vote_secret) if suite.aggregate_votes
                    else VoteKey(suite_key=suite.load_signing_key(vote_secret)))
        self.node_id = address_of(key.public_key, suite.hash_bytes)
        # Batches are bulk data: their own store, written before acks leave but not flushed
        # at once, so the synced write before each vote stays small (see docs/consensus.md).
        self.batches = Store(Path(data_dir) / "batches", sub_dbs=(CONSENSUS_DB,), durable=False)
        stored = {**persisted(self.chain.store, CONSENSUS_DB),
                  **persisted(self.batches, CONSENSUS_DB)}
        self.core = ConsensusCore(self.node_id, vote_key, genesis_root(genesis), stored=stored)
        self._validators: dict[bytes, Validator] = {}
        self._learn_validators()
        members = [self._validators[bytes(m.node)] for m in self.core.committee.members]
        self.transport = Transport(suite, key, membership_of(suite, members), listen=listen,
                                   shape_for=shape_for)
        self.runtime = NetworkRuntime(self.core, self.transport, self.chain.store,
                                      deliver=self._deliver, db=CONSENSUS_DB,
                                      bulk_store=self.batches)
        self._to_consensus = self.transport.on_message
        self.transport.on_message = self._on_message
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
        self._start_pool_sweep()
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()
        if self._applier is not None:
            self._applier.cancel()
            await asyncio.gather(self._applier, return_exceptions=True)
            self._applier = None
        await super().stop()
        self.batches.close()

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
                                        tuple(digests), 0, block.reconfig, block.author),
                              payloads)

    # -- state sync, serving side (statesync.SnapshotSource) ----------------------------

    def _on_message(self, sender: NodeId, message: bytes) -> None:
        if not statesync.is_sync_message(message):
            self._to_consensus(sender, message)
            return
        reply = statesync.serve(message, self)
        if reply is not None:
            self.transport.send(sender, reply)

    def epoch_proofs(self, start: int, limit: int) -> list[statesync.EpochProof]:
        proofs = []
        for epoch in range(max(start, 0), max(start, 0) + limit):
            qc = self.core.proofs.get(epoch)
            proof = None if qc is None else statesync.epoch_proof(qc, self.core.tree.get)
            if proof is None:
                break
            proofs.append(proof)
        return proofs

    def epoch_block(self, epoch: int) -> LedgerBlock | None:
        raw = self.chain.store.get(NODE_META_DB, _epoch_ledger_key(epoch))
        if raw is None:
            return self.chain.block(0) if epoch == 0 else None
        return self.chain.block(codec.decode(raw, int))

    def chunk(self, height: int, prefix: str) -> Chunk | None:
        # only heights whose block this node holds (one that joined from a snapshot has no
        # state between genesis and its snapshot)
        if not 0 <= height <= self.chain.height or self.chain.index.block_by_height(height) is None:
            return None
        return read_chunk(self.chain.tree, height, prefix)

    # -- from the consensus core -------------------------------------------------------

    def _deliver(self, value: object) -> None:
        if isinstance(value, Committed):
            self._blocks.append(value)
        elif isinstance(value, BatchReady):
            self._ready[value.digest] = value.batch.payload
        elif isinstance(value, EpochStarted):
            self._learn_validators()
            self._sync_membership()
        self._more.set()

    def _sync_membership(self) -> None:
        """Peers: the committee's members whose endpoints the ledger names. A new member's
        endpoint may reach this node's ledger only after its consensus entered the epoch,
        so this runs again after blocks are applied until every member is known."""
        members = [self._validators[n] for n in self.core.committee.nodes
                   if n in self._validators]
        membership = membership_of(self.suite, members)
        if set(membership.ids()) != set(self.transport.membership.ids()):
            self.transport.set_membership(membership)

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
            for payload in batch_payloads(payloads[digest]):
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
        if committed.reconfig is not None:  # the next epoch starts on this ledger block
            height = prepared.block.header.height if prepared is not None else head.header.height
            batch.put(NODE_META_DB, _epoch_ledger_key(committed.reconfig.epoch),
                      codec.encode(height))
        await asyncio.get_running_loop().run_in_executor(
            self._committer, self.chain.store.commit, batch)
        self.applied = Applied(committed.height, committed.block_id)
        self._publish(prepared, receipts)
        self._forwarded = {h for h in self._forwarded if h in self.mempool}
        if committed.reconfig is None and committed.epoch == self.core.epoch:
            # (a block of an epoch consensus has left is applied on a state that may not
            # hold the governance change that ended it yet: no decision from it)
            self._reconfigure_if_changed()
        if any(n not in self._validators for n in self.core.committee.nodes):
            self._learn_validators()
            self._sync_membership()
        self._forward()

    async def _valid_transactions(self, raws: list[bytes]) -> list[Transaction]:
        """Decodable and correctly signed, the first valid copy of each transaction (a copy
        with a bad signature cannot shadow a good one): the same on every node."""
        decoded: dict[bytes, Transaction] = {}  # by raw bytes: identical copies count once
        for raw in raws:
            if raw in decoded:
                continue
            try:
                decoded[raw] = decode_transaction(raw, self.genesis.chain_id,
                                                  self.suite.hash_bytes,
                                                  self.genesis.params.max_tx_size)
            except XinlianError:
                continue
        txs = list(decoded.values())
        # The exact bytes this node admitted were checked then (a hash does not cover the
        # signature, so only identical bytes count); every other copy is checked now.
        known = [(pending := self.mempool.get(tx.hash)) is not None and pending.raw == tx.raw
                 for tx in txs]
        unknown = [tx for tx, ok in zip(txs, known, strict=True) if not ok]
        checked = iter(await asyncio.get_running_loop().run_in_executor(
            None, batch_verify.verify_batch, [tx.verify_item() for tx in unknown]))
        valid: dict[bytes, Transaction] = {}
        for tx, ok in zip(txs, known, strict=True):
            if (ok or next(checked)) and tx.hash not in valid:
                valid[tx.hash] = tx
        return list(valid.values())

    def _leader_key(self, committed: Committed) -> PublicKey:
        committee = self._committee(committed.epoch)
        if committee is not None:
            validator = self._validators.get(committee.nodes[committed.author])
            if validator is not None:
                return validator.node_key
        return self.key.public_key  # a leader this node never learned (not expected)

    def _committee(self, epoch: int) -> Committee | None:
        """The committee of `epoch`. Blocks of an epoch are often applied after consensus
        moved to the next one, and every node must name the same proposer in the header."""
        if epoch == self.core.epoch:
            return self.core.committee
        if epoch == 0:
            return genesis_root(self.genesis).committee
        qc = self.core.proofs.get(epoch - 1)  # the next committee is in the block ending it
        proof = None if qc is None else statesync.epoch_proof(qc, self.core.tree.get)
        return None if proof is None else proof.blocks[-1].reconfig

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

    def _excluded(self, excluded: list[tuple[Transaction, LedgerError]]) -> None:
        # Never executable: gone from the pool. Not yet executable (a nonce ordered before
        # its predecessor): forward it again once it can run.
        super()._excluded(excluded)
        for tx, _ in excluded:
            self._forwarded.discard(tx.hash)

    def _forward(self) -> None:
        """Hand consensus the pending transactions that can execute and were not sent yet."""
        fresh = [tx for tx in self.mempool.select(MAX_FORWARD + len(self._forwarded))
                 if tx.hash not in self._forwarded][:MAX_FORWARD]
        if not fresh:
            return
        self._forwarded.update(tx.hash for tx in fresh)
        payload = frame_payload(BatchPayload(now_ms(), [tx.raw for tx in fresh]))
        self.runtime.input(Submit(payload, len(fresh)))
