"""State sync, sans-I/O: a joining node against honest, lying, corrupting and silent peers.

The epoch proofs are real: a simulated 4-member committee switches to a 5-member one, and
its cores' certificates and blocks are what the peers serve. The state is a real tree.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.consensus.certificates import Meter
from xinlian.consensus.committee import EpochRoot
from xinlian.consensus.core import Config, ConsensusCore, Reconfigure
from xinlian.consensus.messages import QC, Block
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.consensus.proofs import MAX_PROOF_BLOCKS, epoch_proof
from xinlian.crypto.hashes import sha256
from xinlian.crypto.suites import get_suite
from xinlian.execution.data.changes import RecordChange, history_key, record_term
from xinlian.execution.data.model import StoredRecord
from xinlian.ledger import merkle
from xinlian.ledger.block import Block as LedgerBlock
from xinlian.ledger.block import BlockHeader, sign_header
from xinlian.node import data, data_history, statesync
from xinlian.node.errors import BadEpochProof
from xinlian.node.statesync import (
    MAX_PROOFS,
    SYNC_TIMER,
    ChunkResponse,
    EpochProof,
    EpochsRequest,
    IndexResponse,
    StateResponse,
    StateSync,
    SyncConfig,
    Synced,
    next_root,
)
from xinlian.protocol import Action, Deliver, Receive, Send, SetTimer, Start, Timeout
from xinlian.storage import jmt, mbtree, mmr, mst
from xinlian.storage.bloom import BLOOM_ROOT_KEY, FilterImport
from xinlian.storage.bloom_proof import WindowPage, WindowQuery
from xinlian.storage.errors import BadChunkError
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import INDEX_ROOT_KEY
from xinlian.storage.provenance import HistoryImport
from xinlian.storage.provenance_proof import HistoryPage, HistoryQuery
from xinlian.storage.snapshot import Chunk, Leaf, read_chunk
from xinlian.testing.consensus.committees import local_committee, node_name
from xinlian.testing.consensus.simnet import ConsensusNet

JOINER = node_name(4)
FAST = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=100)


@dataclass
class Epochs:
    genesis: EpochRoot
    core: ConsensusCore  # a member that lived through the change to epoch 1


@pytest.fixture(scope="module")
def epochs() -> Epochs:
    network = ConsensusNet(4, 7, config=FAST)
    network.load(500, 100, 0, 100_000)
    five, _ = local_committee(5, epoch=1)
    for node in network.committee.nodes:
        network.sim.input(node, Reconfigure(five), at_ms=500)
    network.run(2500)
    core = network.core(node_name(0))
    assert core.epoch == 1
    return Epochs(network.genesis, core)


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    """A state of 300 entries at version 7 with the root of an index of 2,000 entries and
    that of a data range index of 500 (sharing its node store, node/data.py), the peaks of
    the histories of 121 records (one with 75 versions) and of the block filters of blocks
    2, 4 and 7 (node/data_history.py), and the ledger block over it."""
    with tempfile.TemporaryDirectory() as tmp, Store(
            Path(tmp) / "db", sub_dbs=(*jmt.SUB_DBS, *mst.SUB_DBS, *data.SUB_DBS,
                                       *data_history.SUB_DBS),
            map_size=1 << 25) as store:
        tree = jmt.StateTree(store, sha256)
        index = mst.OrderedIndex(store, sha256)
        ranges = mbtree.MerkleBTree(store, sha256)
        history = data_history.DataHistory(store, sha256)
        peaks: dict[bytes, bytes | None] = {}
        for height in (2, 4, 7):
            batch = WriteBatch()
            peaks.update(history.apply(height, _changes(height), batch,
                                       peaks.get(BLOOM_ROOT_KEY)))
            store.commit(batch)
        batch = WriteBatch()
        index_root = index.apply(7, {b"e%05d" % i: b"x" * (i % 50) for i in range(2000)},
                                 batch)
        ranges_root = ranges.apply(
            7, {b"d%05d" % i: (b"r" * (i % 9), i - 250) for i in range(500)}, batch)
        state = {b"k%d" % i: b"v%d" % i for i in range(300)}
        root = tree.apply(7, {**state, **peaks, NOT_A_HISTORY: PEAKS_LOOKALIKE,
                              INDEX_ROOT_KEY: index_root,
                              data.RANGE_ROOT_KEY: ranges_root}, batch)
        store.commit(batch)
        yield Ledger(tree, _block(7, root), index, ranges, history)


NOT_A_HISTORY = b"contract/value"  # a state value shaped like history peaks
PEAKS_LOOKALIKE = codec.encode(mmr.Peaks(1, [sha256(b"x")]))


def _changes(height: int) -> list[RecordChange]:
    """Block `height`'s record changes: 40 records each, and record 0 in 25 transactions."""
    cid = bytes(range(16))

    def value(i: int) -> bytes:
        return codec.encode(StoredRecord([b"v%d" % i, None], height, bytes(32)))

    return [RecordChange(cid + b"r%03d" % (height * 40 + i), value(i), i, sha256(b"%d" % i))
            for i in range(40)] + [
            RecordChange(cid + b"r000", None if t % 3 else value(t), 40 + t,
                         sha256(b"t%d" % t)) for t in range(25)]


def _block(height: int, state_root: bytes) -> LedgerBlock:
    key = get_suite("intl").generate_signing_key(bytes(32))
    header = BlockHeader("test", height, bytes(32), 0, 0, merkle.root([], sha256),
                         state_root, merkle.root([], sha256), key.public_key)
    return LedgerBlock(header, sign_header(header, key), [])


def _valid(block: LedgerBlock) -> bool:
    return block.header.chain_id == "test" and not block.txs


class Ledger(NamedTuple):
    tree: jmt.StateTree
    block: LedgerBlock
    ordered: mst.OrderedIndex
    ranges: mbtree.MerkleBTree  # the data range index
    history: data_history.DataHistory  # record histories and block filters


@dataclass
class Peer:
    """A validator answering with statesync.serve; `tamper` may rewrite its answers."""

    epochs: Epochs
    tree: jmt.StateTree
    block: LedgerBlock
    index: mst.OrderedIndex
    ranges: mbtree.MerkleBTree
    history: data_history.DataHistory
    tamper: Callable[[bytes], bytes | None] = lambda reply: reply
    served: int = field(default=0)

    def epoch_proofs(self, start: int, limit: int) -> list[EpochProof]:
        core = self.epochs.core
        qcs = [core.proofs[e] for e in range(start, start + limit) if e in core.proofs]
        return [p for qc in qcs if (p := epoch_proof(qc, core.tree.get)) is not None]

    def epoch_block(self, epoch: int) -> LedgerBlock | None:
        return self.block if epoch == 1 else None

    def chunk(self, height: int, prefix: str) -> Chunk | None:
        return read_chunk(self.tree, height, prefix, max_leaves=16)

    def index_nodes(self, height: int, refs: list[bytes]) -> list[bytes] | None:
        return data.read_index_nodes(self.index, self.ranges, refs, max_bytes=8192)

    # small answers, so that histories and filters come in several pages
    def history_ids(self, height: int, after: bytes) -> list[bytes] | None:
        return self.history.provenance.key_ids(after, data_history.MAX_LIST)

    def history_pages(self, height: int, wants: list[data_history.HistoryWant]
                      ) -> list[HistoryPage | None] | None:
        return data_history.read_history_pages(self.history, wants, max_bytes=2000)

    def filter_run(self, height: int, first: int) -> WindowPage | None:
        return self.history.filters.run(first, height, max_bytes=200)

    def answer(self, request: bytes) -> bytes | None:
        self.served += 1
        reply = statesync.serve(request, self)
        return None if reply is None else self.tamper(reply)


def run(client: StateSync, peers: dict[bytes, Peer], limit_ms: int = 60_000) -> Synced:
    """Deliver every request to its peer and every answer back, in order; fire the timer
    when nothing is in flight. Deterministic: no clock, no randomness."""
    now = 0
    queue: list[Action] = list(client.handle(Start(now)))
    timer = None
    while now < limit_ms:
        while queue:
            action = queue.pop(0)
            if isinstance(action, Deliver):
                assert isinstance(action.value, Synced)
                return action.value
            if isinstance(action, SetTimer):
                timer = action.at_ms
            elif isinstance(action, Send):
                reply = peers[action.to].answer(action.message)
                if reply is not None:
                    now += 1
                    queue += client.handle(Receive(now, action.to, reply))
        assert timer is not None
        now = max(now, timer)
        queue += client.handle(Timeout(now, SYNC_TIMER))
    raise AssertionError("state sync did not finish")


def client(epochs: Epochs, **config: int) -> StateSync:
    return StateSync(JOINER, epochs.genesis, epochs.genesis.committee.nodes, sha256, _valid,
                     SyncConfig(**config) if config else None)


def peers_of(epochs: Epochs, ledger: Ledger,
             **tampers: Callable[[bytes], bytes | None]) -> dict[bytes, Peer]:
    out = {}
    for i, node in enumerate(epochs.genesis.committee.nodes):
        tamper = tampers.get(f"p{i}")
        out[node] = Peer(epochs, *ledger, tamper) if tamper else Peer(epochs, *ledger)
    return out


def check(synced: Synced, epochs: Epochs, ledger: Ledger) -> None:
    tree, block, index, ranges, history = ledger
    assert synced.root == epochs.core.root
    assert synced.block == block
    assert synced.state.leaves == {bytes(n.path): bytes(n.value) for n in tree.leaves(7) or []}
    with tempfile.TemporaryDirectory() as tmp, \
            Store(Path(tmp), sub_dbs=(*mst.SUB_DBS, *data.SUB_DBS, *data_history.SUB_DBS),
                  durable=False) as store:
        imported = mst.OrderedIndex(store, sha256)
        imported_data = data.DataIndexes(store, sha256)
        imported_history = data_history.DataHistory(store, sha256)
        batch = WriteBatch()
        synced.index.write(imported, imported_data, 7, batch)
        synced.data.write(imported_history, 7, batch)
        store.commit(batch)
        check_history(imported_history, history)
        assert imported.root(7) == index.root(7)
        assert list(imported.items()) == list(index.items(7))
        assert imported_data.range.root(7) == ranges.root(7)
        assert list(imported_data.range.entries()) == list(ranges.entries(7))
        # and it keeps growing as the source does: the imported nodes carry their levels
        batch = WriteBatch()
        more = {b"e%05d" % i: b"y" for i in range(1990, 2100)}
        grown = imported.apply(8, more, batch)
        assert grown == _fresh_root({**dict(index.items(7)), **more})


def check_history(imported: data_history.DataHistory,
                  source: data_history.DataHistory) -> None:
    """The imported histories and filters answer as the source's do, and grow as they do."""
    records = [bytes(range(16)) + b"r%03d" % i for i in (0, 80, 119, 281, 319)]
    for record in records:
        key = history_key(record)
        assert imported.provenance.peaks(key) == source.provenance.peaks(key)
        for query in (HistoryQuery(), HistoryQuery(30, 70)):
            assert imported.provenance.history(key, query)[1] == \
                source.provenance.history(key, query)[1]
        assert imported.provenance.as_of(key, 4) == source.provenance.as_of(key, 4)
    assert len(imported.provenance.key_ids(b"", 1000)) == 121
    for version in (2, 3, 6, 7):
        assert imported.filters.root(version) == source.filters.root(version)
        window = WindowQuery(0, 8, (record_term(records[1]), record_term(records[2])))
        assert imported.filters.window(window, version) == \
            source.filters.window(window, version)
    # the next block appends to the imported ones as to the source's
    with tempfile.TemporaryDirectory() as tmp, \
            Store(Path(tmp), sub_dbs=data_history.SUB_DBS, durable=False) as store:
        replay = data_history.DataHistory(store, sha256)
        committed = None
        for height in (2, 4, 7):
            batch = WriteBatch()
            committed = replay.apply(height, _changes(height), batch, committed)[BLOOM_ROOT_KEY]
            store.commit(batch)
        assert imported.filters.root() == committed
        assert imported.apply(9, _changes(9), WriteBatch(), committed) == \
            replay.apply(9, _changes(9), WriteBatch(), committed)


def _fresh_root(entries: dict[bytes, bytes]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp, \
            Store(Path(tmp), sub_dbs=mst.SUB_DBS, durable=False) as store:
        batch = WriteBatch()
        return mst.OrderedIndex(store, sha256).apply(0, dict(entries), batch)


# -- epoch proofs --------------------------------------------------------------------------

def test_a_real_epoch_change_proves_the_next_root(epochs: Epochs) -> None:
    proof = epoch_proof(epochs.core.proofs[0], epochs.core.tree.get)
    assert proof is not None
    assert next_root(epochs.genesis, proof, Meter()) == epochs.core.root


def _tampered(epochs: Epochs) -> list[EpochProof]:
    proof = epoch_proof(epochs.core.proofs[0], epochs.core.tree.get)
    assert proof is not None
    qc, blocks = proof.qc, proof.blocks
    six, _ = local_committee(6, epoch=1)
    ending = blocks[-1]
    forged_end = Block(ending.epoch, ending.round, ending.height, ending.parent, ending.author,
                       ending.justify, ending.tc, ending.payload, six)
    bits = bytearray(qc.cert.signers)
    bits[0] ^= 0x80
    return [
        EpochProof(qc, [*blocks[:-1], forged_end]),          # another next committee
        EpochProof(qc, blocks[:1]),                          # no block ending the epoch
        EpochProof(qc, [blocks[0], *blocks[2:]]),            # a gap in the chain
        EpochProof(QC(qc.epoch, qc.round, qc.height, bytes(32), qc.cert), blocks),
        EpochProof(QC(qc.epoch + 1, qc.round, qc.height, qc.block_id, qc.cert), blocks),
        EpochProof(QC(qc.epoch, qc.round, qc.height, qc.block_id,
                      type(qc.cert)(bytes(bits), qc.cert.signatures)), blocks),
    ]


def test_forged_epoch_proofs_are_refused(epochs: Epochs) -> None:
    for bad in _tampered(epochs):
        with pytest.raises(BadEpochProof):
            next_root(epochs.genesis, bad, Meter())


# -- whole runs ----------------------------------------------------------------------------

def test_honest_peers_give_the_epoch_root_ledger_block_and_state(
        epochs: Epochs, ledger: Ledger) -> None:
    sync = client(epochs)
    synced = run(sync, peers_of(epochs, ledger))
    check(synced, epochs, ledger)
    assert sync.metrics["chunks"] > 10 and not sync.skipped  # 300 leaves, 16 per chunk
    assert sync.handle(Timeout(10**9, SYNC_TIMER)) == []  # done: nothing more happens


def test_a_run_is_deterministic(epochs: Epochs,
                                ledger: Ledger) -> None:
    traces = []
    for _ in range(2):
        sync = client(epochs)
        run(sync, peers_of(epochs, ledger))
        traces.append(dict(sync.metrics))
    assert traces[0] == traces[1]


def _corrupt_chunks(reply: bytes) -> bytes:
    message = statesync.decode_sync(reply)
    if not isinstance(message, ChunkResponse) or not message.chunk.leaves:
        return reply
    leaves = list(message.chunk.leaves)
    leaves[0] = Leaf(leaves[0].path, leaves[0].value + b"!")
    return codec.encode(ChunkResponse(message.height, Chunk(message.chunk.prefix, leaves, [])))


def test_a_peer_sending_bad_chunks_is_skipped(
        epochs: Epochs, ledger: Ledger) -> None:
    sync = client(epochs)
    peers = peers_of(epochs, ledger, p1=_corrupt_chunks)
    check(run(sync, peers), epochs, ledger)
    assert sync.metrics["bad_bad_snapshot_chunk"] >= 1
    assert sync.skipped == {epochs.genesis.committee.nodes[1]}


def _corrupt_index(reply: bytes) -> bytes:
    message = statesync.decode_sync(reply)
    if not isinstance(message, IndexResponse) or not message.nodes:
        return reply
    node = codec.decode(message.nodes[0], mst.Node)
    bad = codec.encode(mst.Node(node.level, node.keys, [v + b"!" for v in node.values],
                                node.value_hashes, node.children))
    return codec.encode(IndexResponse(message.height, message.refs, [bad, *message.nodes[1:]]))


def _withhold_index(reply: bytes) -> bytes:
    message = statesync.decode_sync(reply)
    if not isinstance(message, IndexResponse):
        return reply
    return codec.encode(IndexResponse(message.height, message.refs, []))


def test_the_index_comes_with_the_state_from_any_honest_peer(
        epochs: Epochs, ledger: Ledger) -> None:
    sync = client(epochs)
    check(run(sync, peers_of(epochs, ledger, p1=_corrupt_index, p2=_withhold_index)),
          epochs, ledger)
    assert sync.metrics["index_nodes"] > 10  # 2,000 entries, a few KiB per answer
    assert sync.metrics["bad_bad_snapshot_chunk"] >= 1
    assert epochs.genesis.committee.nodes[1] in sync.skipped


def test_invalid_index_nodes_are_refused() -> None:
    index = mst.IndexImport(sha256(b"root"), sha256)
    for raw in (b"junk", codec.encode(mst.Node(0, [], [], [], [b""])),
                codec.encode(mst.Node(0, [b"k"], [b"v"], [sha256(b"v")], [b"", b""]))):
        with pytest.raises(BadChunkError):
            index.add(raw)
    assert not index.done
    with pytest.raises(BadChunkError):
        index.write(mst.OrderedIndex.__new__(mst.OrderedIndex), 1, WriteBatch())


def _tamper_data(reply: bytes) -> bytes:
    """A version record or a block filter changed in every answer that has one."""
    message = statesync.decode_sync(reply)
    if isinstance(message, statesync.HistoryResponse) and message.pages and \
            (page := message.pages[0]) is not None:
        records = bytearray(page.records)
        records[-1] ^= 1
        pages = [HistoryPage(page.size, page.first, bytes(records), page.siblings),
                 *message.pages[1:]]
        return codec.encode(statesync.HistoryResponse(message.height, message.wants, pages))
    if isinstance(message, statesync.FiltersResponse) and message.page is not None:
        run_page = message.page
        bloom = bytearray(run_page.filters[0])
        bloom[0] ^= 1
        return codec.encode(statesync.FiltersResponse(message.height, message.first, WindowPage(
            run_page.size, run_page.first, [bytes(bloom), *run_page.filters[1:]],
            run_page.siblings)))
    return reply


def _hide_histories(reply: bytes) -> bytes:
    """Lists one id, that of a value shaped like history peaks that is no history, and
    holds no history."""
    message = statesync.decode_sync(reply)
    if isinstance(message, statesync.HistoryListResponse):
        return codec.encode(statesync.HistoryListResponse(
            message.height, message.after, [sha256(NOT_A_HISTORY)]))
    if isinstance(message, statesync.HistoryResponse):
        return codec.encode(statesync.HistoryResponse(
            message.height, message.wants, [None] * len(message.wants)))
    return reply


@pytest.mark.parametrize("liar", [_tamper_data, _hide_histories])
def test_histories_and_filters_come_from_any_honest_provider(
        epochs: Epochs, ledger: Ledger, liar: Callable[[bytes], bytes]) -> None:
    # p0 and p1 attest the header (validity 2 of 5), so they provide; p1 lies
    sync = client(epochs)
    check(run(sync, peers_of(epochs, ledger, p1=liar)), epochs, ledger)
    assert sync.metrics["history_pages"] >= 121 and sync.metrics["filters"] == 8
    if liar is _tamper_data:
        assert epochs.genesis.committee.nodes[1] in sync.skipped
    else:  # the listed id was given up once every provider said it holds no history
        assert sync.data is not None and sha256(NOT_A_HISTORY) not in sync.data.histories.peaks


def test_invalid_history_pages_and_filter_runs_are_refused(ledger: Ledger) -> None:
    key = history_key(bytes(range(16)) + b"r000")
    peaks = ledger.history.provenance.peaks(key)
    histories = HistoryImport(sha256)
    assert not histories.want(b"x" * 32, b"junk")
    assert not histories.want(b"x" * 32, codec.encode(mmr.EMPTY))
    assert histories.want(sha256(key), peaks)
    _, page = ledger.history.provenance.history(key, HistoryQuery(0, 10))
    for bad in (HistoryPage(page.size, 1, page.records, page.siblings),
                HistoryPage(page.size, 0, page.records[:-1], page.siblings),
                HistoryPage(page.size, 0, b"", b""),
                HistoryPage(page.size, 0, page.records, page.siblings[32:])):
        with pytest.raises(BadChunkError):
            histories.add(sha256(key), bad)
    histories.add(sha256(key), page)
    assert histories.wanted == {sha256(key): (10, 75)}
    with pytest.raises(BadChunkError):
        histories.write(ledger.history.provenance, 7, WriteBatch())
    filters = FilterImport(ledger.history.filters.root(7), sha256)
    run_page = ledger.history.filters.run(0, 7)
    assert run_page is not None and filters.peaks.size == 8
    for bad_run in (WindowPage(9, 0, run_page.filters, run_page.siblings),
                    WindowPage(8, 1, run_page.filters[1:], run_page.siblings),
                    WindowPage(8, 0, [], b""),
                    WindowPage(8, 0, run_page.filters[::-1], run_page.siblings)):
        with pytest.raises(BadChunkError):
            filters.add(bad_run)
    filters.add(run_page)
    assert filters.done


def _other_header(reply: bytes) -> bytes:
    message = statesync.decode_sync(reply)
    if isinstance(message, StateResponse):
        return codec.encode(StateResponse(message.epoch, _block(7, bytes(31) + b"\x01")))
    return reply


def test_one_lying_member_cannot_make_a_header_trusted(
        epochs: Epochs, ledger: Ledger) -> None:
    # validity in the 5-member committee is 2: the liar alone never reaches it
    sync = client(epochs)
    check(run(sync, peers_of(epochs, ledger, p0=_other_header)), epochs, ledger)
    # and one honest attestation is not enough either: with the liar and two silent
    # peers, the node keeps asking and trusts no header
    sync = client(epochs, retry_ms=100)
    silent = peers_of(epochs, ledger, p0=_other_header, p1=lambda _: None,
                      p2=lambda _: None)
    with pytest.raises(AssertionError, match="did not finish"):
        run(sync, silent, limit_ms=3000)
    assert sync.phase == "attest" and sync.block is None


def _forge_epochs(reply: bytes) -> bytes:
    message = statesync.decode_sync(reply)
    if isinstance(message, statesync.EpochsResponse) and message.proofs:
        proof = message.proofs[0]
        return codec.encode(statesync.EpochsResponse([EpochProof(proof.qc, proof.blocks[:1])]))
    return reply


def test_silent_and_forging_peers_are_passed_over(
        epochs: Epochs, ledger: Ledger) -> None:
    sync = client(epochs)
    peers = peers_of(epochs, ledger, p1=lambda _: None, p2=_forge_epochs)
    check(run(sync, peers), epochs, ledger)
    assert sync.metrics["timeouts"] >= 1
    assert sync.metrics["bad_bad_epoch_proof"] >= 1


def test_a_node_not_yet_in_the_committee_waits_and_asks_again(
        epochs: Epochs, ledger: Ledger) -> None:
    sync = client(epochs)
    ahead = peers_of(epochs, ledger)
    no_epochs = codec.encode(statesync.EpochsResponse([]))
    behind = {n: Peer(epochs, *ledger, tamper=lambda r: no_epochs if statesync.decode_sync(r)
                      .__class__ is statesync.EpochsResponse else r) for n in ahead}
    actions = sync.handle(Start(0))
    request = next(a for a in actions if isinstance(a, Send))
    reply = behind[request.to].answer(request.message)
    assert reply is not None
    assert sync.handle(Receive(1, request.to, reply)) == []
    assert sync.metrics["not_member_yet"] == 1 and sync.phase == "epochs"
    again = [a for a in sync.handle(Timeout(2000, SYNC_TIMER)) if isinstance(a, Send)]
    assert len(again) == 1 and isinstance(statesync.decode_sync(again[0].message),
                                          EpochsRequest)
    # the epoch change happens; asking again now succeeds
    reply = ahead[again[0].to].answer(again[0].message)
    assert reply is not None
    states = sync.handle(Receive(2001, again[0].to, reply))
    assert sync.phase == "attest" and len(states) == 4


def test_malformed_and_unexpected_messages_are_dropped(
        epochs: Epochs, ledger: Ledger) -> None:
    sync = client(epochs)
    sync.handle(Start(0))
    peer = epochs.genesis.committee.nodes[0]
    assert sync.handle(Receive(1, peer, b"\x93\x65junk")) == []
    assert sync.handle(Receive(1, peer, codec.encode(EpochsRequest(0)))) == []
    assert sync.handle(Receive(1, peer, codec.encode(
        ChunkResponse(7, Chunk("", [], []))))) == []
    assert sync.metrics["dropped_malformed"] == 1
    assert sync.metrics["dropped_unexpected"] == 2
    assert statesync.serve(b"\x93\x65junk", Peer(epochs, *ledger)) is None
    # a request the peer cannot answer (no such position) gets no answer, not an error
    assert statesync.serve(codec.encode(statesync.ChunkRequest(7, "xyz")),
                           Peer(epochs, *ledger)) is None


def test_answers_are_bounded(epochs: Epochs) -> None:
    assert MAX_PROOFS * MAX_PROOF_BLOCKS < 1000
    assert statesync.is_sync_message(codec.encode(EpochsRequest(0)))
    assert not statesync.is_sync_message(b"\x92\x01\x00")


def test_chunks_a_peer_withholds_are_asked_of_another(
        epochs: Epochs, ledger: Ledger) -> None:
    def no_chunks(reply: bytes) -> bytes | None:
        return None if isinstance(statesync.decode_sync(reply), ChunkResponse) else reply

    sync = client(epochs)
    check(run(sync, peers_of(epochs, ledger, p1=no_chunks)), epochs, ledger)
    assert sync.metrics["timeouts"] >= 1 and not sync.skipped


def advance(sync: StateSync, peers: dict[bytes, Peer], phase: str) -> None:
    """Drive `sync` with honest peers until it reaches `phase`."""
    queue: list[Action] = list(sync.handle(Start(0)))
    while sync.phase != phase:
        action = queue.pop(0)
        if isinstance(action, Send):
            reply = peers[action.to].answer(action.message)
            if reply is not None:
                queue += sync.handle(Receive(1, action.to, reply))


hex_prefix = st.text(alphabet="0123456789abcdef", max_size=4)
hostile = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda h, p, leaves, children: codec.encode(ChunkResponse(h, Chunk(
        p, [Leaf(bytes(x), v) for x, v in leaves], children))),
        st.integers(0, 10), hex_prefix,
        st.lists(st.tuples(st.binary(min_size=32, max_size=32), st.binary(max_size=8)),
                 max_size=3),
        st.one_of(st.just([]), st.lists(st.binary(max_size=32), min_size=16, max_size=16))),
    st.builds(lambda h: codec.encode(StateResponse(1, _block(h, bytes(32)))),
              st.integers(0, 10)),
    st.builds(lambda n: codec.encode(statesync.EpochsResponse([])), st.integers()),
    st.builds(lambda refs, nodes: codec.encode(IndexResponse(7, refs, nodes)),
              st.lists(st.binary(min_size=32, max_size=32), max_size=2),
              st.lists(st.binary(max_size=40), max_size=2)),
    st.builds(lambda after, ids: codec.encode(statesync.HistoryListResponse(7, after, ids)),
              st.sampled_from([b"", bytes(32)]),
              st.lists(st.binary(min_size=31, max_size=32), max_size=3)),
    st.builds(lambda ids, records: codec.encode(statesync.HistoryResponse(
        7, [data_history.HistoryWant(k, 0, 1) for k in ids],
        [HistoryPage(1, 0, records, b"")])),
        st.lists(st.binary(min_size=32, max_size=32), max_size=2), st.binary(max_size=80)),
    st.builds(lambda first, filters: codec.encode(statesync.FiltersResponse(
        7, first, WindowPage(8, first, filters, b""))),
        st.integers(0, 9), st.lists(st.binary(max_size=8), max_size=2)),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(phase=st.sampled_from(["epochs", "attest", "chunks", "index", "data"]),
       sender=st.integers(0, 4),
       messages=st.lists(hostile, max_size=6))
def test_hostile_messages_never_raise(epochs: Epochs, ledger: Ledger,
                                      phase: str, sender: int, messages: list[bytes]) -> None:
    sync = client(epochs)
    peers = peers_of(epochs, ledger)
    advance(sync, peers, phase)
    who = node_name(sender)
    for i, message in enumerate(messages):
        sync.handle(Receive(10 + i, who, message))
    # and it still finishes with honest peers
    if sync.phase != "done":
        sync.skipped.clear()
        check(run_from(sync, peers), epochs, ledger)


def run_from(sync: StateSync, peers: dict[bytes, Peer]) -> Synced:
    """Continue a run after hostile input: a timer re-asks whatever is owed."""
    queue: list[Action] = list(sync.handle(Timeout(10**6, SYNC_TIMER)))
    now = 10**6
    for _ in range(10_000):
        while queue:
            action = queue.pop(0)
            if isinstance(action, Deliver):
                assert isinstance(action.value, Synced)
                return action.value
            if isinstance(action, Send):
                reply = peers[action.to].answer(action.message)
                if reply is not None:
                    now += 1
                    queue += sync.handle(Receive(now, action.to, reply))
        now += 10_000
        queue += sync.handle(Timeout(now, SYNC_TIMER))
    raise AssertionError("state sync did not finish")
