"""Pruning (node.toml `prune_keep_blocks`) against archive: what a pruned chain store keeps
and drops, the typed errors for what it dropped, the bounded work per block, and that a
block's pruning commits with it or not at all."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xinlian import codec
from xinlian.consensus.blocks import PREFIX as BLOCK_PREFIX
from xinlian.consensus.core import Config
from xinlian.consensus.dissemination import PREFIX as BATCH_PREFIX
from xinlian.consensus.messages import Block
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.ledger import merkle
from xinlian.ledger.account import Account, account_key
from xinlian.ledger.transaction import decode_transaction
from xinlian.node.certify import genesis_root
from xinlian.node.errors import BlockPruned, NodeConfigError, NotFound
from xinlian.node.history import verify_header_proof
from xinlian.node.pipeline import LedgerPipeline
from xinlian.node.retention import MIN_KEEP, STEP, Retention, retention_from
from xinlian.node.service import Node
from xinlian.sim.runtime import Simulation
from xinlian.storage import chain_index, jmt
from xinlian.storage.errors import StatePrunedError
from xinlian.storage.proof import verify_proof
from xinlian.testing.validators import ValidatorNet

from .conftest import Fixture

KEEP = MIN_KEEP
BLOCKS = 60


def _pipeline(fx: Fixture, path: Path, retention: Retention) -> LedgerPipeline:
    return LedgerPipeline(path, fx.genesis, fx.node_key, clock=lambda: 0, retention=retention)


def _commit_blocks(fx: Fixture, ledger: LedgerPipeline, count: int, nonce: int = 0) -> int:
    """`count` blocks of two transfers each (accounts 0 and 1, from `nonce`); returns the
    next nonce."""
    for _ in range(count):
        raws = [fx.transfer(0, nonce, 2, 1), fx.transfer(1, nonce, 3, 1)]
        txs = [decode_transaction(r, fx.genesis.chain_id, fx.suite.hash_bytes) for r in raws]
        built = ledger.build(txs, ledger.chain.height + 1)
        assert built.prepared is not None and len(built.prepared.txs) == 2
        ledger.commit(built)
        ledger.publish(built)
        nonce += 1
    return nonce


def _tx_hashes(ledger: LedgerPipeline, height: int) -> list[bytes]:
    header = ledger.chain.header(height)
    assert header is not None
    block = ledger.chain.block(height)
    assert block is not None
    return ledger.chain.tx_hashes(block)


@pytest.fixture
def chains(fx: Fixture) -> Iterator[tuple[LedgerPipeline, LedgerPipeline, list[list[bytes]]]]:
    """The same blocks committed to an archive chain and a pruned one; each height's tx
    hashes (read from the archive)."""
    archive = _pipeline(fx, fx.dir / "archive", Retention())
    pruned = _pipeline(fx, fx.dir / "pruned", Retention(KEEP))
    _commit_blocks(fx, archive, BLOCKS)
    _commit_blocks(fx, pruned, BLOCKS)
    hashes = [_tx_hashes(archive, h) for h in range(BLOCKS + 1)]
    yield archive, pruned, hashes
    archive.close()
    pruned.close()


def test_pruning_leaves_the_chain_itself_unchanged(chains) -> None:
    archive, pruned, _ = chains
    for height in range(BLOCKS + 1):
        a, p = archive.chain.header(height), pruned.chain.header(height)
        assert a is not None and p is not None
        assert a.header == p.header  # the same state roots: pruning is no consensus matter


def test_a_pruned_store_keeps_the_window_whole_and_headers_below(chains, fx: Fixture) -> None:
    _, pruned, hashes = chains
    chain = pruned.chain
    assert chain.pruned_below == BLOCKS - KEEP + 1  # exactly the last KEEP blocks
    for height in range(chain.pruned_below, BLOCKS + 1):  # the window: all of it
        block = chain.block(height)
        assert block is not None and block.header.tx_count == 2
        for tx_hash in hashes[height]:
            record = chain.transaction(tx_hash)
            assert record is not None and record.height == height
            assert merkle.verify_path(record.header.tx_root, tx_hash, record.tx_path,
                                      fx.suite.hash_bytes)
        raw, proof = chain.tree.get_with_proof(account_key(fx.addr(2)), height)
        assert verify_proof(block.header.state_root, account_key(fx.addr(2)), raw, proof,
                            fx.suite.hash_bytes)
        assert raw is not None and codec.decode(raw, Account).balance == 10_000 + height
    for height in range(1, chain.pruned_below):  # below it: headers, nothing per tx
        assert chain.block(height) is None
        header = chain.header(height)
        assert header is not None and header.header.height == height
        assert chain.index.height_by_hash(chain.header_hash(height) or b"") == height
        for tx_hash in hashes[height]:
            assert chain.index.tx_location(tx_hash) is None
            assert chain.receipt(tx_hash) is None and chain.index.tx_raw(tx_hash) is None
        assert not chain.store.scan(chain_index.TREE_PAIRS_DB,
                                    prefix=height.to_bytes(8, "big"))
        with pytest.raises(StatePrunedError):
            chain.tree.get(account_key(fx.addr(2)), height)
    # the sender index lists the window's nonces alone
    nonces = [n for n, _ in chain.index.sender_txs(fx.addr(0), limit=1000)]
    assert nonces == list(range(chain.pruned_below - 1, BLOCKS))
    assert not chain.store.scan(jmt.STALE_DB, stop=chain.pruned_below.to_bytes(8, "big"))


def test_old_headers_still_prove_against_a_recent_one(chains, fx: Fixture) -> None:
    _, pruned, _ = chains
    chain = pruned.chain
    anchor = chain.header(BLOCKS)
    assert anchor is not None
    for height in (0, 1, chain.pruned_below - 1):
        proof = chain.header_proof(height, BLOCKS)
        assert proof is not None
        old = chain.header(height)
        assert old is not None and proof.header == old.header
        verify_header_proof(anchor.header, proof, fx.suite.hash_bytes)


def test_the_pruned_store_holds_far_fewer_records(chains) -> None:
    archive, pruned, _ = chains
    per_tx = (chain_index.RECEIPTS_DB, chain_index.TX_RAW_DB, chain_index.TX_LOCATIONS_DB,
              chain_index.SENDER_TXS_DB, chain_index.BLOCKS_DB)
    for db in per_tx:
        assert len(pruned.chain.store.scan(db)) * 3 < len(archive.chain.store.scan(db))
    assert len(pruned.chain.store.scan(jmt.NODES_DB)) < len(archive.chain.store.scan(
        jmt.NODES_DB))


def test_queries_below_the_window_get_typed_errors(fx: Fixture) -> None:
    ledger = _pipeline(fx, fx.dir, Retention(KEEP))
    _commit_blocks(fx, ledger, KEEP + 10)
    ledger.close()
    node = Node(fx.dir, fx.genesis, fx.node_key, retention=Retention(KEEP))
    try:
        below = node.status().pruned_below
        assert below == 11
        with pytest.raises(BlockPruned) as info:
            node.block(below - 1)
        assert (info.value.code, info.value.name) == (6512, "block_pruned")
        assert isinstance(info.value, NotFound)  # a client catching "not found" still does
        old_hash = node.chain.header_hash(below - 1)
        assert old_hash is not None
        with pytest.raises(BlockPruned):
            node.block_by_hash(old_hash)
        assert node.block_by_hash(b"\x01" * 32) is None
        with pytest.raises(StatePrunedError) as state_info:
            node.account(fx.addr(2), below - 1)
        assert (state_info.value.code, state_info.value.name) == (3011, "state_pruned")
        with pytest.raises(StatePrunedError):
            node.contract_query(b"\x00" * 20, "get", b"", below - 1)
        view = node.account(fx.addr(2), below)  # the window's oldest block still proves
        assert verify_proof(view.state.header.state_root, account_key(fx.addr(2)),
                            view.state.value, view.state.proof, fx.suite.hash_bytes)
        block = node.block(below)
        assert block is not None and block.header.tx_count == 2
        assert node.block(KEEP + 11) is None  # above the head: none, not "pruned"
    finally:
        asyncio.run(node.stop())


def test_switching_an_archive_node_to_pruned_prunes_step_by_step(fx: Fixture) -> None:
    ledger = _pipeline(fx, fx.dir, Retention())
    nonce = _commit_blocks(fx, ledger, 40)
    ledger.close()
    ledger = _pipeline(fx, fx.dir, Retention(KEEP))
    try:
        seen = []
        for _ in range(6):
            nonce = _commit_blocks(fx, ledger, 1, nonce)
            seen.append(ledger.chain.pruned_below)
        # STEP heights per block until it reaches the window (head - KEEP + 1), then one
        assert seen == [STEP, 2 * STEP, 3 * STEP, 44 - KEEP + 1, 45 - KEEP + 1, 46 - KEEP + 1]
        assert ledger.chain.height == 46
    finally:
        ledger.close()


def test_a_block_and_its_pruning_commit_together_or_not_at_all(fx: Fixture) -> None:
    """A crash before the block's commit (its batch dropped unwritten) leaves the store as
    it was, neither the block nor its pruning; reopened, the next block does both."""
    ledger = _pipeline(fx, fx.dir, Retention(KEEP))
    nonce = _commit_blocks(fx, ledger, KEEP + 3)
    below, height = ledger.chain.pruned_below, ledger.chain.height
    raws = [fx.transfer(0, nonce, 2, 1)]
    built = ledger.build([decode_transaction(raws[0], fx.genesis.chain_id,
                                             fx.suite.hash_bytes)], height + 1)
    assert any(db == chain_index.BLOCKS_DB and value is None
               for db, ops in built.batch._ops.items() for value in ops.values())
    ledger.close()  # the process dies here: the batch never reaches the store
    ledger = _pipeline(fx, fx.dir, Retention(KEEP))
    try:
        chain = ledger.chain
        assert (chain.height, chain.pruned_below) == (height, below)
        assert chain.block(below) is not None and chain.tree.root(below) is not None
        _commit_blocks(fx, ledger, 1, nonce)
        assert (chain.height, chain.pruned_below) == (height + 1, below + 1)
        assert chain.block(below) is None
    finally:
        ledger.close()


def test_a_validator_keeps_the_block_its_epoch_starts_on(fx: Fixture) -> None:
    """`prune_floor` (set by a validator: the ledger block state sync serves) holds
    pruning back whatever the window."""
    ledger = _pipeline(fx, fx.dir, Retention(KEEP))
    ledger.chain.prune_floor = 5
    try:
        _commit_blocks(fx, ledger, KEEP + 20)
        assert ledger.chain.pruned_below == 5
        assert ledger.chain.block(5) is not None and ledger.chain.block(4) is None
    finally:
        ledger.close()


@pytest.mark.parametrize(("config", "expected"), [
    ({}, Retention()),
    ({"archive": True}, Retention()),
    ({"prune_keep_blocks": 1000}, Retention(1000)),
    ({"prune_keep_blocks": MIN_KEEP, "archive": False}, Retention(MIN_KEEP)),
])
def test_retention_config(config: dict[str, object], expected: Retention) -> None:
    assert retention_from(config) == expected


@pytest.mark.parametrize("config", [
    {"prune_keep_blocks": MIN_KEEP - 1},
    {"prune_keep_blocks": 0},
    {"prune_keep_blocks": -5},
    {"prune_keep_blocks": "100"},
    {"prune_keep_blocks": 100.0},
    {"prune_keep_blocks": True},
    {"prune_keep_blocks": 100, "archive": True},
    {"archive": "yes"},
    {"archive": False},
])
def test_invalid_retention_config_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(NodeConfigError) as info:
        retention_from(config)
    assert info.value.code == 6502


def test_keep_from_is_bounded_and_floored() -> None:
    window = Retention(20)
    assert Retention().keep_from(10_000, 0) is None  # archive
    assert window.keep_from(19, 0) is None  # the chain is not longer than the window yet
    assert window.keep_from(20, 0) == 1
    assert window.keep_from(1000, 0) == STEP
    assert window.keep_from(1000, 500) == 500 + STEP
    assert window.keep_from(1000, 981) is None  # already at the window
    assert window.keep_from(1000, 100, floor=103) == 103
    assert window.keep_from(1000, 103, floor=103) is None


def test_pruned_validators_agree_restart_and_keep_what_state_sync_serves() -> None:
    """Four validators with a window of 16 blocks in the simulator, two epoch changes, one
    validator down for a while before pruning starts and another after its store was
    pruned: their ledgers agree, the restarted ones catch up from their peers' consensus
    blocks, and each prunes up to the block its epoch starts on, no further, so it still
    serves that block and its state to a joining validator."""
    net = ValidatorNet(4, 31, config=Config(pacemaker=Pacemaker(base_ms=300)),
                       retention=Retention(KEEP))
    try:
        net.load(0, 6000)
        net.new_epochs([900, 2500])
        net.sim.crash(net.nodes[1], 1200)
        net.sim.restart(net.nodes[1], 2000)
        net.sim.crash(net.nodes[2], 3300)  # down and back after its store was pruned
        net.sim.restart(net.nodes[2], 3900)
        net.sim.run_until(3250)
        assert net.validator(net.nodes[2]).ledger.chain.pruned_below > 0  # type: ignore[union-attr]
        net.sim.run_until(7000)
        assert net.log.violations == []
        validators = [net.validator(n) for n in net.nodes]
        assert len({v.ledger.chain.height for v in validators if v is not None}) == 1
        for validator in validators:
            assert validator is not None and validator.consensus.epoch == 2
            chain, bft = validator.ledger.chain, validator.bft
            start = bft.epoch_block(2)
            assert start is not None  # whole: with its transactions, as state sync sends it
            floor = start.header.height
            assert chain.prune_floor == floor and chain.height - floor > KEEP
            assert 0 < chain.pruned_below == floor
            assert chain.block(floor - 1) is None and chain.header(floor - 1) is not None
            assert bft.chunk(floor, "") is not None and bft.chunk(floor - 1, "") is None
    finally:
        net.close()


def test_periodic_epochs_let_validators_prune_and_bound_what_consensus_holds_in_memory(
) -> None:
    """With `epoch_blocks` in the genesis params the validators start a new epoch of the
    same committee every 8 ledger blocks, decided alike from ledger state: their ledgers
    agree, and the pruning floor (the block the current epoch starts on) follows, so a
    chain whose committee never changes prunes to its window. Consensus keeps only its
    recent blocks and batches in memory (`memory_blocks`, here 32 heights) and reads the
    rest back from its store, which still holds them all: a validator restarted mid-run
    catches up, and every epoch's proof is still served for state sync."""
    memory = 32
    net = ValidatorNet(4, 7, config=Config(pacemaker=Pacemaker(base_ms=300),
                                           memory_blocks=memory),
                       retention=Retention(KEEP), params={"epoch_blocks": 8})
    try:
        net.load(0, 5000)
        net.sim.crash(net.nodes[3], 1500)
        net.sim.restart(net.nodes[3], 2200)
        net.sim.run_until(6000)
        assert net.log.violations == []
        validators = [v for n in net.nodes if (v := net.validator(n)) is not None]
        assert len({(v.ledger.chain.height, v.consensus.epoch) for v in validators}) == 1
        for node, validator in zip(net.nodes, validators, strict=True):
            chain, bft, core = validator.ledger.chain, validator.bft, validator.consensus
            epoch = core.epoch
            assert epoch >= 4
            assert core.committee.members == genesis_root(net.genesis).committee.members
            starts = [s for e in range(epoch + 1) if (s := bft.epoch_start(e)) is not None]
            assert len(starts) == epoch + 1
            # each epoch ran at least 8 ledger blocks (the next starts once a block carrying
            # its committee commits, a few blocks after the decision)
            assert all(b - a >= 8 for a, b in itertools.pairwise(starts))
            assert chain.prune_floor == starts[-1]
            assert chain.pruned_below == min(chain.height - KEEP + 1, starts[-1]) > 0
            # memory: the recent heights; the store (archive of consensus data): all of them
            store = net.sim.store(node)
            blocks = sum(k.startswith(BLOCK_PREFIX) for k in store)
            batches = sum(k.startswith(BATCH_PREFIX) for k in store)
            assert core.committed_height > 4 * memory and blocks > 4 * memory
            assert len(core.tree.blocks) <= 2 * memory < blocks
            assert len(core.pool.recent) <= 2 * memory < batches
            proofs = bft.epoch_proofs(0, epoch)  # read back from the store
            assert [p.qc.epoch for p in proofs] == list(range(epoch))
    finally:
        net.close()


def test_pruned_validators_drop_the_consensus_data_of_ended_epochs() -> None:
    """With `Config.drop_epochs` a pruned validator tells consensus the oldest epoch its
    ledger still needs (`Retain`), and consensus deletes the blocks, batches and ordered
    marks of the epochs below it: over many periodic epochs the consensus store stays
    bounded, every epoch's proof is still served for state sync (one record per epoch), a
    validator restarted mid-run catches up, and the ledgers agree."""
    net = ValidatorNet(4, 7, config=Config(pacemaker=Pacemaker(base_ms=300), memory_blocks=32,
                                           drop_epochs=True),
                       retention=Retention(KEEP), params={"epoch_blocks": 8})
    sizes: list[int] = []

    def measure(sim: Simulation) -> None:
        store = sim.store(net.nodes[0])
        sizes.append(sum(k.startswith((BLOCK_PREFIX, BATCH_PREFIX)) for k in store))
    try:
        net.load(0, 6000)
        for at in range(1000, 6001, 1000):
            net.sim.at(at, measure)
        net.sim.crash(net.nodes[3], 1500)
        net.sim.restart(net.nodes[3], 2200)
        net.sim.run_until(7000)
        assert net.log.violations == []
        validators = [v for n in net.nodes if (v := net.validator(n)) is not None]
        assert len({(v.ledger.chain.height, v.consensus.epoch) for v in validators}) == 1
        for node, validator in zip(net.nodes, validators, strict=True):
            core, bft = validator.consensus, validator.bft
            assert core.dropped >= core.epoch - 4 > 0
            kept = {codec.decode(v, Block).epoch for k, v in net.sim.store(node).items()
                    if k.startswith(BLOCK_PREFIX)}
            assert min(kept) >= core.dropped
            proofs = bft.epoch_proofs(0, core.epoch)
            assert [p.qc.epoch for p in proofs] == list(range(core.epoch))
        assert max(sizes[len(sizes) // 2:]) <= 1.5 * max(sizes[:len(sizes) // 2])
    finally:
        net.close()


def test_a_validator_asleep_while_its_peers_dropped_catches_up_by_state_sync_and_votes() -> None:
    """Four pruned validators drop ended epochs; one is down for several epochs, so its
    peers dropped the blocks and batches it would commit its way forward from. Restarted,
    it asks how its epoch ended, is answered Pruned by its peers, stops consensus, catches
    up by state sync from its epoch root, rejoins at the latest epoch and votes again: with
    another validator down after that, the chain moves on only with its votes. The ledgers
    agree, with a gap on the rejoined one between its old head and the snapshot."""
    net = ValidatorNet(4, 7, config=Config(pacemaker=Pacemaker(base_ms=300), memory_blocks=32,
                                           drop_epochs=True),
                       retention=Retention(KEEP), params={"epoch_blocks": 8})
    sleeper, other = net.nodes[3], net.nodes[0]
    heights: dict[str, int] = {}

    def note(name: str) -> Callable[[Simulation], None]:
        def record(sim: Simulation) -> None:
            heights[name] = net.log.height(net.nodes[1])
        return record
    try:
        net.load(0, 22_000)
        net.sim.crash(sleeper, 1000)  # in epoch 1; its peers drop it by about 10 s
        net.sim.restart(sleeper, 12_000)
        net.sim.at(15_000, note("other down"))
        net.sim.crash(other, 15_000)
        net.sim.run_until(22_500)
        assert net.log.violations == []
        rejoined = net.validator(sleeper)
        assert rejoined is not None and rejoined.resynced == 1
        mine = net.log.by_node[sleeper]
        asleep_at = max(h for h in mine if h < heights["other down"] and h + 1 not in mine)
        assert asleep_at < min(h for h in mine if h > asleep_at) - 1  # the gap
        running = [v for n in net.nodes if (v := net.validator(n)) is not None]
        assert len(running) == 3
        assert len({(v.ledger.chain.height, v.consensus.epoch) for v in running}) == 1
        # three of four up: a quorum only with the rejoined validator's votes
        assert net.log.height(net.nodes[1]) > heights["other down"] + 8
        # and it drops again: what it held of its old epoch, and the epochs since
        core = rejoined.consensus
        assert core.epoch > 4 and core.dropped >= core.epoch - 4
        kept = {codec.decode(v, Block).epoch for k, v in net.sim.store(sleeper).items()
                if k.startswith(BLOCK_PREFIX)}
        assert min(kept) >= core.dropped
    finally:
        net.close()
