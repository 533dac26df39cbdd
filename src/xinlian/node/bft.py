"""BFT ordering, the ledger side: committed consensus blocks into ledger blocks, sans-I/O.

Theory of operation. Clients submit to any validator; it admits transactions into its
mempool exactly as a solo node does (the ledger pipeline, pipeline.py) and forwards the
executable ones (consecutive nonces, not yet forwarded) to the consensus core as one opaque
batch payload (`forward`). The core (consensus/) disseminates batches, orders their
availability certificates and delivers `Committed` blocks, then each batch's bytes
(`BatchReady`) in commit order (`deliver`). Each committed block becomes the next ledger
block in three steps that its driver runs in order (`next_block`, then `decode`, verify
`Decoded.candidates.items`, `execute`, commit the batch, `applied`): batch contents come from other
validators, so they are untrusted input — decoded and de-duplicated, their signatures
checked before their batch was certified (f+1 members check each batch, `check_items`;
consensus/dissemination.py says why a certificate proves it), then executed
deterministically. Every validator therefore builds the same
ledger: the header's proposer is the round's leader and its timestamp the median of the
batches' author timestamps (never below the parent's); each node signs the header it
stores, attesting it to its clients (with its rotated node key from the epoch whose
committee has switched suites, which also names the leader by its rotated key:
execution/rotation.py; `header_key` says which key signed a height), and the committee
certifies it (certify.py: `applied` returns the header for the certifier, and `deliver`
keeps the certificate it yields, written with the next block's commit; lost in a crash, it
is gathered again).

A committed block and the marker of the consensus block it came from (`Applied`) are
written in one atomic commit. On restart, consensus blocks committed above that marker are
applied again from the core's persisted blocks and batches (`replay`) before the node
serves. After a block, a governance change of the validator set becomes a `Reconfigure`
input to consensus (`applied` returns the inputs for consensus).

This class reads no clock and does no I/O but the ledger's own store reads: the node
process drives it on its event loop (validator.py, verifying on the process pool and
committing in a thread); the simulator drives it inline (xinlian.testing.validators).
It also serves state sync (`statesync.SnapshotSource`) from its consensus store and from
the ledger block recorded when each epoch started.
"""

from __future__ import annotations

import statistics
import struct
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from xinlian import codec
from xinlian.codec import Struct
from xinlian.consensus.certificates import VoteKey
from xinlian.consensus.committee import Committee
from xinlian.consensus.core import (
    Committed,
    ConsensusCore,
    EpochStarted,
    Reconfigure,
    Retain,
    Submit,
)
from xinlian.consensus.dissemination import BatchReady, CheckBatch
from xinlian.consensus.messages import BatchMsg
from xinlian.consensus.proofs import EpochProof
from xinlian.crypto import batch as batch_verify
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite
from xinlian.errors import XinlianError
from xinlian.execution.rotation import next_committee_members, node_key_in
from xinlian.execution.system import validators
from xinlian.ledger.account import address_of
from xinlian.ledger.block import Block as LedgerBlock
from xinlian.ledger.block import BlockHeader as LedgerBlockHeader
from xinlian.ledger.genesis import Validator
from xinlian.ledger.transaction import Transaction, decode_transaction
from xinlian.node.certify import (
    CertifiedHeader,
    HeaderApplied,
    HeaderCertified,
    committee_of,
    genesis_root,
)
from xinlian.node.chain import NODE_META_DB, ChainStore
from xinlian.node.data import read_index_nodes
from xinlian.node.data_history import (
    MAX_LIST,
    MAX_SYNC_BYTES,
    HistoryWant,
    read_history_pages,
)
from xinlian.node.errors import NodeConfigError
from xinlian.node.pipeline import Built, LedgerPipeline
from xinlian.storage.bloom_proof import WindowPage
from xinlian.storage.kv import WriteBatch
from xinlian.storage.provenance_proof import HistoryPage
from xinlian.storage.snapshot import Chunk, read_chunk

APPLIED_KEY = b"consensus_applied"
_EPOCH_LEDGER = b"epoch_ledger/"  # + epoch: the ledger height that epoch starts on
_LEDGER_EPOCH = b"ledger_epoch/"  # + height: the epoch of the consensus block it executes
_CERT = b"header_cert/"           # + height: the committee's certificate of that header
CATCHING_UP = 2  # consensus blocks the ledger trails by when it asks for certificates
UNCERTIFIED_SCAN = 256  # heights below the head checked for a missing certificate on start
MAX_FORWARD = 5000
COMMITTEES_KEPT = 8  # settled committees of past epochs kept in memory
DECODED_KEPT = 65_536  # transactions decoded (forwarded or checked) kept for their execution


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


def vote_key_of(suite: Suite, secret: bytes, rotated: Sequence[SigningKey] = ()) -> VoteKey:
    """A validator's vote key from its stored secret, of the scheme the suite votes with,
    and the vote keys it registered for a suite migration (`rotated`)."""
    return (VoteKey(bls_secret=secret, more=rotated) if suite.aggregate_votes
            else VoteKey(suite_key=suite.load_signing_key(secret), more=rotated))


def known_validators(chain: ChainStore) -> dict[bytes, Validator]:
    """Every validator the chain has named, genesis's and those its state holds now (with
    their endpoints), by node id."""
    return {address_of(v.node_key, chain.hash): v
            for v in [*chain.genesis.validators, *validators(chain.read)]}


def epoch_ledger_key(epoch: int) -> bytes:
    return _EPOCH_LEDGER + str(epoch).encode()


def _height_key(prefix: bytes, height: int) -> bytes:
    return prefix + height.to_bytes(8, "big")


@dataclass(frozen=True)
class Candidates:
    """Decoded transactions from batches; those not `known` (the exact bytes this node
    admitted, checked then) still need their signatures verified: `items`."""

    txs: list[Transaction]
    known: list[bool]

    @property
    def items(self) -> list[batch_verify.Item]:
        return [tx.verify_item() for tx, ok in zip(self.txs, self.known, strict=True)
                if not ok]

    def valid(self, verdicts: Sequence[bool]) -> list[Transaction]:
        """The first correctly signed copy of each transaction (a copy with a bad signature
        cannot shadow a good one): the same on every node."""
        checked = iter(verdicts)
        valid: dict[bytes, Transaction] = {}
        for tx, ok in zip(self.txs, self.known, strict=True):
            if (ok or next(checked)) and tx.hash not in valid:
                valid[tx.hash] = tx
        return list(valid.values())


@dataclass(frozen=True)
class Decoded:
    """A committed block, ready to verify (`candidates.items`) and execute."""

    committed: Committed
    timestamp_ms: int
    candidates: Candidates


class BftLedger:
    """A validator's ledger side of BFT ordering (see the module docstring)."""

    def __init__(self, ledger: LedgerPipeline, core: ConsensusCore,
                 rotated_node: SigningKey | None = None) -> None:
        """`rotated_node`: the node key this validator registered for a suite migration,
        signing the headers of epochs whose committees have switched."""
        self.ledger = ledger
        self.core = core
        self.rotated_node = rotated_node
        self.genesis = ledger.genesis
        self.suite = ledger.suite
        self.validators: dict[bytes, Validator] = {}
        self.learn_validators()
        self._blocks: deque[Committed] = deque()
        self._ready: dict[bytes, bytes] = {}  # digest -> batch payload, until applied
        self.to_check: list[CheckBatch] = []  # batches consensus asks this node to check
        self.signatures_checked = 0  # transaction signatures checked for batches and blocks
        self._forwarded: set[bytes] = set()
        self._capped = False  # the last `forward` left executable transactions behind
        # raw bytes -> the transaction decoded from them, for the transactions this node
        # forwarded or checked, until a block executes them: each is decoded once per node
        self._decoded: OrderedDict[bytes, Transaction] = OrderedDict()
        self._committees: dict[int, Committee] = {}
        self._certs: dict[int, CertifiedHeader] = {}  # certified, not yet written
        self._writing: set[int] = set()  # of those, the ones in the batch being committed
        raw = ledger.chain.store.get(NODE_META_DB, APPLIED_KEY)
        self.applied = (codec.decode(raw, Applied) if raw else
                        Applied(genesis_root(self.genesis).height, self.genesis.hash()))
        self._retained = core.dropped  # the oldest epoch the ledger needs, from there up
        self._pin_epoch_start()

    def _pin_epoch_start(self) -> None:
        """Keep the ledger block the latest epoch starts on, and its state, whatever the
        retention window: state sync serves them to joining validators (statesync.py)."""
        chain = self.ledger.chain
        starts = [codec.decode(raw, int) for _, raw in
                  chain.store.scan(NODE_META_DB, prefix=_EPOCH_LEDGER, limit=None)]
        chain.prune_floor = max(starts, default=0)

    def learn_validators(self) -> None:
        self.validators.update(known_validators(self.ledger.chain))

    def members(self) -> list[Validator]:
        """The committee's members whose endpoints the ledger names (the peers). A new
        member's endpoint may reach this node's ledger only after its consensus entered the
        epoch, so the driver asks again after blocks are applied."""
        return [self.validators[n] for n in self.core.committee.nodes if n in self.validators]

    # -- from the consensus core -------------------------------------------------------

    def deliver(self, value: object) -> None:
        if isinstance(value, Committed):
            self._blocks.append(value)
        elif isinstance(value, BatchReady):
            self._ready[value.digest] = value.batch.payload
        elif isinstance(value, CheckBatch):
            self.to_check.append(value)
        elif isinstance(value, EpochStarted):
            self.learn_validators()
        elif isinstance(value, HeaderCertified):
            self._certs[value.certified.header.height] = value.certified

    def next_block(self) -> tuple[Committed, dict[bytes, bytes]] | None:
        """The next committed block whose batches have all arrived, with their bytes."""
        if not self._blocks or not all(d in self._ready for d in self._blocks[0].digests):
            return None
        block = self._blocks.popleft()
        return block, {d: self._ready.pop(d) for d in block.digests}

    def replay(self) -> list[tuple[Committed, dict[bytes, bytes]]]:
        """Consensus blocks committed before a crash but not yet in the ledger, whose
        batches are all stored. From the first block with a batch still missing (committed
        before its bytes arrived), blocks wait in order for consensus to fetch it again."""
        core = self.core
        if core.committed_height <= self.applied.height:
            return []
        chain, missing = core.tree.chain(core.committed_id, self.applied.block_id,
                                         self.applied.height)
        if missing is not None:
            raise NodeConfigError("committed consensus blocks are missing from the store")
        seen: set[bytes] = set()
        out = []
        for bid, block in chain:
            digests = [bytes(c.digest) for c in block.payload if bytes(c.digest) not in seen]
            seen.update(digests)
            committed = Committed(block.epoch, block.height, block.round, bid,
                                  tuple(digests), 0, block.reconfig, block.author)
            payloads = {d: codec.decode(message, BatchMsg).batch.payload
                        for d in digests if (message := core.pool.message(d)) is not None}
            if self._blocks or len(payloads) < len(digests):
                self._blocks.append(committed)
                self._ready.update(payloads)
            else:
                out.append((committed, payloads))
        return out

    # -- applying one committed block --------------------------------------------------

    def decode(self, committed: Committed, payloads: dict[bytes, bytes]) -> Decoded:
        raws: list[bytes] = []
        stamps: list[int] = []
        for digest in committed.digests:
            for payload in batch_payloads(payloads[digest]):
                stamps.append(payload.timestamp_ms)
                raws.extend(payload.txs)
        head = self.ledger.chain.head
        assert head is not None
        timestamp = max(head.header.timestamp_ms,
                        int(statistics.median_low(stamps)) if stamps else 0)
        candidates = self.candidates(raws, certified=self.core.config.check_batches)
        self.signatures_checked += candidates.known.count(False)
        return Decoded(committed, timestamp, candidates)

    def check_items(self, check: CheckBatch) -> list[batch_verify.Item]:
        """The signatures to verify before this node acks a batch it was asked to check:
        every decodable transaction's, but for the exact bytes this node admitted itself."""
        raws = [raw for payload in batch_payloads(check.payload) for raw in payload.txs]
        items = self.candidates(raws).items
        self.signatures_checked += len(items)
        return items

    def candidates(self, raws: Sequence[bytes], certified: bool = False) -> Candidates:
        """Decodable transactions, identical copies once (by raw bytes). `certified`: they
        come from batches whose certificates attest that an honest member checked every
        signature (consensus's `check_batches`), so none is checked again."""
        decoded: dict[bytes, Transaction] = {}
        for raw in raws:
            if raw in decoded:
                continue
            tx = self._decoded.pop(raw, None) if certified else self._decoded.get(raw)
            if tx is None:
                try:
                    tx = decode_transaction(raw, self.genesis.chain_id, self.suite.hash_bytes,
                                            self.genesis.params.max_tx_size)
                except XinlianError:
                    continue
                if not certified:
                    self._keep(tx)
            decoded[raw] = tx
        txs = list(decoded.values())
        if certified:
            return Candidates(txs, [True] * len(txs))
        # A hash does not cover the signature, so only identical bytes count as admitted.
        known = [(pending := self.ledger.mempool.get(tx.hash)) is not None
                 and pending.raw == tx.raw for tx in txs]
        return Candidates(txs, known)

    def _keep(self, tx: Transaction) -> None:
        """Keep a decoded transaction for its execution (the oldest go past the bound: a
        batch that never commits). Decoding is a function of the bytes alone, so the kept
        object is what decoding them again would give."""
        self._decoded[tx.raw] = tx
        if len(self._decoded) > DECODED_KEPT:
            self._decoded.popitem(last=False)

    def execute(self, decoded: Decoded, verdicts: Sequence[bool]) -> Built:
        """The next ledger block, with the applied marker (and the ledger height a new
        epoch starts on) in its batch; the driver commits the batch, then calls `applied`."""
        committed = decoded.committed
        batch = WriteBatch()
        batch.put(NODE_META_DB, APPLIED_KEY,
                  codec.encode(Applied(committed.height, committed.block_id)))
        built = self.ledger.build(decoded.candidates.valid(verdicts), decoded.timestamp_ms, batch,
                                  self._leader_key(committed), self._signer(committed.epoch))
        for tx, _ in built.excluded:
            # never executable: the pipeline drops it from the pool when the block is
            # published; not yet executable (a nonce ordered before its predecessor): it
            # stays pending, so forward it again once it can run
            self._forwarded.discard(tx.hash)
        if committed.reconfig is not None:  # the next epoch starts on this ledger block
            batch.put(NODE_META_DB, epoch_ledger_key(committed.reconfig.epoch),
                      codec.encode(self.ledger.chain.height + (built.prepared is not None)))
        if built.prepared is not None:
            batch.put(NODE_META_DB, _height_key(_LEDGER_EPOCH, built.prepared.block.header.height),
                      codec.encode(committed.epoch))
        for height, certified in self._certs.items():
            batch.put(NODE_META_DB, _height_key(_CERT, height), codec.encode(certified))
        self._writing = set(self._certs)
        return built

    def applied_block(self, decoded: Decoded, built: Built, now_ms: int) -> list[Any]:
        """After the commit: publish the block; what to input to consensus next."""
        committed = decoded.committed
        self.applied = Applied(committed.height, committed.block_id)
        self.ledger.publish(built)
        if committed.reconfig is not None:
            self._pin_epoch_start()
        if built.prepared is not None:
            self._forwarded = {h for h in self._forwarded if h in self.ledger.mempool}
        for height in self._writing:
            self._certs.pop(height, None)  # now in the store
        inputs: list[Any] = []
        if built.prepared is not None:
            behind = self.core.committed_height > committed.height + CATCHING_UP
            inputs.append(HeaderApplied(built.prepared.block.header, committed.epoch, behind))
        if committed.reconfig is None and committed.epoch == self.core.epoch:
            # (a block of an epoch consensus has left is applied on a state that may not
            # hold the governance change that ended it yet: no decision from it)
            inputs += self._reconfigure_if_changed()
        if any(n not in self.validators for n in self.core.committee.nodes):
            self.learn_validators()
        # Only a block that ran or left out transactions can make more of the pool
        # executable (admissions forward on their own): an empty one skips the pool's walk.
        if built.prepared is not None or built.excluded or self._capped:
            inputs += self.forward(now_ms)
        return inputs + self._retain()

    def _retain(self) -> list[Retain]:
        """On a pruned node whose consensus drops epochs (`Config.drop_epochs`): the oldest
        epoch whose consensus blocks the ledger still needs — the first not to end at or
        below the pruned height (its ledger blocks executed, and pruned) — while consensus
        has epochs below it to drop. An archive node keeps everything. An epoch whose start
        this node does not know started and ended below a state snapshot (a joined or
        rejoined node never applied its blocks): the next known start decides."""
        chain, core = self.ledger.chain, self.core
        if chain.retention.archive or not core.config.drop_epochs:
            return []
        epoch = self._retained + 1
        while epoch <= core.epoch:
            start = self.epoch_start(epoch)
            if start is not None:
                if start > chain.pruned_below:
                    break
                self._retained = epoch
            epoch += 1
        return [Retain(self._retained)] if core.dropped < min(self._retained,
                                                              core.epoch - 1) else []

    def _leader_key(self, committed: Committed) -> PublicKey:
        committee = self._committee(committed.epoch)
        if committee is not None:
            validator = self.validators.get(committee.nodes[committed.author])
            if validator is not None:
                return node_key_in(self.ledger.chain.read, self.suite, validator,
                                   committee.suite != self.suite.name)
        return self.ledger.key.public_key  # a leader this node never learned (not expected)

    def _switched(self, epoch: int) -> bool:
        committee = self._committee(epoch)
        return committee is not None and committee.suite != self.suite.name

    def _signer(self, epoch: int) -> SigningKey:
        """The key this node signs the headers of `epoch` with: its registered node key
        once the committee has switched (if it holds that key's secret)."""
        rotated = self.rotated_node
        if rotated is not None and self._switched(epoch):
            own = self.validators.get(address_of(self.ledger.key.public_key,
                                                 self.suite.hash_bytes))
            if own is not None and node_key_in(self.ledger.chain.read, self.suite, own,
                                               True) == rotated.public_key:
                return rotated
        return self.ledger.key

    def header_key(self, height: int) -> PublicKey:
        """The key this node signed its stored header at `height` with: picked by the
        epoch that executed it (blocks a snapshot brought, and block 0: its id key)."""
        raw = self.ledger.chain.store.get(NODE_META_DB, _height_key(_LEDGER_EPOCH, height))
        if raw is None:
            return self.ledger.key.public_key
        return self._signer(codec.decode(raw, int)).public_key

    def _committee(self, epoch: int) -> Committee | None:
        """The committee of `epoch`. Blocks of an epoch are often applied after consensus
        moved to the next one, and every node must name the same proposer in the header."""
        if epoch == self.core.epoch:
            return self.core.committee
        if epoch in self._committees:
            return self._committees[epoch]
        if epoch == 0:
            committee: Committee | None = genesis_root(self.genesis).committee
        else:
            proof = self.core.epoch_proof(epoch - 1)  # the block ending it names the next
            committee = None if proof is None else proof.blocks[-1].reconfig
        if committee is not None and epoch < self.core.epoch:  # settled: keep it
            self._committees[epoch] = committee
            if len(self._committees) > COMMITTEES_KEPT:  # the oldest are read back if asked
                del self._committees[min(self._committees)]
        return committee

    def _reconfigure_if_changed(self) -> list[Reconfigure]:
        """Governance changed the validator set, or a suite migration switches its votes
        (execution/rotation.py), or the epoch has run `epoch_blocks` ledger blocks: propose
        the next epoch's committee. Every input is ledger state at the height just applied,
        so every validator decides the same at the same height (a member votes for a block
        carrying a committee only if it decided that committee itself)."""
        chain = self.ledger.chain
        switched = self.core.committee.suite != self.suite.name
        votes, current = next_committee_members(chain.read, self.suite,
                                                validators(chain.read), chain.height + 1,
                                                switched)
        committee = committee_of(self.suite, current, self.core.epoch + 1, votes)
        if (committee.members == self.core.committee.members
                and committee.suite == self.core.committee.suite and not self._epoch_over()):
            return []
        if committee == self.core.pending_reconfig:
            return []  # decided already (it stays decided across restarts)
        self.learn_validators()
        return [Reconfigure(committee)]

    def _epoch_over(self) -> bool:
        """The current epoch has run `epoch_blocks` ledger blocks (genesis params)."""
        every = self.genesis.params.epoch_blocks
        start = self.epoch_start(self.core.epoch)
        return every > 0 and start is not None and self.ledger.chain.height - start >= every

    def epoch_start(self, epoch: int) -> int | None:
        """The ledger height `epoch` starts on (None: not known to this node)."""
        raw = self.ledger.chain.store.get(NODE_META_DB, epoch_ledger_key(epoch))
        if raw is None:
            return 0 if epoch == 0 else None
        return int(codec.decode(raw, int))

    # -- to the consensus core ---------------------------------------------------------

    def forward(self, now_ms: int) -> list[Submit]:
        """The pending transactions that can execute and were not sent yet, as one batch
        payload stamped with this node's clock."""
        mempool = self.ledger.mempool
        fresh = [tx for tx in mempool.select(MAX_FORWARD + len(self._forwarded))
                 if tx.hash not in self._forwarded]
        self._capped = len(fresh) > MAX_FORWARD
        fresh = fresh[:MAX_FORWARD]
        if not fresh:
            return []
        self._forwarded.update(tx.hash for tx in fresh)
        for tx in fresh:
            self._keep(tx)
        payload = frame_payload(BatchPayload(now_ms, [tx.raw for tx in fresh]))
        return [Submit(payload, len(fresh))]

    # -- state sync, serving side (statesync.SnapshotSource) ----------------------------

    def epoch_proofs(self, start: int, limit: int) -> list[EpochProof]:
        proofs = []
        for epoch in range(max(start, 0), max(start, 0) + limit):
            proof = self.core.epoch_proof(epoch)
            if proof is None:
                break
            proofs.append(proof)
        return proofs

    def epoch_block(self, epoch: int) -> LedgerBlock | None:
        start = self.epoch_start(epoch)
        return None if start is None else self.ledger.chain.block(start)

    # -- header certificates (certify.CertSource, and what the API serves) --------------

    def committee_of(self, epoch: int) -> Committee | None:
        return self._committee(epoch)

    def certified(self, height: int) -> CertifiedHeader | None:
        if height in self._certs:
            return self._certs[height]
        raw = self.ledger.chain.store.get(NODE_META_DB, _height_key(_CERT, height))
        return None if raw is None else codec.decode(raw, CertifiedHeader)

    def uncertified(self) -> list[tuple[LedgerBlockHeader, int]]:
        """This node's recent headers without a certificate, with their epochs: those it
        executed (block 0 is the genesis committee's); a block a snapshot brought has none."""
        chain = self.ledger.chain
        out = []
        for height in range(max(0, chain.height - UNCERTIFIED_SCAN), chain.height + 1):
            raw = chain.store.get(NODE_META_DB, _height_key(_LEDGER_EPOCH, height))
            block = chain.header(height)
            if ((raw is None and height > 0) or block is None
                    or self.certified(height) is not None):
                continue
            out.append((block.header, 0 if raw is None else codec.decode(raw, int)))
        return out

    def head_height(self) -> int:
        return self.ledger.chain.height

    def latest_certified(self) -> CertifiedHeader | None:
        """The highest certified header this node holds (among its recent ones)."""
        chain = self.ledger.chain
        for height in range(chain.height, max(-1, chain.height - UNCERTIFIED_SCAN), -1):
            found = self.certified(height)
            if found is not None:
                return found
        return None

    def checkpoint(self, epoch: int) -> CertifiedHeader | None:
        """The certified last ledger header of `epoch` (the one the next epoch starts on)."""
        raw = self.ledger.chain.store.get(NODE_META_DB, epoch_ledger_key(epoch + 1))
        return None if raw is None else self.certified(codec.decode(raw, int))

    def chunk(self, height: int, prefix: str) -> Chunk | None:
        if not self._holds(height):
            return None
        return read_chunk(self.ledger.chain.tree, height, prefix)

    def index_nodes(self, height: int, refs: list[bytes]) -> list[bytes] | None:
        # nodes are content-addressed: any this node holds belong to the index it had then
        if not self._holds(height):
            return None
        return read_index_nodes(self.ledger.chain.ordered, self.ledger.chain.data.range, refs)

    def history_ids(self, height: int, after: bytes) -> list[bytes] | None:
        if not self._holds(height):
            return None
        return self.ledger.chain.data_history.provenance.key_ids(after, MAX_LIST)

    def history_pages(self, height: int, wants: list[HistoryWant]
                      ) -> list[HistoryPage | None] | None:
        # histories only grow: the first `size` versions held now are those of `height`
        if not self._holds(height):
            return None
        return read_history_pages(self.ledger.chain.data_history, wants)

    def filter_run(self, height: int, first: int) -> WindowPage | None:
        if not self._holds(height):
            return None
        return self.ledger.chain.data_history.filters.run(first, height, MAX_SYNC_BYTES)

    def _holds(self, height: int) -> bool:
        """Whether this node holds the block and the state at `height` (one that joined
        from a snapshot has no state between genesis and its snapshot, a pruned one none
        below its window)."""
        chain = self.ledger.chain
        return (chain.pruned_below <= height <= chain.height
                and chain.index.block_by_height(height) is not None)
