"""Hashing of the state tree's 16-ary nodes, native where the hash is one libcrypto provides.

An internal node's hash is the 4-level binary Merkle tree (proof.py's rules) over its 16
child slots. Rewriting a node costs up to 15 hashes; through the interpreter that was the
largest part of a block's tree update, so for the suites' hashes (SHA-256, SM3, SHA3-256)
the whole node is hashed by one call into `_nodehash.c`. Any other hasher (one a test
passes, Keccak-256) gets the same results from the Python code here.

Nodes are passed in their stored, compact form: a bitmap of present children and their
hashes concatenated in nibble order.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from xinlian.crypto import hashes
from xinlian.storage.proof import EMPTY, HASH_SIZE, LEAF_PREFIX, NODE_PREFIX, Hasher

try:
    from xinlian.storage import _nodehash
except ImportError as exc:  # no silent fallback to the slower Python hashing
    raise ImportError("the state tree's native node hashing is not built: run `make venv` "
                      "(or `python setup.py build_ext --inplace`)") from exc

# The algorithm numbers of _nodehash.c, by the Python hasher they reproduce.
_NATIVE: dict[Hasher, int] = {hashes.sha256: 0, hashes.sm3: 1, hashes.sha3_256: 2}

# (bitmap, hashes, versions, changes, version) -> (bitmap, hashes, versions, node hash)
Rewrite = Callable[[int, bytes, list[int], dict[int, "bytes | None"], int],
                   tuple[int, bytes, list[int], bytes]]
# (updates, root, version, (overlay, cache, older cache), fetch)
#   -> (root or None, internal nodes, leaves, stale keys); see _nodebatch.c
ApplyBatch = Callable[
    [list[tuple[bytes, "bytes | None"]], "tuple[int, bool] | None", int,
     tuple[dict[bytes, bytes], dict[bytes, bytes], dict[bytes, bytes]],
     Callable[[bytes], "bytes | None"]],
    tuple["tuple[int, bytes] | None", dict[bytes, bytes], dict[bytes, bytes], list[bytes]]]


def merkle16(hasher: Hasher, slots: list[bytes]) -> list[list[bytes]]:
    """The binary layers over 16 child hashes (EMPTY where absent), root layer first:
    [[root], [2], [4], [8], slots]."""
    layers = [slots]
    layer = slots
    for _ in range(4):
        layer = [EMPTY if a is EMPTY and b is EMPTY else hasher(NODE_PREFIX + a + b)
                 for a, b in zip(layer[::2], layer[1::2], strict=True)]
        layers.append(layer)
    layers.reverse()
    return layers


def slots_of(bitmap: int, packed: bytes) -> list[bytes]:
    """The 16 child hashes of a compact node (the EMPTY object where absent)."""
    slots = [EMPTY] * 16
    i = 0
    for nib in range(16):
        if bitmap >> nib & 1:
            slots[nib] = packed[i * HASH_SIZE:(i + 1) * HASH_SIZE]
            i += 1
    return slots


class NodeHasher:
    """The node hashes of a tree over `hasher`; each operation is a plain callable
    attribute, bound once, because the tree calls them once per node it touches."""

    __slots__ = ("apply_batch", "leaf_hash", "native", "node_hash", "rewrite", "siblings")

    def __init__(self, hasher: Hasher) -> None:
        alg = _NATIVE.get(hasher)
        self.native = alg is not None and _nodehash.available(alg)
        self.node_hash: Callable[[int, bytes], bytes]
        self.siblings: Callable[[int, bytes, int], list[bytes]]
        self.leaf_hash: Callable[[bytes, bytes], bytes]
        self.rewrite: Rewrite
        self.apply_batch: ApplyBatch | None = None  # a block's update (jmt.py), native only
        if alg is not None and self.native:
            self.apply_batch = partial(_nodehash.apply_batch, alg)
            self.node_hash = partial(_nodehash.node_hash, alg)
            self.siblings = partial(_nodehash.siblings, alg)
            self.leaf_hash = partial(_nodehash.leaf_hash, alg)
            self.rewrite = partial(_nodehash.rewrite, alg)
        else:
            self.node_hash = partial(_node_hash, hasher)
            self.siblings = partial(_siblings, hasher)
            self.leaf_hash = partial(_leaf_hash, hasher)
            self.rewrite = partial(_rewrite, hasher)


def _node_hash(hasher: Hasher, bitmap: int, packed: bytes) -> bytes:
    return merkle16(hasher, slots_of(bitmap, packed))[0][0]


def _siblings(hasher: Hasher, bitmap: int, packed: bytes, nib: int) -> list[bytes]:
    layers = merkle16(hasher, slots_of(bitmap, packed))
    out = []
    for level in range(1, 5):
        sibling = layers[level][(nib >> (4 - level)) ^ 1]
        out.append(b"" if sibling is EMPTY else sibling)
    return out


def _leaf_hash(hasher: Hasher, path: bytes, value: bytes) -> bytes:
    return hasher(LEAF_PREFIX + path + hasher(value))


def _rewrite(hasher: Hasher, bitmap: int, packed: bytes, versions: list[int],
             changes: dict[int, bytes | None], version: int
             ) -> tuple[int, bytes, list[int], bytes]:
    slots = slots_of(bitmap, packed)
    slot_versions = [0] * 16
    present = iter(versions)
    for nib in range(16):
        if bitmap >> nib & 1:
            slot_versions[nib] = next(present)
    for nib, hash_ in changes.items():
        slots[nib] = EMPTY if hash_ is None else hash_
        slot_versions[nib] = version
    out_bitmap = 0
    for nib in range(16):
        if slots[nib] is not EMPTY:
            out_bitmap |= 1 << nib
    kept = [nib for nib in range(16) if out_bitmap >> nib & 1]
    return (out_bitmap, b"".join(slots[nib] for nib in kept),
            [slot_versions[nib] for nib in kept], merkle16(hasher, slots)[0][0])
