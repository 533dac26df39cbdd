"""A local, in-memory chain for running and testing Qi contracts without a node.

It gives contracts what the chain will: deployment with a constructor (the deployer is
recorded as the contract's admin), calls that commit or roll back, blocks (async requests
are delivered in the next block, scheduled functions run on their period) with a fuel cap
per block, and upgrades by the admin that keep storage and run `migrate`.

Each top-level run is a transaction of the current block: it gets a hash (SM3 over the
block number, its index, the signer, the contract, the method and a counter), its index in
the block and its origin (the sender; for async deliveries and scheduled runs, which no
account signs, the contract that asked for them). Closing a block records its hash (SM3
over the previous block's hash, number, time and transaction hashes) for `block_hash`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from xinlian.crypto.hashes import sm3
from xinlian.execution.vm.engine import DEFAULT_FUEL, MAX_BLOCK_FUEL, CallResult, Engine
from xinlian.execution.vm.host import AsyncRequest, Event, TxContext, World
from xinlian.execution.vm.services import BLOCK_HASH_WINDOW
from xinlian.execution.vm.state import MemoryState
from xinlian.lang.compiler import Artifact
from xinlian.lang.errors import ArgumentError, FuelLimitError
from xinlian.lang.types import ADDRESS_LEN

DEFAULT_SENDER = bytes(ADDRESS_LEN - 1) + b"\x01"


@dataclass
class LocalChain:
    engine: Engine = field(default_factory=Engine)
    world: World = field(default_factory=lambda: World(MemoryState()))
    fuel: int = DEFAULT_FUEL
    pending: list[AsyncRequest] = field(default_factory=list)
    log: list[Event] = field(default_factory=list)
    block_fuel_used: int = 0  # fuel used by the calls of the current block
    block_txs: list[bytes] = field(default_factory=list)  # hashes, in order
    _nonce: int = 0
    _tx_count: int = 0

    def deploy(self, artifact: Artifact, *args: Any, sender: bytes = DEFAULT_SENDER) -> bytes:
        """Install code at a fresh address and run its constructor (if it has one)."""
        self._nonce += 1
        addr = sm3(b"qi-deploy" + sender + self._nonce.to_bytes(8, "big"))[:ADDRESS_LEN]
        self.world.code[addr] = artifact
        self.world.admins[addr] = sender
        self.begin_tx(sender, addr, "init")
        if any(f["kind"] == "init" for f in artifact.abi["functions"]):
            res = self._metered(self.fuel, lambda fuel: self.engine.run_entry(
                self.world, addr, "init", "init", list(args), sender, fuel))
            if res.error is not None:
                del self.world.code[addr], self.world.admins[addr]
                raise res.error
        elif args:
            raise ArgumentError("contract has no constructor but arguments were given")
        self.world.state.commit()
        return addr

    def call(self, contract: bytes, method: str, *args: Any, sender: bytes = DEFAULT_SENDER,
             fuel: int | None = None, measure_memory: bool = False) -> CallResult:
        """One transaction calling `method`; with `measure_memory`, its peak memory is
        measured first (`Engine.measure_memory`, outside the block's fuel)."""
        self.begin_tx(sender, contract, method)
        fuel = self.fuel if fuel is None else fuel
        peak = None
        if measure_memory:
            peak = self.engine.measure_memory(self.world, contract, method, list(args),
                                              sender, fuel)
        res = self._metered(fuel, lambda f: self.engine.call(
            self.world, contract, method, list(args), sender, f))
        res.peak_memory = peak if res.ok else None
        return res

    def upgrade(self, contract: bytes, artifact: Artifact,
                sender: bytes = DEFAULT_SENDER) -> CallResult:
        """Replace the code (storage stays) and run the new code's `migrate` if present;
        only the admin may, and only to code whose storage layout keeps the old one."""
        self.begin_tx(sender, contract, "migrate")
        return self._metered(self.fuel, lambda f: self.engine.upgrade(
            self.world, contract, artifact, sender, f))

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

    def _metered(self, fuel: int, run: Callable[[int], CallResult]) -> CallResult:
        """Run one top-level call within what is left of the block's fuel."""
        left = MAX_BLOCK_FUEL - self.block_fuel_used
        if fuel > left:
            return CallResult(error=FuelLimitError(
                f"fuel limit {fuel} exceeds the {left} left in this block"))
        return self._keep(run(fuel))

    def _keep(self, res: CallResult) -> CallResult:
        """Count the call's fuel in the block and keep its effects if it succeeded."""
        self.block_fuel_used += res.fuel_used
        if res.error is None:
            self.log.extend(res.events)
            self.pending.extend(res.async_calls)
            self.world.state.commit()
        return res

    def advance_block(self, time_step: int = 1) -> list[CallResult]:
        """Close the block: deliver async requests made so far, then run scheduled
        functions whose period divides the new height. Requests that do not fit in the
        new block's fuel wait for the next block."""
        self.close_block()
        self.world.block_number += 1
        self.world.block_time += time_step
        self.block_fuel_used = 0
        results: list[CallResult] = []
        requests, self.pending = self.pending, []
        for i, req in enumerate(requests):
            if 2 * self.fuel > MAX_BLOCK_FUEL - self.block_fuel_used:
                self.pending[:0] = requests[i:]
                break
            self.begin_tx(req.origin, req.target, req.method)
            results.extend(self._keep(r) for r in self.engine.deliver(self.world, req,
                                                                       self.fuel))
        due = [(addr, str(f["name"])) for addr, art in sorted(self.world.code.items())
               for f in art.abi["functions"]
               if f["kind"] == "scheduled" and self.world.block_number % f["every"] == 0]
        for addr, name in due:
            self.begin_tx(addr, addr, name)
            results.append(self._metered(self.fuel, partial(
                self.engine.run_entry, self.world, addr, "scheduled", name, [], addr)))
        return results
