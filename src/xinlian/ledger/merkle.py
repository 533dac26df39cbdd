"""Binary Merkle trees over ordered lists (transactions and receipts of a block).

RFC 6962 shape: leaves hash as H(0x00 || leaf), inner nodes as H(0x01 || left || right),
an odd node is promoted unchanged, and the empty list has root H(b""). The domain bytes keep
a leaf from passing for an inner node. Audit paths prove that a leaf is at an index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xinlian.codec import Struct

Hasher = Callable[[bytes], bytes]


class AuditPath(Struct):
    index: int
    size: int
    siblings: list[bytes]


def levels(leaves: Sequence[bytes], h: Hasher) -> list[list[bytes]]:
    """Every level of the tree, leaf hashes first and the root's level last."""
    level = [h(b"\x00" + leaf) for leaf in leaves]
    result = [level]
    while len(level) > 1:
        nxt = [h(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        result.append(nxt)
        level = nxt
    return result


def root(leaves: Sequence[bytes], h: Hasher) -> bytes:
    if not leaves:
        return h(b"")
    return levels(leaves, h)[-1][0]


def path_positions(index: int, size: int) -> list[tuple[int, int]]:
    """The (level, index) of each sibling on the audit path of leaf `index` of `size`
    leaves, from the leaves up: what a store of the tree's nodes must read for a path."""
    if not 0 <= index < size:
        raise IndexError("leaf index out of range")
    positions = []
    level, i, width = 0, index, size
    while width > 1:
        if i ^ 1 < width:
            positions.append((level, i ^ 1))
        level, i, width = level + 1, i // 2, (width + 1) // 2
    return positions


def audit_path(leaves: Sequence[bytes], index: int, h: Hasher) -> AuditPath:
    positions = path_positions(index, len(leaves))
    tree = levels(leaves, h)
    return AuditPath(index, len(leaves), [tree[level][i] for level, i in positions])


def verify_path(root_hash: bytes, leaf: bytes, path: AuditPath, h: Hasher) -> bool:
    """True iff `leaf` is at `path.index` of a list of `path.size` leaves with `root_hash`."""
    if not 0 <= path.index < path.size:
        return False
    node, i, width = h(b"\x00" + leaf), path.index, path.size
    siblings = iter(path.siblings)
    while width > 1:
        if i ^ 1 < width:
            sib = next(siblings, None)
            if sib is None:
                return False
            node = h(b"\x01" + sib + node) if i & 1 else h(b"\x01" + node + sib)
        i //= 2
        width = (width + 1) // 2
    return next(siblings, None) is None and node == root_hash
