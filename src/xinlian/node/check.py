"""`xinlian node check`: scan a node's data directory for damage, without running the node.

Two passes. Records: every record of every store (chain/, and a validator's batches/) is
read and its checksum checked (storage.kv). Chain: every ledger block the node holds is
decoded and checked against its neighbours and the state tree: its parent hash is the hash
of the block below (where the node holds both), its transaction root matches its
transactions (where not pruned: a pruned node keeps headers alone below its window), and
its state root is the tree's root at that height (where not pruned).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from xinlian.errors import XinlianError
from xinlian.ledger import merkle
from xinlian.ledger.block import header_hash
from xinlian.ledger.genesis import Genesis
from xinlian.node.chain import CHAIN_SUB_DBS, CONSENSUS_DB, ChainStore
from xinlian.storage.errors import StorageError, VersionError
from xinlian.storage.kv import Store

MAX_PROBLEMS = 100


@dataclass
class CheckReport:
    records: int = 0
    blocks: int = 0
    problems: list[XinlianError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "records": self.records, "blocks": self.blocks,
                "problems": [p.to_dict() for p in self.problems]}


def check_data_dir(data: Path, genesis: Genesis) -> CheckReport:
    """Scan `data` (see the module docstring); problems are typed errors, never raised."""
    report = CheckReport()
    _check_records(report, data / "chain", CHAIN_SUB_DBS)
    if (data / "batches").exists():
        _check_records(report, data / "batches", (CONSENSUS_DB,))
    if report.ok:
        try:
            chain = ChainStore(data / "chain", genesis)
        except XinlianError as exc:
            report.problems.append(exc)
            return report
        try:
            if chain.head is None:
                report.problems.append(StorageError("the chain store holds no blocks"))
            _check_blocks(report, chain)
        finally:
            chain.close()
    return report


def _check_records(report: CheckReport, path: Path, sub_dbs: Iterable[str]) -> None:
    if not (path / "data.mdb").exists():
        report.problems.append(StorageError(f"no store at {path}"))
        return
    try:
        store = Store(path, sub_dbs=sub_dbs)
    except StorageError as exc:
        report.problems.append(exc)
        return
    try:
        records, problems = store.check(MAX_PROBLEMS)
    finally:
        store.close()
    report.records += records
    report.problems += problems


def _check_blocks(report: CheckReport, chain: ChainStore) -> None:
    parent: bytes | None = chain.genesis.hash()
    for height in range(chain.height + 1):
        try:
            stored = chain.header(height)
            if stored is None:  # a node that joined from a snapshot lacks the blocks below it
                parent = None
                continue
            header = stored.header
            report.blocks += 1
            if parent is not None and header.parent_hash != parent:
                raise StorageError(f"block {height} does not link to block {height - 1}")
            block = chain.block(height)  # None: pruned, its header alone is kept
            if block is not None and merkle.root(chain.tx_hashes(block),
                                                 chain.hash) != header.tx_root:
                raise StorageError(f"block {height}'s transactions do not match its root")
            try:
                root = chain.tree.root(height)
            except VersionError:
                root = header.state_root  # pruned: nothing left to compare
            if root != header.state_root:
                raise StorageError(f"block {height}'s state root is not the tree's root")
            parent = header_hash(header, chain.hash)
        except XinlianError as exc:  # storage errors, undecodable blocks
            report.problems.append(exc)
            parent = None
            if len(report.problems) >= MAX_PROBLEMS:
                return
