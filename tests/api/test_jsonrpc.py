"""JSON-RPC 2.0 framing and the bad-input cases of the API (issue 2, items 9 and 12).

These drive the dispatcher of a real RpcServer over an in-process node built from the real
mempool, executor and state tree (conftest.Node); test_http.py covers the sockets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian import codec
from xinlian.api.limits import Limits
from xinlian.api.server import RpcServer
from xinlian.ledger.transaction import SignedTransaction
from xinlian.node.service import Node

from .harness import Keys, hx, make_genesis, transfer, tx_hash


class Rpc:
    def __init__(self, node: Node, limits: Limits | None = None) -> None:
        self.server = RpcServer(node, limits=limits)
        self.ids = 0

    def raw(self, body: bytes) -> Any:
        reply = asyncio.run(self.server.dispatcher.handle(body, None))
        return None if reply is None else json.loads(reply)

    def send(self, message: Any) -> Any:
        return self.raw(json.dumps(message).encode())

    def call(self, method: str, *params: Any) -> Any:
        self.ids += 1
        return self.send({"jsonrpc": "2.0", "id": self.ids, "method": method,
                          "params": list(params)})

    def result(self, method: str, *params: Any) -> Any:
        reply = self.call(method, *params)
        assert "error" not in reply, reply
        return reply["result"]


@pytest.fixture
def rpc(node: Node) -> Rpc:
    return Rpc(node)


@pytest.fixture(scope="module")
def fuzz_rpc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rpc]:
    keys = Keys("intl")
    node = Node(tmp_path_factory.mktemp("fuzz"), make_genesis(keys), keys.node)
    yield Rpc(node)
    asyncio.run(node.stop())


METHODS = [
    "xl_status", "xl_chainInfo", "xl_submitTransaction", "xl_submitTransactions",
    "xl_getBlockByHeight", "xl_getBlockByHash", "xl_getTransaction", "xl_getReceipt",
    "xl_getTransactionStatus", "xl_getAccount", "xl_getStateProof", "xl_queryIndex",
    "xl_getTransactionsBySender", "xl_subscribe", "xl_unsubscribe"]


def assert_error(reply: Any, rpc_code: int, code: int, name: str | None = None) -> None:
    assert reply["jsonrpc"] == "2.0"
    assert "result" not in reply
    error = reply["error"]
    assert error["code"] == rpc_code
    assert error["data"]["code"] == code
    if name is not None:
        assert error["data"]["name"] == name
    assert error["message"] == error["data"]["message"]


# -- framing ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"{", b"not json", b'{"jsonrpc": "2.0",}', b"\xff\xfe", b""])
def test_malformed_json_is_a_parse_error(rpc: Rpc, body: bytes) -> None:
    reply = rpc.raw(body)
    assert_error(reply, -32700, 6001, "parse_error")
    assert reply["id"] is None


@pytest.mark.parametrize("request_", [
    {"jsonrpc": "1.0", "id": 7, "method": "xl_status"},
    {"id": 7, "method": "xl_status"},
    {"jsonrpc": 2.0, "id": 7, "method": "xl_status"},
    {"jsonrpc": "2.0", "id": 7, "method": 5},
    {"jsonrpc": "2.0", "id": 7, "method": "xl_status", "extra": 1},
])
def test_invalid_request_echoes_a_valid_id(rpc: Rpc, request_: Any) -> None:
    reply = rpc.send(request_)
    assert_error(reply, -32600, 6002, "invalid_request")
    assert reply["id"] == 7


@pytest.mark.parametrize("request_", [
    [1], "xl_status", 42, None,
    {"jsonrpc": "2.0", "id": [1], "method": "xl_status"},
    {"jsonrpc": "2.0", "id": True, "method": "xl_status"},
    {"jsonrpc": "2.0", "id": 1.5, "method": "xl_status"},
])
def test_non_request_values_are_invalid_with_null_id(rpc: Rpc, request_: Any) -> None:
    reply = rpc.send(request_)
    if isinstance(request_, list):
        (reply,) = reply
    assert_error(reply, -32600, 6002)
    assert reply["id"] is None


def test_unknown_method(rpc: Rpc) -> None:
    assert_error(rpc.call("eth_blockNumber"), -32601, 6003, "method_not_found")
    assert_error(rpc.call("xl_subscribe", "newBlocks"), -32601, 6009, "websocket_only")


@pytest.mark.parametrize(("method", "params"), [
    ("xl_getBlockByHeight", ["1"]),
    ("xl_getBlockByHeight", [True]),
    ("xl_getBlockByHeight", [-1]),
    ("xl_getBlockByHeight", [1.0]),
    ("xl_getBlockByHeight", []),
    ("xl_getBlockByHeight", [1, "yes"]),
    ("xl_getBlockByHeight", [1, False, 3]),
    ("xl_getBlockByHeight", {"heigth": 1}),
    ("xl_getBlockByHeight", "1"),
    ("xl_getBlockByHash", ["0x1234"]),
    ("xl_getBlockByHash", ["ab" * 32]),
    ("xl_getBlockByHash", ["0x" + "zz" * 32]),
    ("xl_getAccount", ["0x" + "00" * 19]),
    ("xl_getAccount", ["0x" + "00" * 20, "latest"]),
    ("xl_getStateProof", ["0x" + "00" * 1025]),
    ("xl_getTransactionsBySender", ["0x" + "00" * 20, 0, 1001]),
    ("xl_queryIndex", ["0x02", "0x01"]),
    ("xl_queryIndex", ["0x01", "0x01"]),
    ("xl_queryIndex", ["0x01", None, "up"]),
    ("xl_queryIndex", ["0x01", None, "desc", 0]),
    ("xl_queryIndex", ["0x01", None, "desc", 1001]),
    ("xl_queryIndex", ["0x" + "00" * 4097]),
    ("xl_submitTransactions", [[]]),
    ("xl_submitTransactions", ["0x00"]),
    ("xl_submitTransactions", [["0x00", 5]]),
    ("xl_submitTransaction", ["0x0"]),
    ("xl_submitTransaction", [{"tx": "0x00"}]),
])
def test_wrong_params_are_invalid_params(rpc: Rpc, method: str, params: Any) -> None:
    rpc.ids += 1
    reply = rpc.send({"jsonrpc": "2.0", "id": rpc.ids, "method": method, "params": params})
    assert_error(reply, -32602, 6004, "invalid_params")


def test_named_and_positional_params_agree(rpc: Rpc) -> None:
    by_position = rpc.result("xl_getBlockByHeight", 0, False)
    by_name = rpc.send({"jsonrpc": "2.0", "id": "a", "method": "xl_getBlockByHeight",
                        "params": {"height": 0}})
    assert by_name["id"] == "a"
    assert by_name["result"] == by_position
    assert by_position["header"]["height"] == 0
    assert rpc.result("xl_getBlockByHeight", 99) is None


def test_notifications_get_no_reply(rpc: Rpc, node: Node, keys: Keys) -> None:
    assert rpc.send({"jsonrpc": "2.0", "method": "xl_status"}) is None
    assert rpc.send({"jsonrpc": "2.0", "method": "no_such_method"}) is None
    assert rpc.send([{"jsonrpc": "2.0", "method": "xl_status"}] * 3) is None
    # a notification still acts: the transaction is admitted
    raw = transfer(keys)
    assert rpc.send({"jsonrpc": "2.0", "method": "xl_submitTransaction",
                     "params": [hx(raw)]}) is None
    assert len(node.mempool) == 1


def test_batch_with_mixed_good_and_bad_requests(rpc: Rpc) -> None:
    reply = rpc.send([
        {"jsonrpc": "2.0", "id": 1, "method": "xl_status"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        {"jsonrpc": "2.0", "method": "xl_status"},
        {"jsonrpc": "2.0", "id": 3, "method": "xl_getBlockByHeight", "params": ["x"]},
        {"foo": "bar"},
        {"jsonrpc": "2.0", "id": "four", "method": "xl_getBlockByHeight", "params": [0]},
    ])
    assert [r["id"] for r in reply] == [1, 2, 3, None, "four"]
    assert reply[0]["result"]["chain_id"] == "test-chain"
    assert_error(reply[1], -32601, 6003)
    assert_error(reply[2], -32602, 6004)
    assert_error(reply[3], -32600, 6002)
    assert reply[4]["result"]["header"]["height"] == 0


def test_batch_limits(node: Node) -> None:
    rpc = Rpc(node, Limits(max_batch_requests=2))
    assert_error(rpc.send([]), -32600, 6002)
    assert_error(rpc.send([{"jsonrpc": "2.0", "id": i, "method": "xl_status"}
                           for i in range(3)]), -32600, 6006, "batch_too_large")
    assert len(rpc.send([{"jsonrpc": "2.0", "id": i, "method": "xl_status"}
                         for i in range(2)])) == 2
    rpc = Rpc(node, Limits(max_batch_txs=2))
    assert_error(rpc.call("xl_submitTransactions", ["0x00"] * 3), -32602, 6004)


def test_handler_crash_is_an_internal_error_and_serving_goes_on(rpc: Rpc,
                                                               node: Node) -> None:
    def broken() -> Any:
        raise RuntimeError("disk on fire")
    node.status = broken  # type: ignore[method-assign]
    reply = rpc.call("xl_status")
    assert_error(reply, -32603, 6007, "internal_error")
    assert "disk" not in reply["error"]["message"]
    assert rpc.result("xl_getBlockByHeight", 0)["header"]["height"] == 0


# -- bad transactions (item 12): each gets its typed code; nothing bad commits ----------

def test_each_bad_transaction_gets_its_typed_error(rpc: Rpc, node: Node,
                                                   keys: Keys) -> None:
    good = transfer(keys, amount=10)
    assert rpc.result("xl_submitTransaction", hx(good))["hash"] == hx(tx_hash(keys, good))

    signed = codec.decode(transfer(keys, nonce=1), SignedTransaction)
    forged = codec.encode(SignedTransaction(signed.body, keys.bob.sign(b"something else")))
    oversize = transfer(keys, nonce=1, memo=b"x" * 256) + b"\x00" * 40_000
    cases = {
        "malformed hex": ("0x12345", -32602, 6004),
        "not hex": ("0xgg", -32602, 6004),
        "no 0x": (good.hex(), -32602, 6004),
        "malformed bytes": (hx(b"\x92\xc4"), 1001, 1001),
        "wrong type": (hx(codec.encode([1, 2, 3])), 1002, 1002),
        "trailing bytes": (hx(good + b"\x00"), 1001, 1001),
        "wrong signature": (hx(forged), 4003, 4003),
        "wrong chain id": (hx(transfer(keys, nonce=1, chain="other-chain")), 4002, 4002),
        "duplicate": (hx(good), 4009, 4009),
        "not permitted": (hx(transfer(keys, sender="carol")), 4010, 4010),
        "oversize": (hx(oversize), 4007, 4007),
        # admission counts what a transfer moves, not only its fee
        "overdraft": (hx(transfer(keys, nonce=1, amount=10**9)), 4006, 4006),
    }
    for what, (param, rpc_code, code) in cases.items():
        reply = rpc.call("xl_submitTransaction", param)
        assert reply["error"]["code"] == rpc_code, what
        assert reply["error"]["data"]["code"] == code, what

    block = node.produce_block()
    assert block is not None and block.txs == [good]
    receipt = rpc.result("xl_getReceipt", hx(tx_hash(keys, good)))
    assert receipt["status"] == 0
    bob = rpc.result("xl_getAccount", hx(keys.address["bob"]))
    assert bob["account"]["balance"] == 10  # the overdraft moved nothing

    replay = rpc.call("xl_submitTransaction", hx(good))
    assert_error(replay, 4004, 4004, "nonce_too_low")
    assert replay["error"]["data"]["hash"].startswith("0x")
    assert rpc.result("xl_status")["height"] == 1


def test_batch_submission_reports_per_transaction(rpc: Rpc, node: Node,
                                                  keys: Keys) -> None:
    txs = [transfer(keys, nonce=n) for n in range(3)]
    results = rpc.result("xl_submitTransactions",
                         [hx(txs[0]), hx(b"\x00"), hx(txs[1]),
                          hx(transfer(keys, nonce=2, chain="x")), hx(txs[2])])
    assert [r["accepted"] for r in results] == [True, False, True, False, True]
    assert results[1]["error"]["code"] == 1002
    assert results[3]["error"] == {"code": 4002, "name": "wrong_chain_id",
                                   "message": results[3]["error"]["message"]}
    assert "error" not in results[0]
    block = node.produce_block()
    assert block is not None and block.txs == txs
    # a format error in any item refuses the whole call before the node sees it
    before = len(node.mempool)
    reply = rpc.call("xl_submitTransactions", [hx(transfer(keys, nonce=3)), "0xnothex"])
    assert_error(reply, -32602, 6004)
    assert "txs[1]" in reply["error"]["message"]
    assert len(node.mempool) == before


def test_deeply_nested_json_is_refused(rpc: Rpc) -> None:
    # more arrays and objects than a full batch needs: refused before it is parsed
    assert_error(rpc.raw(b"[" * 100_000 + b"]" * 100_000), -32600, 6005)
    assert_error(rpc.raw(b'{"a":' * 50_000 + b"1" + b"}" * 50_000), -32600, 6005)
    # within that count but deeper than any request: a parse error
    assert_error(rpc.raw(b"[" * 4000 + b"]" * 4000), -32700, 6001)
    assert_error(rpc.raw(b'{"a":' * 4000 + b"1" + b"}" * 4000), -32700, 6001)
    assert rpc.result("xl_status")["height"] == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["0x", "0x00", "0x" + "ab" * 20, "0x" + "cd" * 32,
                                             "newBlocks", "txStatus", "latest"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["height", "hash", "full", "tx", "txs", "address", "key", "offset",
                         "limit", "kind", "x"]), inner, max_size=3),
    max_leaves=12)


@given(method=st.sampled_from([*METHODS, "nope"]), params=json_values,
       request_id=st.one_of(st.integers(), st.text(max_size=4), st.none()))
def test_any_params_get_a_well_formed_answer_and_never_an_internal_error(
        fuzz_rpc: Rpc, method: str, params: Any, request_id: Any) -> None:
    reply = fuzz_rpc.send({"jsonrpc": "2.0", "id": request_id, "method": method,
                           "params": params})
    assert reply["jsonrpc"] == "2.0" and reply["id"] == request_id
    if "error" in reply:
        assert set(reply["error"]) == {"code", "message", "data"}
        assert reply["error"]["code"] != -32603, reply  # bad input never reaches a handler
        assert {"code", "name", "message"} <= set(reply["error"]["data"])
    else:
        assert set(reply) == {"jsonrpc", "id", "result"}
