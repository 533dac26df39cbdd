"""The ledger's history: an MMR over every header, committed in the state tree.

Each block's state holds, under `HISTORY_KEY`, the peaks of the MMR (storage/mmr.py) over
the hashes of every header before it: block h appends its parent's hash, so its state root
commits to headers 0..h-1. A client that trusts one recent header (certified by its
committee, node/certify.py) then checks any older header with two proofs and no other
header: the state proof of the peaks under the recent header's state root, and the MMR
inclusion proof of the old header's hash (`HeaderProof`, `verify_header_proof`). The
peaks live in the state, not beside it, so a node that joins from a state snapshot gets
them with the state and goes on appending; the interior nodes a proof needs are stored in
the `HISTORY_DB` sub-database of the nodes that built them.
"""

from __future__ import annotations

from xinlian import codec
from xinlian.ledger.block import BlockHeader, header_hash
from xinlian.node.errors import BadHeaderProof
from xinlian.storage import mmr
from xinlian.storage.proof import Hasher, Proof, verify_proof

HISTORY_KEY = b"sys/history"
HISTORY_DB = "history"


class HeaderProof(codec.Struct):
    """Header `header.height` is in the history of the block at height `anchor`: the
    anchor's history peaks (`peaks`, the encoded mmr.Peaks) proven under its state root,
    and the header's inclusion in that MMR."""

    header: BlockHeader
    anchor: int
    peaks: bytes
    peaks_proof: Proof
    inclusion: mmr.MmrProof


def node_key(level: int, index: int) -> bytes:
    return bytes([level]) + index.to_bytes(8, "big")


def decode_peaks(raw: bytes | None) -> mmr.Peaks:
    return mmr.EMPTY if raw is None else codec.decode(raw, mmr.Peaks)


def verify_header_proof(anchor: BlockHeader, proof: HeaderProof, hasher: Hasher) -> bytes:
    """The old header's hash, once it is proven in the history of `anchor` (a header the
    caller trusts); raises BadHeaderProof."""
    old = proof.header
    if proof.anchor != anchor.height or old.chain_id != anchor.chain_id:
        raise BadHeaderProof("the proof is for another anchor or chain")
    if not 0 <= old.height < anchor.height:
        raise BadHeaderProof(f"header {old.height} is not before anchor {anchor.height}")
    if not verify_proof(anchor.state_root, HISTORY_KEY, proof.peaks, proof.peaks_proof, hasher):
        raise BadHeaderProof(f"the history peaks do not verify under block {anchor.height}")
    try:
        peaks = codec.decode(proof.peaks, mmr.Peaks)
    except codec.CodecError as exc:
        raise BadHeaderProof(f"the history peaks do not decode: {exc.message}") from None
    inclusion = proof.inclusion
    if (peaks.size != anchor.height or inclusion.size != peaks.size
            or inclusion.index != old.height or inclusion.peaks != peaks.peaks):
        raise BadHeaderProof("the inclusion proof does not match the anchor's history")
    digest = header_hash(old, hasher)
    if not mmr.verify_proof(hasher, mmr.compute_root(hasher, peaks), digest, inclusion):
        raise BadHeaderProof(f"header {old.height} is not in the history of {anchor.height}")
    return digest
