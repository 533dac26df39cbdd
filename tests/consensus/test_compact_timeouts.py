"""Compact timeouts: high QCs and TCs named by digest, rebuilt, fetched, never trusted."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.consensus.blocks import block_id
from xinlian.consensus.certificates import Cert, Meter, combine
from xinlian.consensus.compact import (
    CERT_TIMER,
    Known,
    Parked,
    Sources,
    VotePool,
    cert_digest,
    fill,
    fill_timeout,
    strip,
    strip_pair,
    strip_timeout,
)
from xinlian.consensus.core import Config, ConsensusCore
from xinlian.consensus.leader import Reputation
from xinlian.consensus.messages import (
    QC,
    TC,
    Block,
    CertRequest,
    CertResponse,
    CompactCertified,
    CompactTCProposal,
    CompactTimeout,
    Timeout,
    Vote,
    decode_message,
    kind,
    timeout_message,
    vote_message,
)
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.protocol import Action, Broadcast, Receive, Send, SetTimer, Start
from xinlian.protocol import Timeout as TimerFired
from xinlian.sim.network import LinkModel
from xinlian.testing.consensus.committees import genesis, local_committee
from xinlian.testing.consensus.simnet import ConsensusNet
from xinlian.testing.consensus.stall import Stall, crashed_leaders, partitioned

SM, SM_KEYS = local_committee(4, suite="sm", aggregate=False)
NODES = SM.nodes
FAST = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=100)
BLOCK = b"\x11" * 32


def _sign(i: int, message: bytes) -> bytes:
    return SM_KEYS[NODES[i]].sign(SM, message, Meter())


VOTES = [Vote(0, 2, 2, BLOCK, _sign(i, vote_message(0, 2, 2, BLOCK))) for i in range(4)]


def _qc(signers: Sequence[int]) -> QC:
    cert = combine(SM, [(i, bytes(VOTES[i].signature)) for i in signers], Meter())
    return QC(0, 2, 2, BLOCK, cert)


def _timeout(i: int, round_: int, high_qc: QC, last_tc: TC | None = None) -> Timeout:
    return Timeout(0, round_, high_qc, last_tc,
                   _sign(i, timeout_message(0, round_, high_qc.round)))


TIMEOUTS = [_timeout(i, 3, _qc([0, 1, 2])) for i in range(4)]


def _tc(signers: Sequence[int]) -> TC:
    cert = combine(SM, [(i, bytes(TIMEOUTS[i].signature)) for i in signers], Meter())
    return TC(0, 3, [2] * len(signers), cert)


def _sources(votes: Sequence[int] = (), timeouts: Sequence[int] = ()) -> Sources:
    sources = Sources(VotePool())
    for i in votes:
        assert sources.votes.add(i, VOTES[i], current_round=3)
    for i in timeouts:
        assert sources.timeouts.add(i, TIMEOUTS[i], current_round=3)
    return sources


QUORUMS = [[0, 1, 2], [0, 1, 3], [1, 2, 3], [0, 1, 2, 3]]


@settings(max_examples=30, deadline=None)
@given(qc_signers=st.sampled_from(QUORUMS), tc_signers=st.sampled_from(QUORUMS))
def test_a_compact_timeout_rebuilds_the_same_timeout_from_votes_and_timeouts(
        qc_signers: list[int], tc_signers: list[int]) -> None:
    full = _timeout(1, 4, _qc(qc_signers), _tc(tc_signers))
    compact, certs = strip_timeout(SM, full, Meter())
    assert codec.decode(codec.encode(compact), CompactTimeout) == compact
    assert compact.high_qc.cert.signatures == [] and compact.last_tc is not None
    assert compact.last_tc.cert.signatures == []
    assert list(certs.values()) == [full.high_qc.cert, full.last_tc.cert]  # type: ignore
    rebuilt, missing = fill_timeout(SM, Parked(compact, 0), _sources(range(4), range(4)),
                                    Meter())
    assert missing == [] and rebuilt == full
    # the signatures of two certificates become two digests
    assert len(codec.encode(compact)) < len(codec.encode(full)) - 5 * 60


def test_a_compact_timeout_names_what_is_missing_and_takes_what_is_known() -> None:
    full = _timeout(1, 4, _qc([0, 1, 2]), _tc([1, 2, 3]))
    compact, certs = strip_timeout(SM, full, Meter())
    qc_digest, tc_digest = (bytes(d) for d in compact.certs)
    rebuilt, missing = fill_timeout(SM, Parked(compact, 0), _sources([0, 1], [1, 2]), Meter())
    assert rebuilt is None and missing == [qc_digest, tc_digest]
    sources = _sources([0, 1, 2], [1, 2])
    rebuilt, missing = fill_timeout(SM, Parked(compact, 0), sources, Meter())
    assert rebuilt is None and missing == [tc_digest]
    sources.known.add({tc_digest: certs[tc_digest]})  # a TC this member already holds
    rebuilt, missing = fill_timeout(SM, Parked(compact, 0), sources, Meter())
    assert missing == [] and rebuilt == full


def test_invalid_a_timeout_pool_entry_for_another_high_qc_round_does_not_rebuild_a_tc() -> None:
    other = _timeout(2, 3, QC(0, 0, 0, BLOCK, Cert(b"", [])))  # reports round 0, not 2
    sources = _sources(timeouts=[0, 1])
    assert sources.timeouts.add(2, other, current_round=3)
    assert sources.timeouts.assemble(SM, _tc([0, 1, 2])) is None
    assert sources.timeouts.assemble(SM, _tc([0, 1])) is not None


def test_a_proposal_after_a_tc_names_the_tc_and_rebuilds_from_pooled_timeouts() -> None:
    tc = _tc([0, 2, 3])
    block = Block(0, 4, 3, BLOCK, 0, _qc([0, 1, 2]), tc, [], None)
    compact = strip(SM, block, Meter(), with_tc=True)
    assert isinstance(compact, CompactTCProposal) and compact.block.tc is not None
    assert compact.block.tc.cert.signatures == [] and len(compact.certs) == 2
    assert kind(codec.encode(compact)) == "compact_tc_proposal"
    assert decode_message(codec.encode(compact)) == compact
    rebuilt, missing = fill(SM, Parked(compact, 0), _sources([0, 1, 2], [0, 2]), Meter())
    assert rebuilt is None and missing == [bytes(compact.certs[1])]
    rebuilt, missing = fill(SM, Parked(compact, 0), _sources([0, 1, 2], [0, 2, 3]), Meter())
    assert rebuilt == block and block_id(SM, rebuilt) == block_id(SM, block)
    # without `with_tc` the TC travels in full, as compact proposals always sent it
    assert strip(SM, block, Meter()).block.tc == tc


def test_the_known_certificates_are_bounded() -> None:
    known = Known()
    known.add({bytes([i]) * 32: Cert(b"", []) for i in range(100)})
    assert len(known.certs) == 64 and known.get(b"\x00" * 32) is None
    assert known.get(bytes([99]) * 32) is not None


@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_with_compact_timeout_tags_raises_only_codec_errors(
        data: bytes) -> None:
    for tag in (17, 18, 19):
        with contextlib.suppress(CodecError):
            decode_message(bytes([0x96, tag]) + data)
        with contextlib.suppress(CodecError):
            decode_message(bytes([0x93, tag]) + data)


# -- one core ----------------------------------------------------------------------------

ROOT = QC(0, 0, 0, bytes(genesis(SM).block_id), Cert(b"", []))


def _core() -> ConsensusCore:
    """Member 0 in round 1 (the root QC is its high QC)."""
    core = ConsensusCore(NODES[0], SM_KEYS[NODES[0]], genesis(SM), config=FAST)
    core.handle(Start(0))
    assert core.round == 1
    return core


def _compact(timeout: Timeout) -> bytes:
    return codec.encode(strip_timeout(SM, timeout, Meter())[0])


def _own_timeouts(actions: Sequence[Action]) -> list[Broadcast]:
    return [a for a in actions if isinstance(a, Broadcast) and kind(a.message) == "compact_timeout"]


def test_a_member_times_out_with_a_compact_broadcast_timeout() -> None:
    core = _core()
    actions = core.handle(TimerFired(400, "round"))
    sent = _own_timeouts(actions)
    assert len(sent) == 1 and set(sent[0].to) == set(NODES[1:])
    timeout = decode_message(sent[0].message)
    assert isinstance(timeout, CompactTimeout) and timeout.high_qc == ROOT
    # it serves what it named to whoever cannot rebuild it
    answer = core.handle(Receive(401, NODES[1], codec.encode(CertRequest(timeout.certs))))
    assert len(answer) == 1 and isinstance(answer[0], Send)


def test_invalid_a_compact_timeout_naming_a_qc_nobody_holds_counts_toward_nothing() -> None:
    """Member 3 names a QC (round 0, so it may) by a digest no certificate has: until the
    QC is produced its timeout counts toward no TC and makes no one join in."""
    core = _core()
    forged = strip_timeout(SM, _timeout(3, 1, ROOT), Meter())[0]
    forged = CompactTimeout(0, 1, forged.high_qc, None, [b"\x66" * 32], forged.signature)
    assert core.handle(Receive(10, NODES[3], codec.encode(forged))) == [
        SetTimer(CERT_TIMER, 10 + FAST.cert_wait_ms)]
    assert core.timeouts.power(SM, 1) == 0
    # one honest timeout: f + 1 = 2 would make this member join in, the parked one does not
    assert _own_timeouts(core.handle(Receive(11, NODES[1],
                                             _compact(_timeout(1, 1, ROOT))))) == []
    assert core.timeouts.voters(1) == {1}
    # it asks the sender for the QC, and an answer with another certificate is not taken
    asked = core.handle(TimerFired(10 + FAST.cert_wait_ms, CERT_TIMER))
    assert [a for a in asked if isinstance(a, Send)] == [
        Send(NODES[3], codec.encode(CertRequest([b"\x66" * 32])))]
    core.handle(Receive(200, NODES[3], codec.encode(CertResponse([_qc([0, 1, 2]).cert]))))
    assert NODES[3] in core.parked_timeouts and core.timeouts.voters(1) == {1}
    # a second honest timeout: this member joins, and the TC holds the honest three only
    actions = core.handle(Receive(201, NODES[2], _compact(_timeout(2, 1, ROOT))))
    assert len(_own_timeouts(actions)) == 1
    assert core.round == 2 and core.last_tc is not None
    assert core.last_tc.cert.signers == combine(SM, [(0, b""), (1, b""), (2, b"")],
                                                Meter()).signers
    assert core.last_tc.high_qc_rounds == [0, 0, 0]


def test_invalid_a_timeout_naming_a_forged_qc_cannot_make_a_member_skip_rounds() -> None:
    """Member 3 times out in round 5 naming a 'QC' of round 4 that it made up, and serves
    its forgery when asked: the certificate hashes to the digest named but does not verify,
    so the timeout is dropped and counted; the member stays in round 1 with its high QC."""
    core = _core()
    fake = QC(0, 4, 4, b"\x44" * 32, Cert(b"\xe0", [b"\x01" * 64] * 3))
    full = _timeout(3, 5, fake)
    compact, certs = strip_timeout(SM, full, Meter())
    core.handle(Receive(10, NODES[3], codec.encode(compact)))
    assert core.round == 1 and NODES[3] in core.parked_timeouts
    asked = core.handle(TimerFired(10 + FAST.cert_wait_ms, CERT_TIMER))
    assert Send(NODES[3], codec.encode(CertRequest(compact.certs))) in asked
    core.handle(Receive(200, NODES[3], codec.encode(CertResponse(list(certs.values())))))
    assert core.metrics["dropped_InvalidCertificate"] == 1
    assert core.round == 1 and core.high_qc == ROOT and core.parked_timeouts == {}


def test_invalid_malformed_compact_timeouts_are_dropped_and_counted() -> None:
    core = _core()
    good = strip_timeout(SM, _timeout(1, 1, ROOT), Meter())[0]
    two = CompactTimeout(0, 1, good.high_qc, None, [good.certs[0]] * 2, good.signature)
    core.handle(Receive(10, NODES[1], codec.encode(two)))
    assert core.metrics["dropped_InvalidMessage"] == 1
    # a signature on another statement: rebuilt, then refused by the timeout tally
    wrong = CompactTimeout(0, 1, good.high_qc, None, good.certs, _sign(1, b"other"))
    core.handle(Receive(11, NODES[1], codec.encode(wrong)))
    assert core.timeouts.invalid == 1 and core.timeouts.power(SM, 1) == 0
    # from outside the committee
    core.handle(Receive(12, b"stranger", codec.encode(good)))
    assert core.metrics["dropped_InvalidMessage"] == 2


def test_a_compact_timeout_is_rebuilt_from_a_fetched_certificate() -> None:
    """A timeout from round 3 names a QC of round 2 this member has no votes for: the
    sender's answer completes it, and the member moves to round 3 on the QC."""
    core = _core()
    core.handle(Receive(5, NODES[2], _compact(_timeout(2, 3, _qc([0, 1, 2])))))
    assert core.round == 1
    asked = core.handle(TimerFired(5 + FAST.cert_wait_ms, CERT_TIMER))
    request = next(a for a in asked if isinstance(a, Send))
    assert request.to == NODES[2]
    core.handle(Receive(200, NODES[2],
                        codec.encode(CertResponse([_qc([0, 1, 2]).cert]))))
    assert core.metrics["compact_timeout_rebuilt"] == 1
    assert core.high_qc == _qc([0, 1, 2]) and core.round == 3
    assert cert_digest(SM, _qc([0, 1, 2]).cert, Meter()) in core.sources.known.certs

    # a member behind gets the certificates that lead to this round, by digest, once a round
    helped = core.handle(Receive(202, NODES[1], _compact(_timeout(1, 1, ROOT))))
    assert [kind(a.message) for a in helped if isinstance(a, Send)] == ["compact_certified"]
    assert core.handle(Receive(203, NODES[1], _compact(_timeout(1, 1, ROOT)))) == []

def test_a_laggard_rebuilds_or_fetches_the_certificates_that_lead_it_on() -> None:
    core = _core()
    qc, _, certs = strip_pair(SM, _qc([0, 1, 2]), None, Meter())
    help_ = CompactCertified(qc, None, list(certs))
    assert decode_message(codec.encode(help_)) == help_
    assert kind(codec.encode(help_)) == "compact_certified"
    core.handle(Receive(5, NODES[2], codec.encode(help_)))
    assert core.round == 1 and NODES[2] in core.parked_helps  # no QC yet: nothing moves
    asked = core.handle(TimerFired(5 + FAST.cert_wait_ms, CERT_TIMER))
    assert Send(NODES[2], codec.encode(CertRequest(list(certs)))) in asked
    core.handle(Receive(200, NODES[2], codec.encode(CertResponse(list(certs.values())))))
    assert core.metrics["compact_certified_rebuilt"] == 1 and core.round == 3
    # one that leads nowhere new is ignored; one from outside the committee is dropped
    core.handle(Receive(201, NODES[1], codec.encode(help_)))
    assert core.metrics["certified_stale"] == 1 and core.parked_helps == {}
    core.handle(Receive(202, b"stranger", codec.encode(help_)))
    assert core.metrics["dropped_InvalidMessage"] == 1


def test_a_qc_named_by_several_timeouts_is_fetched_once() -> None:
    core = _core()
    for i in (2, 3):
        core.handle(Receive(5, NODES[i], _compact(_timeout(i, 3, _qc([0, 1, 2])))))
    asked = [a for a in core.handle(TimerFired(5 + FAST.cert_wait_ms, CERT_TIMER))
             if isinstance(a, Send)]
    assert [a.to for a in asked] == [NODES[2]]
    core.handle(Receive(200, NODES[2], codec.encode(CertResponse([_qc([0, 1, 2]).cert]))))
    assert core.metrics["compact_timeout_rebuilt"] == 2 and core.parked_timeouts == {}
    assert core.timeouts.voters(3) == {0, 2, 3}  # two timed out: this member joined in

# -- stalled rounds in the simulator ---------------------------------------------------------

def _stalled(scenario: str, compact_timeouts: bool) -> Stall:
    """16 `pq` members (ML-DSA-65 votes) on 50 ms round trips and 100 Mbit/s NICs;
    round-robin leaders, so the crashed ones are the next ones."""
    config = Config(pacemaker=Pacemaker(base_ms=500), sync_retry_ms=200, batch_delay_ms=400,
                    compact_timeouts=compact_timeouts, reputation=Reputation(enabled=False))
    net = ConsensusNet(16, 1, suite="pq", aggregate=False, config=config,
                       link=LinkModel(latency_ms=25), nic_bytes_per_s=12.5e6)
    net.load(200, 100, 0, 100_000)
    if scenario == "crashed_leaders":
        return crashed_leaders(net, 1000, 3, 7000)
    return partitioned(net, 1000, 3000, 6000)


@pytest.mark.parametrize("scenario", ["crashed_leaders", "partition"])
def test_pq_committees_recover_from_stalled_rounds_with_compact_timeouts(scenario: str) -> None:
    before, after = _stalled(scenario, False), _stalled(scenario, True)
    for run in (before, after):
        assert not run.violations
        assert run.tc_rounds >= 1 and run.recovery_ms is not None  # committing again
        assert min(run.heights) >= 15
    assert before.bytes_by_kind["compact_timeout"] == 0 and before.timeout_bytes > 0
    assert after.bytes_by_kind["timeout"] == 0
    # a timeout names its QC and TC by 32-byte digests instead of carrying 2 x 11 ML-DSA-65
    # signatures: the timeouts of a stalled round shrink by far more than half
    assert after.per_tc_round() < before.per_tc_round() / 5
    # broadcast from the first attempt, a timeout reaches every member even when the next
    # leader is the crashed one
    assert after.recovery_ms is not None and before.recovery_ms is not None
    assert after.recovery_ms <= before.recovery_ms
    if scenario == "crashed_leaders":  # the proposal after a TC names the TC as well
        assert after.bytes_by_kind["compact_tc_proposal"] > 0
