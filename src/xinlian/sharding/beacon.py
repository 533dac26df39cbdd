"""The beacon chain's cross-links: which shard headers are part of the sharded ledger.

The beacon committee orders certified shard headers; applying one (`CrossLinks.link`) checks
that the shard committee of the header's epoch certified it (a quorum of its power over
`header_message`), that it extends that shard's last cross-link (height + 1, parent hash)
and that its epoch does not go back. Every beacon block thus adds verified cross-links, and
a header is part of the ledger exactly when it is cross-linked: receipts are proven against
cross-linked headers only. The state is a plain function of the beacon blocks applied in
order, so every validator following the beacon chain holds the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.consensus.certificates import Meter, verify_cert
from xinlian.consensus.committee import Committee
from xinlian.consensus.errors import InvalidCertificate
from xinlian.ledger import merkle
from xinlian.sharding.errors import InvalidCrossLink, NotCrossLinked, WrongEpoch
from xinlian.sharding.receipts import CertifiedHeader, ShardHeader, header_hash, header_message

GENESIS_PARENT = bytes(32)

CommitteeOf = Callable[[int, int], Committee | None]  # (shard, epoch) -> committee, if known


@dataclass
class _Link:
    header_hash: bytes
    epoch: int
    beacon_height: int  # the beacon block that linked it


@dataclass
class CrossLinks:
    """Every shard's cross-linked headers, in height order, as of beacon height `height`."""

    shards: int
    committee_of: CommitteeOf
    hash_bytes: Callable[[bytes], bytes]
    height: int = 0
    links: list[list[_Link]] = field(default_factory=list)
    meter: Meter = field(default_factory=Meter)

    def __post_init__(self) -> None:
        self.links = [[] for _ in range(self.shards)]

    def check(self, certified: CertifiedHeader) -> bytes:
        """The header's hash if it may be cross-linked next; raise why not."""
        header = certified.header
        if not 0 <= header.shard < self.shards:
            raise InvalidCrossLink(f"no shard {header.shard} (of {self.shards})")
        chain = self.links[header.shard]
        if header.height != len(chain) + 1:
            raise InvalidCrossLink(f"shard {header.shard} header {header.height}: the next "
                                   f"cross-link is height {len(chain) + 1}")
        parent = chain[-1].header_hash if chain else GENESIS_PARENT
        if bytes(header.parent) != parent:
            raise InvalidCrossLink(f"shard {header.shard} header {header.height} does not "
                                   f"extend the last cross-link")
        if chain and header.epoch < chain[-1].epoch:
            raise WrongEpoch(f"shard {header.shard} header of epoch {header.epoch} after one "
                             f"of epoch {chain[-1].epoch}")
        committee = self.committee_of(header.shard, header.epoch)
        if committee is None:
            raise WrongEpoch(f"no committee known for shard {header.shard} in epoch "
                             f"{header.epoch}")
        message = header_message(header)
        try:
            verify_cert(committee, certified.cert, lambda _: message, committee.quorum,
                        self.meter)
        except InvalidCertificate as exc:
            raise InvalidCrossLink(f"shard {header.shard} header {header.height}: "
                                   f"{exc.message}") from None
        return header_hash(header, self.hash_bytes)

    def apply_block(self, height: int, certified: list[CertifiedHeader]
                    ) -> list[tuple[CertifiedHeader, InvalidCrossLink | WrongEpoch | None]]:
        """Apply beacon block `height`: link each header in order; a refused one is reported
        and skipped (a Byzantine leader may order junk; it never stops the chain)."""
        if height != self.height + 1:
            raise InvalidCrossLink(f"beacon block {height} applied after {self.height}")
        out: list[tuple[CertifiedHeader, InvalidCrossLink | WrongEpoch | None]] = []
        for item in certified:
            try:
                digest = self.check(item)
            except (InvalidCrossLink, WrongEpoch) as exc:
                out.append((item, exc))
                continue
            self.links[item.header.shard].append(_Link(digest, item.header.epoch, height))
            out.append((item, None))
        self.height = height
        return out

    def linked(self, shard: int) -> int:
        """How many headers of `shard` are cross-linked (the last linked height)."""
        return len(self.links[shard]) if 0 <= shard < self.shards else 0

    def require(self, header: ShardHeader, at_beacon_height: int) -> None:
        """Raise NotCrossLinked unless `header` was cross-linked at or below the beacon
        height named (a claim names it, so every replica judges it alike)."""
        if at_beacon_height > self.height:
            raise NotCrossLinked(f"beacon height {at_beacon_height} is beyond this view "
                                 f"({self.height})")
        chain = self.links[header.shard] if 0 <= header.shard < self.shards else []
        if not 1 <= header.height <= len(chain):
            raise NotCrossLinked(f"shard {header.shard} header {header.height} is not "
                                 f"cross-linked")
        link = chain[header.height - 1]
        if link.beacon_height > at_beacon_height or \
                link.header_hash != header_hash(header, self.hash_bytes):
            raise NotCrossLinked(f"shard {header.shard} header {header.height} is not the "
                                 f"one cross-linked by beacon height {at_beacon_height}")

    def _leaves(self) -> list[bytes]:
        return [link_leaf(s, len(c), c[-1].header_hash if c else GENESIS_PARENT)
                for s, c in enumerate(self.links)]

    def root(self) -> bytes:
        """Merkle root over each shard's latest cross-link (what a beacon header commits
        to, so a client proves a shard header from a certified beacon header)."""
        return merkle.root(self._leaves(), self.hash_bytes)

    def link_proof(self, shard: int) -> merkle.AuditPath:
        """The path proving `shard`'s latest cross-link under `root()`."""
        return merkle.audit_path(self._leaves(), shard, self.hash_bytes)


def link_leaf(shard: int, height: int, header_hash: bytes) -> bytes:
    return codec.encode([shard, height, header_hash])


def verify_link(root: bytes, shard: int, height: int, header_hash: bytes,
                path: merkle.AuditPath, hash_bytes: Callable[[bytes], bytes]) -> bool:
    """True iff the beacon state with `root` holds `header_hash` as shard `shard`'s latest
    cross-link, at `height` (a client's first step from a certified beacon header down)."""
    return path.index == shard and merkle.verify_path(
        root, link_leaf(shard, height, header_hash), path, hash_bytes)
