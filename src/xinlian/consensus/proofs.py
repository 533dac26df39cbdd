"""Epoch proofs: how an epoch ended, kept as one record per ended epoch.

A proof is the QC that committed the block carrying the next committee, with the blocks
from the certified one down to that block (a handful: the 2-chain rule commits the block
one or two heights below the certified one). State sync and light clients walk epochs with
these alone (node/statesync.py checks them), so a core stores each proof as one record when
its epoch ends and may later drop the rest of the epoch's blocks (core.py, "retention").
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian import codec
from xinlian.consensus.messages import QC, Block

PREFIX = b"consensus/epoch-proof/"  # + epoch: the EpochProof of that ended epoch
MAX_PROOF_BLOCKS = 16  # blocks from the certified one down to the one ending the epoch


class EpochProof(codec.Struct):
    """How an epoch ended: `qc` certifies blocks[0]; blocks go down parent by parent to the
    committed block carrying the next committee (the last one)."""

    qc: QC
    blocks: list[Block]


def key(epoch: int) -> bytes:
    return PREFIX + str(epoch).encode()


def epoch_proof(qc: QC, get: Callable[[bytes], Block | None]) -> EpochProof | None:
    """The proof of the epoch `qc` closed, from the blocks `get` finds; None if one is
    missing."""
    blocks: list[Block] = []
    current = get(bytes(qc.block_id))
    while current is not None and len(blocks) < MAX_PROOF_BLOCKS:
        blocks.append(current)
        if len(blocks) > 1 and current.reconfig is not None:
            return EpochProof(qc, blocks)
        current = get(bytes(current.parent))
    return None
