"""The header certifier as a protocol core (node/certify.py), four of them wired by hand:
a quorum of votes makes a certificate that checks against the committee; forged votes,
votes from the wrong sender and forged certificates are dropped without stopping it.

Keys come from fixed seeds (test keys only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from msgspec.structs import replace

from xinlian import codec
from xinlian.consensus.certificates import Cert, VoteKey
from xinlian.consensus.committee import Committee, Member
from xinlian.crypto.suites import get_suite
from xinlian.ledger.block import BlockHeader
from xinlian.node.bft import vote_key_of
from xinlian.node.certify import (
    CertifiedHeader,
    HeaderApplied,
    HeaderCertified,
    HeaderCertifier,
    HeaderCertMsg,
    HeaderVote,
    verify_certified,
)
from xinlian.protocol import Action, Broadcast, Deliver, Input, Receive, Send, Start


@dataclass
class Source:
    """What a certifier reads from its node: here, one committee and what it certified."""

    committee: Committee
    head: int = 0
    stored: dict[int, CertifiedHeader] = field(default_factory=dict)
    waiting: list[tuple[BlockHeader, int]] = field(default_factory=list)  # uncertified

    def committee_of(self, epoch: int) -> Committee | None:
        return self.committee if epoch == self.committee.epoch else None

    def certified(self, height: int) -> CertifiedHeader | None:
        return self.stored.get(height)

    def uncertified(self) -> list[tuple[BlockHeader, int]]:
        return self.waiting

    def head_height(self) -> int:
        return self.head


def _setup(suite_name: str) -> tuple[list[HeaderCertifier], list[Source], BlockHeader]:
    suite = get_suite(suite_name)
    pairs = [suite.generate_vote_key(bytes([i + 1]) * 32) for i in range(4)]
    nodes = [bytes([0xA0 + i]) * 20 for i in range(4)]
    committee = Committee(0, suite.name, suite.aggregate_votes,
                          [Member(n, 1, p.public, p.pop) for n, p in zip(nodes, pairs,
                                                                         strict=True)])
    keys: list[VoteKey] = [vote_key_of(suite, p.secret) for p in pairs]
    sources = [Source(committee) for _ in nodes]
    certifiers = [HeaderCertifier(n, "certify-test", k, s, suite.hash_bytes)
                  for n, k, s in zip(nodes, keys, sources, strict=True)]
    signer = suite.generate_signing_key(b"\x07" * 32)
    header = BlockHeader("certify-test", 1, bytes(32), 5, 0, bytes(32), b"\x01" * 32,
                         bytes(32), signer.public_key)
    return certifiers, sources, header


def _run(certifiers: list[HeaderCertifier], sources: list[Source],
         first: Sequence[tuple[int, Action]]) -> dict[int, CertifiedHeader]:
    """Deliver every message until none is left; the certificates each one delivered."""
    index = {c.me: i for i, c in enumerate(certifiers)}
    queue = list(first)
    done: dict[int, CertifiedHeader] = {}
    while queue:
        at, action = queue.pop(0)
        sender = certifiers[at].me
        if isinstance(action, Deliver) and isinstance(action.value, HeaderCertified):
            done[at] = action.value.certified
            sources[at].stored[action.value.certified.header.height] = done[at]
            continue
        targets = (action.to if isinstance(action, Broadcast) else
                   (action.to,) if isinstance(action, Send) else ())
        for to in targets:
            j = index[to]
            assert isinstance(action, Broadcast | Send)
            queue += [(j, a) for a in certifiers[j].handle(Receive(0, sender, action.message))]
    return done


@pytest.mark.parametrize("suite_name", ["intl", "sm", "pq", "hybrid-sm", "hybrid-intl"])
def test_a_quorum_of_votes_certifies_the_header(suite_name: str) -> None:
    certifiers, sources, header = _setup(suite_name)
    first = [(i, a) for i, c in enumerate(certifiers)
             for a in c.handle(Input(0, HeaderApplied(header, 0)))]
    done = _run(certifiers, sources, first)
    assert sorted(done) == [0, 1, 2, 3]
    for certified in done.values():
        assert certified.header == header
        verify_certified(certified, sources[0].committee, get_suite(suite_name).hash_bytes)
    assert all(not c.pending for c in certifiers)


def test_invalid_votes_and_certificates_are_dropped() -> None:
    certifiers, _, header = _setup("intl")
    target = certifiers[0]
    target.handle(Input(0, HeaderApplied(header, 0)))
    (vote_action,) = certifiers[1].handle(Input(0, HeaderApplied(header, 0)))
    assert isinstance(vote_action, Broadcast)
    vote = codec.decode(vote_action.message, HeaderVote)
    other = certifiers[2].me
    # a vote relayed by another member than its signer
    assert target.handle(Receive(0, other, vote_action.message)) == []
    assert target.metrics["dropped_bad_signer"] == 1
    # a vote whose signature is member 2's signature over another message
    forged = replace(vote, signer=2, signature=vote.signature)
    assert target.handle(Receive(0, other, codec.encode(forged))) == []
    # the real vote of member 1 completes a quorum of 3 with the forged one: the
    # certificate fails, the forged vote is found and dropped, no certificate yet
    assert target.handle(Receive(0, certifiers[1].me, vote_action.message)) == []
    assert target.metrics["dropped_bad_signature"] == 1 and 1 in target.pending
    # a certificate of another header is refused
    cert = _certificate(header)
    bad = CertifiedHeader(replace(header, state_root=bytes(32)), 0, cert)
    assert target.handle(Receive(0, other, codec.encode(HeaderCertMsg(bad)))) == []
    assert target.metrics["dropped_bad_cert"] == 1
    # member 2's real vote then certifies
    (vote2,) = certifiers[2].handle(Input(0, HeaderApplied(header, 0)))
    assert isinstance(vote2, Broadcast)
    (delivered,) = target.handle(Receive(0, other, vote2.message))
    assert isinstance(delivered, Deliver) and isinstance(delivered.value, HeaderCertified)


def _certificate(header: BlockHeader) -> Cert:
    """A valid certificate of `header` from a fresh set of certifiers (the same keys)."""
    fresh, fresh_sources, _ = _setup("intl")
    first = [(i, a) for i, c in enumerate(fresh)
             for a in c.handle(Input(0, HeaderApplied(header, 0)))]
    return _run(fresh, fresh_sources, first)[0].cert


def test_a_vote_sent_again_is_answered_with_the_certificate() -> None:
    """A node that restarted votes again for its uncertified header; a peer that holds the
    certificate answers with it, and the node takes it after checking it."""
    certifiers, sources, header = _setup("intl")
    sources[1].stored[1] = CertifiedHeader(header, 0, _certificate(header))
    restarted = certifiers[0]
    sources[0].waiting.append((header, 0))
    actions = restarted.handle(Start(0))
    vote = next(a for a in actions if isinstance(a, Broadcast))
    assert codec.decode(vote.message, HeaderVote).again
    (answer,) = certifiers[1].handle(Receive(0, restarted.me, vote.message))
    assert isinstance(answer, Send) and answer.to == restarted.me
    (delivered,) = restarted.handle(Receive(0, certifiers[1].me, answer.message))
    assert isinstance(delivered, Deliver) and not restarted.pending
    # a first vote for a height already certified is not answered
    fresh = replace(codec.decode(vote.message, HeaderVote), again=False)
    assert certifiers[1].handle(Receive(0, restarted.me, codec.encode(fresh))) == []
