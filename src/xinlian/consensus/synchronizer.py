"""Fetching blocks this node lacks, and serving blocks to peers that lack them.

A block is wanted when a QC or a proposal names it (or its ancestor) and it is not in the
tree. The request goes first to the peer whose message named it — it must hold the block —
and, while unanswered, in turn to every other member on a retry timer. A response is
trusted only for blocks that were wanted: their ids were named by a verified certificate or
proposal, and the id is the hash of the block, so no signature needs checking. Work that
waited for a block (a vote, a commit) is retried whenever new blocks arrive.
"""

from __future__ import annotations

from xinlian import codec
from xinlian.consensus.blocks import BlockTree
from xinlian.consensus.messages import QC, Block, EpochRequest, SyncRequest, SyncResponse
from xinlian.protocol import Action, Send, SetTimer

SYNC_TIMER = "sync"
MAX_RESPONSE_BLOCKS = 32
MAX_WAITING = 64


class Synchronizer:
    def __init__(self, retry_ms: int) -> None:
        self.retry_ms = retry_ms
        self.missing: dict[bytes, tuple[bytes, int]] = {}  # id -> (first peer, attempts)
        self.waiting_blocks: set[bytes] = set()
        self.waiting_qcs: dict[tuple[int, bytes], QC] = {}
        self._epoch_asked_at: int | None = None
        self._armed = False

    def want(self, now: int, block_id: bytes, hint: bytes, waiting_block: bytes | None,
             qc: QC | None = None) -> list[Action]:
        if waiting_block is not None and len(self.waiting_blocks) < MAX_WAITING:
            self.waiting_blocks.add(waiting_block)
        if qc is not None and len(self.waiting_qcs) < MAX_WAITING:
            self.waiting_qcs[(qc.round, bytes(qc.block_id))] = qc
        if block_id in self.missing:
            return []
        self.missing[block_id] = (hint, 0)
        actions: list[Action] = [Send(hint, codec.encode(SyncRequest(block_id)))]
        if not self._armed:  # never push back a pending retry
            self._armed = True
            actions.append(SetTimer(SYNC_TIMER, now + self.retry_ms))
        return actions

    def expect(self, block_id: bytes) -> None:
        """An ancestor that the response being read may also hold (asked again on retry)."""
        self.missing.setdefault(block_id, (b"", 0))

    def take(self, block_id: bytes) -> bool:
        """True (once) if `block_id` was wanted."""
        return self.missing.pop(block_id, None) is not None

    def resolved(self, tree: BlockTree) -> tuple[list[bytes], list[QC]]:
        """Everything that waited; callers re-check it and it re-registers if still stuck."""
        blocks = sorted(b for b in self.waiting_blocks if b in tree)
        self.waiting_blocks -= set(blocks)
        qcs = list(self.waiting_qcs.values())
        self.waiting_qcs.clear()
        return blocks, qcs

    def retry(self, now: int, nodes: tuple[bytes, ...], me: bytes) -> list[Action]:
        self._armed = False
        actions: list[Action] = []
        peers = [n for n in nodes if n != me]
        if not peers:
            return []
        for block_id, (hint, attempts) in self.missing.items():
            start = peers.index(hint) if hint in peers else 0
            peer = peers[(start + attempts + 1) % len(peers)]
            self.missing[block_id] = (hint, attempts + 1)
            actions.append(Send(peer, codec.encode(SyncRequest(block_id))))
        if self.missing:
            self._armed = True
            actions.append(SetTimer(SYNC_TIMER, now + self.retry_ms))
        return actions

    def serve(self, sender: bytes, block_id: bytes, tree: BlockTree) -> list[Action]:
        blocks: list[Block] = []
        current = tree.get(block_id)
        while current is not None and len(blocks) < MAX_RESPONSE_BLOCKS:
            blocks.append(current)
            current = tree.get(bytes(current.parent))
        if not blocks:
            return []
        return [Send(sender, codec.encode(SyncResponse(blocks)), bulk=True)]

    def ask_epoch(self, now: int, peer: bytes, epoch: int) -> list[Action]:
        """Ask a peer that is already in a later epoch how `epoch` ended (rate-limited)."""
        if self._epoch_asked_at is not None and now - self._epoch_asked_at < self.retry_ms:
            return []
        self._epoch_asked_at = now
        return [Send(peer, codec.encode(EpochRequest(epoch)))]

    def clear(self) -> None:
        self.missing.clear()
        self.waiting_blocks.clear()
        self.waiting_qcs.clear()
