"""Contracts through the SDK: deploy, call, query, prove, upgrade and fund, typed by the ABI.

The operations are generators (sdk.ops) shared by both clients; a contract transaction
yields `Send` (submit and wait, which each client does its own way). `Contract` is the
typed wrapper: `token.transfer(to, 10)` signs, submits, waits and returns a
`ContractReceipt` with the decoded return value and typed events; `token.balance_of(a)`
(a `view` method) runs the read-only `contract_query`; `token.proof("balances", a)` proves
a stored value against a verified header; `token.events("Transfer", from_=a)` pages the
node's index of its events, every page proven complete. On an `AsyncClient` the same calls
return awaitables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from xinlian.execution.contracts.records import storage_key
from xinlian.lang.compiler import Artifact
from xinlian.lang.errors import ArgumentError
from xinlian.ledger.block import Event, Receipt
from xinlian.node.interface import QueryResult, StateProof
from xinlian.sdk import calls, contract_reads
from xinlian.sdk.contract_abi import (
    ContractAbi,
    ContractEvent,
    Method,
    Names,
    canonical_json,
    py_name,
)
from xinlian.sdk.errors import AbiMismatch, IndexQueryError, TxRejected
from xinlian.sdk.indexes import IndexPage, events_plan
from xinlian.sdk.ops import Op, Ops, Send
from xinlian.sdk.wallet import DEFAULT_FUEL_LIMIT, SignedTx, Wallet


@dataclass(frozen=True)
class ContractCode:
    """Code to deploy or upgrade to: the Wasm module and its ABI."""

    wasm: bytes
    abi: ContractAbi

    @property
    def abi_json(self) -> bytes:
        """The ABI as sent on the chain (the text `qi compile --abi` writes)."""
        return canonical_json(self.abi.doc).encode()

    @staticmethod
    def of(source: CodeSource) -> ContractCode:
        """From a compiled `Artifact`, or the path of a `.wasm` file with its ABI beside it
        (`token.wasm` and `token.abi.json`, as `xinlian qi compile --abi` writes them)."""
        if isinstance(source, ContractCode):
            return source
        if isinstance(source, Artifact):
            return ContractCode(source.wasm, ContractAbi.of(source.abi))
        return ContractCode.from_files(Path(source))

    @staticmethod
    def from_files(wasm: Path, abi: Path | None = None) -> ContractCode:
        abi_path = abi if abi is not None else wasm.with_suffix(".abi.json")
        return ContractCode(wasm.read_bytes(), ContractAbi.of(abi_path.read_bytes()))


CodeSource = Artifact | ContractCode | str | PathLike[str]
NO_ABI = ContractAbi.of({"functions": []})


@dataclass(frozen=True)
class ContractReceipt:
    """A committed, successful contract transaction: the decoded return value (`None` for
    methods that return nothing; deployments and upgrades have none), this contract's
    events as typed objects (others' as raw `Event`s), and the receipt itself."""

    contract: bytes  # the contract's address (for a deployment: the new one)
    tx_hash: bytes
    value: Any
    events: list[ContractEvent | Event]
    receipt: Receipt = field(repr=False)

    @property
    def fuel_used(self) -> int:
        return self.receipt.fuel_used

    @property
    def fee_paid(self) -> int:
        return self.receipt.fee_paid


@dataclass(frozen=True)
class ProvenValue:
    """A contract's stored value, proven against a header signed by the trusted node key:
    `present` is False when the entry is provably absent (the value is then the type's
    zero value, as the contract reads it)."""

    value: Any
    present: bool
    height: int
    proof: StateProof = field(repr=False)


def source_of(address: bytes) -> str:
    """How receipts name a contract as an event's source: its address in hex."""
    return address.hex()


def decode_events(abi: ContractAbi, address: bytes, events: list[Event]
                  ) -> list[ContractEvent | Event]:
    """This contract's events as typed objects; events of others (and the chain's own,
    such as `Funded`) stay raw."""
    mine = source_of(address)
    return [abi.decode_event(e) if e.source == mine and e.name in abi.events else e
            for e in events]


def receipt_outcome(abi: ContractAbi, address: bytes, method: Method | None, tx_hash: bytes,
                    receipt: Receipt, *, typed_events: bool = True) -> ContractReceipt:
    """The typed outcome of a committed contract transaction; the typed `ContractFailed`
    (a `ContractReverted` subclass for the contract's own errors) if it failed.
    `typed_events`: False for a FUND, whose events are the chain's own."""
    if receipt.status != 0:
        raise abi.failure(receipt.status, receipt.error, receipt.message, receipt.trace,
                          fuel_used=receipt.fuel_used, receipt=receipt)
    value = method.decode(receipt.output) if method is not None else None
    events: list[ContractEvent | Event] = (decode_events(abi, address, receipt.events)
                                           if typed_events else list(receipt.events))
    return ContractReceipt(address, tx_hash, value, events, receipt)


def is_approval(address: bytes, new_abi: ContractAbi, receipt: Receipt) -> bool:
    """Whether a committed UPGRADE only recorded an approval (a k-of-n upgrade rule short
    of k: the chain's own `UpgradeApproved` event) and left the code as it was."""
    return "UpgradeApproved" not in new_abi.events and any(
        e.source == source_of(address) and e.name == "UpgradeApproved" for e in receipt.events)


def send(wallet: Wallet, tx: SignedTx, timeout: float) -> Op[Receipt]:
    """Submit and wait; a refused transaction gives its nonce back to the wallet when it
    was the last one built, so the next transaction does not leave a gap."""
    try:
        receipt: Receipt = yield Send(tx, timeout)
    except TxRejected:
        if wallet.nonce == tx.nonce + 1:
            wallet.rewind(tx.nonce)
        raise
    return receipt


@dataclass
class Options:
    """Defaults of a wrapper's transactions (each call may override them)."""

    fuel_limit: int = DEFAULT_FUEL_LIMIT
    fee_limit: int | None = None
    timeout: float = 30.0


def deploy(wallet: Wallet, code: ContractCode, args: bytes, options: Options
           ) -> Op[ContractReceipt]:
    """Deploy and check where the contract landed: the address computed here from the
    wallet's address and the transaction's nonce must be the one the node reports."""
    tx = wallet.deploy(code.wasm, code.abi_json, args, fuel_limit=options.fuel_limit,
                       fee_limit=options.fee_limit)
    address = wallet.contract_address(tx.nonce)
    receipt = yield from send(wallet, tx, options.timeout)
    outcome = receipt_outcome(code.abi, address, None, tx.hash, receipt)
    if receipt.output != address:
        raise AbiMismatch(f"the node put the contract at 0x{receipt.output.hex()}, "
                          f"expected 0x{address.hex()}")
    return outcome


def fund(wallet: Wallet, address: bytes, amount: int, options: Options
         ) -> Op[ContractReceipt]:
    """Move `amount` from the wallet's balance into the contract's prepaid balance (its
    receipt's event `Funded` is the chain's own, so it stays raw)."""
    tx = wallet.fund(address, amount, fee_limit=options.fee_limit)
    return (yield from _transaction(NO_ABI, address, None, wallet, tx, options.timeout,
                                    typed_events=False))


def query(abi: ContractAbi, address: bytes, method: Method, args: bytes,
          height: int | None, caller: bytes | None) -> Op[Any]:
    """Run a method read-only on a block's state (the latest without `height`), as
    `caller` (default: the zero address)."""
    result: QueryResult = yield calls.contract_query(address, method.name, args, height,
                                                     caller)
    if result.status != "ok":
        error = result.error or {}
        code, name = error.get("code"), error.get("name")
        raise abi.failure(code if type(code) is int else 0, str(name or "unknown"),
                          result.message, result.trace, fuel_used=result.fuel_used)
    return method.decode(result.output)


def prove(ops: Ops, abi: ContractAbi, address: bytes, var: str, keys: tuple[Any, ...],
          height: int | None) -> Op[ProvenValue]:
    """A stored value with its proof, checked against a verified header."""
    spec = abi.var(var)
    proof = yield from ops.state_proof(storage_key(address, spec.key(*keys)), height, True)
    return ProvenValue(spec.decode(proof.value), proof.value is not None,
                       proof.header.height, proof)


@dataclass(frozen=True)
class IndexedEvent:
    """An event found in the node's index: the typed event and where it was emitted (as
    `sdk.indexes.EventRecord`: `engine_run` when an async delivery, a callback or a
    scheduled run emitted it); `key` is its index key."""

    event: ContractEvent
    height: int
    tx_index: int
    event_index: int
    engine_run: bool
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class EventFilter:
    """Which events to page: `field` (a Qi parameter name) equal to `equals`, or from `lo`
    to `hi` (both included); no field: every event of the name."""

    field: str | None = None
    equals: Any = None
    lo: Any = None
    hi: Any = None
    has_equals: bool = False


def event_filter(abi: ContractAbi, name: str, where: dict[str, Any], field_name: str | None,
                 lo: Any, hi: Any) -> EventFilter:
    """The filter of `token.events(name, param=value)` (a parameter by its Qi name or its
    Python name, `from_` for `from`) or of `field=..., lo=..., hi=...`."""
    params = {py_name(p.name): p.name for p in abi.event_params(name)} | {
        p.name: p.name for p in abi.event_params(name)}
    if len(where) > 1 or (where and (field_name is not None or lo is not None
                                      or hi is not None)):
        raise IndexQueryError("an index query selects by one indexed parameter: a value, "
                              "or field= with lo=/hi=")
    if where:
        [(given, value)] = where.items()
        if given not in params:
            raise IndexQueryError(f"event `{name}` has no parameter `{given}`")
        return EventFilter(params[given], value, has_equals=True)
    if field_name is not None and field_name not in params:
        raise IndexQueryError(f"event `{name}` has no parameter `{field_name}`")
    return EventFilter(None if field_name is None else params[field_name], lo=lo, hi=hi)


def indexed_events(ops: Ops, abi: ContractAbi, address: bytes, name: str, where: EventFilter,
                   newest_first: bool, limit: int, cursor: bytes | None, height: int | None,
                   verify: bool) -> Op[IndexPage[IndexedEvent]]:
    """A page of the contract's events `name` from the node's index, typed by the ABI."""
    bounds: dict[str, Any] = ({"equals": where.equals} if where.has_equals
                              else {"lo": where.lo, "hi": where.hi})
    plan = events_plan(address, abi.doc, name, where.field, newest_first=newest_first,
                       limit=limit, cursor=cursor, **bounds)
    page = yield from ops.indexed(plan, height, verify)
    cls, params = abi.events[name], abi.event_params(name)
    return IndexPage([IndexedEvent(cls(*(r.args[p.name] for p in params)), r.height,
                                   r.tx_index, r.event_index, r.engine_run, r.key)
                      for r in page.items], page.height, page.cursor)


class ContractEvents(Names):
    """`token.events`: the event classes by name (`token.events.Transfer`, for `isinstance`
    checks), and, called, a verified page of the contract's indexed events:

        token.events("Transfer", from_=alice, limit=20)      # by an indexed parameter
        token.events("Transfer", field="to", lo=a, hi=b)     # a range of values
        token.events("Transfer")                             # every one, newest first

    returning `IndexPage[IndexedEvent]` (`.items`, `.cursor` for the next page). A parameter
    named as one of the call's keywords (`limit`, `field`, ...) is selected by value with
    `field=name, lo=v, hi=v`."""

    def __init__(self, contract: Contract) -> None:
        super().__init__(dict(contract.abi.events))
        self._contract = contract

    def __call__(self, name: str, *, field: str | None = None, lo: Any = None,
                 hi: Any = None, limit: int = 100, cursor: bytes | None = None,
                 newest_first: bool = True, height: int | None = None, verify: bool = True,
                 **where: Any) -> Any:
        c = self._contract
        if name not in c.abi.events:
            raise IndexQueryError(f"the contract has no event `{name}`")
        return c.run(indexed_events(c.ops, c.abi, c.address, name,
                                    event_filter(c.abi, name, where, field, lo, hi),
                                    newest_first, limit, cursor, height, verify))


Runner = Callable[[Op[Any]], Any]
AbiSource = ContractAbi | dict[str, Any] | str | bytes | Artifact


def abi_of(source: AbiSource) -> ContractAbi:
    """An ABI given as the typed object, its document, its JSON text or an Artifact."""
    if isinstance(source, ContractAbi):
        return source
    return ContractAbi.of(source.abi if isinstance(source, Artifact) else source)


class BoundMethod:
    """One method of a wrapped contract. Calling it queries a `view` method and sends a
    transaction for any other; `transact` and `query` choose explicitly."""

    def __init__(self, contract: Contract, method: Method) -> None:
        self._contract = contract
        self.method = method
        self.__doc__ = (f"{method.name}({', '.join(f'{p.name}: {p.type}' for p in method.params)})"
                        f" -> {method.returns}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.method.view:
            return self.query(*args, **kwargs)
        return self.transact(*args, **kwargs)

    def transact(self, *args: Any, fuel_limit: int | None = None,
                 fee_limit: int | None = None, timeout: float | None = None,
                 **kwargs: Any) -> Any:
        c = self._contract
        wallet = c.require_wallet()
        o = c.options
        tx = wallet.call(c.address, self.method.name, self.method.encode(*args, **kwargs),
                         fuel_limit=fuel_limit or o.fuel_limit,
                         fee_limit=fee_limit if fee_limit is not None else o.fee_limit)
        return c.run(_transaction(c.abi, c.address, self.method, wallet, tx,
                                  timeout or o.timeout))

    def query(self, *args: Any, height: int | None = None, caller: bytes | None = None,
              **kwargs: Any) -> Any:
        c = self._contract
        return c.run(query(c.abi, c.address, self.method, self.method.encode(*args, **kwargs),
                           height, caller))


def _transaction(abi: ContractAbi, address: bytes, method: Method | None, wallet: Wallet,
                 tx: SignedTx, timeout: float, *, typed_events: bool = True
                 ) -> Op[ContractReceipt]:
    receipt = yield from send(wallet, tx, timeout)
    return receipt_outcome(abi, address, method, tx.hash, receipt, typed_events=typed_events)


class Contract:
    """A deployed contract typed by its ABI. Every public method of the ABI is an
    attribute (`token.transfer`, `token.balance_of`; a Python keyword gains `_`); a method
    whose name is taken by the wrapper's own attributes is `token.fn("name")`.
    Transactions need a `wallet`; queries and proofs do not."""

    def __init__(self, run: Runner, ops: Ops, address: bytes, abi: ContractAbi,
                 wallet: Wallet | None = None, options: Options | None = None) -> None:
        self.run = run
        self.ops = ops
        self.address = address
        self.abi = abi
        self.wallet = wallet
        self.options = options or Options()

    def __repr__(self) -> str:
        return f"<Contract {self.abi.contract or '?'} at 0x{self.address.hex()}>"

    def __getattr__(self, name: str) -> BoundMethod:
        abi: ContractAbi = self.__dict__["abi"]
        for m in abi.methods.values():
            if py_name(m.name) == name:
                return BoundMethod(self, m)
        raise AttributeError(f"{abi.contract or 'the contract'} has no method `{name}`")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {py_name(n) for n in self.abi.methods})

    def fn(self, name: str) -> BoundMethod:
        """The method `name` (its Qi name), whatever Python attribute it would shadow."""
        return BoundMethod(self, self.abi.method(name))

    @property
    def events(self) -> ContractEvents:
        """The event classes (`token.events.Transfer`), for `isinstance` checks; called,
        the contract's indexed events (`ContractEvents`)."""
        return ContractEvents(self)

    @property
    def errors(self) -> Any:
        """The exception classes of the contract's errors (`except token.errors.X`)."""
        return self.abi.errors

    def require_wallet(self) -> Wallet:
        if self.wallet is None:
            raise ArgumentError("a transaction needs a wallet: client.contract(..., "
                                "wallet=client.wallet(key))")
        return self.wallet

    def info(self, *, height: int | None = None, verify: bool = True) -> Any:
        """The contract's record (`ContractView`: code hash, admin, version, frozen,
        prepaid balance, ABI), proven unless `verify=False`."""
        return self.run(contract_reads.info(self.ops, self.address, height, verify))

    def versions(self, *, verify: bool = True) -> Any:
        """Every version (`VersionView`: version, code hash, height, tx hash), oldest
        first, proven unless `verify=False`."""
        return self.run(contract_reads.versions(self.ops, self.address, verify))

    def proof(self, var: str, *keys: Any, height: int | None = None) -> Any:
        """The `ProvenValue` of state variable `var` (and map entry `keys`), verified."""
        return self.run(prove(self.ops, self.abi, self.address, var, keys, height))

    def upgrade(self, code: CodeSource, *, fuel_limit: int | None = None,
                fee_limit: int | None = None, timeout: float | None = None) -> Any:
        """Replace the code (the wallet must be the contract's admin) and run `migrate`;
        on success the wrapper speaks the new ABI."""
        new = ContractCode.of(code)
        wallet = self.require_wallet()
        tx = wallet.upgrade(self.address, new.wasm, new.abi_json,
                            fuel_limit=fuel_limit or self.options.fuel_limit,
                            fee_limit=fee_limit)
        return self.run(self._upgrade(new, wallet, tx, timeout or self.options.timeout))

    def _upgrade(self, new: ContractCode, wallet: Wallet, tx: SignedTx, timeout: float
                 ) -> Op[ContractReceipt]:
        outcome = yield from _transaction(new.abi, self.address, None, wallet, tx, timeout)
        if not is_approval(self.address, new.abi, outcome.receipt):
            self.abi = new.abi
        return outcome

    def set_admin(self, admin: bytes, *, fee_limit: int | None = None,
                  timeout: float | None = None) -> Any:
        """Hand the admin role to `admin` (the wallet must be the admin)."""
        wallet = self.require_wallet()
        tx = wallet.set_admin(self.address, admin, fee_limit=fee_limit)
        return self.run(_transaction(self.abi, self.address, None, wallet, tx,
                                     timeout or self.options.timeout, typed_events=False))

    def fund(self, amount: int, *, fee_limit: int | None = None,
             timeout: float | None = None) -> Any:
        """Prepay `amount` into the contract's balance for its scheduled runs."""
        return self.run(fund(self.require_wallet(), self.address, amount,
                             Options(fee_limit=fee_limit,
                                     timeout=timeout or self.options.timeout)))
