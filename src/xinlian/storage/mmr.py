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
(`MmrNodes`, each written once and never changed). A contiguous run of leaves proves with
one proof (`run_siblings`, `run_peaks`): per mountain it touches, only the hashes just left
and right of the run at each level, so k leaves cost k leaf hashes, about k node hashes and
O(log n) given hashes. Hashes, domain-separated:

    leaf(h)        = H(0x00 || h)
    node(l, r)     = H(0x01 || l || r)
    root(n, peaks) = H(0x02 || n as 8 bytes big-endian || peak_1 || ... || peak_k)

This module is pure (no store): SDKs and light nodes verify with it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

from xinlian import codec
from xinlian.crypto.hashes import hash_items
from xinlian.storage.errors import MalformedProofError, TamperedAnswerError
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


def decode_peaks(value: bytes) -> Peaks:
    """Peaks from their encoding (a state value the caller has proven); MalformedProofError
    if they do not decode or do not match their size."""
    try:
        peaks: Peaks = codec.decode(value, Peaks)
    except codec.CodecError as exc:
        raise MalformedProofError(f"MMR peaks do not decode: {exc.message}") from None
    if len(peaks.peaks) != bin(peaks.size).count("1"):
        raise MalformedProofError("MMR peaks do not match their size")
    return peaks


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


def leaf_hashes(hasher: Hasher, items: Sequence[bytes]) -> list[bytes]:
    """The leaf hash of each item (items of any size: block filters)."""
    return [hasher(_LEAF + item) for item in items]


def _run_shape(first: int, stop: int, size: int) -> list[tuple[int, int, int, int]]:
    """(mountain position, level, first leaf, last leaf) of each mountain that the run of
    leaves [first, stop) touches, in order."""
    if not 0 <= first < stop <= size < 1 << MAX_LEVELS - 1:
        raise MalformedProofError(f"leaves [{first}, {stop}) are not a run of an MMR of "
                                  f"{size} leaves")
    out = []
    for position, (start, level) in enumerate(mountains(size)):
        end = start + (1 << level)
        if start < stop and first < end:
            out.append((position, level, max(first, start), min(stop, end) - 1))
    return out


def run_siblings(first: int, stop: int, size: int) -> list[tuple[int, int]]:
    """The (level, index) of each node a proof of the run [first, stop) gives, in the order
    `run_peaks` takes them: per mountain, per level from the bottom, left then right."""
    out = []
    for _, top, lo, hi in _run_shape(first, stop, size):
        for level in range(top):
            if lo & 1:
                out.append((level, lo - 1))
            if not hi & 1:
                out.append((level, hi + 1))
            lo, hi = lo >> 1, hi >> 1
    return out


def run_peaks(hasher: Hasher, first: int, size: int, leaves: bytes,
              siblings: Sequence[bytes]) -> list[tuple[int, bytes]]:
    """(position, peak) of each mountain that the run of `leaves` (leaf hashes,
    concatenated, the first being leaf `first`) touches, computed with the `siblings` of
    `run_siblings`; the caller compares them with the peaks it trusts. MalformedProofError
    if the counts are wrong. Each level of a mountain is one `hash_items` call over the
    row's concatenated pairs."""
    if len(leaves) % HASH_SIZE:
        raise MalformedProofError("leaf hashes are not whole hashes")
    shape = _run_shape(first, first + len(leaves) // HASH_SIZE, size)
    if len(siblings) != len(run_siblings(first, first + len(leaves) // HASH_SIZE, size)) or \
            any(len(s) != HASH_SIZE for s in siblings):
        raise MalformedProofError("a run proof with the wrong sibling hashes")
    given = iter(siblings)
    out = []
    for position, top, lo, hi in shape:
        row = leaves[(lo - first) * HASH_SIZE:(hi - first + 1) * HASH_SIZE]
        for _ in range(top):
            if lo & 1:
                row = next(given) + row
                lo -= 1
            if not hi & 1:
                row += next(given)
                hi += 1
            row = hash_items(hasher, _NODE, row, 2 * HASH_SIZE)
            lo, hi = lo >> 1, hi >> 1
        out.append((position, row))
    return out


def packed_leaf_hashes(hasher: Hasher, packed: bytes, size: int) -> bytes:
    """The leaf hash of each `size`-byte item of `packed`, concatenated, in one
    `hash_items` call (the run verifier's hot loop)."""
    return hash_items(hasher, _LEAF, packed, size)


def check_run(hasher: Hasher, peaks: Peaks, first: int, items: Sequence[bytes],
              siblings: bytes) -> None:
    """Raise TamperedAnswerError unless `items` are leaves [first, first + len(items)) of
    the MMR whose peaks (trusted by the caller) are `peaks`; `siblings` are the hashes
    `run_siblings` names, concatenated."""
    check_leaves(hasher, peaks, first, b"".join(leaf_hashes(hasher, items)), siblings)


def check_leaves(hasher: Hasher, peaks: Peaks, first: int, leaves: bytes,
                 siblings: bytes) -> None:
    """`check_run` for leaf hashes (concatenated) the caller computed."""
    if len(siblings) % HASH_SIZE:
        raise TamperedAnswerError("run proof siblings are not whole hashes")
    given = [siblings[i:i + HASH_SIZE] for i in range(0, len(siblings), HASH_SIZE)]
    try:
        got = run_peaks(hasher, first, peaks.size, leaves, given)
    except MalformedProofError as exc:
        raise TamperedAnswerError(f"the run proof does not fit: {exc.message}") from None
    for position, peak in got:
        if peaks.peaks[position] != peak:
            raise TamperedAnswerError("the answer does not lead to the committed peaks")


def make_run_proof(first: int, stop: int, size: int,
                   node: Callable[[int, int], bytes | None]) -> list[bytes] | None:
    """The siblings proving the run [first, stop) from stored nodes; None if one is not
    held."""
    out = []
    for level, j in run_siblings(first, stop, size):
        found = node(level, j)
        if found is None:
            return None
        out.append(found)
    return out


def peaks_of(hasher: Hasher, items: Sequence[bytes]) -> Peaks:
    """The MMR of `items` from scratch (tests and one-off checks)."""
    peaks = EMPTY
    for item in items:
        peaks = append(hasher, peaks, item)
    return peaks
