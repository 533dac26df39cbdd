"""The node's typed errors (6xxx below the API's 6000 range: 6500+)."""

from __future__ import annotations

from xinlian.errors import XinlianError


class NodeError(XinlianError):
    code = 6500
    name = "node_error"


class NotFound(NodeError):
    code = 6501
    name = "not_found"


class NodeConfigError(NodeError):
    code = 6502
    name = "bad_config"


class StateSyncError(NodeError):
    """A peer's answer during state sync (node/statesync.py) that fails verification."""

    code = 6503
    name = "state_sync_error"


class BadEpochProof(StateSyncError):
    """An epoch change whose certificate, blocks or next committee do not check out."""

    code = 6504
    name = "bad_epoch_proof"


class BadLedgerBlock(StateSyncError):
    """A ledger block offered as a snapshot's base that is not well formed."""

    code = 6505
    name = "bad_ledger_block"


class TaskFailed(NodeError):
    """A long-running task of the node raised: the node stops (fail-stop, supervise.py)."""

    code = 6506
    name = "task_failed"


class InjectedFault(NodeError):
    """The fault a test asked for through a documented hook (supervise.py)."""

    code = 6507
    name = "injected_fault"


class BadHeaderCertificate(NodeError):
    """A ledger header whose committee certificate does not check out (node/certify.py)."""

    code = 6508
    name = "bad_header_certificate"


class BadHeaderProof(NodeError):
    """An old header's proof against a newer header's history that fails (node/history.py)."""

    code = 6509
    name = "bad_header_proof"


class CorruptBackup(NodeError):
    """A backup that is incomplete, damaged or not a backup at all (node/backup.py)."""

    code = 6510
    name = "corrupt_backup"


class TargetNotEmpty(NodeError):
    """A backup or restore aimed at a directory that already holds something."""

    code = 6511
    name = "target_not_empty"


class BlockPruned(NotFound):
    """A block below the node's retention window (node.toml `prune_keep_blocks`): its
    header is kept, its transactions and receipts are not; an archive node has them."""

    code = 6512
    name = "block_pruned"
