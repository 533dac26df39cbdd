"""Client-side verification of what a node returns, against the validator set or a node key.

How a header is accepted depends on the chain (`Verifier.basis`):
- BFT chain ("committee"): the header was certified by the committee of its epoch, or proven
  in the history of a certified header (`sdk.headers.HeaderChain`, fed by `sdk.ops`). No
  node is trusted: a node that serves a forged header or proof is caught.
- solo chain ("node-signature"): its chain id is ours and the trusted node key's signature
  over it verifies: the one node of the chain attests the header it serves, and a client
  trusts that node (pin its key).
Its hash is then recomputed locally. Everything else
hangs off an accepted header: a state value (or its absence) by a state-tree proof against
`state_root`, a transaction by its hash and its audit path against `tx_root` (and its
receipt by another against `receipts_root`), a block's transaction list by recomputing
`tx_root`, a page of the ordered index by a range proof against the index root that the
state commits. Any failure raises ProofError.
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian import codec
from xinlian.api.views import BlockView, ChainInfo, TxView
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.signing import verify
from xinlian.crypto.suites import Suite, get_suite
from xinlian.errors import XinlianError
from xinlian.ledger import merkle
from xinlian.ledger.account import EMPTY_ACCOUNT, Account, account_key, address_of
from xinlian.ledger.block import BlockHeader, header_hash, header_message
from xinlian.ledger.genesis import Genesis
from xinlian.ledger.transaction import SignedTransaction, TxBody, signing_message
from xinlian.node.certify import genesis_root
from xinlian.node.interface import AccountView, IndexAnswer, NodeStatus, StateProof
from xinlian.sdk.errors import ProofError, UntrustedChain
from xinlian.sdk.headers import HeaderChain
from xinlian.storage.mst_proof import (
    EMPTY_ROOT,
    INDEX_ROOT_KEY,
    RangeQuery,
    decode_range_proof,
    verify_range,
)
from xinlian.storage.proof import verify_proof

COMMITTEE = "committee"
NODE_SIGNATURE = "node-signature"


@dataclass(frozen=True)
class Verifier:
    suite: Suite
    chain_id: str
    node_key: PublicKey | None  # the node a solo chain's client trusts
    headers: HeaderChain | None = None  # a BFT chain's certified headers

    @property
    def basis(self) -> str:
        """What a header is checked against: the committee (BFT) or the node's key (solo)."""
        return NODE_SIGNATURE if self.headers is None else COMMITTEE

    def header(self, header: BlockHeader, signature: Signature) -> bytes:
        """The header's hash, once its chain and its basis check out: on a BFT chain it
        was accepted by `headers` (certified or proven; the node's signature is ignored),
        on a solo chain the trusted node's signature verifies."""
        if header.chain_id != self.chain_id:
            raise ProofError(f"header of chain {header.chain_id!r}, expected {self.chain_id!r}")
        if self.headers is not None:
            if not self.headers.is_accepted(header):
                raise ProofError(f"block {header.height}'s header is not the one the "
                                 "committee certified")
            return header_hash(header, self.suite.hash_bytes)
        if self.node_key is None:
            raise ProofError("a solo chain's header is checked against a node key; none given")
        try:
            valid = verify(self.node_key, header_message(header), signature)
        except CryptoError as exc:
            raise ProofError(f"header signature of block {header.height}: {exc.message}") from exc
        if not valid:
            raise ProofError(f"block {header.height} is not signed by the trusted node key")
        return header_hash(header, self.suite.hash_bytes)

    def state(self, proof: StateProof) -> None:
        """The proof's value (None: absence) is the key's value under the header's state root."""
        self.header(proof.header, _signature(proof.header_signature))
        if not verify_proof(proof.header.state_root, proof.key, proof.value, proof.proof,
                            self.suite.hash_bytes):
            raise ProofError(f"state proof for key 0x{proof.key.hex()} does not verify "
                             f"against the state root of block {proof.header.height}")

    def index(self, answer: IndexAnswer, query: RangeQuery) -> list[tuple[bytes, bytes]]:
        """The complete answer to `query` (the client's own, never the node's echo), proven
        against the index root that the header's state commits at `INDEX_ROOT_KEY`."""
        root_proof = answer.root
        if root_proof.key != INDEX_ROOT_KEY:
            raise ProofError("the index root is proven for another key")
        self.state(root_proof)
        root = EMPTY_ROOT if root_proof.value is None else root_proof.value
        try:
            entries = verify_range(root, decode_range_proof(answer.proof), query,
                                   self.suite.hash_bytes)
        except XinlianError as exc:
            raise ProofError(f"index proof at block {root_proof.header.height}: "
                             f"{exc.message}") from exc
        if entries != [(e.key, e.value) for e in answer.entries]:
            raise ProofError("the listed index entries differ from the proven ones")
        return entries

    def account(self, view: AccountView) -> None:
        """The account is exactly what the proven state holds for the address."""
        state = view.state
        if state.key != account_key(view.address):
            raise ProofError("the proof is for another key than the account's")
        self.state(state)
        try:
            proven = EMPTY_ACCOUNT if state.value is None else codec.decode(state.value, Account)
        except codec.CodecError as exc:
            raise ProofError(f"the proven account does not decode: {exc.message}") from exc
        if proven != view.account:
            raise ProofError("the account differs from the proven state")

    def transaction(self, view: TxView) -> None:
        """The raw transaction hashes to `hash`, sits at `index` under the header's tx_root,
        carries its sender's valid signature (tx_root commits to the body hash only), its
        receipt sits at the same index under receipts_root (whose tree may be wider: the
        block's engine runs follow the transactions), and the decoded body, sender and
        receipt are the raw transaction's."""
        h = self.suite.hash_bytes
        self.header(view.header, view.header_signature)
        try:
            signed = codec.decode(view.raw, SignedTransaction)
            body = codec.decode(signed.body, TxBody)
        except codec.CodecError as exc:
            raise ProofError(f"the raw transaction does not decode: {exc.message}") from exc
        tx_hash = h(signed.body)
        if tx_hash != view.hash or view.receipt.tx_hash != tx_hash:
            raise ProofError("the transaction's hash does not match its bytes")
        if body != view.body or address_of(body.sender, h) != view.sender:
            raise ProofError("the decoded body or sender does not match the raw transaction")
        try:
            signed_ok = verify(body.sender, signing_message(signed.body), signed.signature)
        except CryptoError as exc:
            raise ProofError(f"the sender's signature: {exc.message}") from exc
        if not signed_ok:
            raise ProofError("the sender's signature on the transaction does not verify")
        path = view.tx_path
        if (view.height != view.header.height or path.index != view.index
                or path.size != view.header.tx_count):
            raise ProofError("the transaction's position does not match its header")
        if not merkle.verify_path(view.header.tx_root, tx_hash, path, h):
            raise ProofError("the audit path does not lead to the header's tx_root")
        receipt_path = view.receipt_path
        # the receipts tree holds the transactions' receipts, in order, then those of the
        # block's engine runs (async deliveries, scheduled runs): never fewer leaves
        if receipt_path.index != view.index or receipt_path.size < view.header.tx_count:
            raise ProofError("the receipt's position does not match the transaction's")
        if not merkle.verify_path(view.header.receipts_root, codec.encode(view.receipt),
                                  receipt_path, h):
            raise ProofError("the receipt's audit path does not lead to the receipts_root")

    def block(self, view: BlockView) -> None:
        """Header signature and hash; the transaction hashes (and raw transactions, when
        present) rebuild the header's tx_root."""
        h = self.suite.hash_bytes
        if self.header(view.header, view.signature) != view.hash:
            raise ProofError(f"block {view.header.height}: hash does not match the header")
        if len(view.tx_hashes) != view.header.tx_count:
            raise ProofError(f"block {view.header.height}: tx count does not match")
        if merkle.root(view.tx_hashes, h) != view.header.tx_root:
            raise ProofError(f"block {view.header.height}: tx hashes do not give the tx_root")
        if view.txs is not None:
            try:
                hashes = [h(codec.decode(raw, SignedTransaction).body) for raw in view.txs]
            except codec.CodecError as exc:
                raise ProofError(f"a transaction does not decode: {exc.message}") from exc
            if hashes != view.tx_hashes:
                raise ProofError(f"block {view.header.height}: txs do not match tx_hashes")


def _signature(encoded: bytes) -> Signature:
    try:
        return codec.decode(encoded, Signature)
    except codec.CodecError as exc:
        raise ProofError(f"the header signature does not decode: {exc.message}") from exc


def trust(chain: ChainInfo, status: NodeStatus | None, *, node_key: PublicKey | None = None,
          genesis_hash: bytes | None = None) -> Verifier:
    """The verifier for a node's chain. Pin `genesis_hash` (and on a solo chain `node_key`)
    from your consortium's configuration to trust nothing the node says; unpinned values
    are taken from the node on first use and every later answer is checked against them.
    A BFT chain's headers are then checked against its genesis committee and the
    committees that follow it: its `status` (the node key) is needed only to check a
    pinned `node_key`."""
    local_hash = chain.genesis.hash()
    if local_hash != chain.genesis_hash or (status is not None
                                            and status.genesis_hash != local_hash):
        raise UntrustedChain("the node's genesis hash does not match its genesis")
    if genesis_hash is not None and local_hash != genesis_hash:
        raise UntrustedChain("the node serves another chain than the pinned genesis hash")
    if status is None:
        if not chain.genesis.validators or node_key is not None:
            raise UntrustedChain("the node's key is needed: a solo chain's headers, or a "
                                 "pinned key, are checked against it")
        return verifier_of(chain.genesis)
    try:
        served = codec.decode(status.node_key, PublicKey)
    except codec.CodecError as exc:
        raise UntrustedChain(f"the node key does not decode: {exc.message}") from exc
    if node_key is not None and served != node_key:
        raise UntrustedChain("the node signs with another key than the pinned one")
    return verifier_of(chain.genesis, served)


def verifier_of(genesis: Genesis, node_key: PublicKey | None = None) -> Verifier:
    """The verifier of a chain from its genesis: a BFT chain's headers against its
    committees (from the genesis committee on), a solo chain's against `node_key`."""
    suite = get_suite(genesis.suite)
    headers = None
    if genesis.validators:
        headers = HeaderChain(genesis_root(genesis), genesis.chain_id, suite.hash_bytes)
    return Verifier(suite, genesis.chain_id, node_key, headers)
