"""State proofs: the hashing rules of the state tree and the pure proof verifier.

This module imports neither LMDB nor the store, so client SDKs and light nodes can verify
proofs with nothing but the codec and a hash function.

The tree is a binary sparse Merkle tree over 256-bit paths `path = H(key)`, compressed: a
subtree that holds a single key is replaced by that key's leaf, placed at the first nibble
(4-bit) boundary where the key's path is unique. Hashes, with `Z` = 32 zero bytes for an
empty subtree:

    leaf(path, value) = H(0x00 || path || H(value))
    node(l, r)        = Z if l == r == Z else H(0x01 || l || r)

The empty tree's root is `Z`. A proof lists the sibling hashes from the root down to where
the key's path ends (a multiple of 4 levels, empty siblings as b""), plus the leaf found
there, if any. Inclusion: that leaf is the key's own. Exclusion: nothing is there, or a leaf
with a different path that shares every bit walked so far (so the key would have to be in
that leaf's place).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from xinlian import codec
from xinlian.storage.errors import MalformedProofError

Hasher = Callable[[bytes], bytes]

HASH_SIZE = 32
EMPTY = bytes(HASH_SIZE)
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
MAX_DEPTH_BITS = 8 * HASH_SIZE
MAX_PROOF_SIZE = 16 + MAX_DEPTH_BITS * (HASH_SIZE + 1) + 2 * (HASH_SIZE + 2)


class ProofLeaf(codec.Struct):
    """The leaf at the end of a proof's path: its key path and the hash of its value."""

    path: Annotated[bytes, codec.exactly(HASH_SIZE)]
    value_hash: Annotated[bytes, codec.exactly(HASH_SIZE)]


class Proof(codec.Struct):
    """Siblings from the root downwards (b"" for an empty subtree) and the leaf found, if any."""

    siblings: list[Annotated[bytes, codec.at_most(HASH_SIZE)]]
    leaf: ProofLeaf | None = None


def leaf_hash(hasher: Hasher, path: bytes, value: bytes) -> bytes:
    return hasher(LEAF_PREFIX + path + hasher(value))


def node_hash(hasher: Hasher, left: bytes, right: bytes) -> bytes:
    if left == EMPTY and right == EMPTY:
        return EMPTY
    return hasher(NODE_PREFIX + left + right)


def check_proof(proof: Proof) -> None:
    """Raise MalformedProofError unless the proof is structurally valid."""
    n = len(proof.siblings)
    if n % 4 or n > MAX_DEPTH_BITS:
        raise MalformedProofError(f"{n} siblings: must be a multiple of 4, at most 256")
    for sibling in proof.siblings:
        if len(sibling) not in (0, HASH_SIZE):
            raise MalformedProofError(f"sibling of {len(sibling)} bytes")
        if sibling == EMPTY:
            raise MalformedProofError("an empty sibling must be encoded as b''")


def encode_proof(proof: Proof) -> bytes:
    return codec.encode(proof)


def decode_proof(data: bytes) -> Proof:
    """Decode proof bytes: codec errors (1xxx) for bad encodings, MalformedProofError (3008)
    for a well-encoded proof that breaks the structural rules."""
    proof: Proof = codec.decode(data, Proof, max_size=MAX_PROOF_SIZE)
    check_proof(proof)
    return proof


def _bit(path: bytes, i: int) -> int:
    return (path[i >> 3] >> (7 - (i & 7))) & 1


def _shares_prefix(a: bytes, b: bytes, bits: int) -> bool:
    whole, rest = divmod(bits, 8)
    if a[:whole] != b[:whole]:
        return False
    return rest == 0 or (a[whole] >> (8 - rest)) == (b[whole] >> (8 - rest))


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: Proof,
                 hasher: Hasher) -> bool:
    """True iff `proof` shows that `key` maps to `value` (None: is absent) under `root`."""
    try:
        check_proof(proof)
    except MalformedProofError:
        return False
    path = hasher(key)
    depth = len(proof.siblings)
    leaf = proof.leaf
    if value is not None:
        if leaf is None or leaf.path != path or leaf.value_hash != hasher(value):
            return False
        current = hasher(LEAF_PREFIX + leaf.path + leaf.value_hash)
    elif leaf is None:
        current = EMPTY
    else:
        if leaf.path == path or not _shares_prefix(leaf.path, path, depth):
            return False
        current = hasher(LEAF_PREFIX + leaf.path + leaf.value_hash)
    for i in range(depth - 1, -1, -1):
        sibling = proof.siblings[i] or EMPTY
        if _bit(path, i):
            current = node_hash(hasher, sibling, current)
        else:
            current = node_hash(hasher, current, sibling)
    return current == root
