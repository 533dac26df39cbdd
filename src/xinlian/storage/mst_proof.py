"""Range proofs over the ordered index: its hashing rules and the pure verifier.

Like `proof.py`, this module imports neither LMDB nor the store, so client SDKs and light
nodes verify index answers with nothing but the codec and a hash function.

The index (storage/mst.py) is a Merkle search tree: a B-tree-like tree over byte-string keys
kept in sorted order. A node holds `n` sorted entries (key, value) and `n + 1` children; child
`i` holds exactly the keys between entry `i - 1` and entry `i`. A node's hash commits to its
keys, the hashes of its values and its children's hashes, with "" for an empty child:

    node = H(0x02 || encode([keys, [H(value) ...], [child hash or "" ...]]))

The empty index's root is 32 zero bytes.

A range proof is the tree pruned to what a query touched: revealed nodes, and for every
child the query did not need, only its hash. Reading the pruned tree in order gives a
sequence of revealed keys and hidden subtrees; a hidden subtree can only hold keys strictly
between its two neighbours in that sequence. So the verifier, after recomputing the root,
knows that every key of the range that the tree holds was revealed, except inside hidden
subtrees that lie wholly past the last entry of a full page: an answer is complete, and an
empty answer proves that nothing is there. Entries outside the range (or past the page) may
be revealed by key and value hash only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated

from xinlian import codec
from xinlian.storage.errors import RangeProofError

Hasher = Callable[[bytes], bytes]

HASH_SIZE = 32
EMPTY_ROOT = bytes(HASH_SIZE)
INDEX_ROOT_KEY = b"ix/root"  # the state key under which a chain commits its index root
NODE_PREFIX = b"\x02"
MAX_PROOF_DEPTH = 64    # a tree of 16-way fan-out this deep would hold ~16^64 entries
MAX_PROOF_BYTES = 8 * 1024 * 1024


class NodeDigest(codec.Struct):
    """What a node's hash commits to."""

    keys: list[bytes]
    value_hashes: list[bytes]
    children: list[bytes]


def node_hash(hasher: Hasher, keys: list[bytes], value_hashes: list[bytes],
              children: list[bytes]) -> bytes:
    return hasher(NODE_PREFIX + codec.encode(NodeDigest(keys, value_hashes, children)))


class ProofNode(codec.Struct):
    """A revealed node. Its keys are `prefix + keys[i]` (the prefix they share is sent
    once). `values[i]` is entry i's value, or None when only its hash is given (in
    `value_hashes`, in order, one per None). `children[i]` is the revealed child, or its
    hash ("" for an empty child)."""

    keys: list[bytes]
    values: list[bytes | None]
    value_hashes: list[Annotated[bytes, codec.exactly(HASH_SIZE)]]
    children: list[ProofNode | bytes]
    prefix: bytes = b""


class RangeProof(codec.Struct):
    """The pruned tree: the root node revealed, or just the root hash when the query needed
    nothing ("" for the empty index)."""

    tree: ProofNode | bytes


@dataclass(frozen=True)
class RangeQuery:
    """Keys `lo <= key < hi` (hi None: no upper bound), ascending or (`reverse`) descending,
    at most `limit` of them."""

    lo: bytes
    hi: bytes | None
    reverse: bool
    limit: int

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise RangeProofError(f"a page holds at least one entry, not {self.limit}")
        if self.hi is not None and self.hi <= self.lo:
            raise RangeProofError("an empty key range")

    def contains(self, key: bytes) -> bool:
        return self.lo <= key and (self.hi is None or key < self.hi)

    def may_overlap(self, after: bytes | None, before: bytes | None) -> bool:
        """Whether keys strictly between `after` and `before` (None: unbounded) may fall in
        the range. The prover and the verifier both use this one rule."""
        return ((after is None or self.hi is None or after < self.hi)
                and (before is None or self.lo < before))


def encode_range_proof(proof: RangeProof) -> bytes:
    return codec.encode(proof)


def decode_range_proof(data: bytes) -> RangeProof:
    """Codec errors (1xxx) for bad bytes; RangeProofError for a proof nested too deep."""
    proof: RangeProof = codec.decode(data, RangeProof, max_size=MAX_PROOF_BYTES)
    _check_depth(proof.tree, 0)
    return proof


def revealed_nodes(proof: RangeProof) -> int:
    """How many nodes `proof` reveals: the nodes the prover read (a measure of its work)."""
    count, todo = 0, [proof.tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ProofNode):
            count += 1
            todo.extend(node.children)
    return count


def _check_depth(node: ProofNode | bytes, depth: int) -> None:
    if isinstance(node, bytes):
        return
    if depth >= MAX_PROOF_DEPTH:
        raise RangeProofError(f"a proof nested deeper than {MAX_PROOF_DEPTH} nodes")
    for child in node.children:
        _check_depth(child, depth + 1)


# One step of a pruned tree read in key order: a revealed entry (key, value or None) or a
# hidden, non-empty subtree (None, None).
Item = tuple[bytes | None, bytes | None]


def _hash(node: ProofNode | bytes, hasher: Hasher, out: list[Item], depth: int) -> bytes:
    """The hash of a pruned (sub)tree; appends its in-order items to `out`."""
    if isinstance(node, bytes):
        if node and len(node) != HASH_SIZE:
            raise RangeProofError(f"a child hash of {len(node)} bytes")
        if node:
            out.append((None, None))
        return node
    if depth >= MAX_PROOF_DEPTH:
        raise RangeProofError(f"a proof nested deeper than {MAX_PROOF_DEPTH} nodes")
    keys, values = [node.prefix + k for k in node.keys], node.values
    if not keys or len(values) != len(keys) or len(node.children) != len(keys) + 1:
        raise RangeProofError("a proof node's keys, values and children do not match")
    given = iter(node.value_hashes)
    value_hashes = []
    children = []
    for i, key in enumerate(keys):
        children.append(_hash(node.children[i], hasher, out, depth + 1))
        value = values[i]
        if value is None:
            found = next(given, None)
            if found is None:
                raise RangeProofError("a proof node lacks a value hash")
            value_hashes.append(found)
        else:
            value_hashes.append(hasher(value))
        out.append((key, value))
    children.append(_hash(node.children[-1], hasher, out, depth + 1))
    if next(given, None) is not None:
        raise RangeProofError("a proof node has more value hashes than hidden values")
    return node_hash(hasher, keys, value_hashes, children)


def proven_items(root: bytes, proof: RangeProof, hasher: Hasher) -> list[Item]:
    """The pruned tree read in key order, once its hashes are checked against `root`: each
    revealed entry as (key, value or None when only its hash is given), each hidden
    non-empty subtree as (None, None). RangeProofError unless the proof is the root's."""
    items: list[Item] = []
    got = _hash(proof.tree, hasher, items, 0) or EMPTY_ROOT
    if got != root:
        raise RangeProofError("the proof does not lead to the index root")
    keys = [k for k, _ in items if k is not None]
    if any(a >= b for a, b in pairwise(keys)):
        raise RangeProofError("the proof's keys are not in strictly increasing order")
    return items


def verify_range(root: bytes, proof: RangeProof, query: RangeQuery,
                 hasher: Hasher) -> list[tuple[bytes, bytes]]:
    """The query's complete answer, (key, value) in query order, proven by `proof` against
    `root`; RangeProofError unless the proof is the root's and covers the whole answer."""
    items = proven_items(root, proof, hasher)
    answer: list[tuple[bytes, bytes]] = []
    for key, value, after, before in _scan(items, query.reverse):
        if len(answer) >= query.limit:
            break
        if key is None:
            if query.may_overlap(after, before):
                raise RangeProofError("the proof hides part of the range: the answer may be "
                                      "incomplete")
        elif query.contains(key):
            if value is None:
                raise RangeProofError(f"the proof hides the value of key 0x{key.hex()}")
            answer.append((key, value))
    return answer


def _scan(items: list[Item], reverse: bool
          ) -> Iterator[tuple[bytes | None, bytes | None, bytes | None, bytes | None]]:
    """(key, value, previous key, next key) of each item in scan order, neighbours taken in
    key order (None at either end)."""
    order = range(len(items) - 1, -1, -1) if reverse else range(len(items))
    prev_key: list[bytes | None] = []
    last: bytes | None = None
    for key, _ in items:
        prev_key.append(last)
        if key is not None:
            last = key
    next_key: list[bytes | None] = [None] * len(items)
    last = None
    for i in range(len(items) - 1, -1, -1):
        next_key[i] = last
        if items[i][0] is not None:
            last = items[i][0]
    for i in order:
        yield items[i][0], items[i][1], prev_key[i], next_key[i]
