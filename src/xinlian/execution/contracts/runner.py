"""Contract operations over a block's overlay: deploy, call, upgrade, fund, set admin, query.

One `ContractRunner` per node (its engine and artifact cache are reused across blocks; no
state of one run is visible to the next: every run gets a fresh `World` over the overlay
it is given). Each operation returns an `Outcome` and never raises for what its input
causes; the caller (execution.executor) drops the transaction's overlay when it failed,
so nothing of a failed run stays (a failed `init` leaves no code and no contract).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from xinlian import codec
from xinlian.errors import XinlianError
from xinlian.execution.contracts import schedules
from xinlian.execution.contracts.authority import authorise, rule_of
from xinlian.execution.contracts.records import (
    ContractInfo,
    VersionRecord,
    code_record,
    contract_address,
    parse_abi,
    version_key,
)
from xinlian.execution.contracts.world import (
    AdminView,
    ArtifactCache,
    ChainState,
    CodeView,
)
from xinlian.execution.errors import BadPayload, InvalidOperation, Unauthorised
from xinlian.execution.payloads import Call, Deploy, Fund, SetAdmin, Upgrade
from xinlian.execution.state import Overlay
from xinlian.execution.vm import host
from xinlian.execution.vm.engine import MAX_TX_FUEL, CallResult, Engine, check_layout
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact
from xinlian.lang.errors import ArgumentError, EngineError, FrozenError
from xinlian.lang.types import ADDRESS_LEN
from xinlian.ledger.account import Account
from xinlian.ledger.block import Event, Receipt

QUERY_FUEL = MAX_TX_FUEL  # the fuel of a read-only query (RPC `contract_query`)


@dataclass(frozen=True)
class BlockContext:
    """The block being executed, as contracts see it: `block_number()` is its height,
    `block_time()` its header timestamp in whole seconds, `block_hash(n)` reads `hashes`."""

    height: int
    timestamp_ms: int
    hashes: Mapping[int, bytes] = field(default_factory=dict)


@dataclass
class Outcome:
    """What a contract operation did: the receipt's contract fields and its events."""

    events: list[Event] = field(default_factory=list)
    output: bytes = b""
    error: XinlianError | None = None
    trace: list[str] = field(default_factory=list)
    fuel_used: int = 0
    memory_used: int = 0
    value: Any = None  # the decoded return value (queries)
    result: CallResult | None = None  # the engine's, when the code ran

    @property
    def ok(self) -> bool:
        return self.error is None

    def receipt(self, tx_hash: bytes, fee: int) -> Receipt:
        """The receipt of this run, charged `fee`."""
        err = self.error
        return Receipt(tx_hash, 0 if err is None else err.code, "" if err is None else err.name,
                       list(self.events), fee, fee, self.output,
                       "" if err is None else err.message.split("\n")[0], self.trace,
                       self.fuel_used, self.memory_used)


@dataclass
class ChainWorld(host.World):
    """A `World` whose contracts live in chain state: frozen contracts refuse to run."""

    chain: ChainState | None = None

    def code_of(self, contract: bytes) -> Artifact:
        if self.chain is None:
            return super().code_of(contract)
        found = self.chain.artifact(contract)  # one read of the record for both checks
        if found is None:
            raise ArgumentError(f"no contract at {contract.hex()}")
        if found[0].frozen:
            raise FrozenError(f"contract {contract.hex()} is frozen by governance")
        return found[1]


class ContractRunner:
    def __init__(self, hash_bytes: Any, suite: str, engine: Engine | None = None) -> None:
        self.hash = hash_bytes
        self.suite = suite
        self.engine = engine or Engine()
        self.artifacts = ArtifactCache()

    def world(self, overlay: Overlay, block: BlockContext, tx: host.TxContext,
              listing: Callable[[], list[bytes]] | None = None
              ) -> tuple[ChainWorld, ChainState, CodeView]:
        """A fresh world over `overlay` for one top-level run (`listing`: see CodeView)."""
        state = ChainState(overlay, self.artifacts)
        code = CodeView(state, self.hash, block.height, listing)
        world = ChainWorld(state, code, AdminView(state), block.height,
                           block.timestamp_ms // 1000, suite=self.suite, tx=tx,
                           block_hashes=block.hashes, chain=state)
        return world, state, code

    # --- operations -----------------------------------------------------------------------
    def deploy(self, overlay: Overlay, block: BlockContext, tx: host.TxContext, sender: bytes,
               nonce: int, op: Deploy) -> Outcome:
        """Install `op.code` at the address derived from `sender` and `nonce` and run its
        constructor on `op.args`; the output is the new address."""
        world, state, code = self.world(overlay, block, tx)
        try:
            art, code_hash = self._artifact(op.code, op.abi)
            address = contract_address(self.hash, sender, nonce)
            if state.info(address) is not None:
                raise InvalidOperation(f"a contract exists at {address.hex()} already")
            code.store_code(op.code, art.abi)
            state.set_info(address, ContractInfo(code_hash, sender, 1, False, 0, block.height))
            state.write(version_key(address, 1),
                        codec.encode(VersionRecord(code_hash, block.height, tx.hash)))
            schedules.register(overlay, address, art.abi, block.height)
            init = self.engine.load(art).param_types.get("init")
            if init is None:
                if op.args:
                    raise ArgumentError("the contract has no constructor but got arguments")
                return Outcome(output=address)
            args = abi.decode_many(init, op.args)
        except XinlianError as exc:
            return Outcome(error=exc)
        res = self.engine.run_entry(world, address, "init", "init", args, sender,
                                    op.fuel_limit)
        return self._outcome(world, res, address)

    def call(self, overlay: Overlay, block: BlockContext, tx: host.TxContext, sender: bytes,
             op: Call, fuel: int | None = None) -> Outcome:
        """Run public method `op.method` of `op.contract` on ABI-encoded `op.args`."""
        world, _, _ = self.world(overlay, block, tx)
        res = self.engine.call_raw(world, op.contract, op.method, op.args, sender,
                                   op.fuel_limit if fuel is None else fuel)
        # the engine's output is the return value as the code encoded it, which decoded
        # strictly (abi.decode): the ABI encoding of the value, with no re-encoding
        return self._outcome(world, res, res.output)

    def upgrade(self, overlay: Overlay, block: BlockContext, tx: host.TxContext,
                sender: bytes, op: Upgrade) -> Outcome:
        """Replace the code of `op.contract` and run the new `migrate`, as one step, if the
        rule its current code declares lets `sender` (authority.py) and the storage layout
        is kept (the engine's check on the stored ABI); a new version. Under a k-of-n rule
        an approval short of k is recorded and changes nothing else."""
        world, state, code = self.world(overlay, block, tx)
        try:
            art, code_hash = self._artifact(op.code, op.abi)
            current = world.code_of(op.contract)  # no contract, or frozen: refused here
            info = state.info(op.contract)
            assert info is not None  # it has code
            rule = rule_of(current.abi)
            check_layout(current.abi, art.abi)  # before an approval is recorded
            pending = authorise(state, op.contract, info, rule, sender, code_hash)
            if pending is not None:
                return Outcome([Event(op.contract.hex(), "UpgradeApproved", codec.encode(
                    [sender, code_hash, pending, rule.threshold]))])
            code.store_code(op.code, art.abi)
        except XinlianError as exc:
            return Outcome(error=exc)
        res = self.engine.upgrade(world, op.contract, art, sender, op.fuel_limit,
                                  authorised=True)
        if res.error is None:
            upgraded = state.info(op.contract)  # the engine set its code hash
            assert upgraded is not None
            version = info.version + 1
            state.set_info(op.contract, msgspec.structs.replace(upgraded, version=version))
            state.write(version_key(op.contract, version),
                        codec.encode(VersionRecord(code_hash, block.height, tx.hash)))
            schedules.register(overlay, op.contract, art.abi, block.height)
        return self._outcome(world, res)

    def set_admin(self, overlay: Overlay, sender: bytes, op: SetAdmin) -> Outcome:
        """The contract's admin hands the role to `op.admin` (a frozen contract's admin
        may not: governance has stopped it)."""
        state = ChainState(overlay)
        info = state.info(op.contract)
        if info is None:
            return Outcome(error=InvalidOperation(f"no contract at {op.contract.hex()}"))
        if info.frozen:
            return Outcome(error=FrozenError(f"contract {op.contract.hex()} is frozen by "
                                             "governance"))
        if info.admin != sender:
            return Outcome(error=Unauthorised(
                f"{sender.hex()} is not the admin of {op.contract.hex()}"))
        state.set_info(op.contract, msgspec.structs.replace(info, admin=op.admin))
        return Outcome([Event(op.contract.hex(), "AdminChanged",
                              codec.encode([sender, op.admin]))])

    def fund(self, overlay: Overlay, height: int, sender: bytes, op: Fund) -> Outcome:
        """Move `op.amount` of the sender's balance into the contract's prepaid balance;
        its cancelled schedules are re-armed (execution.contracts.schedules)."""
        state = ChainState(overlay, self.artifacts)
        info = state.info(op.contract)
        account = overlay.account(sender)
        if op.amount < 0:
            return Outcome(error=BadPayload("fund amount must not be negative"))
        if info is None:
            return Outcome(error=InvalidOperation(f"no contract at {op.contract.hex()}"))
        if account.balance < op.amount:
            return Outcome(error=InvalidOperation(
                f"balance {account.balance} < amount {op.amount}"))
        overlay.set_account(sender, Account(account.balance - op.amount, account.nonce))
        state.set_info(op.contract, msgspec.structs.replace(
            info, balance=info.balance + op.amount))
        schedules.rearm(overlay, op.contract, height)
        return Outcome([Event(op.contract.hex(), "Funded", codec.encode([sender, op.amount]))])

    def callback(self, overlay: Overlay, block: BlockContext, tx: host.TxContext,
                 request: host.AsyncRequest, res: CallResult, fuel: int) -> Outcome:
        """Run the callback of an async request with the outcome `res` of its call."""
        world, _, _ = self.world(overlay, block, tx)
        return self._outcome(world, self.engine.callback(world, request, res, fuel))

    def scheduled(self, overlay: Overlay, block: BlockContext, tx: host.TxContext,
                  contract: bytes, function: str, fuel: int) -> Outcome:
        """Run scheduled function `function` of `contract` (the contract is its caller)."""
        world, _, _ = self.world(overlay, block, tx)
        return self._outcome(world, self.engine.run_entry(world, contract, "scheduled",
                                                          function, [], contract, fuel))

    def query(self, overlay: Overlay, block: BlockContext, contract: bytes, method: str,
              args: bytes, caller: bytes = bytes(ADDRESS_LEN), fuel: int = QUERY_FUEL
              ) -> Outcome:
        """A read-only call: run like a transaction's call on `overlay`, whose writes the
        caller throws away; the outcome carries the decoded value too."""
        out = self.call(overlay, block, host.TxContext(origin=caller), caller,
                        Call(contract, method, args, fuel))
        if out.ok and out.result is not None:
            out.value = out.result.value
        return out

    # --- helpers --------------------------------------------------------------------------
    def _artifact(self, wasm: bytes, raw_abi: bytes) -> tuple[Artifact, bytes]:
        """The checked artifact of deployed code (the ABI parses, the module compiles) and
        its code hash; one the cache holds already is used as it is (debug map and all)."""
        doc = parse_abi(raw_abi)
        code_hash, _ = code_record(self.hash, wasm, doc)
        art = self.artifacts.peek(code_hash) or Artifact(wasm, doc, file="<deploy>")
        self.engine.load(art)
        return art, code_hash

    def _outcome(self, world: ChainWorld, res: CallResult, output: bytes = b"") -> Outcome:
        err: EngineError | None = res.error
        if err is not None:
            return Outcome(error=err, trace=list(err.trace), fuel_used=res.fuel_used,
                           memory_used=res.memory_used, result=res)
        # contract events as ledger events: the source is the contract's address in hex,
        # the data the ABI encoding of the event's arguments (as emitted: they decoded
        # strictly, so it is their encoding)
        return Outcome([Event(e.contract.hex(), e.name, e.data) for e in res.events], output,
                       fuel_used=res.fuel_used, memory_used=res.memory_used, result=res)
