"""A local, in-memory chain for running and testing Qi contracts without a node.

It is a thin ledger over the chain's own contract executor (execution.contracts): the
committed state is a dict holding the same `ct/`, `code/`, `cver/` and `cs/` keys a node
holds, and deployments, calls and upgrades run through `ContractRunner` exactly as a
node's transactions do (a child overlay per run, kept only if it succeeds), with synthetic
unsigned transaction contexts and no fees. The deployer is the contract's admin (until
`set_admin`); `upgrade` follows the rule the contract declares (`upgrade by ...;`), but
there is no governance here, so `upgrade by governance;` code cannot be upgraded locally.

Blocks: `advance_block` closes the block and opens the next, whose first work is the
chain's own (execution.contracts.engine_runs, as on a node): the async requests due, then
the scheduled functions due, with the chain's limits; here every fee is zero (the fuel
price is 0), so reservations and scheduled runs cost nothing.

Each top-level run is a transaction of the current block: it gets a hash (SM3 over the
block number, its index, the signer, the contract, the method and a counter), its index in
the block and its origin (the sender). Async deliveries and scheduled runs, which no
account signs, get the engine's run ids and indexes, and the contract that asked for them
as origin. Closing a block records its hash (SM3
over the previous block's hash, number, time and transaction hashes) for `block_hash`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xinlian.crypto.hashes import sm3
from xinlian.execution.contracts.engine_runs import EngineRuns, Limits
from xinlian.execution.contracts.records import (
    CONTRACT_PREFIX,
    canonical_abi,
    code_record,
    contract_address,
)
from xinlian.execution.contracts.runner import BlockContext, ChainWorld, ContractRunner, Outcome
from xinlian.execution.payloads import Call, Deploy, SetAdmin, Upgrade
from xinlian.execution.state import Overlay
from xinlian.execution.vm.engine import DEFAULT_FUEL, MAX_BLOCK_FUEL, CallResult, Engine
from xinlian.execution.vm.host import AsyncRequest, Event, TxContext
from xinlian.execution.vm.services import BLOCK_HASH_WINDOW
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact
from xinlian.lang.errors import ArgumentError, EngineError, FuelLimitError
from xinlian.lang.types import ADDRESS_LEN
from xinlian.ledger.genesis import ChainParams

DEFAULT_SENDER = bytes(ADDRESS_LEN - 1) + b"\x01"
SUITE = "sm"  # code hashes and addresses use SM3, as on an `sm` chain


@dataclass
class LocalChain:
    engine: Engine = field(default_factory=Engine)
    fuel: int = DEFAULT_FUEL
    limits: Limits = field(default_factory=Limits)  # of async and scheduled runs
    log: list[Event] = field(default_factory=list)
    block_fuel_used: int = 0  # fuel used by the calls of the current block
    block_txs: list[bytes] = field(default_factory=list)  # hashes, in order
    state: dict[bytes, bytes] = field(default_factory=dict)  # the committed state
    _nonce: int = 0
    _tx_count: int = 0

    def __post_init__(self) -> None:
        self.runner = ContractRunner(sm3, SUITE, self.engine)
        self.runs = EngineRuns(self.runner, ChainParams(fuel_price=0), self.limits)
        self._overlay = Overlay(self.state.get)
        world, _, _ = self.runner.world(self._overlay, BlockContext(0, 0), TxContext(),
                                        self.contracts)
        self.world: ChainWorld = world

    def contracts(self) -> list[bytes]:
        """The deployed contracts' addresses, sorted (committed or written by the run)."""
        writes = self._overlay.writes
        keys = {k for k in self.state if k.startswith(CONTRACT_PREFIX)}
        keys |= {k for k in writes if k.startswith(CONTRACT_PREFIX)}
        return sorted(k[len(CONTRACT_PREFIX):] for k in keys
                      if (writes[k] if k in writes else self.state.get(k)) is not None)

    def deploy(self, artifact: Artifact, *args: Any, sender: bytes = DEFAULT_SENDER) -> bytes:
        """Install code at a fresh address and run its constructor (if it has one)."""
        self._nonce += 1
        addr = contract_address(sm3, sender, self._nonce)
        self.begin_tx(sender, addr, "init")
        self._remember(artifact)
        init = [f for f in artifact.abi["functions"] if f["kind"] == "init"]
        payload = _encode("init", init[0]["params"] if init else [], list(args))
        abi_json = canonical_abi(artifact.abi)
        out = self._op(sender, self.fuel, lambda scope, fuel: self.runner.deploy(
            scope, self._block(), self.world.tx, sender, self._nonce,
            Deploy(artifact.wasm, abi_json, payload, fuel)))
        if out.error is not None:
            raise out.error
        return addr

    def call(self, contract: bytes, method: str, *args: Any, sender: bytes = DEFAULT_SENDER,
             fuel: int | None = None, measure_memory: bool = False) -> CallResult:
        """One transaction calling `method`; with `measure_memory`, its peak memory is
        measured first (`Engine.measure_memory`, outside the block's fuel)."""
        self.begin_tx(sender, contract, method)
        fuel = self.fuel if fuel is None else fuel
        try:
            spec = self.engine.load(self.world.code_of(contract)).functions.get(method)
            if spec is None:
                raise ArgumentError(f"no method `{method}`")
            payload = _encode(method, spec["params"], list(args))
        except EngineError as exc:
            return CallResult(error=exc)
        peak = None
        if measure_memory:
            peak = self.engine.measure_memory(self.world, contract, method, list(args),
                                              sender, fuel)
        out = self._op(sender, fuel, lambda scope, f: self.runner.call(
            scope, self._block(), self.world.tx, sender, Call(contract, method, payload, f)))
        res = _result(out)
        res.peak_memory = peak if res.ok else None
        return res

    def upgrade(self, contract: bytes, artifact: Artifact,
                sender: bytes = DEFAULT_SENDER) -> CallResult:
        """Replace the code (storage stays) and run the new code's `migrate` if present,
        as the chain does: if the rule the contract declares lets `sender` (by default its
        admin; a k-of-n approval short of k is recorded and the result is empty), and
        only to code whose storage layout keeps the old one."""
        self.begin_tx(sender, contract, "migrate")
        self._remember(artifact)
        code, abi_json = artifact.wasm, canonical_abi(artifact.abi)
        return _result(self._op(sender, self.fuel, lambda scope, fuel: self.runner.upgrade(
            scope, self._block(), self.world.tx, sender, Upgrade(contract, code, abi_json,
                                                                 fuel))))

    def set_admin(self, contract: bytes, admin: bytes, sender: bytes = DEFAULT_SENDER) -> None:
        """The admin hands its role to `admin` (the chain's SET_ADMIN); raises the typed
        error of a refusal."""
        self.begin_tx(sender, contract, "set_admin")
        out = self._op(sender, 0, lambda scope, _: self.runner.set_admin(
            scope, sender, SetAdmin(contract, admin)))
        if out.error is not None:
            raise out.error

    def begin_tx(self, origin: bytes, contract: bytes, method: str) -> TxContext:
        """Make the next top-level run the block's next transaction."""
        self._tx_count += 1
        index = len(self.block_txs)
        tx_hash = sm3(b"qi-tx" + self.world.block_number.to_bytes(8, "big")
                      + index.to_bytes(4, "big") + origin + contract + method.encode()
                      + self._tx_count.to_bytes(8, "big"))
        self.block_txs.append(tx_hash)
        self.world.tx = TxContext(tx_hash, index, origin)
        return self.world.tx

    def close_block(self) -> bytes:
        """Record the hash of the current block and keep the last BLOCK_HASH_WINDOW."""
        w = self.world
        hashes = dict(w.block_hashes)
        prev = hashes.get(w.block_number - 1, bytes(32))
        block_hash = sm3(b"qi-block" + prev + w.block_number.to_bytes(8, "big")
                         + w.block_time.to_bytes(8, "big") + b"".join(self.block_txs))
        hashes[w.block_number] = block_hash
        hashes.pop(w.block_number - BLOCK_HASH_WINDOW, None)
        w.block_hashes = hashes
        self.block_txs = []
        return block_hash

    def _block(self) -> BlockContext:
        w = self.world
        return BlockContext(w.block_number, w.block_time * 1000, w.block_hashes)

    def _remember(self, artifact: Artifact) -> None:
        """Keep the build (with its debug map) for the code hash it will be stored under."""
        self.runner.artifacts.put(code_record(sm3, artifact.wasm, artifact.abi)[0], artifact)

    def _op(self, sender: bytes, fuel: int, run: Callable[[Overlay, int], Outcome]) -> Outcome:
        """Run one top-level operation of the contract executor on a child of the state,
        within what is left of the block's fuel; keep its writes (and queue its async
        requests) if it succeeded."""
        left = MAX_BLOCK_FUEL - self.block_fuel_used
        if fuel > left:
            return Outcome(error=FuelLimitError(
                f"fuel limit {fuel} exceeds the {left} left in this block"))
        self.runner.suite = self.world.suite  # a test may switch the chain's suite
        scope = self._overlay.child()
        out = run(scope, fuel)
        if out.error is None and out.result is not None:
            out.error = self.runs.enqueue(scope, self.world.block_number,
                                          out.result.async_calls, sender, False)
            if out.error is not None:  # the block's queue is full: `_result` raises it
                out.result = None
        if out.error is None:
            self._overlay.merge(scope)
            self.log.extend(out.result.events if out.result is not None else [])
        self.block_fuel_used += out.fuel_used
        self._commit()
        return out

    def request(self, request: AsyncRequest) -> None:
        """Queue `request` for the next block as if a run of this block had made it."""
        error = self.runs.enqueue(self._overlay, self.world.block_number, [request],
                                  DEFAULT_SENDER, False)
        if error is not None:
            raise error
        self._commit()

    def _commit(self) -> None:
        """Fold what the runs wrote into the committed state."""
        for key, value in self._overlay.encoded_writes().items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self._overlay.writes.clear()
        self.world.state.commit()

    def advance_block(self, time_step: int = 1) -> list[CallResult]:
        """Close the block and open the next: deliver the async requests due in it, then
        run its scheduled functions (engine_runs). The engine's result of each run that
        ran code, in order (a delivery is its call, then its callback)."""
        self.close_block()
        self.world.block_number += 1
        self.world.block_time += time_step
        self.block_fuel_used = 0
        self.runner.suite = self.world.suite
        done = self.runs.run_block(self._overlay, self._block())
        self.block_fuel_used += done.fuel_used
        self._commit()
        results = []
        for run in done.runs:
            self.block_txs.append(run.receipt.tx_hash)
            if run.result is not None:
                results.append(run.result)
                if run.result.ok and run.receipt.status == 0:
                    self.log.extend(run.result.events)
        return results


def _encode(method: str, params: list[dict[str, Any]], args: list[Any]) -> bytes:
    """Python arguments in the ABI encoding of `params`."""
    if len(params) != len(args):
        if method == "init" and not params:
            raise ArgumentError("contract has no constructor but arguments were given")
        raise ArgumentError(f"`{method}` takes {len(params)} argument(s), got {len(args)}")
    return b"".join(abi.encode(abi.type_from_json(p["type"]), a)
                    for p, a in zip(params, args, strict=True))


def _result(out: Outcome) -> CallResult:
    """The engine's result of an operation, or its refusal before the code ran."""
    if out.result is not None:
        return out.result
    if isinstance(out.error, EngineError):
        return CallResult(error=out.error)
    if out.error is not None:
        raise out.error
    return CallResult()
