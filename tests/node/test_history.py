"""The header history (node/history.py): every block's state commits to an MMR over the
headers before it, so any old header proves against a newer one; tampering fails."""

from __future__ import annotations

import asyncio

import pytest
from msgspec.structs import replace

from xinlian import codec
from xinlian.ledger.block import header_hash
from xinlian.node.errors import BadHeaderProof
from xinlian.node.history import HISTORY_KEY, verify_header_proof
from xinlian.storage import mmr

from .conftest import Fixture

BLOCKS = 9


async def _blocks(fx: Fixture) -> None:
    node = fx.open()
    try:
        for nonce in range(BLOCKS):
            await node.submit([fx.transfer(0, nonce, 1, 1)])
            assert node.produce_block() is not None
    finally:
        await node.stop()


def test_every_older_header_proves_against_every_newer_one(fx: Fixture) -> None:
    asyncio.run(_blocks(fx))
    node = fx.open()
    try:
        chain, h = node.chain, node.suite.hash_bytes
        assert chain.height == BLOCKS
        hashes = [header_hash(chain.block(i).header, h) for i in range(BLOCKS + 1)]  # type: ignore[union-attr]
        for anchor in range(1, BLOCKS + 1):
            peaks = codec.decode(chain.tree.get(HISTORY_KEY, anchor) or b"", mmr.Peaks)
            assert peaks == mmr.peaks_of(h, hashes[:anchor])  # exactly the headers before it
            top = chain.block(anchor)
            assert top is not None
            for old in range(anchor):
                proof = chain.header_proof(old, anchor)
                assert proof is not None
                assert verify_header_proof(top.header, proof, h) == hashes[old]
        assert chain.header_proof(3, 3) is None and chain.header_proof(0, BLOCKS + 1) is None
    finally:
        asyncio.run(node.stop())


def test_invalid_tampered_header_proofs_fail(fx: Fixture) -> None:
    asyncio.run(_blocks(fx))
    node = fx.open()
    try:
        chain, h = node.chain, node.suite.hash_bytes
        top = chain.block(BLOCKS)
        proof = chain.header_proof(2, BLOCKS)
        assert top is not None and proof is not None
        other = chain.block(3)
        assert other is not None
        inclusion = proof.inclusion
        forged = [
            replace(proof, header=replace(proof.header, state_root=bytes(32))),
            replace(proof, header=other.header),
            replace(proof, anchor=BLOCKS - 1),
            replace(proof, peaks=codec.encode(mmr.Peaks(1, [bytes(32)]))),
            replace(proof, inclusion=replace(inclusion, siblings=list(reversed(
                inclusion.siblings)))),
        ]
        for bad in forged:
            with pytest.raises(BadHeaderProof):
                verify_header_proof(top.header, bad, h)
        older = chain.block(BLOCKS - 1)
        assert older is not None
        with pytest.raises(BadHeaderProof):  # the right proof against another anchor
            verify_header_proof(older.header, proof, h)
    finally:
        asyncio.run(node.stop())
