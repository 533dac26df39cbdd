"""A real solo node process runs the example token: deployed and called with signed
transactions over JSON-RPC, queried read-only, and a balance proven against a header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xinlian import codec
from xinlian.api.format import from_json
from xinlian.api.views import ChainInfo
from xinlian.cli.cluster import NodeProcess
from xinlian.crypto.suites import get_suite
from xinlian.execution.contracts.engine_runs import run_id
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import Call, Deploy, Fund
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact
from xinlian.lang.types import ADDRESS, IntTy
from xinlian.ledger.transaction import TxBody, TxKind, sign_body
from xinlian.node.interface import NodeStatus, StateProof
from xinlian.sdk.verify import trust
from xinlian.testing.contracts import compile_example, encode_args

from .cluster import Chain, init_data_dir

TOKEN = compile_example("token.qi")
U256 = IntTy(256, False)
FUEL = 100_000_000


def hx(data: bytes) -> str:
    return "0x" + data.hex()


def submit(node: NodeProcess, chain: Chain, nonce: int, kind: int, payload: Any) -> dict[str, Any]:
    """Sign, submit and wait (polling the node) until committed; the receipt."""
    body = TxBody(chain.chain_id, chain.keys[0].public_key, nonce, kind,
                  codec.encode(payload), 1_000_000, 1_000_000)
    [result] = node.rpc("xl_submitTransactions", [hx(sign_body(body, chain.keys[0]))])
    assert result["accepted"], result
    while (status := node.rpc("xl_getTransactionStatus", result["hash"]))["status"] != \
            "committed":
        assert status["status"] == "pending", status
    return dict(status["receipt"])


def test_token_on_a_solo_node(tmp_path: Path) -> None:
    chain = Chain.make("intl", 2)
    data = init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20)
    node = NodeProcess(data)
    try:
        owner, bob = chain.address(0), chain.address(1)
        receipt = submit(node, chain, 0, TxKind.DEPLOY, Deploy(
            TOKEN.wasm, TOKEN.abi_json().encode(), encode_args(TOKEN, "init", "Coin", 500),
            FUEL))
        token = contract_address(get_suite(chain.suite_name).hash_bytes, owner, 0)
        assert receipt["status"] == 0 and receipt["output"] == hx(token)
        receipt = submit(node, chain, 1, TxKind.CALL, Call(
            token, "transfer", encode_args(TOKEN, "transfer", bob, 120), FUEL))
        assert receipt["status"] == 0 and [e["name"] for e in receipt["events"]] == ["Transfer"]
        receipt = submit(node, chain, 2, TxKind.CALL, Call(
            token, "transfer", encode_args(TOKEN, "transfer", bob, 10**6), FUEL))
        assert receipt["error"] == "revert" and "InsufficientBalance" in receipt["message"]

        query = node.rpc("xl_contractQuery", hx(token), "balance_of",
                         hx(abi.encode(ADDRESS, bob)))
        assert query["status"] == "ok" and query["value"] == 120
        info = node.rpc("xl_getContract", hx(token))
        assert info["admin"] == hx(owner) and info["version"] == 1

        slot = next(s for s in TOKEN.abi["storage"] if s["name"] == "balances")
        key = (b"cs/" + token + bytes.fromhex(slot["key_prefix"])
               + abi.encode(ADDRESS, bob))
        proof: StateProof = from_json(node.rpc("xl_getStateProof", hx(key)), StateProof)
        verifier = trust(from_json(node.rpc("xl_chainInfo"), ChainInfo),
                         from_json(node.rpc("xl_status"), NodeStatus))
        verifier.state(proof)
        assert proof.value is not None and abi.decode(U256, proof.value) == 120
    finally:
        node.stop()



ORACLE = compile_example("oracle.qi", "Oracle")
CONSUMER = compile_example("oracle.qi", "Consumer")
PAYOUT = compile_example("payout.qi")


def test_async_answer_and_scheduled_payout_need_no_further_transactions(
        tmp_path: Path) -> None:
    """On a real solo node: the oracle's answer reaches the consumer's callback in the next
    block and the payout's scheduled function runs at multiples of 10 blocks, with no
    transaction after the request (the node cuts blocks while the executor has work);
    both runs' receipts are served by the receipt RPC under their derived ids."""
    chain = Chain.make("intl", 2)
    data = init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20)
    node = NodeProcess(data)
    try:
        hash_bytes = get_suite(chain.suite_name).hash_bytes
        owner, bob = chain.address(0), chain.address(1)

        def deploy(nonce: int, art: Artifact, *args: Any) -> bytes:
            init = encode_args(art, "init", *args) if args else b""
            receipt = submit(node, chain, nonce, TxKind.DEPLOY, Deploy(
                art.wasm, art.abi_json().encode(), init, FUEL))
            assert receipt["status"] == 0, receipt
            return contract_address(hash_bytes, owner, nonce)

        def query(contract: bytes, method: str, arg: bytes = b"") -> Any:
            answer = node.rpc("xl_contractQuery", hx(contract), method, hx(arg))
            assert answer["status"] == "ok", answer
            return answer["value"]

        oracle = deploy(0, ORACLE)
        submit(node, chain, 1, TxKind.CALL, Call(oracle, "set",
                                                 encode_args(ORACLE, "set", "XL", 42), FUEL))
        consumer = deploy(2, CONSUMER, oracle)
        payout = deploy(3, PAYOUT, 5)
        submit(node, chain, 4, TxKind.CALL, Call(payout, "add",
                                                 encode_args(PAYOUT, "add", bob), FUEL))
        assert submit(node, chain, 5, TxKind.FUND, Fund(payout, 10**6))["status"] == 0
        request = submit(node, chain, 6, TxKind.CALL, Call(
            consumer, "request", encode_args(CONSUMER, "request", "XL"), FUEL))
        asked = node.rpc("xl_getTransaction", request["tx_hash"])["height"]

        # (blocks come every 20 ms while the payout is scheduled, so heights move on
        # between the submissions: the first payout may be before the request)
        rounds = query(payout, "paid_rounds")
        while query(payout, "paid_rounds") == rounds:  # no transaction from here on
            pass
        assert query(consumer, "latest") == 42
        assert query(payout, "balance", abi.encode(ADDRESS, bob)) >= 5
        callback = node.rpc("xl_getReceipt", hx(run_id(hash_bytes, b"callback", asked + 1, 1)))
        assert callback is not None and callback["status"] == 0
        # a run's id counts every engine run of its block: when the payout is due in the
        # block right after the request, the oracle's run and the callback come first there
        due = (asked // 10 + 1) * 10
        found = [r for i in range(3) if (r := node.rpc(
            "xl_getReceipt", hx(run_id(hash_bytes, b"sched", due, i)))) is not None]
        assert [[e["name"] for e in r["events"]] for r in found] == [["Paid"]]
        for height in range(asked + 1, due + 1):
            assert node.rpc("xl_getBlockByHeight", height, False)["header"]["tx_count"] == 0
    finally:
        node.stop()
