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

A rebuilt certificate is accepted only if its digest equals the one named, so a member
reconstructs exactly the block the leader built, with the same id (the hash of the full
block), and handles it like a full `Proposal`: every check is the same.
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
    BatchCert,
    Block,
    CompactProposal,
    Vote,
)

CERT_TIMER = "certs"
VOTE_ROUNDS_AHEAD = 4  # votes kept for rounds up to this far past the current one
SERVED_ROUNDS = 4  # a leader serves the certificates of its last proposals
MAX_PARKED = 64  # compact proposals waiting for certificates (one per sender)


def cert_digest(committee: Committee, cert: Cert, meter: Meter) -> bytes:
    """The name of a certificate in a compact proposal: the hash of its encoding."""
    data = codec.encode(cert)
    meter["hash_bytes"] += len(data)
    return committee.hash(data)


def certificates(block: Block) -> list[Cert]:
    """A block's certificates in the order a compact proposal names them."""
    return [block.justify.cert, *(c.cert for c in block.payload)]


def strip(committee: Committee, block: Block, meter: Meter) -> CompactProposal:
    """The compact form of `block`: each certificate keeps its signer bitmap only."""
    justify = structs.replace(block.justify, cert=Cert(bytes(block.justify.cert.signers), []))
    payload = [structs.replace(c, cert=Cert(bytes(c.cert.signers), [])) for c in block.payload]
    digests = [cert_digest(committee, c, meter) for c in certificates(block)]
    return CompactProposal(structs.replace(block, justify=justify, payload=payload), digests)


@dataclass
class VotePool:
    """The votes broadcast by members, one per sender and round, unverified: a rebuilt QC
    is verified as a whole, like any QC."""

    votes: dict[int, dict[int, Vote]] = field(default_factory=dict)  # round -> index -> vote

    def add(self, index: int, vote: Vote, current_round: int) -> bool:
        """Keep `vote` if its round is near and its sender has none there yet."""
        if not current_round - 2 <= vote.round <= current_round + VOTE_ROUNDS_AHEAD:
            return False
        return self.votes.setdefault(vote.round, {}).setdefault(index, vote) is vote

    def assemble(self, committee: Committee, round_: int, height: int, block_id: bytes,
                 bits: bytes) -> Cert | None:
        """The certificate of the signers in `bits` from their pooled votes, if all are here
        and voted for this block."""
        pooled = self.votes.get(round_, {})
        sigs = []
        for i in signers(bits, committee.n):
            vote = pooled.get(i)
            if vote is None or bytes(vote.block_id) != block_id or vote.height != height:
                return None
            sigs.append(bytes(vote.signature))
        return Cert(bits, sigs)

    def forget(self, keep: int) -> None:
        """Drop the votes of rounds below `keep`."""
        self.votes = {r: v for r, v in self.votes.items() if r >= keep}


@dataclass
class Parked:
    """A compact proposal waiting for certificates this member did not hold."""

    proposal: CompactProposal
    since_ms: int
    found: dict[bytes, Cert] = field(default_factory=dict)  # digest -> matching certificate
    asked: bool = False


def fill(committee: Committee, parked: Parked, votes: VotePool,
         announced: Callable[[bytes], BatchCert | None],
         meter: Meter) -> tuple[Block | None, list[bytes]]:
    """The full block of a compact proposal, or None and the digests still missing.
    `announced(batch digest)` is the batch certificate this member holds, if any. A match
    is remembered in `parked.found`, so a retry hashes only what is new."""
    proposal = parked.proposal
    block = proposal.block
    digests = [bytes(d) for d in proposal.certs]
    if len(digests) != 1 + len(block.payload):
        raise InvalidMessage("a compact proposal names one digest per certificate")

    def found(stripped: Cert, digest: bytes, candidate: Cert | None) -> Cert | None:
        if digest in parked.found:
            return parked.found[digest]
        for cert in (candidate, stripped):
            if cert is not None and cert_digest(committee, cert, meter) == digest:
                parked.found[digest] = cert
                return cert
        return None

    missing: list[bytes] = []
    qc = block.justify
    pooled = None
    # a bitmap of the wrong length raises: then only the proposer's answer can match
    with suppress(InvalidCertificate):
        if digests[0] not in parked.found:
            pooled = votes.assemble(committee, qc.round, qc.height, bytes(qc.block_id),
                                    bytes(qc.cert.signers))
    qc_cert = found(qc.cert, digests[0], pooled)
    if qc_cert is None:
        missing.append(digests[0])
    payload = []
    for ref, digest in zip(block.payload, digests[1:], strict=True):
        held = None if digest in parked.found else announced(bytes(ref.digest))
        cert = found(ref.cert, digest, held.cert if held is not None and _same(held, ref)
                     else None)
        if cert is None:
            missing.append(digest)
        else:
            payload.append(structs.replace(ref, cert=cert))
    if missing or qc_cert is None:
        return None, missing
    return structs.replace(block, justify=structs.replace(qc, cert=qc_cert),
                           payload=payload), []


def _same(held: BatchCert, ref: BatchCert) -> bool:
    return (held.epoch, bytes(held.digest), held.author, held.count) == (
        ref.epoch, bytes(ref.digest), ref.author, ref.count)


@dataclass
class Served:
    """The certificates of this leader's last proposals, by digest, for members that ask."""

    rounds: OrderedDict[int, dict[bytes, Cert]] = field(default_factory=OrderedDict)

    def keep(self, round_: int, block: Block, digests: Sequence[bytes]) -> None:
        self.rounds[round_] = dict(zip(digests, certificates(block), strict=True))
        while len(self.rounds) > SERVED_ROUNDS:
            self.rounds.popitem(last=False)

    def get(self, digest: bytes) -> Cert | None:
        for certs in self.rounds.values():
            if digest in certs:
                return certs[digest]
        return None
