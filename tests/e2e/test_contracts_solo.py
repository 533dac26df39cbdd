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
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import Call, Deploy
from xinlian.lang import abi
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

