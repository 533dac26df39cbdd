"""A local, in-memory chain for running and testing Qi contracts without a node.

It gives contracts what the chain will: deployment with a constructor, calls that commit or
roll back, blocks (async requests are delivered in the next block, scheduled functions run
on their period) and upgrades that keep storage and run `migrate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xinlian.crypto.hashes import sm3
from xinlian.execution.vm.engine import DEFAULT_FUEL, CallResult, Engine
from xinlian.execution.vm.host import AsyncRequest, Event, World
from xinlian.execution.vm.state import MemoryState
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact
from xinlian.lang.errors import ArgumentError
from xinlian.lang.types import ADDRESS_LEN, OptionalTy

DEFAULT_SENDER = bytes(ADDRESS_LEN - 1) + b"\x01"


@dataclass
class LocalChain:
    engine: Engine = field(default_factory=Engine)
    world: World = field(default_factory=lambda: World(MemoryState()))
    fuel: int = DEFAULT_FUEL
    pending: list[AsyncRequest] = field(default_factory=list)
    log: list[Event] = field(default_factory=list)
    _nonce: int = 0

    def deploy(self, artifact: Artifact, *args: Any, sender: bytes = DEFAULT_SENDER) -> bytes:
        """Install code at a fresh address and run its constructor (if it has one)."""
        self._nonce += 1
        addr = sm3(b"qi-deploy" + sender + self._nonce.to_bytes(8, "big"))[:ADDRESS_LEN]
        self.world.code[addr] = artifact
        if any(f["kind"] == "init" for f in artifact.abi["functions"]):
            res = self.engine.call(self.world, addr, "init", list(args), sender, self.fuel,
                                   kinds=("init",))
            self._finish(res)
            if res.error is not None:
                del self.world.code[addr]
                raise res.error
        elif args:
            raise ArgumentError("contract has no constructor but arguments were given")
        self.world.state.commit()
        return addr

    def call(self, contract: bytes, method: str, *args: Any, sender: bytes = DEFAULT_SENDER,
             fuel: int | None = None) -> CallResult:
        res = self.engine.call(self.world, contract, method, list(args), sender,
                               fuel or self.fuel)
        self._finish(res)
        return res

    def _finish(self, res: CallResult) -> None:
        if res.error is None:
            self.log.extend(res.events)
            self.pending.extend(res.async_calls)
            self.world.state.commit()

    def upgrade(self, contract: bytes, artifact: Artifact,
                sender: bytes = DEFAULT_SENDER) -> CallResult:
        """Replace the code (storage stays) and run the new code's `migrate` if present.
        The compiler has already checked that the storage layout is compatible."""
        old = self.world.code[contract]
        self.world.code[contract] = artifact
        res = CallResult()
        if any(f["kind"] == "migrate" for f in artifact.abi["functions"]):
            res = self.engine.call(self.world, contract, "migrate", [], sender, self.fuel,
                                   kinds=("migrate",))
            self._finish(res)
            if res.error is not None:
                self.world.code[contract] = old
        return res

    def advance_block(self, time_step: int = 1) -> list[CallResult]:
        """Close the block: deliver async requests made so far, then run scheduled
        functions whose period divides the new height."""
        self.world.block_number += 1
        self.world.block_time += time_step
        results: list[CallResult] = []
        requests, self.pending = self.pending, []
        for req in requests:
            results.extend(self._deliver(req))
        for addr, art in sorted(self.world.code.items()):
            for f in art.abi["functions"]:
                if f["kind"] == "scheduled" and self.world.block_number % f["every"] == 0:
                    res = self.engine.call(self.world, addr, f["name"], [], addr, self.fuel,
                                           kinds=("scheduled",))
                    self._finish(res)
                    results.append(res)
        return results

    def _deliver(self, req: AsyncRequest) -> list[CallResult]:
        res = self.engine.call_raw(self.world, req.target, req.method, req.payload,
                                   req.origin, self.fuel)
        self._finish(res)
        cb_art = self.world.code_of(req.origin)
        spec = next(f for f in cb_art.abi["functions"] if f["name"] == req.callback)
        ptype = abi.type_from_json(spec["params"][0]["type"])
        if isinstance(ptype, OptionalTy):
            arg = None if res.error is not None else res.value
        else:  # methods without a result report success as a bool
            arg = res.error is None
        cb = self.engine.call(self.world, req.origin, req.callback, [arg], req.origin,
                              self.fuel, kinds=("callback",))
        self._finish(cb)
        return [res, cb]
