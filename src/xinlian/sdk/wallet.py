"""A wallet: one signing key, its address on a chain, and the next nonce to use.

The wallet signs offline: it needs the chain id, suite and fee parameters (from
`Client.wallet` / `AsyncClient.wallet`, or given directly) but no connection. Each built
transaction takes the next nonce; if the node refuses one, `rewind` to the nonce the node
expects before building more.
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian import codec
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite, get_suite
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import (
    Call,
    Deploy,
    Fund,
    SetAdmin,
    SystemOp,
    Transfer,
    Upgrade,
)
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import Fees, contract_base_cost, data_base_cost, max_fee
from xinlian.ledger.transaction import TxBody, TxKind, sign_body

DEFAULT_EXPIRY_WINDOW = 10_000  # blocks a transaction stays includable after `height`
# fuel a contract transaction may burn unless told otherwise: a token transfer burns about
# 2.4 million, and at the default price (1 unit per million fuel) this limit reserves 100
DEFAULT_FUEL_LIMIT = 100_000_000


def contract_fee_limit(params: ChainParams, fuel_limit: int, code_len: int = 0) -> int:
    """The smallest fee limit the node admits for a contract transaction (ledger/rules.py):
    the base cost (`system_cost`, plus `code_byte_cost` per byte of code deployed or
    upgraded) and the fuel limit at the chain's `fuel_price` (per million fuel, rounded up)."""
    return max_fee(params, Fees(contract_base_cost(params, code_len), fuel_limit))


@dataclass(frozen=True)
class SignedTx:
    raw: bytes    # the wire encoding to submit
    hash: bytes   # the transaction hash (of the signed body)
    nonce: int


class Wallet:
    def __init__(self, key: SigningKey, chain_id: str, suite: Suite | str, *,
                 params: ChainParams | None = None, nonce: int = 0, height: int = 0,
                 expiry_window: int = DEFAULT_EXPIRY_WINDOW, account: bytes | None = None
                 ) -> None:
        """`account`: the account a suite migration bound `key` to (docs/pq.md; None: the
        key's own address). `suite` is the chain's, whatever the key's algorithm: its hash
        names the transactions."""
        self.key = key
        self.chain_id = chain_id
        self.suite = get_suite(suite) if isinstance(suite, str) else suite
        self.params = params or ChainParams()
        self.nonce = nonce
        self.height = height  # the chain height the default expiry counts from
        self.expiry_window = expiry_window
        self.address = (address_of(key.public_key, self.suite.hash_bytes) if account is None
                        else account)

    @property
    def public_key(self) -> PublicKey:
        return self.key.public_key

    def sign(self, kind: TxKind, payload: bytes, *, fee_limit: int | None = None,
             expiry: int | None = None) -> SignedTx:
        """Sign a transaction of `kind` with the next nonce. The fee limit defaults to the
        kind's base cost, the expiry to `height + expiry_window`."""
        if fee_limit is None:
            fee_limit = (self.params.transfer_cost if kind == TxKind.TRANSFER
                         else self.params.system_cost)
        if expiry is None:
            expiry = self.height + self.expiry_window
        body = TxBody(self.chain_id, self.key.public_key, self.nonce, int(kind), payload,
                      fee_limit, expiry)
        raw = sign_body(body, self.key)
        self.nonce += 1
        return SignedTx(raw, self.suite.hash_bytes(codec.encode(body)), body.nonce)

    def transfer(self, to: bytes, amount: int, memo: bytes = b"", *,
                 fee_limit: int | None = None, expiry: int | None = None) -> SignedTx:
        return self.sign(TxKind.TRANSFER, codec.encode(Transfer(to, amount, memo)),
                         fee_limit=fee_limit, expiry=expiry)

    def system(self, op: SystemOp, *, fee_limit: int | None = None,
               expiry: int | None = None) -> SignedTx:
        """A membership or permission operation (execution.payloads)."""
        return self.sign(TxKind.SYSTEM, codec.encode(op), fee_limit=fee_limit, expiry=expiry)

    def deploy(self, code: bytes, abi: bytes, args: bytes = b"", *,
               fuel_limit: int = DEFAULT_FUEL_LIMIT, fee_limit: int | None = None,
               expiry: int | None = None) -> SignedTx:
        """Install a contract (`code` its Wasm, `abi` its ABI JSON, `args` the encoded
        constructor arguments); it lands at `contract_address(tx.nonce)`."""
        if fee_limit is None:
            fee_limit = contract_fee_limit(self.params, fuel_limit, len(code))
        return self.sign(TxKind.DEPLOY, codec.encode(Deploy(code, abi, args, fuel_limit)),
                         fee_limit=fee_limit, expiry=expiry)

    def call(self, contract: bytes, method: str, args: bytes = b"", *,
             fuel_limit: int = DEFAULT_FUEL_LIMIT, fee_limit: int | None = None,
             expiry: int | None = None) -> SignedTx:
        """Call a public method with ABI-encoded arguments."""
        if fee_limit is None:
            fee_limit = contract_fee_limit(self.params, fuel_limit)
        return self.sign(TxKind.CALL, codec.encode(Call(contract, method, args, fuel_limit)),
                         fee_limit=fee_limit, expiry=expiry)

    def upgrade(self, contract: bytes, code: bytes, abi: bytes, *,
                fuel_limit: int = DEFAULT_FUEL_LIMIT, fee_limit: int | None = None,
                expiry: int | None = None) -> SignedTx:
        """Replace a contract's code (its admin only); `fuel_limit` bounds `migrate`."""
        if fee_limit is None:
            fee_limit = contract_fee_limit(self.params, fuel_limit, len(code))
        return self.sign(TxKind.UPGRADE,
                         codec.encode(Upgrade(contract, code, abi, fuel_limit)),
                         fee_limit=fee_limit, expiry=expiry)

    def fund(self, contract: bytes, amount: int, *, fee_limit: int | None = None,
             expiry: int | None = None) -> SignedTx:
        """Prepay `amount` into a contract's balance for its scheduled runs."""
        return self.sign(TxKind.FUND, codec.encode(Fund(contract, amount)),
                         fee_limit=fee_limit, expiry=expiry)

    def set_admin(self, contract: bytes, admin: bytes, *, fee_limit: int | None = None,
                  expiry: int | None = None) -> SignedTx:
        """Hand a contract's admin role to `admin` (its admin only)."""
        return self.sign(TxKind.SET_ADMIN, codec.encode(SetAdmin(contract, admin)),
                         fee_limit=fee_limit, expiry=expiry)

    def data(self, kind: TxKind, payload: bytes, *, fee_limit: int | None = None,
             expiry: int | None = None) -> SignedTx:
        """A data transaction (DATA_COLLECTION or DATA_WRITE, execution/data/model.py) with
        its encoded payload; the fee limit defaults to its cost by the byte."""
        if fee_limit is None:
            fee_limit = data_base_cost(self.params, len(payload))
        return self.sign(kind, payload, fee_limit=fee_limit, expiry=expiry)

    def contract_address(self, nonce: int) -> bytes:
        """Where this wallet's deployment with `nonce` puts its contract."""
        return contract_address(self.suite.hash_bytes, self.address, nonce)

    def rewind(self, nonce: int) -> None:
        """Continue from `nonce` (after a refused transaction left a gap)."""
        self.nonce = nonce
