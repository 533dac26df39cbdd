"""Compact proposals: certificates named by digest, votes that travel once.

Theory of operation. With list certificates (one suite signature per signer: SM2 on `sm`,
ML-DSA-65 on `pq`, the composites on the hybrids) a QC holds 2f+1 signatures and a batch
certificate f+1, so a full proposal carries kilobytes to megabytes of signatures that the
leader sends n-1 times: its NIC, not the network's round trip, sets the round time. Here
every signature crosses each link at most once:

- a voter broadcasts its vote to every member (not only the next leader), and every member
  keeps the votes of recent rounds (`VotePool`, one per sender and round);
- the leader sends the block with each certificate's signatures stripped (`strip`) and the
  digest of each full certificate (`CompactProposal`): the QC's first, then the payload's in
  order. A member rebuilds each certificate from what it already holds (`fill`): the QC
  from the pooled votes of its signers, a batch certificate from the announcement
  (`Available`) its author broadcast;
- what a member still lacks after `Config.cert_wait_ms` (a vote or an announcement still on
  its way, a vote its sender signed twice) it fetches from the proposer (`CertRequest`),
  which keeps the certificates of its last proposals (`Served`); answers are taken only
  for the digests asked for.

Timeouts go the same way (`CompactTimeout`, with `Config.compact_timeouts`): the sender's
high QC and the TC it entered its round with are named by digest; a timeout is broadcast
from the first attempt (a few kilobytes now, the size of a vote) and every member keeps the
timeouts of recent rounds (`TimeoutPool`). A member rebuilds a named QC from pooled votes
or a certificate it already holds (`Known`: those it rebuilt, fetched or named itself), a
named TC from pooled timeouts, and fetches the rest from the timeout's sender, which keeps
the certificates it named. A proposal after a TC names the TC too (`CompactTCProposal`), and
the certificates that bring a laggard up to date go the same way (`CompactCertified`).

A rebuilt certificate is accepted only if its digest equals the one named, so a member
reconstructs exactly the block the leader built, with the same id (the hash of the full
block), and handles it like a full `Proposal`: every check is the same. A timeout waits
until its certificates are rebuilt: it counts toward no TC before its QC is verified.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

from msgspec import structs

from xinlian import codec
from xinlian.consensus.certificates import Cert, Meter
from xinlian.consensus.committee import Committee, signers
from xinlian.consensus.errors import InvalidCertificate, InvalidMessage
from xinlian.consensus.messages import (
    QC,
    TC,
    BatchCert,
    Block,
    Certified,
    CompactCertified,
    CompactProposal,
    CompactTCProposal,
    CompactTimeout,
    Timeout,
    Vote,
)

CERT_TIMER = "certs"
VOTE_ROUNDS_AHEAD = 4  # votes and timeouts kept for rounds up to this far past the current one
SERVED_ROUNDS = 4  # a member serves what it named in its proposals and timeouts of 4 rounds
MAX_PARKED = 64  # compact proposals waiting for certificates (one per sender)
KNOWN_CERTS = 64  # full certificates a member keeps by digest to rebuild what others name


def cert_digest(committee: Committee, cert: Cert, meter: Meter) -> bytes:
    """The name of a certificate in a compact message: the hash of its encoding."""
    data = codec.encode(cert)
    meter["hash_bytes"] += len(data)
    return committee.hash(data)


def _bare(cert: Cert) -> Cert:
    return Cert(bytes(cert.signers), [])


def certificates(block: Block, with_tc: bool = False) -> list[Cert]:
    """A block's certificates in the order a compact proposal names them: the QC's, the
    TC's (`with_tc`, a `CompactTCProposal`), then the payload's."""
    tc = [block.tc.cert] if with_tc and block.tc is not None else []
    return [block.justify.cert, *tc, *(c.cert for c in block.payload)]


def strip(committee: Committee, block: Block, meter: Meter,
          with_tc: bool = False) -> CompactProposal:
    """The compact form of `block`: each certificate keeps its signer bitmap only (the TC
    too with `with_tc`, if there is one)."""
    justify = structs.replace(block.justify, cert=_bare(block.justify.cert))
    payload = [structs.replace(c, cert=_bare(c.cert)) for c in block.payload]
    digests = [cert_digest(committee, c, meter) for c in certificates(block, with_tc)]
    if with_tc and block.tc is not None:
        tc = structs.replace(block.tc, cert=_bare(block.tc.cert))
        return CompactTCProposal(structs.replace(block, justify=justify, tc=tc,
                                                 payload=payload), digests)
    return CompactProposal(structs.replace(block, justify=justify, payload=payload), digests)


def strip_pair(committee: Committee, qc: QC, tc: TC | None,
               meter: Meter) -> tuple[QC, TC | None, dict[bytes, Cert]]:
    """A QC and TC with their signatures removed, and their certificates by digest (the
    QC's first), as a compact timeout or `CompactCertified` names them."""
    certs = [qc.cert] + ([] if tc is None else [tc.cert])
    digests = [cert_digest(committee, c, meter) for c in certs]
    bare_tc = None if tc is None else structs.replace(tc, cert=_bare(tc.cert))
    return (structs.replace(qc, cert=_bare(qc.cert)), bare_tc,
            dict(zip(digests, certs, strict=True)))


def strip_timeout(committee: Committee, timeout: Timeout,
                  meter: Meter) -> tuple[CompactTimeout, dict[bytes, Cert]]:
    """The compact form of `timeout` and its certificates by digest (for its sender to
    serve)."""
    qc, tc, certs = strip_pair(committee, timeout.high_qc, timeout.last_tc, meter)
    return CompactTimeout(timeout.epoch, timeout.round, qc, tc, list(certs),
                          timeout.signature), certs


@dataclass
class _Pool:
    """Signatures broadcast by members, one per sender and round, each with the statement
    it signs, unverified: a certificate rebuilt from them is verified as a whole."""

    held: dict[int, dict[int, tuple[object, bytes]]] = field(default_factory=dict)

    def _add(self, round_: int, index: int, statement: object, signature: bytes,
             current_round: int) -> bool:
        if not current_round - 2 <= round_ <= current_round + VOTE_ROUNDS_AHEAD:
            return False
        entry = (statement, signature)
        return self.held.setdefault(round_, {}).setdefault(index, entry) is entry

    def _assemble(self, committee: Committee, round_: int, bits: bytes,
                  statements: Callable[[int], object]) -> Cert | None:
        """The certificate of the signers in `bits`, if each k-th signer's pooled signature
        is on `statements(k)`."""
        pooled = self.held.get(round_, {})
        sigs = []
        for k, i in enumerate(signers(bits, committee.n)):
            entry = pooled.get(i)
            if entry is None or entry[0] != statements(k):
                return None
            sigs.append(entry[1])
        return Cert(bits, sigs)

    def forget(self, keep: int) -> None:
        """Drop the signatures of rounds below `keep`."""
        self.held = {r: v for r, v in self.held.items() if r >= keep}


class VotePool(_Pool):
    """Broadcast votes, for the QCs that compact messages name."""

    def add(self, index: int, vote: Vote, current_round: int) -> bool:
        """Keep `vote` if its round is near and its sender has none there yet."""
        return self._add(vote.round, index, (vote.height, bytes(vote.block_id)),
                         bytes(vote.signature), current_round)

    def assemble(self, committee: Committee, round_: int, height: int, block_id: bytes,
                 bits: bytes) -> Cert | None:
        """The QC certificate of the signers in `bits` from their pooled votes, if all are
        here and voted for this block."""
        return self._assemble(committee, round_, bits, lambda _: (height, block_id))


class TimeoutPool(_Pool):
    """Broadcast timeouts, for the TCs that compact messages name."""

    def add(self, index: int, timeout: Timeout | CompactTimeout, current_round: int) -> bool:
        """Keep `timeout`'s signature if its round is near and its sender has none there."""
        return self._add(timeout.round, index, timeout.high_qc.round,
                         bytes(timeout.signature), current_round)

    def assemble(self, committee: Committee, tc: TC) -> Cert | None:
        """The TC certificate of its signers from their pooled timeouts, if all are here and
        reported the high QC rounds the TC lists."""
        rounds = list(tc.high_qc_rounds)
        return self._assemble(committee, tc.round, bytes(tc.cert.signers),
                              lambda k: rounds[k] if k < len(rounds) else None)


@dataclass
class Known:
    """Full certificates this member holds by digest: those it rebuilt, fetched or named in
    its own timeouts (the last KNOWN_CERTS)."""

    certs: OrderedDict[bytes, Cert] = field(default_factory=OrderedDict)

    def add(self, found: dict[bytes, Cert]) -> None:
        for digest, cert in found.items():
            self.certs[digest] = cert
            self.certs.move_to_end(digest)
        while len(self.certs) > KNOWN_CERTS:
            self.certs.popitem(last=False)

    def get(self, digest: bytes) -> Cert | None:
        return self.certs.get(digest)


@dataclass
class Parked:
    """A compact proposal or timeout waiting for certificates this member did not hold."""

    message: CompactProposal | CompactTimeout | CompactCertified
    since_ms: int
    found: dict[bytes, Cert] = field(default_factory=dict)  # digest -> matching certificate
    asked: bool = False

    @property
    def round(self) -> int:
        """The round it is for: a `CompactCertified`'s is the one its certificates lead to."""
        message = self.message
        if isinstance(message, CompactCertified):
            return max(message.qc.round, -1 if message.tc is None else message.tc.round) + 1
        return message.round if isinstance(message, CompactTimeout) else message.block.round


@dataclass
class Sources:
    """What a member rebuilds certificates from."""

    votes: VotePool
    timeouts: TimeoutPool = field(default_factory=TimeoutPool)
    known: Known = field(default_factory=Known)
    announced: Callable[[bytes], BatchCert | None] = lambda _: None  # batch digest -> cert


def _found(committee: Committee, parked: Parked, digest: bytes, sources: Sources,
           candidates: Callable[[], Sequence[Cert | None]], meter: Meter) -> Cert | None:
    """The certificate named `digest`: remembered, held by digest, or the first candidate
    that hashes to it (the stripped certificate last: one without signatures, such as the
    epoch root's QC, is its own full form)."""
    cert = parked.found.get(digest) or sources.known.get(digest)
    if cert is not None:
        parked.found[digest] = cert
        return cert
    for candidate in candidates():
        if candidate is not None and cert_digest(committee, candidate, meter) == digest:
            parked.found[digest] = candidate
            return candidate
    return None


def _qc_cert(committee: Committee, parked: Parked, qc: QC, digest: bytes,
             sources: Sources, meter: Meter) -> Cert | None:
    def candidates() -> list[Cert | None]:
        pooled = None
        # a bitmap of the wrong length raises: then only the sender's answer can match
        with suppress(InvalidCertificate):
            pooled = sources.votes.assemble(committee, qc.round, qc.height,
                                            bytes(qc.block_id), bytes(qc.cert.signers))
        return [pooled, qc.cert]
    return _found(committee, parked, digest, sources, candidates, meter)


def _tc_cert(committee: Committee, parked: Parked, tc: TC, digest: bytes,
             sources: Sources, meter: Meter) -> Cert | None:
    def candidates() -> list[Cert | None]:
        with suppress(InvalidCertificate):
            return [sources.timeouts.assemble(committee, tc)]
        return []
    return _found(committee, parked, digest, sources, candidates, meter)


def check_names(proposal: CompactProposal) -> bool:
    """Whether the proposal names its block's TC; raises unless it names one digest per
    certificate."""
    named_tc = isinstance(proposal, CompactTCProposal)
    if named_tc and proposal.block.tc is None:
        raise InvalidMessage("a compact TC proposal carries a TC")
    if len(proposal.certs) != 1 + named_tc + len(proposal.block.payload):
        raise InvalidMessage("a compact proposal names one digest per certificate")
    return named_tc


def fill(committee: Committee, parked: Parked, sources: Sources,
         meter: Meter) -> tuple[Block | None, list[bytes]]:
    """The full block of a compact proposal, or None and the digests still missing. A
    match is remembered in `parked.found`, so a retry hashes only what is new."""
    proposal = parked.message
    assert isinstance(proposal, CompactProposal)
    block = proposal.block
    named_tc = check_names(proposal)
    digests = [bytes(d) for d in proposal.certs]
    missing: list[bytes] = []
    qc_cert = _qc_cert(committee, parked, block.justify, digests[0], sources, meter)
    if qc_cert is None:
        missing.append(digests[0])
    tc = block.tc
    if named_tc and tc is not None:
        tc_cert = _tc_cert(committee, parked, tc, digests[1], sources, meter)
        if tc_cert is None:
            missing.append(digests[1])
        else:
            tc = structs.replace(tc, cert=tc_cert)
    payload = []
    for ref, digest in zip(block.payload, digests[1 + named_tc:], strict=True):
        def held(ref: BatchCert = ref) -> list[Cert | None]:
            cert = sources.announced(bytes(ref.digest))
            return [cert.cert if cert is not None and _same(cert, ref) else None, ref.cert]
        cert = _found(committee, parked, digest, sources, held, meter)
        if cert is None:
            missing.append(digest)
        else:
            payload.append(structs.replace(ref, cert=cert))
    if missing or qc_cert is None:
        return None, missing
    return structs.replace(block, justify=structs.replace(block.justify, cert=qc_cert), tc=tc,
                           payload=payload), []


def _fill_pair(committee: Committee, parked: Parked, qc: QC, tc: TC | None,
               digests: list[bytes], sources: Sources,
               meter: Meter) -> tuple[QC | None, TC | None, list[bytes]]:
    """The full QC and TC a compact timeout or `CompactCertified` names, or the digests
    still missing."""
    if len(digests) != 1 + (tc is not None):
        raise InvalidMessage("a compact timeout names one digest per certificate")
    missing = []
    qc_cert = _qc_cert(committee, parked, qc, digests[0], sources, meter)
    if qc_cert is None:
        missing.append(digests[0])
    if tc is not None:
        tc_cert = _tc_cert(committee, parked, tc, digests[1], sources, meter)
        if tc_cert is None:
            missing.append(digests[1])
        else:
            tc = structs.replace(tc, cert=tc_cert)
    full = None if qc_cert is None else structs.replace(qc, cert=qc_cert)
    return full, tc, missing


def fill_timeout(committee: Committee, parked: Parked, sources: Sources,
                 meter: Meter) -> tuple[Timeout | None, list[bytes]]:
    """The full timeout of a compact one, or None and the digests still missing."""
    timeout = parked.message
    assert isinstance(timeout, CompactTimeout)
    qc, tc, missing = _fill_pair(committee, parked, timeout.high_qc, timeout.last_tc,
                                 [bytes(d) for d in timeout.certs], sources, meter)
    if missing or qc is None:
        return None, missing
    return Timeout(timeout.epoch, timeout.round, qc, tc, timeout.signature), []


def fill_certified(committee: Committee, parked: Parked, sources: Sources,
                   meter: Meter) -> tuple[Certified | None, list[bytes]]:
    """The full `Certified` of a compact one, or None and the digests still missing."""
    message = parked.message
    assert isinstance(message, CompactCertified)
    qc, tc, missing = _fill_pair(committee, parked, message.qc, message.tc,
                                 [bytes(d) for d in message.certs], sources, meter)
    if missing or qc is None:
        return None, missing
    return Certified(qc, tc), []


def _same(held: BatchCert, ref: BatchCert) -> bool:
    return (held.epoch, bytes(held.digest), held.author, held.count) == (
        ref.epoch, bytes(ref.digest), ref.author, ref.count)


@dataclass
class Served:
    """The certificates this member named in its last proposals and timeouts, by digest,
    for members that ask."""

    rounds: OrderedDict[int, dict[bytes, Cert]] = field(default_factory=OrderedDict)

    def keep(self, round_: int, certs: dict[bytes, Cert]) -> None:
        self.rounds.setdefault(round_, {}).update(certs)
        self.rounds.move_to_end(round_)
        while len(self.rounds) > SERVED_ROUNDS:
            self.rounds.popitem(last=False)

    def get(self, digest: bytes) -> Cert | None:
        for certs in self.rounds.values():
            if digest in certs:
                return certs[digest]
        return None
