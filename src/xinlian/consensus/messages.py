"""Consensus records and wire messages, and the exact bytes each signature covers.

Every wire message is a tagged canonical record (`codec.Struct`); `decode_message` turns
bytes into one of them or raises a CodecError, and the core drops what fails. Semantic
checks against the committee (signer index, certificate, epoch) live with the role that
uses the message; the `*_message` functions below give the signed bytes, with a domain
string so a vote can never be replayed as a timeout or an acknowledgement.
"""

from __future__ import annotations

from typing import Annotated

from xinlian import codec
from xinlian.consensus.certificates import Cert
from xinlian.consensus.committee import Committee

ID = Annotated[bytes, codec.at_most(64)]
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_WIRE = MAX_BATCH_BYTES + 4096
MAX_NAMED = 4096  # certificates a compact proposal names (its QC and batch certificates)


# -- signed statements ---------------------------------------------------------------------

def vote_message(epoch: int, round_: int, height: int, block_id: bytes) -> bytes:
    return codec.encode(["xinlian/consensus/vote", epoch, round_, height, block_id])


def timeout_message(epoch: int, round_: int, high_qc_round: int) -> bytes:
    return codec.encode(["xinlian/consensus/timeout", epoch, round_, high_qc_round])


def ack_message(epoch: int, digest: bytes) -> bytes:
    return codec.encode(["xinlian/consensus/ack", epoch, digest])


# -- records -------------------------------------------------------------------------------

class QC(codec.Struct):
    """A quorum certificate: more than 2/3 of the power voted for this block."""

    epoch: int
    round: int
    height: int
    block_id: ID
    cert: Cert


class TC(codec.Struct):
    """A timeout certificate: more than 2/3 gave up on `round`, each naming its high QC round."""

    epoch: int
    round: int
    high_qc_rounds: list[int]  # one per signer, in bitmap order
    cert: Cert


class BatchCert(codec.Struct):
    """An availability certificate: more than 1/3 of the power stores this batch."""

    epoch: int
    digest: ID
    author: int
    count: int
    cert: Cert


class Block(codec.Struct):
    epoch: int
    round: int
    height: int
    parent: ID
    author: int
    justify: QC  # certifies `parent`
    tc: TC | None  # present when the previous round ended by timeout
    payload: list[BatchCert]
    reconfig: Committee | None  # the next epoch's committee, effective once this commits


class Batch(codec.Struct):
    """Opaque transaction bytes from one author; `count` is what the author says it holds."""

    epoch: int
    author: int
    seq: int
    count: int
    payload: Annotated[bytes, codec.at_most(MAX_BATCH_BYTES)]


# -- wire messages -------------------------------------------------------------------------

class Proposal(codec.Struct, tag=1):
    block: Block


class Vote(codec.Struct, tag=2):
    epoch: int
    round: int
    height: int
    block_id: ID
    signature: Annotated[bytes, codec.at_most(8192)]


class Timeout(codec.Struct, tag=3):
    epoch: int
    round: int
    high_qc: QC
    last_tc: TC | None  # how the sender entered `round`, so laggards can follow
    signature: Annotated[bytes, codec.at_most(8192)]


class Certified(codec.Struct, tag=4):
    """Certificates sent on their own: the QC that ends an epoch, or the QC and TC that
    bring a node stuck in an older round up to date."""

    qc: QC
    tc: TC | None


class SyncRequest(codec.Struct, tag=5):
    block_id: ID


class SyncResponse(codec.Struct, tag=6):
    blocks: list[Block]  # the requested block first, then its ancestors


class BatchMsg(codec.Struct, tag=7):
    batch: Batch


class Ack(codec.Struct, tag=8):
    epoch: int
    digest: ID
    signature: Annotated[bytes, codec.at_most(8192)]


class Available(codec.Struct, tag=9):
    cert: BatchCert


class BatchRequest(codec.Struct, tag=10):
    digest: ID


class BatchResponse(codec.Struct, tag=11):
    message: Annotated[bytes, codec.at_most(MAX_BATCH_BYTES + 1024)]  # a BatchMsg


class EpochRequest(codec.Struct, tag=12):
    """Asks a peer in a later epoch for the QC that closed `epoch`."""

    epoch: int


class Pruned(codec.Struct, tag=13):
    """The answer to an EpochRequest for an epoch whose blocks and batches the peer
    dropped: `oldest` is the oldest epoch it still holds them for."""

    oldest: int


class CompactProposal(codec.Struct, tag=14):
    """A proposal whose certificates carry their signer bitmaps only, each named by the
    digest of the full certificate: the QC's first, then the payload's in order
    (compact.py). Members rebuild the block from votes and announcements they hold."""

    block: Block
    certs: Annotated[list[ID], codec.at_most(MAX_NAMED)]


class CertRequest(codec.Struct, tag=15):
    """Asks the sender of a compact proposal or timeout for the certificates with these
    digests."""

    certs: Annotated[list[ID], codec.at_most(MAX_NAMED)]


class CertResponse(codec.Struct, tag=16):
    certs: Annotated[list[Cert], codec.at_most(MAX_NAMED)]


class CompactTimeout(codec.Struct, tag=17):
    """A `Timeout` whose high QC and last TC carry their signer bitmaps only, each named by
    the digest of its full certificate: the QC's first, then the TC's if there is one
    (compact.py). Members rebuild them from the votes, timeouts and certificates they
    hold, or fetch them from the sender."""

    epoch: int
    round: int
    high_qc: QC
    last_tc: TC | None
    certs: Annotated[list[ID], codec.at_most(2)]
    signature: Annotated[bytes, codec.at_most(8192)]


class CompactTCProposal(CompactProposal, tag=18):
    """A compact proposal of a block that follows a TC, the TC stripped as well: its digest
    comes right after the QC's (compact.py). A tag of its own, so a node that names TCs by
    digest is never read by one that expects them in full."""


class CompactCertified(codec.Struct, tag=19):
    """A `Certified` sent to a laggard, its QC and TC named by digest like a compact
    timeout's (compact.py): the laggard rebuilds them or fetches them from the sender."""

    qc: QC
    tc: TC | None
    certs: Annotated[list[ID], codec.at_most(2)]


Message = (Proposal | Vote | Timeout | Certified | SyncRequest | SyncResponse | BatchMsg | Ack
           | Available | BatchRequest | BatchResponse | EpochRequest | Pruned | CompactProposal
           | CertRequest | CertResponse | CompactTimeout | CompactTCProposal
           | CompactCertified)


def decode_message(data: bytes) -> Message:
    message: Message = codec.decode(data, Message, max_size=MAX_WIRE)
    return message


def kind(data: bytes) -> str:
    """The message's type name from its tag, without decoding it (for statistics)."""
    if len(data) >= 2 and 0x91 <= data[0] <= 0x9F and 1 <= data[1] <= len(_NAMES):
        return _NAMES[data[1] - 1]
    return "other"


_NAMES = ("proposal", "vote", "timeout", "certified", "sync_request", "sync_response", "batch",
          "ack", "available", "batch_request", "batch_response", "epoch_request", "pruned",
          "compact_proposal", "cert_request", "cert_response", "compact_timeout",
          "compact_tc_proposal", "compact_certified")
