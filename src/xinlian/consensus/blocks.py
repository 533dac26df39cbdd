"""The block tree: every block this node holds, by id, rooted at the epoch's root.

Blocks are persisted as they are stored, so a restarted node still has the chain it voted
on and can serve it to peers. `chain_to_root` walks parents down to the last committed
block and reports the first missing ancestor, which the synchronizer then fetches.

Memory holds the recent blocks only: those added since the start, until they are `memory`
heights below the committed one (`Config.memory_blocks`). Every other block is read back
from `stored`, a live read-only view of what this node persisted (the runtime passes one:
protocol.py), so memory does not grow with the chain while laggards and state sync are
still served from the store.
"""

from __future__ import annotations

from collections.abc import Mapping

from xinlian import codec
from xinlian.consensus.committee import Committee
from xinlian.consensus.messages import Block
from xinlian.consensus.retention import held
from xinlian.protocol import Persist

PREFIX = b"consensus/block/"
MEMORY_BLOCKS = 256  # the default of Config.memory_blocks


def block_id(committee: Committee, block: Block) -> bytes:
    return committee.hash(codec.encode(block))


def stored_block(block_id_: bytes, block: Block) -> list[Persist]:
    """What persisting a block writes: the block, and its entry in its epoch's manifest
    (retention.py), so the epoch's blocks can be dropped without a full scan."""
    key = PREFIX + block_id_
    return [Persist(key, codec.encode(block)), held(block.epoch, key)]


class BlockTree:
    def __init__(self, stored: Mapping[bytes, bytes], memory: int = MEMORY_BLOCKS) -> None:
        self.stored = stored
        self.memory = memory
        self.blocks: dict[bytes, Block] = {}  # in memory: added since the start, recent
        self._swept = 0

    def get(self, block_id_: bytes) -> Block | None:
        block = self.blocks.get(block_id_)
        if block is None:
            raw = self.stored.get(PREFIX + block_id_)
            block = None if raw is None else codec.decode(raw, Block)
        return block

    def __contains__(self, block_id_: bytes) -> bool:
        return block_id_ in self.blocks or PREFIX + block_id_ in self.stored

    def add(self, block_id_: bytes, block: Block) -> list[Persist]:
        if block_id_ in self:
            return []
        self.blocks[block_id_] = block
        return stored_block(block_id_, block)

    def committed(self, height: int) -> None:
        """Blocks far below the committed `height` leave memory (their Persists were carried
        out long ago: the store answers for them from now on)."""
        if 4 * (height - self._swept) < self.memory:  # a sweep walks memory once
            return
        self._swept = height
        below = height - self.memory
        self.blocks = {i: b for i, b in self.blocks.items() if b.height >= below}

    def chain(self, top: bytes, stop: bytes, stop_height: int
              ) -> tuple[list[tuple[bytes, Block]], bytes | None]:
        """Blocks from `top` down to (excluding) `stop`, oldest first, or the missing id.

        Returns ([], None) when `top` is not above `stop` (already committed).
        """
        out: list[tuple[bytes, Block]] = []
        current = top
        while current != stop:
            block = self.get(current)
            if block is None:
                return out[::-1], current
            if block.height <= stop_height:
                return [], None  # a branch that does not extend `stop`
            out.append((current, block))
            current = bytes(block.parent)
        return out[::-1], None
