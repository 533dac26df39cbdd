"""The block tree: every block this node holds, by id, rooted at the epoch's root.

Blocks are persisted as they are stored, so a restarted node still has the chain it voted
on and can serve it to peers. `chain_to_root` walks parents down to the last committed
block and reports the first missing ancestor, which the synchronizer then fetches.
"""

from __future__ import annotations

from collections.abc import Mapping

from xinlian import codec
from xinlian.consensus.committee import Committee
from xinlian.consensus.messages import Block
from xinlian.protocol import Persist

PREFIX = b"consensus/block/"


def block_id(committee: Committee, block: Block) -> bytes:
    return committee.hash(codec.encode(block))


class BlockTree:
    def __init__(self, stored: Mapping[bytes, bytes]) -> None:
        self.blocks: dict[bytes, Block] = {}
        for key, value in stored.items():
            if key.startswith(PREFIX):
                self.blocks[key[len(PREFIX):]] = codec.decode(value, Block)

    def get(self, block_id_: bytes) -> Block | None:
        return self.blocks.get(block_id_)

    def __contains__(self, block_id_: bytes) -> bool:
        return block_id_ in self.blocks

    def add(self, block_id_: bytes, block: Block) -> Persist | None:
        if block_id_ in self.blocks:
            return None
        self.blocks[block_id_] = block
        return Persist(PREFIX + block_id_, codec.encode(block))

    def chain(self, top: bytes, stop: bytes, stop_height: int
              ) -> tuple[list[tuple[bytes, Block]], bytes | None]:
        """Blocks from `top` down to (excluding) `stop`, oldest first, or the missing id.

        Returns ([], None) when `top` is not above `stop` (already committed).
        """
        out: list[tuple[bytes, Block]] = []
        current = top
        while current != stop:
            block = self.blocks.get(current)
            if block is None:
                return out[::-1], current
            if block.height <= stop_height:
                return [], None  # a branch that does not extend `stop`
            out.append((current, block))
            current = bytes(block.parent)
        return out[::-1], None
