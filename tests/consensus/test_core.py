"""One consensus core driven by hand: ordering of persist and send, drops, restarts."""

from __future__ import annotations

from collections.abc import Sequence

from xinlian import codec
from xinlian.consensus.certificates import Cert
from xinlian.consensus.core import ConsensusCore, EpochStarted, Submit, root_qc
from xinlian.consensus.leader import round_robin
from xinlian.consensus.messages import QC, Block, Proposal, Vote, decode_message, kind
from xinlian.consensus.safety import SAFETY_KEY
from xinlian.protocol import Action, Broadcast, Deliver, Input, Persist, Receive, Send, Start
from xinlian.testing.consensus.committees import genesis, local_committee

COMMITTEE, KEYS = local_committee(4)
ROOT = genesis(COMMITTEE)


def core(node: bytes, stored: dict[bytes, bytes] | None = None) -> ConsensusCore:
    return ConsensusCore(node, KEYS[node], ROOT, stored)


def persisted(actions: Sequence[Action], into: dict[bytes, bytes]) -> dict[bytes, bytes]:
    for action in actions:
        if isinstance(action, Persist):
            if action.value is None:
                into.pop(action.key, None)
            else:
                into[action.key] = action.value
    return into


def first_proposal() -> bytes:
    leader_core = core(round_robin(COMMITTEE, 1))
    actions = leader_core.handle(Start(0))
    return next(a.message for a in actions
                if isinstance(a, Broadcast) and kind(a.message) == "proposal")


def test_start_announces_the_epoch_and_the_leader_proposes_and_votes() -> None:
    node = round_robin(COMMITTEE, 1)
    actions = core(node).handle(Start(0))
    assert isinstance(actions[0], Deliver) and isinstance(actions[0].value, EpochStarted)
    kinds = [kind(a.message) for a in actions if isinstance(a, Send | Broadcast)]
    assert kinds == ["proposal", "vote"]


def test_the_safety_state_is_persisted_before_the_vote_leaves() -> None:
    voter = COMMITTEE.nodes[3]
    member = core(voter)
    member.handle(Start(0))
    actions = list(member.handle(Receive(1, round_robin(COMMITTEE, 1), first_proposal())))
    persist = next(i for i, a in enumerate(actions)
                   if isinstance(a, Persist) and a.key == SAFETY_KEY)
    send = next(i for i, a in enumerate(actions) if isinstance(a, Send))
    assert persist < send
    vote = decode_message(actions[send].message)  # type: ignore[union-attr]
    assert isinstance(vote, Vote) and vote.round == 1
    assert actions[send].to == round_robin(COMMITTEE, 2)  # type: ignore[union-attr]


def test_a_restarted_core_does_not_vote_again_in_the_same_round() -> None:
    voter = COMMITTEE.nodes[3]
    store: dict[bytes, bytes] = {}
    member = core(voter)
    persisted(member.handle(Start(0)), store)
    proposal = first_proposal()
    persisted(member.handle(Receive(1, round_robin(COMMITTEE, 1), proposal)), store)
    reborn = core(voter, store)
    assert reborn.safety.state.highest_voted_round == 1
    actions = list(reborn.handle(Start(5))) + list(
        reborn.handle(Receive(6, round_robin(COMMITTEE, 1), proposal)))
    assert not [a for a in actions if isinstance(a, Send) and kind(a.message) == "vote"]


def test_bad_messages_are_dropped_and_counted_never_raised() -> None:
    member = core(COMMITTEE.nodes[3])
    member.handle(Start(0))
    proposal = first_proposal()
    assert member.handle(Receive(1, COMMITTEE.nodes[0], b"\xc1garbage")) == []
    assert member.metrics["dropped_malformed"] == 1
    # the right proposal from the wrong sender
    assert member.handle(Receive(1, COMMITTEE.nodes[2], proposal)) == []
    assert member.metrics["dropped_InvalidMessage"] == 1
    # a block whose QC carries no valid signatures
    block = decode_message(proposal).block  # type: ignore[union-attr]
    fake_qc = QC(0, 1, 1, b"\x05" * 32, Cert(b"\xe0", [b"\x00" * 96]))
    forged = Block(0, 2, 2, fake_qc.block_id, block.author + 1, fake_qc, None, [], None)
    sender = round_robin(COMMITTEE, 2)
    assert member.handle(Receive(1, sender, codec.encode(Proposal(forged)))) == []
    assert member.metrics["dropped_InvalidCertificate"] == 1
    # a message from outside the committee
    assert member.handle(Receive(1, b"stranger", proposal)) == []
    assert member.metrics["dropped_InvalidMessage"] == 2


def test_submitted_bytes_become_a_broadcast_batch() -> None:
    member = core(COMMITTEE.nodes[0])
    member.handle(Start(0))
    actions = member.handle(Input(1, Submit(b"x" * 600_000, 3000)))
    sent = [a for a in actions if isinstance(a, Broadcast) and kind(a.message) == "batch"]
    assert len(sent) == 1 and set(sent[0].to) == set(COMMITTEE.nodes[1:])
    assert any(isinstance(a, Persist) and a.key.startswith(b"consensus/batch/")
               for a in actions)


def test_root_qc_is_the_only_unsigned_certificate() -> None:
    qc = root_qc(ROOT)
    assert qc.round == 0 and qc.block_id == ROOT.block_id and qc.cert == Cert(b"", [])
