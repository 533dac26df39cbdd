"""The ledger's fee and executability rules, as admission and execution both apply them."""

from __future__ import annotations

from xinlian.crypto.suites import get_suite
from xinlian.ledger import errors as e
from xinlian.ledger.account import Account
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import (
    Fees,
    base_cost,
    contract_base_cost,
    executable_error,
    fee_limit_error,
    fuel_fee,
    max_fee,
)
from xinlian.ledger.transaction import Transaction, TxBody, TxKind, decode_transaction, sign_body

SUITE = get_suite("intl")
KEY = SUITE.generate_signing_key(b"\x07" * 32)
PARAMS = ChainParams(transfer_cost=2, system_cost=10)


def _tx(nonce: int = 0, *, kind: int = TxKind.TRANSFER, fee: int = 10,
        expiry: int = 100) -> Transaction:
    body = TxBody("r", KEY.public_key, nonce, kind, b"", fee, expiry)
    return decode_transaction(sign_body(body, KEY), "r", SUITE.hash_bytes)


def test_base_cost_is_by_kind() -> None:
    assert base_cost(PARAMS, TxKind.TRANSFER) == 2
    assert base_cost(PARAMS, TxKind.SYSTEM) == 10


def test_fee_limit_must_cover_the_base_cost() -> None:
    system = Fees(10)
    assert fee_limit_error(PARAMS, _tx(kind=TxKind.SYSTEM, fee=10), system) is None
    assert isinstance(fee_limit_error(PARAMS, _tx(kind=TxKind.SYSTEM, fee=9), system),
                      e.FeeTooLow)


def test_contract_fees_cover_code_and_fuel() -> None:
    params = ChainParams(system_cost=10, code_byte_cost=2, fuel_price=3)
    assert contract_base_cost(params, 100) == 210
    assert fuel_fee(params, 1_000_000) == 3
    assert fuel_fee(params, 1) == 1  # rounded up
    assert fuel_fee(params, 0) == 0
    fees = Fees(contract_base_cost(params, 100), 2_000_000)
    assert max_fee(params, fees) == 216
    call = _tx(kind=TxKind.CALL, fee=215)
    assert isinstance(fee_limit_error(params, call, fees), e.FeeTooLow)
    assert fee_limit_error(params, _tx(kind=TxKind.CALL, fee=216), fees) is None
    # the balance must cover the most the transaction may be charged
    rich, poor = Account(216, 0), Account(215, 0)
    ok = _tx(0, kind=TxKind.CALL, fee=216)
    assert executable_error(params, ok, fees, rich, 1, True) is None
    assert isinstance(executable_error(params, ok, fees, poor, 1, True), e.InsufficientFunds)


def test_executable_when_every_rule_holds() -> None:
    assert executable_error(PARAMS, _tx(), Fees(2), Account(2, 0), 100, True) is None


def test_invalid_each_rule_names_its_error() -> None:
    rich = Account(1000, 3)
    cases = [
        (_tx(2), rich, e.NonceTooLow),
        (_tx(4), rich, e.NonceTooHigh),
        (_tx(3, expiry=99), rich, e.Expired),
        (_tx(3, fee=1), rich, e.FeeTooLow),
        (_tx(3), Account(1, 3), e.InsufficientFunds),
    ]
    for tx, account, error in cases:
        assert isinstance(executable_error(PARAMS, tx, Fees(2), account, 100, True), error)
    assert isinstance(executable_error(PARAMS, _tx(3), Fees(2), rich, 100, False), e.NotPermitted)
    open_chain = ChainParams(permissioned=False)
    assert executable_error(open_chain, _tx(3), Fees(2), rich, 100, False) is None
