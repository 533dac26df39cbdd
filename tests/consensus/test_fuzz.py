"""Property: a core never raises, whatever well-formed but hostile messages it receives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.consensus.certificates import Cert, Meter
from xinlian.consensus.core import ConsensusCore
from xinlian.consensus.messages import (
    QC,
    TC,
    Ack,
    Available,
    Batch,
    BatchCert,
    BatchMsg,
    BatchRequest,
    BatchResponse,
    Block,
    Certified,
    EpochRequest,
    Proposal,
    SyncRequest,
    SyncResponse,
    Timeout,
    Vote,
)
from xinlian.protocol import Receive, Start
from xinlian.testing.consensus.committees import genesis, local_committee

COMMITTEE, KEYS = local_committee(4)
ROOT = genesis(COMMITTEE)
small = st.integers(0, 6)
ids = st.one_of(st.just(bytes(ROOT.block_id)), st.binary(min_size=32, max_size=32))
sigs = st.binary(max_size=100)
certs = st.builds(Cert, st.binary(max_size=2), st.lists(sigs, max_size=4))
qcs = st.builds(QC, st.integers(0, 1), small, small, ids, certs)
tcs = st.builds(TC, st.integers(0, 1), small, st.lists(small, max_size=4), certs)
batch_certs = st.builds(BatchCert, st.integers(0, 1), ids, small, small, certs)
blocks = st.builds(Block, st.integers(0, 1), small, small, ids, st.integers(0, 4), qcs,
                   st.none() | tcs, st.lists(batch_certs, max_size=2), st.none())
batches = st.builds(Batch, st.integers(0, 1), st.integers(0, 4), small, small,
                    st.binary(max_size=50))
messages = st.one_of(
    st.builds(Proposal, blocks),
    st.builds(Vote, st.integers(0, 1), small, small, ids, sigs),
    st.builds(Timeout, st.integers(0, 1), small, qcs, st.none() | tcs, sigs),
    st.builds(Certified, qcs, st.none() | tcs),
    st.builds(SyncRequest, ids),
    st.builds(SyncResponse, st.lists(blocks, max_size=3)),
    st.builds(BatchMsg, batches),
    st.builds(Ack, st.integers(0, 1), ids, sigs),
    st.builds(Available, batch_certs),
    st.builds(BatchRequest, ids),
    st.builds(BatchResponse, st.binary(max_size=80)),
    st.builds(EpochRequest, small),
)
senders = st.sampled_from([*COMMITTEE.nodes, b"stranger"])


@settings(max_examples=150)
@given(st.lists(st.tuples(senders, messages), min_size=1, max_size=8))
def test_hostile_messages_never_raise(inbox) -> None:
    core = ConsensusCore(COMMITTEE.nodes[2], KEYS[COMMITTEE.nodes[2]], ROOT)
    core.handle(Start(0))
    for t, (sender, message) in enumerate(inbox):
        core.handle(Receive(t + 1, sender, codec.encode(message)))


@st.composite
def signed(draw) -> tuple[bytes, object]:
    """A member's correctly signed vote or timeout with arbitrary rounds and heights."""

    from xinlian.consensus.core import root_qc
    from xinlian.consensus.messages import timeout_message, vote_message

    sender = draw(st.sampled_from(COMMITTEE.nodes))
    key, meter = KEYS[sender], Meter()
    round_, height = draw(small), draw(small)
    if draw(st.booleans()):
        block = draw(ids)
        sig = key.sign(COMMITTEE, vote_message(0, round_, height, block), meter)
        return sender, Vote(0, round_, height, block, sig)
    sig = key.sign(COMMITTEE, timeout_message(0, round_, 0), meter)
    return sender, Timeout(0, round_, root_qc(ROOT), None, sig)


@settings(max_examples=60)
@given(st.lists(signed(), min_size=1, max_size=12))
def test_validly_signed_odd_votes_and_timeouts_never_raise(inbox) -> None:
    for me in COMMITTEE.nodes[:2]:
        core = ConsensusCore(me, KEYS[me], ROOT)
        core.handle(Start(0))
        for t, (sender, message) in enumerate(inbox):
            core.handle(Receive(t + 1, sender, codec.encode(message)))
