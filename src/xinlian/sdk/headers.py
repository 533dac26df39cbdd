"""What a client knows of a BFT chain's headers, each checked against the validator set.

Theory of operation. The client starts from the genesis committee (from the genesis it
pins) and trusts no node. Epoch changes come with proofs from the committee they end
(node/statesync.py `next_root`: the consensus QC over the block that carries the next
committee), so the client learns the committee of every epoch in turn. A header is then
accepted in one of two ways:
- certified: the committee of its epoch signed its hash (node/certify.py), checked with
  one certificate check against that committee (`accept`);
- proven: it is in the header history of a certified header (an MMR inclusion proof under
  that header's state root, node/history.py), so an old header needs neither its own
  certificate nor the headers between (`prove`).
Everything else a node returns (state values, transactions, receipts, blocks) hangs off a
header accepted here, checked by `sdk.verify.Verifier`. Any failure raises ProofError.

No I/O: `sdk.ops` asks the node for proofs and feeds them in, and the light node
(api/light.py) keeps what it verified.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Sequence

from xinlian.consensus.certificates import Meter
from xinlian.consensus.committee import Committee, EpochRoot
from xinlian.ledger.block import BlockHeader, header_hash
from xinlian.node.certify import CertifiedHeader, verify_certified
from xinlian.node.errors import BadEpochProof, BadHeaderCertificate, BadHeaderProof
from xinlian.node.history import HeaderProof, verify_header_proof
from xinlian.node.statesync import EpochProof, next_root
from xinlian.sdk.errors import ProofError
from xinlian.storage.proof import Hasher

MAX_PROVEN = 4096  # header hashes remembered as accepted


class HeaderChain:
    """The committees of every epoch so far and the headers accepted against them."""

    def __init__(self, genesis: EpochRoot, chain_id: str, hasher: Hasher) -> None:
        self.roots: list[EpochRoot] = [genesis]
        self.proofs: list[EpochProof] = []  # how each epoch since genesis ended
        self.chain_id = chain_id
        self.hasher = hasher
        self.anchor: CertifiedHeader | None = None  # the highest certified header
        self.checkpoints: dict[int, CertifiedHeader] = {}  # epoch -> its last header
        self.meter = Meter()
        self.stats: Counter[str] = Counter()
        self._proven: OrderedDict[bytes, int] = OrderedDict()  # header hash -> height

    @property
    def epoch(self) -> int:
        """The latest epoch whose committee is known."""
        return self.roots[-1].committee.epoch

    def committee(self, epoch: int) -> Committee | None:
        first = self.roots[0].committee.epoch
        if not first <= epoch <= self.epoch:
            return None
        return self.roots[epoch - first].committee

    def follow(self, proofs: Sequence[EpochProof]) -> int:
        """Learn the next committees from proofs of consecutive epoch changes, from the
        latest known epoch on; how many were new."""
        for proof in proofs:
            try:
                root = next_root(self.roots[-1], proof, self.meter)
            except BadEpochProof as exc:
                raise ProofError(f"epoch change proof: {exc.message}") from None
            self.roots.append(root)
            self.proofs.append(proof)
            self.stats["epochs"] += 1
        return len(proofs)

    def accept(self, certified: CertifiedHeader) -> bytes:
        """The header's hash, once the committee of its epoch certified it."""
        header = certified.header
        if header.chain_id != self.chain_id:
            raise ProofError(f"header of chain {header.chain_id!r}, expected {self.chain_id!r}")
        committee = self.committee(certified.epoch)
        if committee is None:
            raise ProofError(f"header {header.height} is certified in epoch {certified.epoch}; "
                             f"the committees known end at epoch {self.epoch}")
        try:
            digest = verify_certified(certified, committee, self.hasher, self.meter)
        except BadHeaderCertificate as exc:
            raise ProofError(exc.message) from None
        self.stats["certified"] += 1
        self._remember(digest, header.height)
        if self.anchor is None or header.height > self.anchor.header.height:
            self.anchor = certified
        return digest

    def accept_checkpoint(self, epoch: int, certified: CertifiedHeader) -> bytes:
        """The last header of `epoch`: certified, and within the epochs known."""
        if epoch > self.epoch or certified.epoch > epoch:
            raise ProofError(f"a checkpoint of epoch {epoch} certified in {certified.epoch}")
        digest = self.accept(certified)
        self.checkpoints[epoch] = certified
        return digest

    def prove(self, proof: HeaderProof, against: CertifiedHeader | None = None) -> bytes:
        """An older header's hash, once it is proven in the history of the anchor, or of
        `against`, a certified header accepted before (kept, or recently accepted)."""
        if against is not None:
            height = against.header.height
            if self.held(height) != against and not self.is_accepted(against.header):
                raise ProofError(f"block {height}'s header is not one accepted")
            anchor = against.header
        elif self.anchor is not None:
            anchor = self.anchor.header
        else:
            raise ProofError("no certified header to prove older ones against")
        try:
            digest = verify_header_proof(anchor, proof, self.hasher)
        except BadHeaderProof as exc:
            raise ProofError(exc.message) from None
        self.stats["proven"] += 1
        self._remember(digest, proof.header.height)
        return digest

    def held(self, height: int) -> CertifiedHeader | None:
        """The certified header at `height` among those kept: the anchor or a checkpoint."""
        if self.anchor is not None and self.anchor.header.height == height:
            return self.anchor
        return next((c for c in self.checkpoints.values() if c.header.height == height),
                    None)

    def proofs_from(self, start: int, limit: int) -> list[EpochProof]:
        """The proofs of the epoch changes known from the end of epoch `start` on, at most
        `limit` (as a full node serves them: sdk/ops.py `follow_epochs`)."""
        first = self.roots[0].committee.epoch
        if start < first:
            return []
        return self.proofs[start - first:start - first + limit]

    def is_accepted(self, header: BlockHeader) -> bool:
        return header_hash(header, self.hasher) in self._proven

    def _remember(self, digest: bytes, height: int) -> None:
        self._proven[digest] = height
        self._proven.move_to_end(digest)
        if len(self._proven) > MAX_PROVEN:
            self._proven.popitem(last=False)
