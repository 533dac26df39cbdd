"""The Qi host API: what a contract can ask of the node (module `qi` imports).

Every function is deterministic: results depend only on the call's inputs, the contract
state and the block context the executor supplies, never on clocks, randomness or the
machine. Byte results are written at offset 0 of the program's linear memory, its I/O
window, which the program reads before its next host call; the host writes nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import wasmtime

from xinlian.crypto import hashes
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.signing import verify as verify_signature
from xinlian.crypto.suites import get_suite
from xinlian.errors import XinlianError
from xinlian.execution.vm import capi
from xinlian.execution.vm.capi import Ctx
from xinlian.execution.vm.services import SERVICE_FUEL, serve, service_fuel
from xinlian.execution.vm.state import ContractState
from xinlian.lang import abi, emitter, show
from xinlian.lang.compiler import Artifact
from xinlian.lang.emitter import HOST_IMPORTS, TEXT_OPS
from xinlian.lang.errors import (
    ArgumentError,
    EngineError,
    EntryPointError,
    OutOfFuelError,
    OutOfMemoryError,
    ReentrancyError,
    RevertError,
    TrapError,
)
from xinlian.lang.indexkeys import KeyReader
from xinlian.lang.services import SERVICES
from xinlian.lang.types import ADDRESS, ADDRESS_LEN, BYTES, STRING, U32, IntTy, OptionalTy

if TYPE_CHECKING:
    from xinlian.execution.vm.engine import Engine, Loaded

_HASHES = [hashes.sm3, hashes.sha256, hashes.keccak256]

# Fuel charged by host functions, in the unit of Wasm instructions, calibrated by
# `benchmarks/fuel.py` so that host work burns fuel at the rate plain Wasm code does (about
# 20 fuel per ns on the development machine; docs/qi/reference.md, "Fuel"): a base cost
# (entering Python from Wasm through the raw callback costs ~2 µs, some 40,000 plain
# instructions) plus a cost per byte passed. name -> (base, per byte, positions of the
# length arguments). Entries without a measured kind of their own (context, block,
# bubble, test_set) are priced above the measured cheapest calls.
FUEL_SCHEDULE: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "storage_read": (150_000, 30, (1,)),
    "storage_write": (125_000, 36, (1, 3)),
    "emit": (155_000, 50, (2,)),
    "revert": (155_000, 50, (2,)),
    "context": (100_000, 0, ()),
    "block": (100_000, 0, ()),
    "hash": (0, 0, (2,)),  # per algorithm: HASH_FUEL
    "verify": (0, 2, (2,)),  # per algorithm: VERIFY_FUEL
    "big": (180_000, 0, ()),
    "call": (700_000, 50, (1,)),
    "async_call": (155_000, 50, (1,)),
    "bubble": (100_000, 0, ()),
    "try": (50_000, 0, ()),
    "text": (120_000, 30, (2,)),
    "test_set": (100_000, 0, (2,)),
    "test_deploy": (700_000, 50, (1,)),  # as a call: it runs the constructor
    "service": (0, 0, (2,)),  # per builtin: services.SERVICE_FUEL
}
# per algorithm, on top of the schedule: a signature check; a hash's base and per byte
VERIFY_FUEL = [6_300_000, 1_200_000, 1_300_000]  # SM2, Ed25519, ML-DSA-65
HASH_FUEL = [(150_000, 79), (150_000, 38), (255_000, 76)]  # SM3, SHA-256, Keccak-256
TEXT_RESULT_FUEL = 160_000  # on top of the schedule: text operations that return a value
TRY_CATCH_FUEL = 120_000  # on top of the schedule: catching rolls state and events back
RESULT_FUEL_PER_BYTE = 30  # bytes a host call writes back into the program's memory
_VERIFY_ALGS = [AlgId.SM2, AlgId.ED25519, AlgId.ML_DSA_65]
_SERVICE_NAMES = list(SERVICES)
_MASK64 = (1 << 64) - 1
_OUT_OF_FUEL = "the call ran out of fuel in a host call"
_VALTYPES = {b"\x7f": wasmtime.ValType.i32(), b"\x7e": wasmtime.ValType.i64()}


def _hash_fuel(args: tuple[int, ...], size: int) -> int:
    base, per_byte = HASH_FUEL[args[0]]
    return base + per_byte * size


def _service_fuel(args: tuple[int, ...], size: int) -> int:
    base, per_byte = SERVICE_FUEL[_SERVICE_NAMES[args[0]]]
    return base + per_byte * size


# host functions whose fuel also depends on the operation (the first argument)
_EXTRA_FUEL: dict[str, Callable[[tuple[int, ...], int], int]] = {
    "verify": lambda args, size: VERIFY_FUEL[args[0]],
    "hash": _hash_fuel,
    "service": _service_fuel,
}


MAX_CALL_DEPTH = 64
# entry points only the engine starts, and how errors name them
ENGINE_ENTRIES = {"init": "the constructor", "migrate": "the upgrade migration",
                  "scheduled": "a scheduled function", "callback": "an async callback",
                  "test": "a test"}


def check_entry(loaded: Loaded, method: str, kind: str) -> None:
    """Raise unless `method` may be started as `kind`: `fn` (by a transaction, another
    contract or an async request) needs a public function; every other kind is an entry
    point the engine alone starts, and must match exactly. This is checked on the ABI the
    module was deployed with, so hand-written modules are held to it too."""
    spec = loaded.functions.get(method)
    if spec is None:
        raise ArgumentError(f"no method `{method}`")
    found = spec.get("kind")
    if found != kind:
        if kind == "fn":
            what = ENGINE_ENTRIES.get(str(found), f"of kind {found!r}")
            raise EntryPointError(f"`{method}` is {what}: only the engine runs it")
        raise EntryPointError(f"`{method}` is not {ENGINE_ENTRIES.get(kind, kind)}")
    if kind == "fn" and spec.get("public") is not True:
        raise EntryPointError(f"`{method}` is not public")


@dataclass(frozen=True, slots=True)
class EventAbi:
    """One event of a module's ABI, as the host reads its emissions: its name, parameter
    types, names and indexed flags, and a strict check of an emission's encoding."""

    name: str
    types: list[Any]
    names: list[str]
    indexed: list[bool]
    check: KeyReader  # reads no keys: None when the data does not decode by `types`


class Event:
    """An event a contract emitted: `data` is the arguments' canonical encoding as emitted
    (checked strictly then, so it needs no re-encoding); `args` and `indexed` are decoded
    from it when first asked for (the chain's executor never asks)."""

    __slots__ = ("_decoded", "abi", "contract", "data")

    def __init__(self, contract: bytes, abi_: EventAbi, data: bytes) -> None:
        self.contract = contract
        self.abi = abi_
        self.data = data
        self._decoded: list[Any] | None = None

    @property
    def name(self) -> str:
        return self.abi.name

    def _values(self) -> list[Any]:
        if self._decoded is None:
            self._decoded = abi.decode_many(self.abi.types, self.data)
        return self._decoded

    @property
    def args(self) -> dict[str, Any]:
        return dict(zip(self.abi.names, self._values(), strict=True))

    @property
    def indexed(self) -> dict[str, Any]:
        return {k: v for k, v, i in zip(self.abi.names, self._values(), self.abi.indexed,
                                        strict=True) if i}

    def __repr__(self) -> str:
        return f"Event({self.contract.hex()}, {self.name}, {self.args!r})"


@dataclass
class AsyncRequest:
    """A call to run in a later block; its result goes to `callback` on `origin`."""

    origin: bytes
    target: bytes
    method: str
    payload: bytes
    callback: str


@dataclass
class TxContext:
    """The transaction being executed: its hash, its position in the block and the
    account that signed it (`origin`; None outside a chain: the top-level caller), with
    its chain id and nonce (None for the runs no account signs: async deliveries and
    scheduled runs), to which a confidential payment's proofs are bound."""

    hash: bytes = bytes(32)
    index: int = 0
    origin: bytes | None = None
    chain_id: str = ""
    nonce: int | None = None


@dataclass
class World:
    """What the engine runs against: state, deployed code and the block context. `code`
    and `admins` are dicts for local runs; on the chain they are views over the state
    (execution.contracts.world), so their changes roll back with it."""

    state: ContractState
    code: MutableMapping[bytes, Artifact] = field(default_factory=dict)
    # who may upgrade each contract: its deployer, recorded at deployment
    admins: MutableMapping[bytes, bytes] = field(default_factory=dict)
    block_number: int = 0
    block_time: int = 0
    # contracts a test may `deploy`, by name (set by `qi test` for the file under test)
    test_artifacts: dict[str, Artifact] = field(default_factory=dict)
    suite: str = "sm"  # the chain's crypto suite (`verify` checks its signatures)
    tx: TxContext = field(default_factory=TxContext)
    # hashes of closed blocks by number; `block_hash` sees the last 256 of them
    block_hashes: Mapping[int, bytes] = field(default_factory=dict)

    def code_of(self, contract: bytes) -> Artifact:
        art = self.code.get(contract)
        if art is None:
            raise ArgumentError(f"no contract at {contract.hex()}")
        return art


@dataclass
class Usage:
    """What one top-level call consumed beyond fuel, across all its nested calls
    (failed callees included: their reads and writes were done, then rolled back)."""

    storage_reads: int = 0
    storage_read_bytes: int = 0  # keys and the values found
    storage_writes: int = 0
    storage_written_bytes: int = 0  # keys and values
    encryptions: int = 0  # SM2 encryptions so far (each derives a fresh ephemeral key)
    payments: int = 0  # `conf_pay` calls so far (each gets a fresh transfer id)


@dataclass
class Frame:
    world: World
    contract: bytes
    caller: bytes
    loaded: Loaded
    depth: int
    origin: bytes
    run: Usage
    memory: capi.Memory | None = None
    events: list[Any] = field(default_factory=list)
    async_calls: list[AsyncRequest] = field(default_factory=list)
    failure: EngineError | None = None
    # the recorded failure's error index (-1 `require`'s Error, -2 not this contract's)
    # and encoded arguments, for a `try` block that catches it
    failure_code: int = -2
    failure_data: bytes = b""
    # savepoints of the open `try` blocks (state journal, events, async requests), and
    # the error the last handler caught: (error, code, encoded arguments)
    tries: list[tuple[int, int, int]] = field(default_factory=list)
    caught: tuple[EngineError, int, bytes] | None = None
    last_callee_error: EngineError | None = None
    test: bool = False  # a `test fn` run by `qi test`: only then may it set the context


class HostFault(Exception):
    """Carries a typed error out of a host function through wasmtime."""

    def __init__(self, error: EngineError) -> None:
        super().__init__(error.message)
        self.error = error


class HostApi:
    """The host functions of one engine and the state they share: the stack of running
    frames, the fault a host function raised (taken by the engine when the trap reaches
    it) and a scratch word for fuel."""

    schedule: ClassVar[dict[str, tuple[int, int, tuple[int, ...]]]] = FUEL_SCHEDULE

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stack: list[Frame] = []
        self.test_mode_caller: bytes | None = None
        self.fault: HostFault | None = None
        # an exception that is not the contract's doing (KeyboardInterrupt...): re-raised
        # by the engine once wasmtime has unwound
        self.escaped: BaseException | None = None
        self._fuel = capi.Fuel()
        self._callbacks: list[Any] = []  # the linker calls these: keep them alive

    def define(self, linker: wasmtime.Linker) -> None:
        for name, (params, results) in HOST_IMPORTS.items():
            ty = wasmtime.FuncType([_VALTYPES[p] for p in params], [_VALTYPES[r] for r in results])
            self._callbacks.append(capi.define_host(
                linker, b"qi", name.encode(), ty, self._guarded(name, params, results)))

    def _guarded(self, name: str, params: list[bytes],
                 results: list[bytes]) -> Callable[[int, int, int, int], int]:
        """The raw callback of host function `name`: it reads the arguments from wasmtime's
        value array, charges the schedule's fuel, runs `h_<name>` and writes its result
        back. Any failure caused by the inputs (a module not made by the Qi compiler can
        pass anything) becomes a typed `HostFault`, kept for the engine, and a trap."""
        fn = getattr(self, "h_" + name)
        base, per_byte, lengths = self.schedule[name]
        extra = _EXTRA_FUEL.get(name)
        read_args, write = capi.arg_reader(params), capi.result_writer(results)
        context, take = capi.caller_context, self._fuel.take
        message = f"host call `{name}` failed".encode()
        one = lengths[0] if len(lengths) == 1 else -1  # most calls pass one length

        def callback(env: int, caller: int, vals: int, n: int) -> int:
            try:
                ctx = context(caller)
                args = read_args(vals)
                if one >= 0:
                    size = max(0, args[one])
                else:
                    size = sum([max(0, args[i]) for i in lengths]) if lengths else 0
                if not take(ctx, base + per_byte * size + (extra(args, size) if extra else 0)):
                    raise HostFault(OutOfFuelError(_OUT_OF_FUEL))
                write(vals, fn(ctx, *args))
                return 0
            except HostFault as fault:
                self.fault = fault
            except Exception as exc:  # inputs are untrusted: every failure is a fault
                self.fault = HostFault(TrapError(f"bad host call `{name}`: {exc}"))
            except BaseException as exc:
                self.escaped = exc
            return capi.new_trap(message)
        return callback

    def take_fault(self) -> HostFault | None:
        """The fault behind the trap that just ended a call, if a host function raised it."""
        if self.escaped is not None:
            escaped, self.escaped = self.escaped, None
            raise escaped
        fault, self.fault = self.fault, None
        return fault

    def charge(self, caller: Ctx, fuel: int) -> None:
        """Take `fuel` from the running call; none left is out of fuel."""
        if not self._fuel.take(caller, fuel):
            raise HostFault(OutOfFuelError(_OUT_OF_FUEL))

    # --- plumbing ---------------------------------------------------------------------------
    @property
    def top(self) -> Frame:
        return self.stack[-1]

    def read(self, caller: Ctx, ptr: int, n: int) -> bytes:
        mem = self.top.memory
        assert mem is not None
        data = mem.read(caller, ptr, n)
        if data is None:
            raise HostFault(TrapError("host call read outside linear memory"))
        return data

    def give(self, caller: Ctx, data: bytes) -> int:
        """Write a result at offset 0 of the program's memory (growing it within the
        limit); the program reads it from there before its next host call."""
        mem = self.top.memory
        assert mem is not None
        view, n = mem.view(caller), len(data)
        if n > len(view):
            if not mem.grow(caller, (n - len(view) + 0xFFFF) >> 16):
                raise HostFault(OutOfMemoryError("host result exceeds the memory limit"))
            view = mem.view(caller)
        self.charge(caller, RESULT_FUEL_PER_BYTE * n)
        view[:n] = data
        return n

    # --- host functions ---------------------------------------------------------------------
    def h_storage_read(self, caller: Ctx, kp: int, kl: int) -> int:
        f = self.top
        v = f.world.state.get(f.contract, self.read(caller, kp, kl))
        f.run.storage_reads += 1
        f.run.storage_read_bytes += kl + (0 if v is None else len(v))
        return -1 if v is None else self.give(caller, v)

    def h_storage_write(self, caller: Ctx, kp: int, kl: int, vp: int,
                        vl: int) -> None:
        f = self.top
        f.world.state.set(f.contract, self.read(caller, kp, kl), self.read(caller, vp, vl))
        f.run.storage_writes += 1
        f.run.storage_written_bytes += kl + vl

    def h_emit(self, caller: Ctx, event_id: int, p: int, n: int) -> None:
        f = self.top
        event = f.loaded.events.get(event_id)
        if event is None:
            spec = f.loaded.artifact.abi["events"][event_id]
            types = [abi.type_from_json(x["type"]) for x in spec["params"]]
            event = f.loaded.events[event_id] = EventAbi(
                spec["name"], types, [x["name"] for x in spec["params"]],
                [bool(x["indexed"]) for x in spec["params"]], KeyReader(types, []))
        data = self.read(caller, p, n)
        if event.check.read(data) is None:
            abi.decode_many(event.types, data)  # raises the decoder's own error
        f.events.append(Event(f.contract, event, data))

    def h_revert(self, caller: Ctx, error_id: int, p: int, n: int) -> None:
        f = self.top
        data = self.read(caller, p, n)
        if error_id == 0xFFFFFFFF or error_id == -1:
            reason = abi.decode(STRING, data)
            f.failure = RevertError("Error", [reason],
                                    message=show.error("Error", [("reason", STRING)], [reason]))
            f.failure_code, f.failure_data = -1, data
            return
        spec = f.loaded.artifact.abi["errors"][error_id]
        params = [(x["name"], abi.type_from_json(x["type"])) for x in spec["params"]]
        values = abi.decode_many([t for _, t in params], data)
        f.failure = RevertError(spec["name"], values,
                                message=show.error(spec["name"], params, values))
        f.failure_code, f.failure_data = error_id, data

    def h_context(self, caller: Ctx, which: int) -> int:
        f = self.top
        return self.give(caller, f.caller if which == 0 else f.contract)

    def h_block(self, caller: Ctx, which: int) -> int:
        w = self.top.world
        return (w.block_number if which == 0 else w.block_time) & _MASK64

    def h_hash(self, caller: Ctx, alg: int, p: int, n: int) -> int:
        return self.give(caller, _HASHES[alg](self.read(caller, p, n)))

    def h_verify(self, caller: Ctx, alg: int, p: int, n: int) -> int:
        pk, msg, sig = abi.decode_many([BYTES, BYTES, BYTES], self.read(caller, p, n))
        a = _VERIFY_ALGS[alg]
        try:
            return int(bool(verify_signature(PublicKey(a, pk), msg, Signature(a, sig))))
        except (XinlianError, ValueError):
            return 0

    def h_service(self, caller: Ctx, op: int, p: int, n: int) -> int:
        """A builtin of `lang.services`: its result's encoding, or -1 (the error kept
        as the frame's failure) if it refused its input."""
        name = _SERVICE_NAMES[op]
        params, ret = SERVICES[name]
        args = abi.decode_many(params, self.read(caller, p, n))
        if name == "verify":  # priced as a check of the suite's signature algorithm
            alg = get_suite(self.top.world.suite).signature
            self.charge(caller, VERIFY_FUEL[_VERIFY_ALGS.index(alg)])
        extra = service_fuel(name, self.top)  # a confidential payment's verification
        if extra:
            self.charge(caller, extra)
        try:
            value = serve(name, self.top, args)
        except EngineError as exc:  # the program traps on -1: the error gets its Qi stack
            self.top.failure = exc
            return -1
        return self.give(caller, abi.encode(ret, value))

    def h_big(self, caller: Ctx, op: int, *limbs: int) -> list[int]:
        return big_op(op, limbs)

    def h_call(self, caller: Ctx, p: int, n: int) -> int:
        """Synchronous call: runs the callee in the same store (shared fuel and memory
        limit). Returns the result length, or -(error name length + 1) on failure."""
        f = self.top
        target, method, payload = abi.decode_many([ADDRESS, STRING, BYTES],
                                                  self.read(caller, p, n))
        result = self.nested(caller, f, target, method, payload)
        if isinstance(result, bytes):
            return self.give(caller, result)
        f.last_callee_error = result
        name = result.error_name if isinstance(result, RevertError) else result.name
        return -(self.give(caller, name.encode()) + 1)

    def nested(self, caller: Ctx, f: Frame, target: bytes, method: str,
               payload: bytes, kind: str = "fn") -> bytes | EngineError:
        if f.depth + 1 >= MAX_CALL_DEPTH:
            return TrapError("cross-contract call depth limit reached")
        if target != f.contract and any(fr.contract == target for fr in self.stack):
            return ReentrancyError(f"{target.hex()} is already running lower in the call "
                                   "stack: a callee may not call back into its callers")
        try:
            loaded = self.engine.load(f.world.code_of(target))
            check_entry(loaded, method, kind)
            loaded.check_args(method, payload)
        except EngineError as exc:
            return exc
        snap = f.world.state.snapshot()
        sub = Frame(f.world, target, f.contract, loaded, f.depth + 1, f.origin, f.run)
        self.stack.append(sub)
        try:
            raw = self.engine.invoke(caller, loaded, sub, method, payload)
        except EngineError as exc:
            f.world.state.revert(snap)
            return exc
        finally:
            self.stack.pop()
        f.events.extend(sub.events)
        f.async_calls.extend(sub.async_calls)
        return raw

    def h_async_call(self, caller: Ctx, p: int, n: int) -> None:
        f = self.top
        target, method, payload, cb = abi.decode_many([ADDRESS, STRING, BYTES, STRING],
                                                      self.read(caller, p, n))
        try:  # refused now if it is already clear that delivery would refuse it
            check_entry(f.loaded, cb, "callback")
            if target in f.world.code:
                check_entry(self.engine.load(f.world.code[target]), method, "fn")
        except EngineError as exc:
            raise HostFault(exc) from None
        f.async_calls.append(AsyncRequest(f.contract, target, method, payload, cb))

    def h_bubble(self, caller: Ctx) -> None:
        f = self.top
        f.failure = f.last_callee_error
        f.failure_code, f.failure_data = -2, b""

    def h_text(self, caller: Ctx, op: int, p: int, n: int) -> int:
        """String and bytes operations (`ir.Text`); strings travel as their bytes."""
        code, desc = op & 0xFF, op >> 8
        data = self.read(caller, p, n)
        if code in (TEXT_OPS["to_string"], TEXT_OPS["parse"], TEXT_OPS["find"]):
            self.charge(caller, TEXT_RESULT_FUEL)
        if code == TEXT_OPS["to_string"]:
            return self.give(caller, abi.encode(STRING, str(abi.decode(_int_ty(desc), data))))
        if code == TEXT_OPS["parse"]:
            t = _int_ty(desc)
            return self.give(caller, abi.encode(OptionalTy(t),
                                                parse_int(abi.decode(BYTES, data), t)))
        if code == TEXT_OPS["utf8"]:
            try:
                abi.decode(BYTES, data).decode("utf-8")
            except UnicodeDecodeError:
                return 0
            return 1
        a, b = abi.decode_many([BYTES, BYTES], data)
        if code == TEXT_OPS["cmp"]:
            return int(a > b) - int(a < b)
        if code == TEXT_OPS["find"]:
            at = a.find(b)
            return self.give(caller, abi.encode(OptionalTy(U32), None if at < 0 else at))
        raise HostFault(TrapError(f"bad text operation {code}"))

    def h_try(self, caller: Ctx, op: int, token: int) -> int:
        """The `try` block protocol (`emitter.TRY_*`). Entering records a savepoint and
        returns its token; catching rolls state writes, events and async requests back to
        it, takes the recorded error and returns its code for the handlers to match."""
        f = self.top
        if op == emitter.TRY_ENTER:
            f.tries.append((f.world.state.snapshot(), len(f.events), len(f.async_calls)))
            return len(f.tries) - 1
        if op == emitter.TRY_LEAVE:
            del f.tries[token:]
            return 0
        if op == emitter.TRY_CATCH:
            self.charge(caller, TRY_CATCH_FUEL)
            snap, n_events, n_async = f.tries[token]
            del f.tries[token:]
            f.world.state.revert(snap)
            del f.events[n_events:], f.async_calls[n_async:]
            err = f.failure or TrapError("an exception was thrown without an error")
            f.caught = (err, f.failure_code if f.failure else -2, f.failure_data)
            f.failure, f.failure_code, f.failure_data = None, -2, b""
            return f.caught[1]
        if f.caught is None:
            raise HostFault(TrapError("no error has been caught"))
        err, code, data = f.caught
        if op == emitter.TRY_ARGS:
            return self.give(caller, data)
        if op == emitter.TRY_NAME:
            name = err.error_name if isinstance(err, RevertError) else err.name
            return self.give(caller, name.encode())
        if op == emitter.TRY_RETHROW:
            f.failure, f.failure_code, f.failure_data = err, code, data
            return 0
        raise HostFault(TrapError(f"bad try operation {op}"))

    def h_test_set(self, caller: Ctx, which: int, p: int, n: int) -> None:
        f = self.top
        if not f.test:
            raise HostFault(EntryPointError("the test context can only be set by a test"))
        data = self.read(caller, p, n)
        if which == 0:
            f.caller = abi.decode(ADDRESS, data)
        elif which == 1:
            f.world.block_number = abi.decode(IntTy(64, False), data)
        else:
            f.world.block_time = abi.decode(IntTy(64, False), data)

    def h_test_deploy(self, caller: Ctx, p: int, n: int) -> int:
        """`deploy(name, args)` in a test: install another contract of the file at a fresh
        address (the test contract is its deployer) and run its constructor on `args`."""
        f = self.top
        if not f.test:
            raise HostFault(EntryPointError("only a test can deploy contracts"))
        try:
            name, init = abi.decode_many([STRING, BYTES], self.read(caller, p, n))
            art = f.world.test_artifacts.get(name)
            if art is None:
                raise ArgumentError(f"no contract `{name}` in the file under test")
        except ArgumentError as exc:
            raise HostFault(exc) from None
        nonce = len(f.world.code).to_bytes(8, "big")
        addr = hashes.sm3(b"qi-test-deploy" + f.contract + nonce)[:ADDRESS_LEN]
        f.world.code[addr] = art
        f.world.admins[addr] = f.contract
        if any(spec["kind"] == "init" for spec in art.abi["functions"]):
            result = self.nested(caller, f, addr, "init", init, kind="init")
            if isinstance(result, EngineError):
                del f.world.code[addr], f.world.admins[addr]
                raise HostFault(result)
        elif init:
            raise HostFault(ArgumentError(f"`{name}` has no constructor but got arguments"))
        return self.give(caller, addr)


def _int_ty(desc: int) -> IntTy:
    return IntTy(desc & 0xFFFF, bool(desc >> 16))


def parse_int(text: bytes, t: IntTy) -> int | None:
    """Decimal digits with an optional `-` (signed types only); None when malformed or out
    of the type's range."""
    digits = text[1:] if text[:1] == b"-" and t.signed else text
    if not digits or len(digits) > 80 or not all(48 <= c <= 57 for c in digits):
        return None
    v = int(digits) * (-1 if digits is not text else 1)
    return v if t.min <= v <= t.max else None


# --- wide integers --------------------------------------------------------------------------
def _from_limbs(limbs: tuple[int, ...] | list[int], bits: int, signed: bool) -> int:
    u = sum((x & _MASK64) << (64 * i) for i, x in enumerate(limbs))
    u &= (1 << 256) - 1
    if signed and u >> 255:
        u -= 1 << 256
    return u


def _to_limbs(v: int) -> list[int]:
    u = v % (1 << 256)
    return [((u >> (64 * i)) & _MASK64) - ((1 << 64) if (u >> (64 * i + 63)) & 1 else 0)
            for i in range(4)]


def big_op(op: int, limbs: tuple[int, ...]) -> list[int]:
    """`op` packs the operation (low byte) and the type (bits | signed << 16) above it.
    Returns four result limbs and a status: 0 ok, 1 overflow, 2 division by zero, 3 range."""
    code, desc = op & 0xFF, op >> 8
    bits, signed = desc & 0xFFFF, bool(desc >> 16)
    a = _from_limbs(limbs[:4], bits, signed)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if code == 9:  # cast: b's low limb describes the source type
        src = limbs[4] & _MASK64
        v = _from_limbs(limbs[:4], src & 0xFFFF, bool(src >> 16))
        if not lo <= v <= hi:
            return [0, 0, 0, 0, 3]
        return [*_to_limbs(v), 0]
    b = _from_limbs(limbs[4:], bits, signed)
    if code in (6, 7, 8):
        r = int(a == b if code == 6 else a < b if code == 7 else a <= b)
        return [r, 0, 0, 0, 0]
    if code in (10, 11):  # shifts: bits shifted out are lost, `>>` keeps the sign
        if code == 11:
            return [*_to_limbs(a >> min(b, bits)), 0]
        r = (a << b if b < bits else 0) & ((1 << bits) - 1)
        if signed and r >> (bits - 1):
            r -= 1 << bits
        return [*_to_limbs(r), 0]
    if code in (4, 5) and b == 0:
        return [0, 0, 0, 0, 2]
    if code == 1:
        r = a + b
    elif code == 2:
        r = a - b
    elif code == 3:
        r = a * b
    else:
        q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)  # truncating division
        r = q if code == 4 else a - q * b
    if not lo <= r <= hi:
        return [0, 0, 0, 0, 1]
    return [*_to_limbs(r), 0]
