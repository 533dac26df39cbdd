"""The SDK's reading of an ABI against the engine itself: what the SDK encodes the engine
decodes, the storage keys it computes are the ones the compiled code writes, events and
errors decode into their typed classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.execution.vm.local import DEFAULT_SENDER, LocalChain
from xinlian.lang import abi, show
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import ArgumentError, RevertError
from xinlian.ledger.block import Event
from xinlian.sdk import AbiMismatch, ContractFailed, ContractReverted
from xinlian.sdk.contract_abi import ContractAbi, Param, parse_error_args, zero_encoding
from xinlian.sdk.contracts import ContractCode

EXAMPLES = Path(__file__).parents[2] / "examples" / "qi"
BOB = bytes(19) + b"\xb0"

SRC = """
enum Side { Buy, Sell }
struct Order { side: Side, qty: u32, who: address }
contract C {
    state orders: map<u64, map<address, Order>>;
    state tags: list<u8>;
    state note: string;
    event Placed(indexed from: address, o: Order, event_name: string);
    error Rejected(note: string, o: Order, tags: list<u8>, raw: bytes, ok: bool, v: i16, m: u64?);
    pub fn place(id: u64, o: Order, t: list<u8>, n: string) {
        orders[id][o.who] = o; tags = t; note = n;
        emit Placed(caller(), o, n);
    }
    pub fn go(v: i16, m: u64?) {
        let who = address(hex"00000000000000000000000000000000000000b0");
        let o = Order { side: Side::Sell, qty: 7, who: who };
        revert Rejected("no \\"way\\", (really)", o, [1, 2], hex"beef", false, v, m);
    }
    pub fn plain(x: u64) { require(x > 1, "x too small"); }
    pub fn boom(x: u64) -> u64 { return x / 0; }
}
"""


@pytest.fixture(scope="module")
def token() -> tuple[LocalChain, bytes, Any]:
    art = compile_source((EXAMPLES / "token.qi").read_text(), "token.qi")
    chain = LocalChain()
    return chain, chain.deploy(art, "Tok", 1000), art


@pytest.fixture(scope="module")
def orders() -> tuple[LocalChain, bytes, ContractAbi]:
    art = compile_source(SRC, "c.qi")
    chain = LocalChain()
    return chain, chain.deploy(art), ContractAbi.of(art.abi)


def test_encoded_arguments_are_what_the_engine_decodes(token: Any) -> None:
    chain, addr, art = token
    t = ContractAbi.of(art.abi)
    payload = t.method("transfer").encode(BOB, amount=30)
    assert payload == t.method("transfer").encode(to=BOB, amount=30)
    res = chain.engine.call_raw(chain.world, addr, "transfer", payload, DEFAULT_SENDER)
    assert res.ok and res.value is True
    out = abi.encode(abi.type_from_json("u256"), chain.call(addr, "balance_of", BOB).value)
    assert t.method("balance_of").decode(out) == 30
    assert t.method("approve").decode(b"") is None
    assert t.encode_constructor("Tok", 5) == abi.encode(abi.type_from_json("string"), "Tok") \
        + (5).to_bytes(32, "little")


def test_invalid_arguments_are_typed_errors_naming_the_parameter(token: Any) -> None:
    t = ContractAbi.of(token[2].abi)
    with pytest.raises(ArgumentError, match="argument `amount` of `transfer`"):
        t.method("transfer").encode(BOB, -1)
    with pytest.raises(ArgumentError, match="misses argument `amount`"):
        t.method("transfer").encode(BOB)
    with pytest.raises(ArgumentError, match="takes 2 argument"):
        t.method("transfer").encode(BOB, 1, 2)
    with pytest.raises(ArgumentError, match="got `to` twice"):
        t.method("transfer").encode(BOB, 1, to=BOB)
    with pytest.raises(ArgumentError, match="no parameter `amt`"):
        t.method("transfer").encode(BOB, amt=1)
    with pytest.raises(ArgumentError, match="no public method `init`"):
        t.method("init")  # the constructor is no method
    with pytest.raises(AbiMismatch):
        t.method("balance_of").decode(b"\x01")


def test_keyword_parameter_takes_its_python_spelling(token: Any) -> None:
    t = ContractAbi.of(token[2].abi)
    assert t.method("transfer_from").encode(from_=BOB, to=BOB, amount=1) == \
        t.method("transfer_from").encode(**{"from": BOB, "to": BOB, "amount": 1})


def test_storage_keys_are_the_ones_the_contract_writes(token: Any, orders: Any) -> None:
    chain, addr, art = token
    t = ContractAbi.of(art.abi)
    balances = t.var("balances")
    stored = chain.world.state.get(addr, balances.key(DEFAULT_SENDER))
    assert stored is not None and balances.decode(stored) == \
        chain.call(addr, "balance_of", DEFAULT_SENDER).value
    assert chain.world.state.get(addr, balances.key(bytes(20))) is None
    assert balances.decode(None) == 0  # absent: the zero value, as the contract reads it
    assert t.var("name").decode(chain.world.state.get(addr, t.var("name").key())) == "Tok"
    with pytest.raises(ArgumentError, match="takes 2 key"):
        t.var("allowances").key(BOB)

    ochain, oaddr, c = orders
    order = {"side": "Sell", "qty": 9, "who": BOB}
    assert ochain.call(oaddr, "place", 4, order, [7, 8], "hi").ok
    assert c.var("orders").decode(ochain.world.state.get(oaddr, c.var("orders").key(4, BOB))) \
        == order
    assert c.var("tags").decode(ochain.world.state.get(oaddr, c.var("tags").key())) == [7, 8]
    assert c.var("orders").decode(None) == {"side": "Buy", "qty": 0, "who": bytes(20)}
    assert c.var("note").decode(None) == ""


def test_zero_encodings_decode_to_zero_values() -> None:
    for text, zero in [("u8", 0), ("i256", 0), ("bool", False), ("address", bytes(20)),
                       ("bytes", b""), ("string", ""), ({"list": "u64"}, []),
                       ({"optional": "u8"}, None), ({"array": "u16", "size": 3}, [0, 0, 0])]:
        t = abi.type_from_json(text)
        assert abi.decode(t, zero_encoding(t)) == zero


def test_events_decode_into_typed_classes(orders: Any) -> None:
    chain, addr, c = orders
    order = {"side": "Buy", "qty": 1, "who": BOB}
    res = chain.call(addr, "place", 1, order, [], "n")
    (raw,) = res.events
    spec = c.doc["events"][0]
    data = b"".join(abi.encode(abi.type_from_json(p["type"]), raw.args[p["name"]])
                    for p in spec["params"])  # as the node writes it into the receipt
    event = c.decode_event(Event(addr.hex(), "Placed", data))
    assert isinstance(event, c.events.Placed) and type(event).__name__ == "Placed"
    assert event.from_ == DEFAULT_SENDER and event.o == order
    assert event.event_name_ == "n"
    assert event.as_dict() == {"from": DEFAULT_SENDER, "o": order, "event_name": "n"}
    assert event.event_name == "Placed"
    with pytest.raises(AbiMismatch):
        c.decode_event(Event(addr.hex(), "Placed", data[:-1]))
    with pytest.raises(AbiMismatch, match="no event `Nope`"):
        c.decode_event(Event(addr.hex(), "Nope", data))


def test_reverts_become_the_contracts_own_exception_classes(orders: Any) -> None:
    chain, addr, c = orders
    err = chain.call(addr, "go", -3, 12).error
    assert isinstance(err, RevertError)
    exc = c.failure(err.code, err.name, err.message, err.trace, fuel_used=5)
    assert isinstance(exc, c.errors.Rejected) and isinstance(exc, ContractReverted)
    assert exc.error_name == "Rejected" and exc.remote_name == "revert"
    assert exc.error_args == {"note": 'no "way", (really)', "o": {"side": "Sell", "qty": 7,
                              "who": BOB}, "tags": [1, 2], "raw": b"\xbe\xef", "ok": False,
                              "v": -3, "m": 12}
    assert exc.trace == err.trace and exc.fuel_used == 5 and "\n" not in exc.message
    # the same ABI read again gives the same classes, so `except` clauses carry over
    assert ContractAbi.of(c.doc).errors.Rejected is c.errors.Rejected

    plain = chain.call(addr, "plain", 0).error
    assert isinstance(plain, RevertError)
    builtin = c.failure(plain.code, plain.name, plain.message, plain.trace)
    assert type(builtin) is ContractReverted
    assert builtin.error_name == "Error" and builtin.error_args == {"reason": "x too small"}

    trap = chain.call(addr, "boom", 1).error
    assert trap is not None
    failed = c.failure(trap.code, trap.name, trap.message, trap.trace)
    assert type(failed) is ContractFailed and failed.remote_name == "trap"


@given(st.text(), st.integers(-(2**15), 2**15 - 1), st.none() | st.integers(0, 2**64 - 1),
       st.lists(st.integers(0, 255), max_size=5), st.binary(max_size=8))
def test_error_arguments_read_back_what_show_writes(note: str, v: int, m: int | None,
                                                    tags: list[int], raw: bytes) -> None:
    c = ContractAbi.of(compile_source(SRC, "c.qi").abi)
    params = [Param(p["name"], abi.type_from_json(p["type"]))
              for p in c.doc["errors"][0]["params"]]
    values = [note, {"side": "Buy", "qty": 3, "who": BOB}, tags, raw, True, v, m]
    text = show.error("Rejected", [(p.name, p.type) for p in params], values)
    assert parse_error_args(params, text) == {p.name: x for p, x in zip(params, values,
                                                                          strict=True)}


def test_invalid_messages_do_not_parse_as_error_arguments() -> None:
    params = [Param("limit", abi.type_from_json("u64"))]
    assert parse_error_args(params, "TooBig(limit: 100)") == {"limit": 100}
    for bad in ["TooBig(limit: x)", "TooBig(size: 100)", "TooBig(limit: 100", "TooBig",
                "TooBig(limit: 100) and more"]:
        assert parse_error_args(params, bad) is None


def test_invalid_abi_documents_are_refused() -> None:
    for bad in [b"not json", b"[]", b'{"functions": 3}', b'{"events": []}',
                b'{"functions": [{"name": "f"}]}']:
        with pytest.raises(AbiMismatch):
            ContractAbi.of(bad)


def test_code_from_files_equals_code_from_the_compiler(tmp_path: Path) -> None:
    from xinlian.cli.main import main
    src = tmp_path / "token.qi"
    src.write_text((EXAMPLES / "token.qi").read_text())
    assert main(["qi", "compile", str(src), "--abi"]) == 0
    from_files = ContractCode.of(tmp_path / "token.wasm")
    art = compile_source(src.read_text(), str(src))
    from_art = ContractCode.of(art)
    assert from_files.wasm == from_art.wasm and from_files.abi_json == from_art.abi_json
    assert from_art.abi_json == art.abi_json().encode()
