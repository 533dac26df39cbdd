"""Contracts through the JSON-RPC of an in-process node: deploy and call by signed
transactions, then `xl_contractQuery` (at the head and at an older height),
`xl_getContract`, `xl_getContractVersions`, `xl_getContractCode`, and a contract value
proven by `xl_getStateProof` against a header; bad queries get typed errors."""

from __future__ import annotations

import asyncio
from typing import Any

from xinlian import codec
from xinlian.api.format import from_json
from xinlian.api.metering import counting
from xinlian.api.methods import FUEL_PER_UNIT
from xinlian.api.views import ChainInfo
from xinlian.execution.contracts.records import code_record, contract_address, storage_key
from xinlian.execution.payloads import Call, Deploy
from xinlian.lang import abi
from xinlian.lang.compiler import compile_source
from xinlian.lang.types import ADDRESS, IntTy
from xinlian.ledger.transaction import TxBody, TxKind, sign_body
from xinlian.node.contracts import QUERY_FUEL
from xinlian.node.interface import NodeStatus, StateProof
from xinlian.node.service import Node
from xinlian.sdk.verify import trust
from xinlian.testing.contracts import compile_example, encode_args

from .harness import CHAIN_ID, Keys, hx
from .test_jsonrpc import Rpc

TOKEN = compile_example("token.qi")
U256 = IntTy(256, False)


def contract_tx(keys: Keys, nonce: int, kind: int, payload: Any) -> bytes:
    body = TxBody(CHAIN_ID, keys.admin.public_key, nonce, kind, codec.encode(payload),
                  100_000, 1000)
    return sign_body(body, keys.admin)


def commit(rpc: Rpc, node: Node, raw: bytes) -> dict[str, Any]:
    [accepted] = rpc.result("xl_submitTransactions", [hx(raw)])
    assert accepted["accepted"], accepted
    node.produce_block()
    receipt = rpc.result("xl_getReceipt", accepted["hash"])
    assert receipt is not None
    return dict(receipt)


def test_token_deployed_called_queried_and_proven(node: Node, keys: Keys) -> None:
    rpc = Rpc(node)
    admin, alice = keys.address["admin"], keys.address["alice"]
    init = encode_args(TOKEN, "init", "Coin", 1000)
    receipt = commit(rpc, node, contract_tx(keys, 0, TxKind.DEPLOY, Deploy(
        TOKEN.wasm, TOKEN.abi_json().encode(), init, 100_000_000)))
    token = contract_address(keys.suite.hash_bytes, admin, 0)
    assert receipt["status"] == 0 and receipt["output"] == hx(token)
    deployed_at = node.chain.height
    receipt = commit(rpc, node, contract_tx(keys, 1, TxKind.CALL, Call(
        token, "transfer", encode_args(TOKEN, "transfer", alice, 25), 100_000_000)))
    assert receipt["status"] == 0 and receipt["fuel_used"] > 0

    arg = hx(abi.encode(ADDRESS, alice))
    now = rpc.result("xl_contractQuery", hx(token), "balance_of", arg)
    assert now["status"] == "ok" and now["value"] == 25
    assert now["output"] == hx(abi.encode(U256, 25))
    then = rpc.result("xl_contractQuery", hx(token), "balance_of", arg, deployed_at)
    assert then["value"] == 0 and then["height"] == deployed_at
    assert rpc.result("xl_contractQuery", hx(token), "token_name")["value"] == "Coin"

    info = rpc.result("xl_getContract", hx(token))
    assert info["admin"] == hx(admin) and info["version"] == 1 and not info["frozen"]
    assert info["upgrade"] == {"rule": "admin"}  # the token declares no `upgrade` clause
    assert info["code_hash"] == hx(code_record(keys.suite.hash_bytes, TOKEN.wasm, TOKEN.abi)[0])
    assert [f["name"] for f in info["abi"]["functions"]] == \
        [f["name"] for f in TOKEN.abi["functions"]]
    [version] = rpc.result("xl_getContractVersions", hx(token))
    assert version["version"] == 1 and version["height"] == deployed_at
    code = rpc.result("xl_getContractCode", info["code_hash"])
    assert code["wasm"] == hx(TOKEN.wasm)

    # the balance as a proven state value: key = cs/ + address + the storage key
    key = storage_key(token, bytes.fromhex("03000000") + abi.encode(ADDRESS, alice))
    proof: StateProof = from_json(rpc.result("xl_getStateProof", hx(key)), StateProof)
    verifier = trust(from_json(rpc.result("xl_chainInfo"), ChainInfo),
                     from_json(rpc.result("xl_status"), NodeStatus))
    verifier.state(proof)
    assert proof.value is not None and abi.decode(U256, proof.value) == 25


def test_bad_queries_get_typed_errors_and_the_node_keeps_serving(node: Node,
                                                                  keys: Keys) -> None:
    rpc = Rpc(node)
    commit(rpc, node, contract_tx(keys, 0, TxKind.DEPLOY, Deploy(
        TOKEN.wasm, TOKEN.abi_json().encode(), encode_args(TOKEN, "init", "C", 1),
        100_000_000)))
    token = hx(contract_address(keys.suite.hash_bytes, keys.address["admin"], 0))
    cases = [
        ((token, "no_such"), "bad_arguments"),
        ((token, "balance_of", "0x0102"), "bad_arguments"),  # wrong ABI encoding
        ((token, "transfer_from", "0x"), "bad_arguments"),
        ((hx(bytes(20)), "balance_of"), "bad_arguments"),  # not a contract
    ]
    for params, name in cases:
        result = rpc.result("xl_contractQuery", *params)
        assert result["status"] == "error" and result["error"]["name"] == name, result
    assert "error" in rpc.call("xl_contractQuery", token, "balance_of", "0xzz")
    assert "error" in rpc.call("xl_contractQuery", token, "x" * 65)
    assert "error" in rpc.call("xl_contractQuery", token, "total_supply", "0x", 99)
    assert rpc.result("xl_getContract", hx(bytes(20))) is None
    assert rpc.result("xl_getContractVersions", hx(bytes(20))) == []
    assert rpc.result("xl_getContractCode", hx(bytes(32))) is None
    assert rpc.result("xl_contractQuery", token, "total_supply")["value"] == 1


def test_a_query_is_charged_to_the_work_budget_by_its_fuel(node: Node, keys: Keys) -> None:
    rpc = Rpc(node)
    spin = compile_source("contract S { pub view fn spin() -> u64 { let mut i: u64 = 0; "
                          "while true { i += 1; } return i; } }", "s.qi")
    commit(rpc, node, contract_tx(keys, 0, TxKind.DEPLOY, Deploy(
        spin.wasm, spin.abi_json().encode(), b"", 100_000_000)))
    address = contract_address(keys.suite.hash_bytes, keys.address["admin"], 0)
    with counting() as tally:
        result = asyncio.run(rpc.server.api.contract_query(None, address, "spin", b"", None,
                                                           None))
    assert result["error"]["name"] == "out_of_fuel"
    assert result["fuel_used"] == QUERY_FUEL
    assert tally[0] == QUERY_FUEL // FUEL_PER_UNIT
