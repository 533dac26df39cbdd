"""Contract transactions built by the SDK: payloads, fees, addresses, and the wrapper's
operations (driven here by hand: each request it yields is answered by the test)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xinlian import codec
from xinlian.crypto.signing import verify
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import Call, Deploy, Fund, Upgrade
from xinlian.lang import abi
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import ArgumentError
from xinlian.ledger.block import Event, Receipt
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.transaction import SignedTransaction, TxBody, TxKind, signing_message
from xinlian.sdk import ContractReverted, TxRejected
from xinlian.sdk.contract_abi import ContractAbi
from xinlian.sdk.contracts import Contract, ContractCode, ContractReceipt, Options, deploy
from xinlian.sdk.ops import Op, Ops, Send
from xinlian.sdk.wallet import DEFAULT_FUEL_LIMIT, Wallet, contract_fee_limit

EXAMPLES = Path(__file__).parents[2] / "examples" / "qi"
PARAMS = ChainParams(system_cost=10, code_byte_cost=2, fuel_price=3)
BOB = bytes(19) + b"\xb0"


@pytest.fixture(scope="module")
def art() -> Any:
    return compile_source((EXAMPLES / "token.qi").read_text(), "token.qi")


def wallet() -> Wallet:
    suite = get_suite("intl")
    return Wallet(suite.generate_signing_key(bytes([7]) * 32), "c1", suite, params=PARAMS,
                  nonce=4, height=100)


def body_of(raw: bytes) -> TxBody:
    signed = codec.decode(raw, SignedTransaction)
    body = codec.decode(signed.body, TxBody)
    assert verify(body.sender, signing_message(signed.body), signed.signature)
    return body


def test_contract_transactions_carry_their_payloads_and_fees(art: Any) -> None:
    w = wallet()
    code = ContractCode.of(art)
    args = code.abi.encode_constructor("Tok", 10)
    d = w.deploy(code.wasm, code.abi_json, args, fuel_limit=1_000_001)
    body = body_of(d.raw)
    assert (body.kind, body.nonce, body.chain_id, body.expiry) == (TxKind.DEPLOY, 4, "c1",
                                                                   100 + w.expiry_window)
    assert codec.decode(body.payload, Deploy) == Deploy(code.wasm, code.abi_json, args,
                                                        1_000_001)
    # base 10 + 2 per code byte + ceil(1,000,001 x 3 / 1e6) = 4
    assert body.fee_limit == 10 + 2 * len(code.wasm) + 4
    assert body.fee_limit == contract_fee_limit(PARAMS, 1_000_001, len(code.wasm))

    c = body_of(w.call(BOB, "transfer", b"\x01", fee_limit=77).raw)
    assert (c.kind, c.nonce, c.fee_limit) == (TxKind.CALL, 5, 77)
    assert codec.decode(c.payload, Call) == Call(BOB, "transfer", b"\x01", DEFAULT_FUEL_LIMIT)
    u = body_of(w.upgrade(BOB, b"\x00asm", b"{}", fuel_limit=0).raw)
    assert (u.kind, u.fee_limit) == (TxKind.UPGRADE, 10 + 2 * 4)
    assert codec.decode(u.payload, Upgrade) == Upgrade(BOB, b"\x00asm", b"{}", 0)
    f = body_of(w.fund(BOB, 500).raw)
    assert (f.kind, f.fee_limit) == (TxKind.FUND, PARAMS.system_cost)
    assert codec.decode(f.payload, Fund) == Fund(BOB, 500)
    assert w.nonce == 8


def test_contract_address_follows_sender_and_nonce() -> None:
    w = wallet()
    h = w.suite.hash_bytes
    expected = h(b"xinlian/contract/v1" + w.address + (4).to_bytes(8, "big"))[-20:]
    assert w.contract_address(4) == expected != w.contract_address(5)


def run(op: Op[Any], answer: Callable[[Any], Any]) -> Any:
    """Drive an operation: each request it yields gets `answer(request)`."""
    try:
        request = next(op)
        while True:
            try:
                reply = answer(request)
            except TxRejected as exc:
                request = op.throw(exc)
            else:
                request = op.send(reply)
    except StopIteration as done:
        return done.value


def ok_receipt(tx_hash: bytes, output: bytes = b"", events: list[Event] | None = None
               ) -> Receipt:
    return Receipt(tx_hash, 0, "", events or [], 12, 13, output=output, fuel_used=2_000_000)


def test_a_method_call_signs_sends_and_decodes_its_receipt(art: Any) -> None:
    w = wallet()
    sent: list[Send] = []

    def answer(request: Any) -> Any:
        assert isinstance(request, Send)
        sent.append(request)
        transfer = abi.encode(abi.type_from_json("u256"), 3)
        return ok_receipt(request.tx.hash, abi.encode(abi.type_from_json("bool"), True), [
            Event(BOB.hex(), "Transfer", w.address + BOB + transfer),
            Event("transfer", "Transfer", b"native"),
        ])

    token = Contract(lambda op: run(op, answer), Ops(None, None), BOB,
                     ContractAbi.of(art.abi), w, Options(fuel_limit=5_000_000, timeout=9))
    out = token.transfer(BOB, 3)
    assert isinstance(out, ContractReceipt)
    assert out.value is True and out.contract == BOB and out.fuel_used == 2_000_000
    assert out.tx_hash == sent[0].tx.hash and sent[0].timeout == 9
    typed, raw = out.events
    assert isinstance(typed, token.events.Transfer) and typed.amount == 3
    assert raw == Event("transfer", "Transfer", b"native")  # not this contract's: kept raw
    call = codec.decode(body_of(sent[0].tx.raw).payload, Call)
    assert call == Call(BOB, "transfer", token.abi.method("transfer").encode(BOB, 3), 5_000_000)
    assert token.fn("transfer").method.name == "transfer"
    assert "transfer_from" in dir(token)
    with pytest.raises(AttributeError):
        token.no_such_method  # noqa: B018


def test_a_failed_run_raises_the_contracts_error_with_its_receipt(art: Any) -> None:
    w = wallet()

    def answer(request: Any) -> Any:
        return Receipt(request.tx.hash, 7506, "revert", [], 12, 13,
                       message="InsufficientBalance(have: 1, want: 3)\n  at transfer (t:1:1)",
                       trace=["transfer (t:1:1)"], fuel_used=99)

    token = Contract(lambda op: run(op, answer), Ops(None, None), BOB,
                     ContractAbi.of(art.abi), w)
    with pytest.raises(token.errors.InsufficientBalance) as info:
        token.transfer(BOB, 3)
    exc = info.value
    assert isinstance(exc, ContractReverted) and exc.error_args == {"have": 1, "want": 3}
    assert exc.receipt is not None and exc.receipt.status == 7506 and exc.fuel_used == 99
    assert exc.trace == ["transfer (t:1:1)"] and exc.message == \
        "InsufficientBalance(have: 1, want: 3)"


def test_a_refused_transaction_gives_its_nonce_back(art: Any) -> None:
    w = wallet()

    def answer(request: Any) -> Any:
        raise TxRejected(-32000, 4006, "insufficient_funds", "poor", request.tx.hash)

    token = Contract(lambda op: run(op, answer), Ops(None, None), BOB,
                     ContractAbi.of(art.abi), w)
    with pytest.raises(TxRejected):
        token.transfer(BOB, 3)
    assert w.nonce == 4


def test_invalid_calls_fail_before_anything_is_signed(art: Any) -> None:
    w = wallet()
    token = Contract(lambda op: pytest.fail("nothing may be sent"), Ops(None, None), BOB,
                     ContractAbi.of(art.abi), w)
    with pytest.raises(ArgumentError):
        token.transfer(BOB, -1)
    with pytest.raises(ArgumentError, match="needs a wallet"):
        Contract(lambda op: None, Ops(None, None), BOB, ContractAbi.of(art.abi)).mint(BOB, 1)
    assert w.nonce == 4


def test_deploy_checks_the_address_the_node_reports(art: Any) -> None:
    code = ContractCode.of(art)
    w = wallet()
    where = w.contract_address(w.nonce)
    out = run(deploy(w, code, code.abi.encode_constructor("T", 1), Options()),
              lambda request: ok_receipt(request.tx.hash, where))
    assert out.contract == where and out.value is None
    w = wallet()
    with pytest.raises(Exception, match="the node put the contract at"):
        run(deploy(w, code, code.abi.encode_constructor("T", 1), Options()),
            lambda request: ok_receipt(request.tx.hash, bytes(20)))
