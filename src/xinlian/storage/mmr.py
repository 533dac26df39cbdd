"""A Merkle Mountain Range over a growing list of leaves (block header hashes).

The MMR is what lets a light client check an old header against a recent one without
downloading the headers between them (FlyClient): a recent header commits to the MMR of
every header before it, and one header's inclusion proof is a path of log2(n) hashes.

Theory of operation. n leaves form one perfect binary tree ("mountain") per set bit of n,
largest first; the tops of the mountains are the peaks. A node is named by its level and
its index on that level: node (k, j) covers leaves [j * 2^k, (j + 1) * 2^k), so a leaf's
siblings are (k, (i >> k) ^ 1) for each level k below its mountain's peak, whatever n is.
Appending a leaf merges equal-height peaks from the right, so the peaks alone (at most
log2(n) + 1 hashes) are enough to append; proofs need the stored interior nodes
(`MmrNodes`, each written once and never changed). Hashes, domain-separated:

    leaf(h)        = H(0x00 || h)
    node(l, r)     = H(0x01 || l || r)
    root(n, peaks) = H(0x02 || n as 8 bytes big-endian || peak_1 || ... || peak_k)

This module is pure (no store): SDKs and light nodes verify with it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

from xinlian import codec
from xinlian.storage.errors import MalformedProofError
from xinlian.storage.proof import HASH_SIZE, Hasher

MAX_LEVELS = 64
_LEAF, _NODE, _ROOT = b"\x00", b"\x01", b"\x02"

Hash = Annotated[bytes, codec.exactly(HASH_SIZE)]


class Peaks(codec.Struct):
    """An MMR's state: how many leaves it holds and its peaks, largest mountain first."""

    size: int
    peaks: Annotated[list[Hash], codec.at_most(MAX_LEVELS)]


class MmrProof(codec.Struct):
    """Leaf `index` of an MMR of `size` leaves: its siblings from the bottom up to its
    mountain's peak, and every peak (so the root can be recomputed)."""

    index: int
    size: int
    siblings: Annotated[list[Hash], codec.at_most(MAX_LEVELS)]
    peaks: Annotated[list[Hash], codec.at_most(MAX_LEVELS)]


EMPTY = Peaks(0, [])


def leaf_hash(hasher: Hasher, item: bytes) -> bytes:
    return hasher(_LEAF + item)


def node_hash(hasher: Hasher, left: bytes, right: bytes) -> bytes:
    return hasher(_NODE + left + right)


def compute_root(hasher: Hasher, peaks: Peaks) -> bytes:
    return hasher(_ROOT + peaks.size.to_bytes(8, "big") + b"".join(peaks.peaks))


def mountains(size: int) -> list[tuple[int, int]]:
    """(first leaf, level) of each mountain of an MMR of `size` leaves, largest first."""
    out = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((start, level))
            start += 1 << level
    return out


def append(hasher: Hasher, peaks: Peaks, item: bytes,
           written: Callable[[int, int, bytes], None] | None = None) -> Peaks:
    """The MMR with `item` appended; `written(level, index, hash)` sees every new node."""
    index = peaks.size
    node = leaf_hash(hasher, item)
    if written is not None:
        written(0, index, node)
    stack = list(peaks.peaks)
    level = 0
    while index >> level & 1:  # the mountain on the left has this height: merge
        node = node_hash(hasher, stack.pop(), node)
        level += 1
        if written is not None:
            written(level, index >> level, node)
    stack.append(node)
    return Peaks(peaks.size + 1, stack)


def _mountain_of(index: int, size: int) -> tuple[int, int]:
    """(position among the mountains, level) of the mountain holding leaf `index`."""
    for position, (start, level) in enumerate(mountains(size)):
        if start <= index < start + (1 << level):
            return position, level
    raise MalformedProofError(f"leaf {index} is not in an MMR of {size} leaves")


def proof_nodes(index: int, size: int) -> list[tuple[int, int]]:
    """The (level, index) of each sibling a proof of leaf `index` needs, bottom up."""
    if not 0 <= index < size < 1 << MAX_LEVELS - 1:
        raise MalformedProofError(f"leaf {index} is not in an MMR of {size} leaves")
    _, top = _mountain_of(index, size)
    return [(level, (index >> level) ^ 1) for level in range(top)]


def make_proof(index: int, peaks: Peaks, node: Callable[[int, int], bytes | None]
               ) -> MmrProof | None:
    """A proof of leaf `index` from stored nodes (`node(level, index)`); None if one of
    them is not held (a node that joined from a snapshot lacks the older ones)."""
    siblings = []
    for level, j in proof_nodes(index, peaks.size):
        found = node(level, j)
        if found is None:
            return None
        siblings.append(found)
    return MmrProof(index, peaks.size, siblings, list(peaks.peaks))


def verify_proof(hasher: Hasher, root: bytes, item: bytes, proof: MmrProof) -> bool:
    """Whether `item` is leaf `proof.index` of the MMR whose root is `root`."""
    try:
        wanted = proof_nodes(proof.index, proof.size)
    except MalformedProofError:
        return False
    shape = mountains(proof.size)
    if len(proof.siblings) != len(wanted) or len(proof.peaks) != len(shape):
        return False
    node = leaf_hash(hasher, item)
    for (level, _), sibling in zip(wanted, proof.siblings, strict=True):
        on_right = proof.index >> level & 1
        node = node_hash(hasher, sibling, node) if on_right else node_hash(hasher, node,
                                                                              sibling)
    mountain, _ = _mountain_of(proof.index, proof.size)
    return (proof.peaks[mountain] == node
            and compute_root(hasher, Peaks(proof.size, proof.peaks)) == root)


def peaks_of(hasher: Hasher, items: Sequence[bytes]) -> Peaks:
    """The MMR of `items` from scratch (tests and one-off checks)."""
    peaks = EMPTY
    for item in items:
        peaks = append(hasher, peaks, item)
    return peaks
