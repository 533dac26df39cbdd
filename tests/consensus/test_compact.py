"""Compact proposals: certificates named by digest, broadcast votes, fetching what is missing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.consensus.blocks import block_id
from xinlian.consensus.certificates import Cert, Meter, combine
from xinlian.consensus.compact import (
    Parked,
    Sources,
    VotePool,
    cert_digest,
    certificates,
    fill,
    strip,
)
from xinlian.consensus.core import Config, ConsensusCore
from xinlian.consensus.messages import (
    MAX_WIRE,
    QC,
    BatchCert,
    Block,
    CertRequest,
    CertResponse,
    CompactProposal,
    Vote,
    ack_message,
    decode_message,
    kind,
    vote_message,
)
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.protocol import Action, Broadcast, NodeId, Receive, Send, Start
from xinlian.sim.runtime import Interceptor, Simulation
from xinlian.testing.consensus import byzantine
from xinlian.testing.consensus.committees import genesis, local_committee
from xinlian.testing.consensus.simnet import ConsensusNet

SM, SM_KEYS = local_committee(4, suite="sm", aggregate=False)
PARENT = b"\x11" * 32
FAST = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=100)


def _vote(i: int, round_: int = 1, height: int = 1, bid: bytes = PARENT) -> Vote:
    key = SM_KEYS[SM.nodes[i]]
    return Vote(0, round_, height, bid, key.sign(SM, vote_message(0, round_, height, bid),
                                                 Meter()))


VOTES = [_vote(i) for i in range(4)]
ACKED = [b"\x20" * 32, b"\x21" * 32, b"\x22" * 32]
BATCHES = [BatchCert(0, d, 1, 5, combine(SM, [(i, SM_KEYS[SM.nodes[i]].sign(
    SM, ack_message(0, d), Meter())) for i in (1, 2)], Meter())) for d in ACKED]


def _block(signers: Sequence[int], payload: Sequence[BatchCert]) -> Block:
    cert = combine(SM, [(i, bytes(VOTES[i].signature)) for i in signers], Meter())
    return Block(0, 2, 2, PARENT, 2, QC(0, 1, 1, PARENT, cert), None, list(payload), None)


def _pool(indices: Sequence[int], votes: Sequence[Vote] = VOTES) -> VotePool:
    pool = VotePool()
    for i in indices:
        assert pool.add(i, votes[i], current_round=2)
    return pool


def _announced(d: bytes) -> BatchCert | None:
    return next((c for c in BATCHES if bytes(c.digest) == d), None)


def _sources(votes: VotePool, announced: Callable[[bytes], BatchCert | None] = _announced
             ) -> Sources:
    return Sources(votes, announced=announced)


@settings(max_examples=40, deadline=None)
@given(signers=st.sampled_from([[0, 1, 2], [0, 1, 3], [1, 2, 3], [0, 1, 2, 3]]),
       picks=st.lists(st.sampled_from(range(len(BATCHES))), max_size=3, unique=True))
def test_a_compact_proposal_rebuilds_the_same_block_from_votes_and_announcements(
        signers: list[int], picks: list[int]) -> None:
    block = _block(signers, [BATCHES[i] for i in picks])
    compact = strip(SM, block, Meter())
    assert codec.decode(codec.encode(compact), CompactProposal) == compact
    assert all(c.cert.signatures == [] for c in compact.block.payload)
    assert compact.block.justify.cert.signatures == []
    rebuilt, missing = fill(SM, Parked(compact, 0), _sources(_pool(range(4))), Meter())
    assert missing == [] and rebuilt == block
    assert rebuilt is not None and block_id(SM, rebuilt) == block_id(SM, block)
    # the wire form trades every signature for a 32-byte digest per certificate
    signatures = sum(len(s) for c in certificates(block) for s in c.signatures)
    assert len(codec.encode(compact)) <= (len(codec.encode(block)) - signatures
                                          + 36 * len(certificates(block)))


def test_missing_votes_and_announcements_are_named_until_they_arrive() -> None:
    block = _block([0, 1, 2], BATCHES[:2])
    compact = strip(SM, block, Meter())
    parked = Parked(compact, 0)
    rebuilt, missing = fill(SM, parked, _sources(_pool([0, 1]), lambda d: None), Meter())
    assert rebuilt is None and missing == [bytes(d) for d in compact.certs]
    pool = _pool([0, 1, 2])
    rebuilt, missing = fill(SM, parked, _sources(pool, lambda d: None), Meter())
    assert rebuilt is None and missing == [bytes(d) for d in compact.certs[1:]]
    rebuilt, missing = fill(SM, parked, _sources(pool), Meter())
    assert missing == [] and rebuilt == block


def test_invalid_a_vote_signed_twice_does_not_rebuild_another_certificate() -> None:
    """SM2 signatures are randomised: a voter that signs its vote twice gives the leader one
    signature and this member another. The rebuilt QC's digest differs, so the member
    takes only the proposer's certificate."""
    block = _block([0, 1, 2], [])
    compact = strip(SM, block, Meter())
    twice = list(VOTES)
    twice[1] = _vote(1)
    assert twice[1].signature != VOTES[1].signature
    parked = Parked(compact, 0)
    rebuilt, missing = fill(SM, parked, _sources(_pool([0, 1, 2], twice)), Meter())
    assert rebuilt is None and missing == [bytes(compact.certs[0])]
    parked.found[bytes(compact.certs[0])] = block.justify.cert  # the proposer's answer
    rebuilt, missing = fill(SM, parked, _sources(_pool([0, 1, 2], twice)), Meter())
    assert rebuilt == block


def test_the_vote_pool_keeps_one_vote_per_sender_and_near_rounds_only() -> None:
    pool = VotePool()
    assert pool.add(0, VOTES[0], current_round=1)
    assert not pool.add(0, _vote(0, bid=b"\x99" * 32), current_round=1)  # one per round
    assert not pool.add(1, _vote(1, round_=9), current_round=1)  # too far ahead
    assert not pool.add(1, _vote(1, round_=1), current_round=4)  # too old
    pool.forget(2)
    assert pool.held == {}


def test_compact_wire_messages_round_trip_and_are_named() -> None:
    for message in (strip(SM, _block([0, 1, 2], BATCHES), Meter()),
                    CertRequest([b"\x01" * 32]), CertResponse([Cert(b"\x80", [b"s"])])):
        data = codec.encode(message)
        assert decode_message(data) == message
    assert kind(codec.encode(CertRequest([]))) == "cert_request"
    assert kind(codec.encode(CertResponse([]))) == "cert_response"
    assert kind(codec.encode(strip(SM, _block([0, 1, 2], []), Meter()))) == "compact_proposal"


@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_with_compact_tags_raises_only_codec_errors(data: bytes) -> None:
    for tag in (14, 15, 16):
        with contextlib.suppress(CodecError):
            decode_message(bytes([0x92, tag]) + data)


def _core(i: int) -> tuple[ConsensusCore, Sequence[Action]]:
    core = ConsensusCore(SM.nodes[i], SM_KEYS[SM.nodes[i]], genesis(SM), config=FAST)
    return core, core.handle(Start(0))


def test_invalid_compact_messages_are_dropped_and_counted() -> None:
    core, _ = _core(3)
    leader = SM.nodes[1]
    block = _block([0, 1, 2], BATCHES[:1])
    short = CompactProposal(strip(SM, block, Meter()).block, [])  # no digest per certificate
    assert core.handle(Receive(1, leader, codec.encode(short))) == []
    assert core.metrics["dropped_InvalidMessage"] == 1
    # an answer nobody asked for is ignored
    assert core.handle(Receive(1, leader, codec.encode(CertResponse([block.justify.cert])))) == []
    assert core.metrics["certs_unrequested"] == 1
    # a request for certificates this node never proposed gets no answer
    assert core.handle(Receive(1, leader, codec.encode(CertRequest([b"\x05" * 32])))) == []


def test_a_leader_sends_compact_proposals_and_serves_their_certificates() -> None:
    core, started = _core(1)  # round 1's leader (round robin from epoch 0)
    sent = [a for a in started if isinstance(a, Broadcast)]
    compact = next(decode_message(a.message) for a in sent
                   if kind(a.message) == "compact_proposal")
    assert isinstance(compact, CompactProposal)
    digest = bytes(compact.certs[0])
    answer = core.handle(Receive(1, SM.nodes[2], codec.encode(CertRequest([digest]))))
    assert len(answer) == 1 and isinstance(answer[0], Send)
    response = decode_message(answer[0].message)
    assert isinstance(response, CertResponse)
    assert [cert_digest(SM, c, Meter()) for c in response.certs] == [digest]


def test_rebuilding_one_parked_proposal_may_drop_the_others(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (50 `pq` validator processes): handling a rebuilt proposal moved the round
    on, which dropped the other parked proposal, and the loop over the parked ones then
    failed on it with KeyError and stopped the node."""
    core, _ = _core(3)
    block = _block([0, 1, 2], BATCHES[:1])
    compact = strip(SM, block, Meter())
    first, second = SM.nodes[1], SM.nodes[2]
    core.parked = {first: Parked(compact, 0), second: Parked(compact, 0)}
    handled = []

    def rebuilt(committee: object, parked: Parked, *_: object) -> tuple[Block, list[bytes]]:
        return block, []

    def moves_the_round_on(sender: bytes, proposal: Block) -> list[Action]:
        handled.append(sender)
        core.parked.clear()  # as the round change does with proposals of older rounds
        return []

    monkeypatch.setattr("xinlian.consensus.core.fill", rebuilt)
    monkeypatch.setattr(core, "_on_proposal", moves_the_round_on)
    assert core._complete_parked() == []
    assert handled == [first] and core.parked == {}


# -- whole committees in the simulator ------------------------------------------------------

def _net(suite: str, seed: int, config: Config = FAST) -> ConsensusNet:
    network = ConsensusNet(4, seed, suite=suite, aggregate=False, config=config)
    network.load(1000, 100, 0, 100_000)
    return network


def _heights(network: ConsensusNet) -> list[int]:
    return [network.log.height(n) for n in network.committee.nodes]


@pytest.mark.parametrize("suite", ["sm", "pq"])
def test_list_committees_commit_with_compact_proposals_only(suite: str) -> None:
    network = _net(suite, 3)
    network.run(1500)
    assert not network.log.violations
    assert min(_heights(network)) >= 8
    stats = network.sim.stats.by_kind
    assert stats["proposal"] == 0 and stats["compact_proposal"] > 0
    rebuilt = sum(network.core(n).metrics["compact_rebuilt"] for n in network.committee.nodes)
    assert rebuilt >= 3 * min(_heights(network))
    assert network.committed_txs(network.committee.nodes[0]) > 500


def test_full_proposals_remain_when_compact_proposals_are_off() -> None:
    off = Config(pacemaker=FAST.pacemaker, sync_retry_ms=200, batch_delay_ms=100,
                 compact_proposals=False)
    network = _net("sm", 3, off)
    network.run(1500)
    assert not network.log.violations and min(_heights(network)) >= 8
    stats = network.sim.stats.by_kind
    assert stats["compact_proposal"] == 0 and stats["proposal"] > 0
    # votes go to the next leader only: one message per voter and round, not n - 1
    assert stats["vote"] < 1.5 * stats["proposal"]


def _votes_to(first: int) -> Interceptor:
    """Send this member's vote broadcasts to the first `first` recipients only."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        if isinstance(action, Broadcast) and kind(action.message) == "vote":
            return (Broadcast(action.to[:first], action.message),)
        return (action,)
    return hook


def _vote_signed_twice() -> Interceptor:
    """Give half the recipients of each vote a second, different signature of it."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        if not isinstance(action, Broadcast) or kind(action.message) != "vote":
            return (action,)
        v = decode_message(action.message)
        assert isinstance(v, Vote)
        core = sim.core(node)
        assert isinstance(core, ConsensusCore)
        again = core.key.sign(core.committee, vote_message(v.epoch, v.round, v.height,
                                                           bytes(v.block_id)), Meter())
        other = codec.encode(Vote(v.epoch, v.round, v.height, v.block_id, again))
        half = len(action.to) // 2
        return (Broadcast(action.to[:half], action.message), Broadcast(action.to[half:], other))
    return hook


@pytest.mark.parametrize("hook", [_votes_to(1), _vote_signed_twice()],
                         ids=["votes_not_received", "vote_signed_twice"])
def test_members_fetch_the_certificates_they_cannot_rebuild(hook: Interceptor) -> None:
    network = _net("sm", 5)
    network.sim.intercept(network.committee.nodes[3], hook)
    network.run(2500)
    assert not network.log.violations
    assert min(_heights(network)) >= 10
    nodes = network.committee.nodes
    assert sum(network.core(n).metrics["cert_requests"] for n in nodes) > 0
    assert network.sim.stats.by_kind["cert_response"] > 0


def test_an_equivocating_leader_cannot_break_safety_with_list_certificates() -> None:
    network = _net("sm", 6)
    network.sim.intercept(network.committee.nodes[0], byzantine.equivocate())
    network.run(2500)
    assert not network.log.violations
    assert min(_heights(network)) >= 5


def test_a_large_answer_is_split_under_the_wire_limit() -> None:
    core, _ = _core(1)
    big = {bytes([i]) * 32: Cert(b"\xe0", [bytes(8192)] * 300) for i in range(3)}  # 2.4 MB each
    core.served.rounds[1] = big
    answer = core.handle(Receive(1, SM.nodes[2], codec.encode(CertRequest(list(big)))))
    assert len(answer) > 1  # one answer would be 7.4 MB
    got = []
    for action in answer:
        assert isinstance(action, Send) and len(action.message) < MAX_WIRE
        response = decode_message(action.message)
        assert isinstance(response, CertResponse)
        got += response.certs
    assert got == list(big.values())
