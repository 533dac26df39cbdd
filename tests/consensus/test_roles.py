"""Unit tests per role: aggregator, safety rules, pacemaker, messages, block tree, sync."""

from __future__ import annotations

import contextlib
from collections import Counter
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.consensus.aggregator import Aggregator
from xinlian.consensus.blocks import PREFIX as BLOCK_PREFIX
from xinlian.consensus.blocks import BlockTree, block_id
from xinlian.consensus.certificates import Cert, Meter, VoteKey
from xinlian.consensus.committee import Committee
from xinlian.consensus.core import root_qc
from xinlian.consensus.messages import (
    QC,
    TC,
    Block,
    Proposal,
    SyncRequest,
    SyncResponse,
    Vote,
    decode_message,
    kind,
    vote_message,
)
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.consensus.retention import held
from xinlian.consensus.safety import SafetyRules, SafetyState
from xinlian.consensus.synchronizer import Synchronizer
from xinlian.protocol import Persist, Send
from xinlian.testing.consensus.committees import genesis, local_committee

COMMITTEE, KEYS = local_committee(4)
SM, SM_KEYS = local_committee(4, suite="sm", aggregate=False)
MESSAGE = vote_message(0, 1, 1, b"\x33" * 32)


def _votes(committee: Committee = COMMITTEE, keys: dict[bytes, VoteKey] = KEYS
           ) -> list[tuple[int, bytes]]:
    meter = Meter()
    return [(i, keys[n].sign(committee, MESSAGE, meter)) for i, n in enumerate(committee.nodes)]


def test_aggregator_certifies_once_at_the_threshold() -> None:
    agg, meter = Aggregator(), Meter()
    votes = _votes()
    assert agg.add(COMMITTEE, "k", *votes[0][:1], MESSAGE, votes[0][1], 3, meter) is None
    assert agg.add(COMMITTEE, "k", 0, MESSAGE, votes[0][1], 3, meter) is None  # duplicate
    assert agg.add(COMMITTEE, "k", 1, MESSAGE, votes[1][1], 3, meter) is None
    done = agg.add(COMMITTEE, "k", 2, MESSAGE, votes[2][1], 3, meter)
    assert done is not None and done[1] == [0, 1, 2]
    assert agg.add(COMMITTEE, "k", 3, MESSAGE, votes[3][1], 3, meter) is None  # already done
    assert meter["bls_verify"] == 1  # optimistic: one check for the whole quorum


@pytest.mark.parametrize(("committee", "keys"), [(COMMITTEE, KEYS), (SM, SM_KEYS)])
def test_aggregator_drops_an_invalid_vote_and_waits_for_a_good_one(committee, keys) -> None:
    agg, meter = Aggregator(), Meter()
    votes = _votes(committee, keys)
    forged = bytes([votes[1][1][0] ^ 1]) + votes[1][1][1:]
    assert agg.add(committee, "k", 0, MESSAGE, votes[0][1], 3, meter) is None
    assert agg.add(committee, "k", 1, MESSAGE, forged, 3, meter) is None
    assert agg.add(committee, "k", 2, MESSAGE, votes[2][1], 3, meter) is None
    assert agg.invalid == 1
    done = agg.add(committee, "k", 3, MESSAGE, votes[3][1], 3, meter)
    assert done is not None and done[1] == [0, 2, 3]


def test_aggregator_forgets_old_keys() -> None:
    agg, meter = Aggregator(), Meter()
    sig = _votes()[0][1]
    agg.add(COMMITTEE, 1, 0, MESSAGE, sig, 3, meter)
    agg.add(COMMITTEE, 5, 0, MESSAGE, sig, 3, meter)
    agg.forget(lambda k: k >= 3)  # type: ignore[operator]
    assert agg.power(COMMITTEE, 1) == 0 and agg.power(COMMITTEE, 5) == 1


def _qc(round_: int, height: int = 1) -> QC:
    return QC(0, round_, height, bytes([round_]) * 32, Cert(b"\x00", []))


def _block(round_: int, justify: QC, tc: TC | None = None) -> Block:
    return Block(0, round_, justify.height + 1, justify.block_id, 0, justify, tc, [], None)


def test_safety_rules_vote_once_per_round_and_follow_the_tc_rule() -> None:
    rules = SafetyRules(SafetyState(0, 0, root_qc(genesis(COMMITTEE))))
    b3 = _block(3, _qc(2))
    assert rules.safe_to_vote(b3, None)
    rules.record(3, _qc(2))
    assert not rules.safe_to_vote(b3, None)  # never twice in a round
    assert not rules.safe_to_vote(_block(2, _qc(1)), None)  # never backwards
    tc = TC(0, 4, [1, 2, 3], Cert(b"", []))
    assert rules.safe_to_vote(_block(5, _qc(3), tc), tc)  # extends the highest reported QC
    assert not rules.safe_to_vote(_block(5, _qc(2), tc), tc)  # would skip a possible commit
    assert not rules.safe_to_vote(_block(5, _qc(3)), None)  # a gap needs a TC
    assert rules.safe_to_timeout(0, 3) and not rules.safe_to_timeout(0, 2)
    rules.record(6, _qc(3))  # timed out in 6: no vote in 6 any more
    assert not rules.safe_to_vote(_block(6, _qc(5)), None)
    assert not rules.safe_to_vote(Block(1, 9, 2, b"x" * 32, 0, _qc(8), None, [], None), None)


def _value(persist: Persist) -> bytes:
    assert persist.value is not None  # a write, not a delete
    return persist.value


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 12), st.integers(0, 11),
                          st.booleans()), max_size=40))
def test_safety_state_survives_restarts_and_signed_rounds_only_grow(ops) -> None:
    """Random votes, timeouts and restarts (rebuilding from the last Persist): a vote only in
    a round above every earlier signature, a timeout never below one."""
    persisted = codec.encode(SafetyState(0, 0, root_qc(genesis(COMMITTEE))))
    rules = SafetyRules(codec.decode(persisted, SafetyState))
    signed: list[tuple[str, int]] = []
    for is_vote, round_, qc_round, restart in ops:
        if restart:
            rules = SafetyRules(codec.decode(persisted, SafetyState))
        qc = _qc(min(qc_round, round_ - 1))
        if is_vote and rules.safe_to_vote(_block(round_, qc), None):
            persisted = _value(rules.record(round_, qc))
            assert all(r < round_ for _, r in signed)
            signed.append(("vote", round_))
        elif not is_vote and rules.safe_to_timeout(0, round_):
            persisted = _value(rules.record(round_, qc))
            assert all(r <= round_ for _, r in signed)
            signed.append(("timeout", round_))


def test_pacemaker_backs_off_and_resets_with_a_qc() -> None:
    p = Pacemaker(base_ms=200, max_steps=3)
    assert p.duration(5, 4) == 200
    assert p.duration(6, 4) == 240
    assert p.duration(7, 4) == 288
    assert p.duration(50, 4) == 200 * 216 // 125  # capped
    assert p.retry_ms == 200


def test_messages_round_trip_and_garbage_raises_codec_errors() -> None:
    vote = Vote(0, 1, 1, b"\x01" * 32, b"sig")
    assert decode_message(codec.encode(vote)) == vote and kind(codec.encode(vote)) == "vote"
    proposal = Proposal(_block(2, _qc(1)))
    assert decode_message(codec.encode(proposal)) == proposal
    for junk in [b"", b"\x00", b"\x92\x63\x01", codec.encode([2, 0, 1]), codec.encode(vote)[:-1],
                 b"\x92\x05" + b"\xc4\x41" + b"\x00" * 65]:
        with pytest.raises(CodecError):
            decode_message(junk)
    assert kind(b"junk") == "other"


@given(st.binary(max_size=200))
def test_decoding_arbitrary_bytes_raises_only_codec_errors(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode_message(data)


def test_block_tree_walks_to_the_committed_block_and_reports_gaps() -> None:
    root = genesis(COMMITTEE)
    b1 = _block(1, root_qc(root))
    id1 = block_id(COMMITTEE, b1)
    b2 = _block(2, QC(0, 1, 1, id1, Cert(b"", [])))
    id2 = block_id(COMMITTEE, b2)
    tree = BlockTree({})
    assert tree.add(id2, b2) and tree.add(id2, b2) == []
    assert tree.chain(id2, bytes(root.block_id), 0) == ([(id2, b2)], id1)
    persists = tree.add(id1, b1)  # the block, and its entry in the epoch's manifest
    assert [p.key for p in persists] == [BLOCK_PREFIX + id1, held(0, BLOCK_PREFIX + id1).key]
    assert tree.chain(id2, bytes(root.block_id), 0) == ([(id1, b1), (id2, b2)], None)
    assert tree.chain(id2, id1, 1) == ([(id2, b2)], None)
    rebuilt = BlockTree({p.key: p.value for p in persists if p.value is not None})
    assert rebuilt.get(id1) == b1


def test_block_tree_keeps_recent_blocks_in_memory_and_reads_older_ones_from_the_store() -> None:
    """Blocks `memory` heights below the committed one leave memory; the live store view
    (what the runtime wrote from the tree's Persists) still answers for them."""
    store: dict[bytes, bytes] = {}
    tree = BlockTree(MappingProxyType(store), memory=8)
    parent, ids = root_qc(genesis(COMMITTEE)), []
    for height in range(1, 41):
        block = _block(height, parent)
        bid = block_id(COMMITTEE, block)
        for persist in tree.add(bid, block):  # the runtime carries the Persists out
            assert persist.value is not None
            store[persist.key] = persist.value
        ids.append(bid)
        parent = QC(0, height, height, bid, Cert(b"", []))
        tree.committed(height)
        assert len(tree.blocks) <= 8 + 8 // 4 + 1  # the window, plus heights between sweeps
    assert min(b.height for b in tree.blocks.values()) >= 40 - 8 - 8 // 4
    old = ids[0]
    read_back = tree.get(old)
    assert old not in tree.blocks and old in tree and read_back is not None
    assert tree.add(old, read_back) == []  # stored already: not persisted again
    chain, missing = tree.chain(ids[-1], bytes(genesis(COMMITTEE).block_id), 0)
    assert missing is None and [bid for bid, _ in chain] == ids  # walks through the store
    assert tree.get(b"\x00" * 32) is None and b"\x00" * 32 not in tree


def test_synchronizer_asks_the_hint_then_rotates_and_serves_chains() -> None:
    sync = Synchronizer(retry_ms=100)
    nodes = COMMITTEE.nodes
    first = sync.want(0, b"\x07" * 32, nodes[2], None)
    assert isinstance(first[0], Send) and first[0].to == nodes[2]
    assert sync.want(0, b"\x07" * 32, nodes[2], None) == []  # already asked
    again = sync.retry(100, nodes, nodes[0])
    assert isinstance(again[0], Send) and again[0].to == nodes[3]
    assert codec.decode(again[0].message, SyncRequest).block_id == b"\x07" * 32
    assert sync.take(b"\x07" * 32) and not sync.take(b"\x07" * 32)

    root = genesis(COMMITTEE)
    b1 = _block(1, root_qc(root))
    tree = BlockTree({})
    tree.add(block_id(COMMITTEE, b1), b1)
    served = sync.serve(nodes[1], block_id(COMMITTEE, b1), tree)
    assert codec.decode(served[0].message, SyncResponse).blocks == [b1]  # type: ignore[union-attr]
    assert sync.serve(nodes[1], b"\x00" * 32, tree) == []


def test_proposer_needs_a_certificate_for_the_previous_round_and_skips_ordered_batches() -> None:
    from xinlian.consensus.certificates import VoteKey
    from xinlian.consensus.dissemination import Dissemination
    from xinlian.consensus.messages import BatchCert
    from xinlian.consensus.proposer import build_block

    root = genesis(COMMITTEE)
    pool = Dissemination(COMMITTEE.nodes[0], VoteKey(), {}, 1024, 10, 100, 1000, Meter(),
                         Counter())
    pool.start_epoch(COMMITTEE, 0)
    certs = [BatchCert(0, bytes([i]) * 32, 0, 1, Cert(b"", [])) for i in range(3)]
    for c in certs:
        pool.pending[bytes(c.digest)] = c
    tree = BlockTree({})
    committed = (0, bytes(root.block_id))
    assert build_block(0, 3, 0, root_qc(root), None, tree, committed, pool, None, 10) is None
    b1 = build_block(0, 1, 0, root_qc(root), None, tree, committed, pool, None, 2)
    assert b1 is not None and [c.digest for c in b1.payload] == [certs[0].digest,
                                                                 certs[1].digest]
    id1 = block_id(COMMITTEE, b1)
    tree.add(id1, b1)
    qc1 = QC(0, 1, 1, id1, Cert(b"", []))
    b2 = build_block(0, 2, 1, qc1, None, tree, committed, pool, COMMITTEE, 10)
    assert b2 is not None and [c.digest for c in b2.payload] == [certs[2].digest]
    assert b2.reconfig == COMMITTEE
    tree.add(block_id(COMMITTEE, b2), b2)
    qc2 = QC(0, 2, 2, block_id(COMMITTEE, b2), Cert(b"", []))
    b3 = build_block(0, 3, 2, qc2, None, tree, committed, pool, COMMITTEE, 10)
    assert b3 is not None and b3.payload == [] and b3.reconfig is None  # after reconfig
    tc = TC(0, 3, [2, 2, 2], Cert(b"", []))
    b4 = build_block(0, 4, 3, qc2, tc, tree, committed, pool, None, 10)
    assert b4 is not None and b4.tc == tc
