"""A real solo node in-process: admission, block production, persistence, proofs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from xinlian import codec
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.signing import verify
from xinlian.ledger import merkle
from xinlian.ledger.account import Account, account_key
from xinlian.ledger.block import Block, Receipt, header_hash, header_message
from xinlian.storage.proof import verify_proof

from .conftest import Fixture, make_genesis


async def _run_until_committed(fx: Fixture, raws: list[bytes], count: int) -> list[Block]:
    node = fx.open()
    blocks: list[Block] = []
    done = asyncio.Event()

    def on_block(block: Block, receipts: Sequence[Receipt]) -> None:
        blocks.append(block)
        if sum(b.header.tx_count for b in blocks) >= count:
            done.set()

    node.add_block_listener(on_block)
    await node.start()
    results = await node.submit(raws)
    assert all(r.accepted for r in results), results
    await asyncio.wait_for(done.wait(), 30)
    await node.stop()
    return blocks


def test_transfers_commit_in_blocks_and_survive_restart(fx: Fixture) -> None:
    raws = [fx.transfer(i % 4, i // 4, (i + 1) % 4, 10) for i in range(40)]
    blocks = asyncio.run(_run_until_committed(fx, raws, 40))
    assert sum(b.header.tx_count for b in blocks) == 40
    node = fx.open()  # reopen from disk
    try:
        status = node.status()
        assert status.committed_txs == 40 and status.height == blocks[-1].header.height
        for i in range(4):
            view = node.account(fx.addr(i))
            # Each sends and receives 10 x 10 in the ring and pays ten fees of 1.
            assert view.account == Account(10_000 - 10, 10)
        # Blocks chain by parent hash from the genesis.
        parent = fx.genesis.hash()
        for h in range(status.height + 1):
            block = node.block(h)
            assert block is not None and block.header.parent_hash == parent
            parent = header_hash(block.header, fx.suite.hash_bytes)
        assert status.head_hash == parent
    finally:
        asyncio.run(node.stop())


def test_state_proofs_verify_against_signed_header(fx: Fixture) -> None:
    asyncio.run(_run_until_committed(fx, [fx.transfer(0, 0, 1, 7)], 1))
    node = fx.open()
    try:
        view = node.account(fx.addr(1))
        header = view.state.header
        assert verify(node.key.public_key, header_message(header),
                      codec.decode(view.state.header_signature, Signature))
        assert verify_proof(header.state_root, account_key(fx.addr(1)), view.state.value,
                            view.state.proof, fx.suite.hash_bytes)
        assert view.state.value is not None
        assert codec.decode(view.state.value, Account).balance == 10_007
        absent = node.account(b"\x42" * 20)
        assert absent.state.value is None and verify_proof(
            header.state_root, account_key(b"\x42" * 20), None, absent.state.proof,
            fx.suite.hash_bytes)
        # The transaction is proven in its block's tx_root.
        tx_hash = node.sender_transactions(fx.addr(0), 0, 10)[0]
        record = node.transaction(tx_hash)
        assert record is not None and record.receipt.status == 0
        assert merkle.verify_path(record.header.tx_root, tx_hash, record.tx_path,
                                  fx.suite.hash_bytes)
        assert merkle.verify_path(record.header.receipts_root, codec.encode(record.receipt),
                                  record.receipt_path, fx.suite.hash_bytes)
        assert verify(node.key.public_key, header_message(record.header),
                      record.header_signature)
        location = node.tx_location(tx_hash)
        assert location is not None and (location.height, location.index) == (
            record.height, record.index)
    finally:
        asyncio.run(node.stop())


def test_bad_submissions_get_typed_errors_and_commit_nothing(fx: Fixture) -> None:
    async def scenario() -> None:
        node = fx.open()
        good = fx.transfer(0, 0, 1, 1)
        tampered = bytearray(fx.transfer(1, 0, 2, 1))
        tampered[-2] ^= 0xFF
        bad = [b"\xc1garbage", fx.transfer(0, 0, 1, 1, chain_id="other"), bytes(tampered),
               fx.transfer(2, 0, 1, 1, payload=b"\0" * 40_000), fx.transfer(3, 5000, 1, 1)]
        results = await node.submit([good, *bad])
        assert results[0].accepted
        assert [r.error for r in results[1:]] == [
            "malformed", "wrong_chain_id", "bad_signature", "tx_too_large", "nonce_too_high"]
        block = node.produce_block()
        assert block is not None and block.header.tx_count == 1
        # Replaying the committed transaction is refused; so is an overdraft (admission
        # counts what a transfer moves, not only its fee).
        [replay] = await node.submit([good])
        assert replay.error == "nonce_too_low"
        # A refused but decodable transaction is reported under its own hash.
        assert replay.tx_hash == results[0].tx_hash
        [over] = await node.submit([fx.transfer(0, 1, 1, 10**9)])
        assert over.error == "insufficient_funds"
        assert node.produce_block() is None
        assert node.account(fx.addr(1)).account.balance == 10_001
        await node.stop()

    asyncio.run(scenario())


def test_data_directory_of_another_chain_is_refused(fx: Fixture) -> None:
    asyncio.run(fx.open().stop())
    other = Fixture(fx.dir, "intl")
    other.genesis = type(fx.genesis)(**{**{f: getattr(fx.genesis, f) for f in
                                           fx.genesis.__struct_fields__}, "chain_id": "x"})
    from xinlian.ledger.errors import InvalidGenesis
    with pytest.raises(InvalidGenesis):
        other.open()


@pytest.mark.parametrize("suite_name", ["sm", "pq", "hybrid-sm", "hybrid-intl"])
def test_other_suites_commit(tmp_path, suite_name: str) -> None:
    fx = Fixture(tmp_path, suite_name)
    blocks = asyncio.run(_run_until_committed(fx, [fx.transfer(0, 0, 1, 3)], 1))
    assert blocks[0].header.proposer == fx.node_key.public_key
    assert isinstance(blocks[0].header.proposer, PublicKey)


@pytest.mark.timeout(60)
def test_nonce_gap_in_a_full_pool_does_not_starve_admission(tmp_path) -> None:
    # Regression: with enough pending to cut at once but nothing executable (the earlier
    # nonces still on their way), the producer must yield so the earlier nonces get in.
    fx = Fixture(tmp_path)
    fx.genesis = make_genesis("intl", fx.keys, max_block_txs=2, block_interval_ms=20)

    async def scenario() -> None:
        node = fx.open()
        committed = asyncio.Event()
        node.add_block_listener(lambda block, receipts: committed.set())
        await node.start()
        later = [fx.transfer(0, n, 1, 1) for n in (2, 3, 4)]
        assert all(r.accepted for r in await node.submit(later))
        await asyncio.sleep(0)  # the producer now sees 3 pending, none executable
        assert all(r.accepted for r in await node.submit(
            [fx.transfer(0, 0, 1, 1), fx.transfer(0, 1, 1, 1)]))
        await asyncio.wait_for(committed.wait(), 30)
        while node.chain.committed_txs < 5:
            committed.clear()
            await asyncio.wait_for(committed.wait(), 30)
        await node.stop()

    asyncio.run(scenario())
