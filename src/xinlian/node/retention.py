"""How much history a node keeps: archive (everything, the default) or a window of blocks.

With `prune_keep_blocks = N` in node.toml a node keeps, for the last N blocks (the head and
the N-1 below it), everything: their state versions, block bodies, transactions, receipts
and Merkle tree records. Below the window it keeps only what light clients and state sync
need and what grows per block, not per transaction: every header, the block-hash index,
the header history (node/history.py) and, on a validator, the header certificates.

Each committed block also prunes, in its own atomic write (node/chain.py), the oldest
blocks that left the window: the state-tree nodes only older versions used, and those
blocks' bodies and per-transaction records. The work per block is bounded: at most `STEP`
heights per block, so a node switched from archive to pruned catches up over
`(head - N) / STEP` blocks instead of stalling one commit on the whole past; a crash
mid-prune loses nothing, as the pruning commits with the block or not at all.

A floor can hold pruning back: a validator keeps the block and state its current epoch
starts on, which state sync serves to joining validators (node/bft.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian.node.errors import NodeConfigError

MIN_KEEP = 16  # a client reading a block it learnt a few blocks ago still finds its state
STEP = 8  # heights pruned at most per committed block


@dataclass(frozen=True)
class Retention:
    """`keep_blocks` None: archive, every version is kept."""

    keep_blocks: int | None = None

    @property
    def archive(self) -> bool:
        return self.keep_blocks is None

    def keep_from(self, height: int, pruned_below: int, floor: int | None = None) -> int | None:
        """The oldest height to keep once block `height` commits, at most `STEP` above
        `pruned_below` and never above `floor` (None: nothing to prune now)."""
        if self.keep_blocks is None:
            return None
        target = min(height - self.keep_blocks + 1, pruned_below + STEP)
        if floor is not None:
            target = min(target, floor)
        return target if target > pruned_below else None


ARCHIVE = Retention()


def retention_from(config: dict[str, object]) -> Retention:
    """node.toml's `archive` and `prune_keep_blocks` (neither: archive)."""
    archive = config.get("archive")
    keep = config.get("prune_keep_blocks")
    if archive is not None and not isinstance(archive, bool):
        raise NodeConfigError(f"archive must be true or false, not {archive!r}")
    if keep is None:
        if archive is False:
            raise NodeConfigError("archive = false needs prune_keep_blocks = N (the window)")
        return ARCHIVE
    if archive:
        raise NodeConfigError("archive = true keeps every block; remove prune_keep_blocks "
                              "or set archive = false")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < MIN_KEEP:
        raise NodeConfigError(
            f"prune_keep_blocks must be an integer >= {MIN_KEEP}, not {keep!r}")
    return Retention(keep)
