"""Certified ledger headers: the committee signs the header it executed, sans-I/O.

Theory of operation. Consensus certifies the order of batch digests, not what executing
them yields, so a consensus QC says nothing about a ledger header's state root. Here every
validator, once it has executed and committed a ledger block, signs that header's hash with
its consensus vote key (`HeaderVote`: aggregated BLS on `intl`, one SM2 or ML-DSA signature
per signer on `sm` and `pq`, crypto/votes.py) and sends the vote to the committee of the
epoch whose consensus block the ledger block executes. Each validator gathers the votes for
the header it holds itself; when signers holding more than 2/3 of that committee's power
agree, their votes combine (consensus/certificates.py) into a `CertifiedHeader`, which the
node stores beside the block and serves. Votes are checked together, as the certificate
they make (one aggregate check on BLS), and one by one only when that fails. A client that
knows the committee of the epoch checks a header with one certificate check and trusts no
single node.

Off the consensus path: a validator signs only a header it executed itself, and consensus
votes never wait for execution, so ordering runs at its own speed and certification
trails it by one execution and one message delay.

Liveness across restarts and lost messages: a validator knows from its store which headers
it holds without a certificate (`CertSource.uncertified`); on start and every `retry_ms`
it sends its vote for the oldest of them again (`again`). A peer that already holds the
certificate answers such a vote with it (`HeaderCertMsg`), checked before it is stored;
one that does not counts the vote (a first vote that arrives after the quorum is dropped).
Members that are not in a header's committee (one that joined later) ask for the
certificate instead (`CertRequest`).

This core reads its node's store through `CertSource` and nothing else: no clock, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.consensus.certificates import Cert, Meter, VoteKey, combine, verify_cert, verify_one
from xinlian.consensus.committee import Committee, EpochRoot, Member
from xinlian.consensus.errors import ConsensusError, InvalidCertificate
from xinlian.crypto.suites import Suite
from xinlian.ledger.account import address_of
from xinlian.ledger.block import BlockHeader, header_hash
from xinlian.ledger.genesis import Genesis, Validator
from xinlian.node.errors import BadHeaderCertificate
from xinlian.protocol import (
    Action,
    Broadcast,
    Core,
    Deliver,
    Event,
    Input,
    Receive,
    Send,
    SetTimer,
    Start,
    Timeout,
)
from xinlian.storage.proof import Hasher

CERT_TIMER = "header-cert"
CERT_DOMAIN = "xinlian/ledger/header-cert/v1"
MAX_WIRE = 1024 * 1024
AHEAD = 64       # heights above this node's head whose votes it keeps
RESEND = 16      # uncertified heights re-sent per timer
MAX_REQUEST = 64  # heights per CertRequest


class CertifiedHeader(codec.Struct):
    """A ledger header and the certificate of the committee of `epoch` over its hash."""

    header: BlockHeader
    epoch: int
    cert: Cert


def committee_of(suite: Suite, members: list[Validator], epoch: int,
                 votes: Suite | None = None) -> Committee:
    """The consensus committee of `epoch` made of these validators, voting with `votes`
    (default: the chain's `suite`, whose hash names the members in either case)."""
    votes = votes or suite
    return Committee(epoch, votes.name, votes.aggregate_votes,
                     [Member(address_of(v.node_key, suite.hash_bytes), v.power,
                             v.consensus_key, v.pop) for v in members])


def genesis_root(genesis: Genesis) -> EpochRoot:
    """Where the chain's first epoch starts: the genesis validators, from the genesis."""
    suite = genesis.crypto_suite()
    return EpochRoot(committee_of(suite, genesis.validators, 0), 0, genesis.hash())


def seal_message(chain_id: str, epoch: int, height: int, digest: bytes) -> bytes:
    """The bytes a validator signs for a ledger header (domain-separated from consensus
    votes, so a header vote can never count as a consensus vote or the reverse)."""
    return codec.encode([CERT_DOMAIN, chain_id, epoch, height, digest])


def verify_certified(certified: CertifiedHeader, committee: Committee, hasher: Hasher,
                     meter: Meter | None = None) -> bytes:
    """The header's hash, once the committee of its epoch certified it; raises
    BadHeaderCertificate."""
    header = certified.header
    if committee.epoch != certified.epoch:
        raise BadHeaderCertificate(f"the header of height {header.height} names epoch "
                                   f"{certified.epoch}, checked against {committee.epoch}")
    digest = header_hash(header, hasher)
    message = seal_message(header.chain_id, certified.epoch, header.height, digest)
    try:
        verify_cert(committee, certified.cert, lambda _: message, committee.quorum,
                    meter if meter is not None else Meter())
    except ConsensusError as exc:
        raise BadHeaderCertificate(f"header {header.height}: {exc.message}") from None
    return digest


# -- wire messages (tags 110+, apart from consensus and state sync) -------------------------

class HeaderVote(codec.Struct, tag=110):
    epoch: int
    height: int
    digest: Annotated[bytes, codec.at_most(64)]
    signer: int
    signature: Annotated[bytes, codec.at_most(8192)]
    again: bool  # sent again (restart, timer): answer with the certificate if it exists


class HeaderCertMsg(codec.Struct, tag=111):
    certified: CertifiedHeader


class CertRequest(codec.Struct, tag=112):
    heights: Annotated[list[int], codec.at_most(MAX_REQUEST)]


CertMessage = HeaderVote | HeaderCertMsg | CertRequest
_TAGS = range(110, 113)


def is_cert_message(data: bytes) -> bool:
    """Whether `data` is one of this module's messages, from its tag, without decoding."""
    return len(data) >= 2 and 0x91 <= data[0] <= 0x9F and data[1] in _TAGS


# -- events in and out --------------------------------------------------------------------

@dataclass(frozen=True)
class HeaderApplied:
    """Input: this node committed `header`, executed from a consensus block of `epoch`;
    `behind`: its ledger trails consensus (catching up), so the others have most likely
    certified the header already and its vote asks them for the certificate."""

    header: BlockHeader
    epoch: int
    behind: bool = False


@dataclass(frozen=True)
class HeaderCertified:
    """Deliver: a certificate for a header this node holds, to store beside it."""

    certified: CertifiedHeader


class CertSource(Protocol):
    """What the certifier reads from its node."""

    def committee_of(self, epoch: int) -> Committee | None: ...
    def certified(self, height: int) -> CertifiedHeader | None: ...
    def uncertified(self) -> list[tuple[BlockHeader, int]]: ...
    def head_height(self) -> int: ...


@dataclass
class _Pending:
    header: BlockHeader
    epoch: int
    digest: bytes
    committee: Committee
    sent_at: int = -1


@dataclass(frozen=True)
class CertifierConfig:
    retry_ms: int = 1000


@dataclass
class HeaderCertifier:
    """One validator's header certification (see the module docstring)."""

    me: bytes
    chain_id: str
    vote_key: VoteKey
    source: CertSource
    hasher: Hasher
    config: CertifierConfig = field(default_factory=CertifierConfig)
    meter: Meter = field(default_factory=Meter)
    metrics: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.pending: dict[int, _Pending] = {}
        # (height, epoch, digest) -> signer index -> signature, checked on arrival
        self.votes: dict[tuple[int, int, bytes], dict[int, bytes]] = {}
        self._voted: set[tuple[int, int]] = set()  # (height, signer): one vote each
        self.now = 0

    def handle(self, event: Event) -> list[Action]:
        self.now = event.now_ms
        if isinstance(event, Start):
            out: list[Action] = []
            for header, epoch in self.source.uncertified():
                out += self._own(header, epoch, again=True)
            return [*out, SetTimer(CERT_TIMER, self.now + self.config.retry_ms)]
        if isinstance(event, Input) and isinstance(event.value, HeaderApplied):
            applied = event.value
            return self._own(applied.header, applied.epoch, again=applied.behind)
        if isinstance(event, Timeout) and event.timer == CERT_TIMER:
            return [*self._resend(), SetTimer(CERT_TIMER, self.now + self.config.retry_ms)]
        if isinstance(event, Receive):
            try:
                message: CertMessage = codec.decode(event.message, CertMessage,
                                                    max_size=MAX_WIRE)
            except CodecError:
                self.metrics["dropped_malformed"] += 1
                return []
            if isinstance(message, HeaderVote):
                return self._on_vote(event.sender, message)
            if isinstance(message, HeaderCertMsg):
                return self._on_certificate(message.certified)
            return self._on_request(event.sender, message)
        return []

    # -- this node's headers -------------------------------------------------------------

    def _own(self, header: BlockHeader, epoch: int, again: bool = False) -> list[Action]:
        committee = self.source.committee_of(epoch)
        if committee is None or header.height in self.pending:
            self.metrics["no_committee" if committee is None else "duplicate_header"] += 1
            return []
        digest = header_hash(header, self.hasher)
        self.pending[header.height] = _Pending(header, epoch, digest, committee)
        return [*self._vote(header.height, again), *self._complete(header.height)]

    def _vote(self, height: int, again: bool) -> list[Action]:
        """This node's vote for its own header (`again`: sent again, on start or by the
        timer), or, when it is not in that header's committee, a request for the
        certificate."""
        p = self.pending[height]
        p.sent_at = self.now
        others = tuple(n for n in p.committee.nodes if n != self.me)
        index = p.committee.index(self.me)
        if index is None:
            request = CertRequest([height])
            return [Broadcast(others, codec.encode(request))] if others else []
        key = (height, p.epoch, p.digest)
        signature = self.votes.get(key, {}).get(index)
        if signature is None:
            message = seal_message(self.chain_id, p.epoch, height, p.digest)
            signature = self.vote_key.sign(p.committee, message, self.meter)
            self.votes.setdefault(key, {})[index] = signature
        vote = HeaderVote(p.epoch, height, p.digest, index, signature, again)
        return [Broadcast(others, codec.encode(vote))] if others else []

    def _complete(self, height: int) -> list[Action]:
        """The certificate, once votes for this node's header reach a quorum. Votes are
        checked together (one aggregate check on BLS); only when that fails is each one
        checked, and the bad ones dropped (their signers may vote again)."""
        p = self.pending.get(height)
        if p is None:
            return []
        votes = self.votes.get((height, p.epoch, p.digest), {})
        if p.committee.power(votes) < p.committee.quorum:
            return []
        message = seal_message(self.chain_id, p.epoch, height, p.digest)
        try:
            cert = combine(p.committee, list(votes.items()), self.meter)
            verify_cert(p.committee, cert, lambda _: message, p.committee.quorum, self.meter)
        except InvalidCertificate:
            bad = [i for i, signature in votes.items()
                   if not verify_one(p.committee, i, message, signature, self.meter)]
            for i in bad:
                del votes[i]
                self._voted.discard((height, i))
            self.metrics["dropped_bad_signature"] += len(bad)
            return self._complete(height) if bad else []
        return self._done(CertifiedHeader(p.header, p.epoch, cert))

    def _done(self, certified: CertifiedHeader) -> list[Action]:
        height = certified.header.height
        del self.pending[height]
        for key in [k for k in self.votes if k[0] <= height and k[0] not in self.pending]:
            del self.votes[key]
        self._voted = {v for v in self._voted if v[0] > height or v[0] in self.pending}
        self.metrics["certified"] += 1
        return [Deliver(HeaderCertified(certified))]

    def _resend(self) -> list[Action]:
        """Votes not answered within half a period go again (so none waits two periods)."""
        late = self.now - self.config.retry_ms // 2
        stale = sorted(h for h, p in self.pending.items() if p.sent_at <= late)[:RESEND]
        self.metrics["resent"] += len(stale)
        out: list[Action] = []
        for height in stale:
            out += self._vote(height, again=True)
        return out

    # -- from peers ------------------------------------------------------------------------

    def _on_vote(self, sender: bytes, vote: HeaderVote) -> list[Action]:
        stored = self.source.certified(vote.height)
        if stored is not None:
            if not vote.again:  # a first vote that came after the quorum: not needed
                return []
            self.metrics["answered_with_cert"] += 1  # the sender is behind: help it
            return [Send(sender, codec.encode(HeaderCertMsg(stored)))]
        own = self.pending.get(vote.height)
        head = self.source.head_height()
        if own is None and not head < vote.height <= head + AHEAD:
            self.metrics["dropped_unwanted_vote"] += 1  # not a header this node waits for
            return []
        committee = (own.committee if own is not None and own.epoch == vote.epoch
                     else self.source.committee_of(vote.epoch))
        if (committee is None or not 0 <= vote.signer < committee.n
                or committee.nodes[vote.signer] != sender):
            self.metrics["dropped_bad_signer"] += 1
            return []
        if (vote.height, vote.signer) in self._voted:
            return []
        key = (vote.height, vote.epoch, bytes(vote.digest))
        self.votes.setdefault(key, {})[vote.signer] = bytes(vote.signature)
        self._voted.add((vote.height, vote.signer))
        return self._complete(vote.height)

    def _on_certificate(self, certified: CertifiedHeader) -> list[Action]:
        p = self.pending.get(certified.header.height)
        if p is None or p.epoch != certified.epoch:
            return []
        try:
            digest = verify_certified(certified, p.committee, self.hasher, self.meter)
        except BadHeaderCertificate:
            self.metrics["dropped_bad_cert"] += 1
            return []
        if digest != p.digest:  # a certified header this node did not execute: a fork
            self.metrics["conflicting_cert"] += 1
            return []
        return self._done(certified)

    def _on_request(self, sender: bytes, request: CertRequest) -> list[Action]:
        out: list[Action] = []
        for height in request.heights:
            stored = self.source.certified(height)
            if stored is not None:
                out.append(Send(sender, codec.encode(HeaderCertMsg(stored))))
        return out



class WithCertifier:
    """A validator's consensus core with its header certifier beside it, as the one core a
    driver runs: the certifier takes its own messages (by tag), its timer and the headers
    the ledger applied; everything else goes to consensus."""

    def __init__(self, consensus: Core, certifier: HeaderCertifier) -> None:
        self.consensus = consensus
        self.certifier = certifier

    def handle(self, event: Event) -> Sequence[Action]:
        if isinstance(event, Start):
            return [*self.consensus.handle(event), *self.certifier.handle(event)]
        if ((isinstance(event, Receive) and is_cert_message(event.message))
                or (isinstance(event, Input) and isinstance(event.value, HeaderApplied))
                or (isinstance(event, Timeout) and event.timer == CERT_TIMER)):
            return self.certifier.handle(event)
        return self.consensus.handle(event)
