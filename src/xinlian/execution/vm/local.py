"""A local, in-memory chain for running and testing Qi contracts without a node.

It gives contracts what the chain will: deployment with a constructor (the deployer is
recorded as the contract's admin), calls that commit or roll back, blocks (async requests
are delivered in the next block, scheduled functions run on their period) with a fuel cap
per block, and upgrades by the admin that keep storage and run `migrate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from xinlian.crypto.hashes import sm3
from xinlian.execution.vm.engine import DEFAULT_FUEL, MAX_BLOCK_FUEL, CallResult, Engine
from xinlian.execution.vm.host import AsyncRequest, Event, World
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
    _nonce: int = 0

    def deploy(self, artifact: Artifact, *args: Any, sender: bytes = DEFAULT_SENDER) -> bytes:
        """Install code at a fresh address and run its constructor (if it has one)."""
        self._nonce += 1
        addr = sm3(b"qi-deploy" + sender + self._nonce.to_bytes(8, "big"))[:ADDRESS_LEN]
        self.world.code[addr] = artifact
        self.world.admins[addr] = sender
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
             fuel: int | None = None) -> CallResult:
        return self._metered(self.fuel if fuel is None else fuel, lambda f: self.engine.call(
            self.world, contract, method, list(args), sender, f))

    def upgrade(self, contract: bytes, artifact: Artifact,
                sender: bytes = DEFAULT_SENDER) -> CallResult:
        """Replace the code (storage stays) and run the new code's `migrate` if present;
        only the admin may, and only to code whose storage layout keeps the old one."""
        return self._metered(self.fuel, lambda f: self.engine.upgrade(
            self.world, contract, artifact, sender, f))

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
        self.world.block_number += 1
        self.world.block_time += time_step
        self.block_fuel_used = 0
        results: list[CallResult] = []
        requests, self.pending = self.pending, []
        for i, req in enumerate(requests):
            if 2 * self.fuel > MAX_BLOCK_FUEL - self.block_fuel_used:
                self.pending[:0] = requests[i:]
                break
            results.extend(self._keep(r) for r in self.engine.deliver(self.world, req,
                                                                       self.fuel))
        due = [(addr, str(f["name"])) for addr, art in sorted(self.world.code.items())
               for f in art.abi["functions"]
               if f["kind"] == "scheduled" and self.world.block_number % f["every"] == 0]
        for addr, name in due:
            results.append(self._metered(self.fuel, partial(
                self.engine.run_entry, self.world, addr, "scheduled", name, [], addr)))
        return results
