"""Client-side verification accepts what a real node serves and rejects every tampering:
values, proofs, roots, headers, header signatures, audit paths and trust anchors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from xinlian import codec
from xinlian.api.views import BlockView, ChainInfo, TxView
from xinlian.crypto.keys import Signature
from xinlian.ledger.account import Account
from xinlian.ledger.block import sign_header
from xinlian.node.interface import AccountView, NodeStatus
from xinlian.sdk import AsyncClient, ProofError, UntrustedChain, Verifier, trust
from xinlian.sdk.verify import COMMITTEE
from xinlian.storage.proof import ProofLeaf

from .conftest import Served as BftServed
from .conftest import harness

Keys: Any = harness.Keys  # type: ignore[attr-defined]
serving: Any = harness.serving  # type: ignore[attr-defined]


@dataclass
class Served:
    keys: Any
    verifier: Verifier
    chain: ChainInfo
    status: NodeStatus
    bob: AccountView    # present in the state
    carol: AccountView  # absent from the state
    tx: TxView          # in a block with several transactions
    block: BlockView    # that block, with its raw transactions


@pytest.fixture(scope="module", params=["intl", "sm", "pq"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Served:
    keys = Keys(request.param)

    async def collect() -> Served:
        path = Path(tmp_path_factory.mktemp("node"))
        async with serving(path, keys) as (_, server), AsyncClient(server.url) as client:
            alice = await client.wallet(keys.alice)
            txs = [alice.transfer(keys.address["bob"], 3) for _ in range(5)]
            await client.submit_many(txs)
            await client.wait_for_commit([t.hash for t in txs])
            views = [await client.transaction(t.hash, verify=False) for t in txs]
            tx = max(views, key=lambda v: (v.header.tx_count, v.index))  # type: ignore[union-attr]
            assert tx is not None and tx.header.tx_count >= 2
            block = await client.block(tx.height, full=True, verify=False)
            assert block is not None
            return Served(keys, await client.verifier(), await client.chain_info(),
                          await client.status(),
                          await client.account(keys.address["bob"], verify=False),
                          await client.account(keys.address["carol"], verify=False),
                          tx, block)
    return asyncio.run(collect())


def rejects(check: Callable[[Any], None], value: Any) -> None:
    with pytest.raises(ProofError):
        check(value)


def flip(data: bytes, i: int = 0) -> bytes:
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]


# -- genuine answers verify --------------------------------------------------------------

def test_genuine_answers_verify(served: Served) -> None:
    v = served.verifier
    v.account(served.bob)
    v.account(served.carol)
    assert served.carol.state.value is None and served.carol.account == Account()
    v.state(served.bob.state)
    v.transaction(served.tx)
    v.block(served.block)
    v.block(replace(served.block, txs=None))


# -- accounts and state proofs -----------------------------------------------------------

def test_tampered_accounts_are_rejected(served: Served) -> None:
    v, bob, carol = served.verifier, served.bob, served.carol
    rejects(v.account, replace(bob, account=Account(bob.account.balance + 1,
                                                    bob.account.nonce)))
    rejects(v.account, replace(bob, account=Account(bob.account.balance,
                                                    bob.account.nonce + 1)))
    rejects(v.account, replace(bob, address=served.keys.address["alice"]))
    rejects(v.account, replace(carol, account=Account(10**6, 0)))  # absent claimed rich
    forged_value = codec.encode(Account(bob.account.balance * 2, 0))
    rejects(v.account, replace(bob, account=Account(bob.account.balance * 2, 0),
                               state=replace(bob.state, value=forged_value)))
    rejects(v.account, replace(carol, state=replace(carol.state, value=forged_value),
                               account=Account(bob.account.balance * 2, 0)))


def test_tampered_state_proofs_are_rejected(served: Served) -> None:
    v, state = served.verifier, served.bob.state
    proof = state.proof
    rejects(v.state, replace(state, value=None))  # inclusion presented as absence
    rejects(v.state, replace(state, key=state.key + b"x"))
    rejects(v.state, replace(state, proof=replace(proof, leaf=None)))
    assert proof.leaf is not None
    rejects(v.state, replace(state, proof=replace(
        proof, leaf=ProofLeaf(proof.leaf.path, flip(proof.leaf.value_hash)))))
    rejects(v.state, replace(state, proof=replace(proof, siblings=proof.siblings[:-4])))
    absent = served.carol.state
    rejects(v.state, replace(absent, value=b"\x92\x01\x00"))  # absence presented as value


@given(data=st.data())
def test_any_flipped_sibling_byte_is_rejected(served: Served, data: st.DataObject) -> None:
    state = served.bob.state
    present = [i for i, s in enumerate(state.proof.siblings) if s]
    i = data.draw(st.sampled_from(present))
    j = data.draw(st.integers(0, 31))
    siblings = list(state.proof.siblings)
    siblings[i] = flip(siblings[i], j)
    rejects(served.verifier.state, replace(state, proof=replace(state.proof,
                                                                siblings=siblings)))


# -- headers and their signatures --------------------------------------------------------

def test_tampered_headers_and_signatures_are_rejected(served: Served) -> None:
    v, state = served.verifier, served.bob.state
    header = state.header
    rejects(v.state, replace(state, header=replace(header, state_root=flip(header.state_root))))
    rejects(v.state, replace(state, header=replace(header, height=header.height + 1)))
    rejects(v.state, replace(state, header=replace(header, timestamp_ms=header.timestamp_ms + 1)))
    signature = codec.decode(state.header_signature, Signature)
    rejects(v.state, replace(state, header_signature=codec.encode(
        Signature(signature.alg, flip(signature.data, 5)))))
    rejects(v.state, replace(state, header_signature=b"\x01\x02"))  # does not decode
    other = served.tx.header_signature  # a real signature, of another header
    if served.tx.header != header:
        rejects(v.state, replace(state, header_signature=codec.encode(other)))


def test_a_header_signed_by_another_key_is_rejected(served: Served) -> None:
    # An impostor re-signs a header with a false state root under its own key.
    impostor = served.keys.admin
    state = served.bob.state
    forged = replace(state.header, state_root=bytes(32), proposer=impostor.public_key)
    rejects(served.verifier.state, replace(
        state, header=forged, header_signature=codec.encode(sign_header(forged, impostor))))
    # ... or keeps the proposer field and signs with its key anyway.
    kept = replace(state.header, state_root=bytes(32))
    rejects(served.verifier.state, replace(
        state, header=kept, header_signature=codec.encode(sign_header(kept, impostor))))


def test_another_chain_or_key_is_rejected(served: Served) -> None:
    v = served.verifier
    rejects(Verifier(v.suite, "other-chain", v.node_key).account, served.bob)
    rejects(Verifier(v.suite, v.chain_id, served.keys.admin.public_key).account, served.bob)


# -- transactions and blocks -------------------------------------------------------------

def test_tampered_transactions_are_rejected(served: Served) -> None:
    v, tx = served.verifier, served.tx
    path = tx.tx_path
    rejects(v.transaction, replace(tx, raw=flip(tx.raw, len(tx.raw) - 3)))
    rejects(v.transaction, replace(tx, raw=tx.raw + b"\x00"))
    rejects(v.transaction, replace(tx, hash=flip(tx.hash)))
    rejects(v.transaction, replace(tx, index=tx.index ^ 1))
    rejects(v.transaction, replace(tx, tx_path=replace(path, index=path.index ^ 1)))
    rejects(v.transaction, replace(tx, tx_path=replace(path, size=path.size + 1)))
    rejects(v.transaction, replace(tx, tx_path=replace(
        path, siblings=[flip(path.siblings[0]), *path.siblings[1:]])))
    rejects(v.transaction, replace(tx, body=replace(tx.body, nonce=tx.body.nonce + 1)))
    rejects(v.transaction, replace(tx, sender=served.keys.address["bob"]))
    rejects(v.transaction, replace(tx, receipt=replace(tx.receipt, tx_hash=bytes(32))))
    # a receipt claiming another outcome than the one committed under receipts_root
    rejects(v.transaction, replace(tx, receipt=replace(tx.receipt, status=5001,
                                                        error="insufficient_balance")))
    rejects(v.transaction, replace(tx, receipt=replace(tx.receipt, events=[])))
    rpath = tx.receipt_path
    rejects(v.transaction, replace(tx, receipt_path=replace(rpath, index=rpath.index ^ 1)))
    rejects(v.transaction, replace(tx, receipt_path=replace(
        rpath, siblings=[flip(rpath.siblings[0]), *rpath.siblings[1:]])))
    rejects(v.transaction, replace(tx, header=replace(tx.header, tx_root=flip(
        tx.header.tx_root))))
    rejects(v.transaction, replace(tx, header_signature=Signature(
        tx.header_signature.alg, flip(tx.header_signature.data))))


def test_tampered_blocks_are_rejected(served: Served) -> None:
    v, block = served.verifier, served.block
    assert block.txs is not None and len(block.tx_hashes) >= 2
    rejects(v.block, replace(block, hash=flip(block.hash)))
    rejects(v.block, replace(block, tx_hashes=block.tx_hashes[::-1]))
    rejects(v.block, replace(block, tx_hashes=block.tx_hashes[:-1]))
    rejects(v.block, replace(block, txs=block.txs[::-1]))
    rejects(v.block, replace(block, txs=[*block.txs[:-1], b"\x00"]))
    rejects(v.block, replace(block, header=replace(block.header,
                                                   tx_count=block.header.tx_count + 1)))


# -- trust anchors -----------------------------------------------------------------------

def test_trust_anchors(served: Served) -> None:
    chain, status = served.chain, served.status
    assert trust(chain, status).node_key == served.keys.node.public_key
    trust(chain, status, node_key=served.keys.node.public_key,
          genesis_hash=chain.genesis_hash)
    with pytest.raises(UntrustedChain):
        trust(chain, status, node_key=served.keys.admin.public_key)
    with pytest.raises(UntrustedChain):
        trust(chain, status, genesis_hash=bytes(32))
    with pytest.raises(UntrustedChain):
        trust(replace(chain, genesis=replace(chain.genesis, chain_id="x")), status)
    with pytest.raises(UntrustedChain):
        trust(chain, replace(status, node_key=b"\x00"))
    with pytest.raises(UntrustedChain):  # a solo chain's headers need the node's key
        trust(chain, None)


def test_a_bft_chain_is_trusted_without_a_node_key(bft_chain: BftServed) -> None:
    """A BFT chain's headers are checked against its committees: the client needs no
    node key (a light node has none), unless it pinned one to check."""
    genesis = bft_chain.net.genesis
    chain = ChainInfo(genesis.hash(), genesis)
    verifier = trust(chain, None, genesis_hash=genesis.hash())
    assert verifier.basis == COMMITTEE and verifier.node_key is None
    with pytest.raises(UntrustedChain):
        trust(chain, None, node_key=bft_chain.net.node_keys[0].public_key)
    with pytest.raises(UntrustedChain):
        trust(chain, None, genesis_hash=bytes(32))
