"""The blocking Client against a real node producing blocks, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xinlian.api.server import RpcServer
from xinlian.sdk import Client, CommitTimeout, RpcError, TransportError, TxRejected, calls
from xinlian.sdk.calls import Call

from .conftest import harness

Keys: Any = harness.Keys  # type: ignore[attr-defined]
Background: Any = harness.Background  # type: ignore[attr-defined]
transfer: Any = harness.transfer  # type: ignore[attr-defined]


@pytest.fixture
def client(served: Any) -> Iterator[Client]:
    with Client(served.server.url) as client:
        yield client


def test_transfer_commits_and_every_answer_verifies(client: Client, keys: Any) -> None:
    alice = client.wallet(keys.alice)
    assert alice.address == keys.address["alice"]
    start_nonce = alice.nonce
    before = client.account(keys.address["bob"]).account.balance
    tx = alice.transfer(keys.address["bob"], 25, b"rent")
    receipt = client.send(tx)
    assert receipt.status == 0 and receipt.tx_hash == tx.hash
    assert client.account(keys.address["bob"]).account.balance == before + 25
    assert client.account(keys.address["alice"]).account.nonce == start_nonce + 1

    view = client.transaction(tx.hash)
    assert view is not None and view.raw == tx.raw and view.sender == alice.address
    block = client.block(view.height, full=True)
    assert block is not None and tx.raw in (block.txs or [])
    assert client.block_by_hash(block.hash, full=True) == block
    page = client.sender_transactions(alice.address, offset=start_nonce, limit=10)
    assert page.hashes == [tx.hash] and page.next is None
    assert client.receipt(tx.hash) == receipt


def test_batch_submission_and_polling_wait(client: Client, keys: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calls, "STATUS_CHUNK", 3)  # each round spans several batch requests
    monkeypatch.setattr(calls, "SUBMIT_CHUNK", 7)  # and so does the submission
    admin = client.wallet(keys.admin)
    txs = [admin.transfer(keys.address["bob"], 1) for _ in range(20)]
    results = client.submit_many(txs)
    assert [r.hash for r in results] == [t.hash for t in txs]
    assert all(r.accepted for r in results)
    assert client.submit_many([]) == []
    receipts = client.wait_for_commit([t.hash for t in txs], timeout=30)
    assert sorted(receipts) == sorted(t.hash for t in txs)
    assert all(r.status == 0 for r in receipts.values())
    assert client.account(admin.address).account.nonce == admin.nonce


def test_refusals_are_typed_and_the_node_keeps_serving(client: Client, keys: Any) -> None:
    alice = client.wallet(keys.alice)
    tx = alice.transfer(keys.address["bob"], 1)
    client.send(tx)
    with pytest.raises(TxRejected) as replay:
        client.submit(tx)
    assert replay.value.remote_code == 4004 and replay.value.remote_name == "nonce_too_low"
    with pytest.raises(TxRejected) as foreign:
        client.submit(transfer(keys, nonce=alice.nonce, chain="elsewhere"))
    assert foreign.value.remote_code == 4002
    with pytest.raises(RpcError) as unknown:
        client.call(Call("xl_mine", [], bool))
    assert unknown.value.rpc_code == -32601 and unknown.value.remote_code == 6003
    with pytest.raises(TxRejected) as overdraft:  # admission counts what a transfer moves
        client.send(alice.transfer(keys.address["bob"], 10**12))
    assert overdraft.value.remote_code == 4006
    assert client.status().height >= 1


def test_waiting_is_bounded(client: Client) -> None:
    with pytest.raises(CommitTimeout) as timeout:
        client.wait_for_commit([bytes(32)], timeout=0.05)
    assert timeout.value.pending == [bytes(32)]


def test_unreachable_node_is_a_transport_error(served: Any) -> None:
    port = served.server.port
    with Client(f"http://127.0.0.1:{port}/nowhere") as lost, \
            pytest.raises(TransportError):
        lost.status()
    with pytest.raises(TransportError):
        Client("ftp://example.org")


def test_a_dropped_keep_alive_connection_is_reopened(tmp_path: Path, keys: Any) -> None:
    background = Background(tmp_path, keys)
    try:
        with Client(background.server.url) as client:
            assert client.status().height == 0
            port = background.server.port
            background.run(background.server.stop())  # closes the kept-alive connection
            background.server = RpcServer(background.node, port=port)
            background.run(background.server.start())
            assert client.status().height == 0  # the stale connection is replaced once
    finally:
        background.close()


def test_waiting_for_more_hashes_than_one_batch_takes(client: Client) -> None:
    hashes = [i.to_bytes(32, "big") for i in range(1, 1202)]  # > the server's batch limit
    with pytest.raises(CommitTimeout) as timeout:
        client.wait_for_commit(hashes, timeout=0.05)
    assert timeout.value.pending == hashes
