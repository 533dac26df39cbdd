"""Confidential transfers called from Qi (`conf_pay`, `conf_key`, `conf_balance`,
`conf_regulated`): the example contract examples/qi/credit_sale.qi deployed and called by
signed transactions through the executor on the real VM. A proven payment to the seller
buys a credit in the same call; the payment is undone when the call reverts; a payment
proven for another contract, another nonce, a lower floor or replayed is refused with
nothing applied; the transfer is traced and opened like a native one."""

from __future__ import annotations

import pytest

from xinlian import codec
from xinlian.execution import confidential as conf
from xinlian.execution.confidential_payloads import ContractPayment, Deposit
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import Call, Deploy
from xinlian.lang import abi
from xinlian.lang.types import ADDRESS, BYTES, U64
from xinlian.ledger.block import Receipt
from xinlian.ledger.transaction import TxKind
from xinlian.sdk import confidential as client
from xinlian.testing.contracts import compile_example, encode_args

from .test_confidential import BANK_A, BANK_B, OTHER, SUITE, Chain, make_chain

SALE = compile_example("credit_sale.qi")
FUEL = 1_500_000_000
FEE = 10**5
PRICE = 100


def deploy(c: Chain, units: int = 2) -> bytes:
    nonce = c.nonce(OTHER)
    raw = c.sign(OTHER, TxKind.DEPLOY, codec.encode(Deploy(
        SALE.wasm, SALE.abi_json().encode(),
        encode_args(SALE, "init", c.addr(BANK_B), PRICE, units), FUEL)), fee=FEE)
    receipt = c.one(raw)
    assert receipt.status == 0, receipt.message
    return contract_address(SUITE.hash_bytes, c.addr(OTHER), nonce)


def call(c: Chain, i: int, contract: bytes, method: str, *args: object,
         nonce: int | None = None) -> Receipt:
    payload = Call(contract, method, encode_args(SALE, method, *args), FUEL)
    return c.one(c.sign(i, TxKind.CALL, codec.encode(payload), fee=FEE, nonce=nonce))


def payment(c: Chain, contract: bytes, amount: int, floor: int = PRICE,
            nonce: int | None = None) -> bytes:
    """Bank A's payment of `amount` to bank B for its next transaction calling `contract`."""
    return client.payment(c.secrets[BANK_A], c.account(BANK_A), c.account(BANK_B),
                          c.regulator(), amount, floor, "t", c.addr(BANK_A),
                          c.nonce(BANK_A) if nonce is None else nonce, contract,
                          SUITE.hash_bytes, c.draw)


def credits(c: Chain, contract: bytes, who: bytes) -> int:
    out = call(c, OTHER, contract, "credit_of", who)
    return int(abi.decode(U64, out.output))


def confidential_state(c: Chain) -> dict[bytes, bytes]:
    return {k: v for k, v in c.state.items() if k.startswith(b"conf/")}


@pytest.fixture(scope="module")
def sale() -> tuple[Chain, bytes]:
    c = make_chain(seed=61)
    for i in (BANK_A, BANK_B):
        assert c.register(i).status == 0
    assert c.one(c.op(BANK_A, Deposit(1000))).status == 0
    return c, deploy(c)


def test_a_proven_payment_buys_a_credit_in_the_same_call(sale: tuple[Chain, bytes]) -> None:
    c, shop = sale
    receipt = call(c, BANK_A, shop, "buy", payment(c, shop, 150))
    assert receipt.status == 0, receipt.message
    transfer_id = abi.decode(BYTES, receipt.output)
    assert (c.balance(BANK_A), c.balance(BANK_B)) == (850, 150)
    assert credits(c, shop, c.addr(BANK_A)) == 1
    assert abi.decode(ADDRESS, call(c, OTHER, shop, "buyer_of", transfer_id).output) == \
        c.addr(BANK_A)
    trace = conf.get_trace(c.read, transfer_id)
    assert trace is not None and (trace.sender, trace.receiver) == (c.addr(BANK_A),
                                                                    c.addr(BANK_B))
    # priced as its verification: the contract's fuel includes the measured figure
    assert receipt.fuel_used > conf.VERIFY_FUEL["ristretto255"][ContractPayment]
    c.check_conservation()
    # the regulator opens it like a native transfer: request, t shares, requester reads
    c.one(c.request_raw(0, transfer_id))
    c.one(c.share_raw(0, transfer_id))
    c.one(c.share_raw(1, transfer_id))
    assert c.open_amount(transfer_id) == 150


def _refused(c: Chain, contract: bytes, pay: bytes, needle: str,
             nonce: int | None = None) -> None:
    """The call fails naming `needle`; no confidential state and no credit changed."""
    before, had = confidential_state(c), credits(c, contract, c.addr(BANK_A))
    receipt = call(c, BANK_A, contract, "buy", pay, nonce=nonce)
    assert receipt.error == "confidential_refused" and needle in receipt.message
    assert confidential_state(c) == before
    assert credits(c, contract, c.addr(BANK_A)) == had


def test_invalid_payment_proven_for_another_contract(sale: tuple[Chain, bytes]) -> None:
    c, shop = sale
    other_shop = deploy(c)
    _refused(c, other_shop, payment(c, shop, 120), "confidential_invalid_proof")


def test_invalid_payment_for_another_nonce_or_replayed(sale: tuple[Chain, bytes]) -> None:
    c, shop = sale
    early = payment(c, shop, 120, nonce=c.nonce(BANK_A) + 1)
    _refused(c, shop, early, "confidential_invalid_proof")
    pay = payment(c, shop, 120)
    assert call(c, BANK_A, shop, "buy", pay).status == 0
    _refused(c, shop, pay, "confidential_stale_balance")  # the same bytes again


def test_invalid_payment_below_the_price(sale: tuple[Chain, bytes]) -> None:
    c, shop = sale
    _refused(c, shop, payment(c, shop, 50, floor=0), "confidential_malformed_proof")
    # a floor proof of a lower floor than the contract asks does not verify for the price
    _refused(c, shop, payment(c, shop, 60, floor=60), "confidential_invalid_range_proof")


def test_invalid_payment_from_another_origin(sale: tuple[Chain, bytes]) -> None:
    """A's proof in a transaction B signs: the payment is always from the origin, B,
    whose balance A's proof is not about (and whose key A does not hold)."""
    c, shop = sale
    pay = payment(c, shop, 100)
    before = confidential_state(c)
    receipt = call(c, BANK_B, shop, "buy", pay)
    assert receipt.error == "confidential_refused"
    assert "confidential_stale_balance" in receipt.message
    assert confidential_state(c) == before


def test_a_revert_after_the_payment_undoes_it() -> None:
    c = make_chain(seed=62)
    for i in (BANK_A, BANK_B):
        c.register(i)
    c.one(c.op(BANK_A, Deposit(500)))
    shop = deploy(c, units=1)
    assert call(c, BANK_A, shop, "buy", payment(c, shop, 100)).status == 0
    before = confidential_state(c)
    sold_out = call(c, BANK_A, shop, "buy", payment(c, shop, 100))
    assert (sold_out.error, sold_out.message) == ("revert", "SoldOut()")
    assert confidential_state(c) == before
    assert (c.balance(BANK_A), c.balance(BANK_B)) == (400, 100)
    c.check_conservation()

