"""The proposer: what the leader of a round puts in its block.

A block extends the highest QC (with the TC that ended the previous round when that QC is
not from it) and carries certified batches not already ordered on the branch it extends. Once
a block on that branch carries a reconfiguration, its descendants in the epoch carry nothing:
they only serve to commit it, and are dropped when the new epoch starts.
"""

from __future__ import annotations

from xinlian.consensus.blocks import BlockTree
from xinlian.consensus.committee import Committee
from xinlian.consensus.dissemination import Dissemination
from xinlian.consensus.messages import QC, TC, Block


def build_block(epoch: int, round_: int, author: int, high_qc: QC, last_tc: TC | None,
                tree: BlockTree, committed: tuple[int, bytes], pool: Dissemination,
                reconfig: Committee | None, max_batches: int) -> Block | None:
    """The block to propose in `round_`, or None when this node cannot justify the round."""
    tc = None
    if high_qc.round + 1 != round_:
        if last_tc is None or last_tc.round + 1 != round_:
            return None
        tc = last_tc
    height, committed_id = committed
    chain, _ = tree.chain(bytes(high_qc.block_id), committed_id, height)
    payload = []
    if any(b.reconfig is not None for _, b in chain):
        reconfig = None
    else:
        included = {bytes(c.digest) for _, b in chain for c in b.payload}
        payload = pool.take(max_batches, included)
    return Block(epoch, round_, high_qc.height + 1, bytes(high_qc.block_id), author, high_qc,
                 tc, payload, reconfig)
