"""The Qi Wasm engine: wasmtime with fuel metering, memory limits, GC and the Qi host API.

One `Engine` holds the wasmtime engine, the linker with the host functions and a bounded
cache of compiled modules (with their linked `InstancePre` and checked entry points; least
recently used out first, MAX_CACHED_MODULES / MAX_CACHED_WASM). `Engine.call`
runs one method of one contract in a fresh store: the store's fuel is the call's resource
limit (nested cross-contract calls run in the same store, so they share it), its memory
limit bounds linear memory and the GC heap. Every failure comes back as a typed
`EngineError` with a Qi-level stack trace where one exists.

Why a fresh store for every top-level call, when reusing one would be faster (a new
instance in a used store costs ~6 µs against ~20 µs for a new store and its first GC
allocation; docs/benchmarks.md, "Contracts"): a fresh instance resets globals, tables and
linear memory, but the GC heap belongs to the store. Objects that earlier instances still
reference (Qi caches `caller()` in a global), the heap's grown capacity and wasmtime's
grow-or-collect heuristic (it looks at the usage after the last collection) would carry
over, so whether a call runs out of memory near its limit would depend on which calls ran
before it in that process: not the same on every node. The hot path is instead kept lean:
wasmtime's C API is called directly (`capi`), without wasmtime-py's per-call wrappers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from xinlian.execution.vm import capi, host
from xinlian.execution.vm.lru import Lru
from xinlian.lang import abi, layout
from xinlian.lang.compiler import Artifact
from xinlian.lang.errors import (
    ArgumentError,
    EngineError,
    FuelLimitError,
    ModuleError,
    OutOfFuelError,
    OutOfMemoryError,
    StackOverflowError,
    TrapError,
    UpgradeError,
)
from xinlian.lang.indexkeys import KeyReader
from xinlian.lang.ir import PANIC_DIVZERO, PANIC_MEMORY, PANIC_NAMES
from xinlian.lang.types import OptionalTy

DEFAULT_MEMORY = 64 * 1024 * 1024
MEMORY_STEP = 4096  # the precision of a measured peak memory
# Fuel caps, from benchmarks/fuel.py (docs/qi/reference.md, "Fuel"): plain Wasm code burns
# about 20 fuel per ns on the development machine and the host schedule is calibrated to
# the same rate, so 2e9 fuel is about 0.1 s of work and a block's 2e10 about 1 s.
MAX_TX_FUEL = 2_000_000_000
MAX_BLOCK_FUEL = 20_000_000_000
# Memory has a per-run cap (DEFAULT_MEMORY: linear memory and GC heap of the run's store,
# nested calls included) and deliberately no per-block one: unlike fuel, which adds up to
# a block's time, a run's memory is returned when its store is deleted at the end of the
# run, so a block's execution never holds more than its largest run does (runs go one at a
# time; a parallel executor holds at most its worker count times DEFAULT_MEMORY). A sum of
# the runs' memory over a block would bound nothing that is held at once.
DEFAULT_FUEL = MAX_TX_FUEL
# The compiled-module cache (keyed by code + ABI) is least recently used first out, bounded
# by a count and by the total size of the cached Wasm: compiled code measured 3.5-5x its
# Wasm for the example contracts (~60 KB compiled for a 15-20 KB token), so the bounds keep
# a node's compiled code to about 100-160 MB in the worst case and far less in practice.
MAX_CACHED_MODULES = 256
MAX_CACHED_WASM = 32 * 1024 * 1024


@dataclass
class CallResult:
    """What a call did and consumed: its result, events, error (with the Qi stack), fuel,
    storage reads and writes and, when measured, peak memory."""

    value: Any = None
    output: bytes = b""  # `value` as the code returned it: its ABI encoding (b"" for unit)
    events: list[host.Event] = field(default_factory=list)
    error: EngineError | None = None
    fuel_used: int = 0
    async_calls: list[host.AsyncRequest] = field(default_factory=list)
    usage: host.Usage = field(default_factory=host.Usage)
    # the smallest memory limit (linear memory and GC heap, to MEMORY_STEP) under which
    # the call succeeds; measured only on request (`Engine.measure_memory`)
    peak_memory: int | None = None
    # the size in bytes of the top-level instance's linear memory when the call ended
    # (callees' instances not counted; the GC heap is not exposed by wasmtime)
    memory_used: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def resources(self) -> dict[str, int | None]:
        """The resources consumed, as reported by `xinlian qi run --json`."""
        u = self.usage
        return {"fuel": self.fuel_used, "peak_memory": self.peak_memory,
                "storage_reads": u.storage_reads, "storage_read_bytes": u.storage_read_bytes,
                "storage_writes": u.storage_writes,
                "storage_written_bytes": u.storage_written_bytes}


@dataclass
class Loaded:
    artifact: Artifact
    module: wasmtime.Module
    pre: wasmtime.InstancePre
    functions: dict[str, dict[str, Any]]
    param_types: dict[str, list[Any]]
    ret_types: dict[str, Any]
    # the address of `pre`, and the export of each method whose type the engine calls,
    # `(i32) -> i32`, checked here once: entry points are called without type checks
    pre_address: int = 0
    entries: dict[str, bytes] = field(default_factory=dict)
    memory_pages: int = 0  # the exported memory's initial size
    # each event's ABI, read when the event is first emitted
    events: dict[int, host.EventAbi] = field(default_factory=dict)
    # a strict check of each method's encoded arguments (made when first needed)
    arg_checks: dict[str, KeyReader] = field(default_factory=dict)

    def check_args(self, method: str, payload: bytes) -> None:
        """ArgumentError (the decoder's) unless `payload` is exactly an encoding of
        `method`'s parameters."""
        check = self.arg_checks.get(method)
        if check is None:
            check = self.arg_checks[method] = KeyReader(self.param_types[method], [])
        if check.read(payload) is None:
            abi.decode_many(self.param_types[method], payload)


class Engine:
    host_api: type[host.HostApi] = host.HostApi  # the debugger's engine extends it

    def __init__(self, max_modules: int = MAX_CACHED_MODULES,
                 max_wasm: int = MAX_CACHED_WASM) -> None:
        cfg = wasmtime.Config()
        cfg.wasm_gc = True
        cfg.wasm_function_references = True
        cfg.wasm_reference_types = True
        cfg.wasm_exceptions = True  # reverts are thrown; `try` blocks catch them
        cfg.consume_fuel = True
        # modules not made by the Qi compiler may use floats or SIMD: keep them
        # deterministic (canonical NaNs, no relaxed SIMD, no threads)
        cfg.cranelift_nan_canonicalization = True
        cfg.wasm_relaxed_simd = False
        cfg.wasm_threads = False
        # memories (and GC heaps) without wasmtime's default 4 GiB reservation and guard:
        # every call's fresh store maps and unmaps them, and the page tables of a large
        # reservation cost ~7 µs a call to set up and tear down. Accesses are then bounds-
        # checked in code, which measured no slower (benchmarks/fuel.py, plain and
        # allocating kinds); a memory grows in place up to 1 MiB, then may move.
        cfg.memory_reservation = 0
        cfg.memory_guard_size = 0
        cfg.memory_reservation_for_growth = 1 << 20
        self.wasm = wasmtime.Engine(cfg)
        self.linker = wasmtime.Linker(self.wasm)
        self.host = self.host_api(self)
        self.host.define(self.linker)
        # evicting a module that a running call uses is safe: its frame holds the `Loaded`
        self.modules: Lru[str, Loaded] = Lru(max_modules, max_wasm,
                                            lambda m: len(m.artifact.wasm))
        self._address = capi.address(self.wasm)
        self._fuel = capi.Fuel()
        self._slots: list[capi.Instance] = []  # one per depth of nested calls

    def load(self, artifact: Artifact) -> Loaded:
        # the ABI decides which entry points exist and who may start them: the same module
        # deployed with another ABI must not share this one's
        key = artifact.code_hash + artifact.abi_hash
        hit = self.modules.get(key)
        if hit is not None:
            return hit
        try:
            module = wasmtime.Module(self.wasm, artifact.wasm)
            pre = self.linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as exc:
            raise ModuleError(f"invalid module: {exc}") from None
        fns = {f["name"]: f for f in artifact.abi["functions"]}
        callable_exports = {e.name for e in module.exports
                            if isinstance(e.type, wasmtime.FuncType)
                            and _is_entry_type(e.type)}
        pages = [e.type.limits.min for e in module.exports
                 if e.name == "memory" and isinstance(e.type, wasmtime.MemoryType)]
        loaded = Loaded(artifact, module, pre, fns,
                        {n: [abi.type_from_json(p["type"]) for p in f["params"]]
                         for n, f in fns.items()},
                        {n: abi.type_from_json(f["returns"]) for n, f in fns.items()},
                        capi.address(pre),
                        {n: str(f.get("export")).encode() for n, f in fns.items()
                         if f.get("export") in callable_exports},
                        pages[0] if pages else 0)
        self.modules.put(key, loaded)
        return loaded

    # --- running --------------------------------------------------------------------------
    def call(self, world: host.World, contract: bytes, method: str, args: list[Any],
             caller: bytes, fuel: int = DEFAULT_FUEL, memory: int = DEFAULT_MEMORY) -> CallResult:
        """Run public method `method` of `contract` with Python `args` (a transaction's
        call); state changes are kept only if the call succeeds."""
        return self._call(world, contract, "fn", method, args, caller, fuel, memory)

    def run_entry(self, world: host.World, contract: bytes, kind: str, method: str,
                  args: list[Any], caller: bytes, fuel: int = DEFAULT_FUEL,
                  memory: int = DEFAULT_MEMORY) -> CallResult:
        """Run an entry point that only the engine starts (`init`, `migrate`, a
        `scheduled` function, an async `callback`, a `test`): `method` must be of `kind`."""
        return self._call(world, contract, kind, method, args, caller, fuel, memory)

    def _call(self, world: host.World, contract: bytes, kind: str, method: str,
              args: list[Any], caller: bytes, fuel: int, memory: int) -> CallResult:
        try:
            check_fuel(fuel)
            loaded = self.load(world.code_of(contract))
            host.check_entry(loaded, method, kind)
        except EngineError as exc:
            return CallResult(error=exc)
        try:
            payload = b"".join(abi.encode(t, a) for t, a in
                               zip(loaded.param_types[method], args, strict=True))
        except ValueError:
            return CallResult(error=ArgumentError(
                f"`{method}` takes {len(loaded.param_types[method])} argument(s), "
                f"got {len(args)}"))
        except ArgumentError as exc:
            return CallResult(error=exc)
        return self._run(world, loaded, contract, method, payload, caller, fuel, memory,
                         test=kind == "test")

    def call_raw(self, world: host.World, contract: bytes, method: str, payload: bytes,
                 caller: bytes, fuel: int = DEFAULT_FUEL,
                 memory: int = DEFAULT_MEMORY) -> CallResult:
        """Run a public method with ABI-encoded arguments (as they arrive in a transaction
        or an async request)."""
        try:
            check_fuel(fuel)
            loaded = self.load(world.code_of(contract))
            host.check_entry(loaded, method, "fn")
            loaded.check_args(method, payload)
        except EngineError as exc:
            return CallResult(error=exc)
        return self._run(world, loaded, contract, method, payload, caller, fuel, memory)

    def deliver(self, world: host.World, request: host.AsyncRequest, fuel: int = DEFAULT_FUEL,
                memory: int = DEFAULT_MEMORY) -> tuple[CallResult, CallResult]:
        """Run an async request, then its callback on the requesting contract with the
        result (`none` or `false` if the call failed). Both are checked like any call:
        the target must be a public method, the callback a callback of the requester."""
        res = self.call_raw(world, request.target, request.method, request.payload,
                            request.origin, fuel, memory)
        return res, self.callback(world, request, res, fuel, memory)

    def callback(self, world: host.World, request: host.AsyncRequest, res: CallResult,
                 fuel: int = DEFAULT_FUEL, memory: int = DEFAULT_MEMORY) -> CallResult:
        """Run the callback of `request` with the outcome `res` of its call: the value, or
        `none` (`false` for a method without a result) if `res` failed (a time-out is a
        failed `res` whose call never ran)."""
        try:
            loaded = self.load(world.code_of(request.origin))
            host.check_entry(loaded, request.callback, "callback")
        except EngineError as exc:
            return CallResult(error=exc)
        if isinstance(loaded.param_types[request.callback][0], OptionalTy):
            arg = None if res.error is not None else res.value
        else:  # methods without a result report success as a bool
            arg = res.error is None
        return self.run_entry(world, request.origin, "callback", request.callback, [arg],
                              request.origin, fuel, memory)

    def upgrade(self, world: host.World, contract: bytes, artifact: Artifact, sender: bytes,
                fuel: int = DEFAULT_FUEL, memory: int = DEFAULT_MEMORY,
                authorised: bool = False) -> CallResult:
        """Replace a contract's code, keeping its storage, and run the new `migrate` (if
        any) as one step. Refused with `UpgradeError`, changing nothing, unless the new
        storage layout keeps the deployed one and `sender` is the contract's admin or
        `authorised` (the chain's contract executor has applied the contract's declared
        upgrade rule: execution/contracts/authority.py)."""
        try:
            check_fuel(fuel)
            old = world.code_of(contract)
            if not authorised and world.admins.get(contract) != sender:
                raise UpgradeError(f"{sender.hex()} is not the admin of {contract.hex()}")
            check_layout(old.abi, artifact.abi)
            loaded = self.load(artifact)
        except EngineError as exc:
            return CallResult(error=exc)
        world.code[contract] = artifact
        if "migrate" not in loaded.functions:
            return CallResult()
        res = self.run_entry(world, contract, "migrate", "migrate", [], sender, fuel, memory)
        if res.error is not None:
            world.code[contract] = old
        return res

    def measure_memory(self, world: host.World, contract: bytes, method: str,
                       args: list[Any], caller: bytes, fuel: int = DEFAULT_FUEL) -> int | None:
        """The call's peak memory: the smallest memory limit (to MEMORY_STEP) under which
        it succeeds, found by bisection. wasmtime exposes no GC heap size, but the engine
        is deterministic, so rerunning the call under smaller limits measures linear memory
        and GC heap alike. Every run starts from the same state and is rolled back; None
        if the call fails even at DEFAULT_MEMORY."""
        def fits(limit: int) -> bool:
            snap = world.state.snapshot()
            try:
                return self.call(world, contract, method, args, caller, fuel, limit).ok
            finally:
                world.state.revert(snap)

        if not fits(DEFAULT_MEMORY):
            return None
        lo, hi = 0, DEFAULT_MEMORY
        while hi - lo > MEMORY_STEP:
            mid = (lo + hi) // 2
            if fits(mid):
                hi = mid
            else:
                lo = mid
        return hi

    def _run(self, world: host.World, loaded: Loaded, contract: bytes, method: str,
             payload: bytes, caller: bytes, fuel: int, memory: int,
             test: bool = False) -> CallResult:
        store = capi.store_new(self._address, None, None)
        try:
            ctx = capi.store_context(store)
            capi.store_limiter(store, memory, -1, -1, -1, -1)
            capi.set_fuel(ctx, fuel)
            snap = world.state.snapshot()
            origin = caller if world.tx.origin is None else world.tx.origin
            frame = host.Frame(world, contract, caller, loaded, 0, origin, host.Usage(),
                               test=test)
            self.host.stack.append(frame)
            result = CallResult(usage=frame.run)
            try:
                raw = self.invoke(ctx, loaded, frame, method, payload)
                rt = loaded.ret_types[method]
                if rt.name() != "unit":
                    result.value, result.output = abi.decode(rt, raw), raw
            except EngineError as exc:
                result.error = exc
            finally:
                self.host.stack.pop()
            result.fuel_used = fuel - self._fuel.left(ctx)
            result.memory_used = 0 if frame.memory is None else frame.memory.size(ctx)
        finally:
            capi.store_delete(store)
        if result.error is None:
            result.events = frame.events
            result.async_calls = frame.async_calls
        else:
            world.state.revert(snap)
        return result

    def invoke(self, ctx: capi.Ctx, loaded: Loaded, frame: host.Frame, method: str,
               payload: bytes) -> bytes:
        """Instantiate and run one entry point in the store of `ctx`; raises a typed error
        on any failure."""
        while len(self._slots) <= frame.depth:
            self._slots.append(capi.Instance())
        inst = self._slots[frame.depth]
        try:
            inst.instantiate(loaded.pre_address, ctx)
        except wasmtime.Trap as trap:  # the module's start code trapped (or ran dry)
            self.host.take_fault()  # a start function's host call may have failed
            if trap.trap_code == wasmtime.TrapCode.OUT_OF_FUEL:
                raise OutOfFuelError("the call ran out of fuel while instantiating") from None
            raise TrapError(f"trap while instantiating: {trap.message.splitlines()[0]}") from None
        except wasmtime.WasmtimeError as exc:
            self.host.take_fault()
            raise ModuleError(f"cannot instantiate: {exc}") from None
        export = loaded.entries.get(method)
        if export is None or not inst.bind(ctx, export):
            raise ModuleError(f"module lacks the memory or the entry point of `{method}`")
        mem = frame.memory = inst.memory
        pages = (len(payload) >> 16) + 1
        if pages > loaded.memory_pages:  # else the initial size holds the arguments
            short = pages - (mem.size(ctx) >> 16)
            if short > 0 and not mem.grow(ctx, short):
                raise OutOfMemoryError("the arguments do not fit in the memory limit")
        try:
            if payload and not mem.write(ctx, payload, 0):
                raise OutOfMemoryError("the arguments do not fit in the memory limit")
            n = inst.call(ctx, len(payload))
            result = mem.read(ctx, 0, n) if n else b""
            if result is None:
                raise ModuleError(f"entry point of `{method}` returned a bad result length")
            return result
        except wasmtime.Trap as trap:
            fault = self.host.take_fault()
            if fault is not None:
                raise fault.error from None
            raise self.translate_trap(trap, inst, ctx, loaded, frame) from None
        except wasmtime.WasmtimeError as exc:
            fault = self.host.take_fault()
            if fault is not None:
                raise fault.error from None
            # errors raised by the runtime rather than trapped code (GC heap exhaustion)
            # carry the wasm backtrace only as text
            text = str(exc)
            trace = self.trace_from_text(text, loaded)
            if "out of memory" in text or "GC heap" in text:
                raise OutOfMemoryError("the call ran out of memory", trace) from None
            if "fuel" in text:
                raise OutOfFuelError("the call ran out of fuel", trace) from None
            raise TrapError(f"engine error: {text.splitlines()[0]}", trace) from None

    def translate_trap(self, trap: wasmtime.Trap, inst: capi.Instance, ctx: capi.Ctx,
                       loaded: Loaded, frame: host.Frame) -> EngineError:
        trace = self.qi_trace(trap, loaded)
        if frame.failure is not None:  # raised by a host call (revert, bubbled error)
            err = frame.failure
            err.trace = err.trace or trace
            return err
        code = trap.trap_code
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return OutOfFuelError("the call ran out of fuel", trace)
        if code == wasmtime.TrapCode.STACK_OVERFLOW:
            return StackOverflowError("call stack exhausted (recursion too deep)", trace)
        panic = inst.global_i32(ctx, b"panic")
        if panic == PANIC_MEMORY:
            return OutOfMemoryError("linear memory limit reached", trace)
        if panic == PANIC_DIVZERO or code == wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO:
            return TrapError("division by zero", trace)
        if panic:
            return TrapError(PANIC_NAMES.get(panic, f"panic {panic}"), trace)
        if code == wasmtime.TrapCode.INTEGER_OVERFLOW:
            return TrapError("arithmetic overflow", trace)
        if code in (wasmtime.TrapCode.ARRAY_OUT_OF_BOUNDS,):
            return TrapError("index out of bounds", trace)
        if code == wasmtime.TrapCode.NULL_REFERENCE:
            return TrapError("null reference", trace)
        if code == wasmtime.TrapCode.ALLOCATION_TOO_LARGE:
            return OutOfMemoryError("allocation too large", trace)
        return TrapError(f"trap: {trap.message.splitlines()[0]}", trace)

    @staticmethod
    def qi_trace(trap: wasmtime.Trap, loaded: Loaded) -> list[str]:
        """Innermost first: `function (file:line:col)` for each Qi frame."""
        return _qi_frames([(fr.func_name or "", fr.module_offset) for fr in trap.frames],
                          loaded)

    @staticmethod
    def trace_from_text(text: str, loaded: Loaded) -> list[str]:
        """The same trace from wasmtime's printed backtrace (`N: 0xOFFSET - mod!func`)."""
        frames = [(m.group(2), int(m.group(1), 16)) for m in _BACKTRACE_LINE.finditer(text)]
        return _qi_frames(frames, loaded)


def _is_entry_type(ty: wasmtime.FuncType) -> bool:
    i32 = str(wasmtime.ValType.i32())
    return [str(t) for t in ty.params] == [i32] and [str(t) for t in ty.results] == [i32]


def check_layout(old_abi: dict[str, Any], new_abi: dict[str, Any]) -> None:
    """UpgradeError unless the storage layout of `new_abi` keeps that of `old_abi`."""
    conflicts = layout.layout_conflicts(old_abi.get("storage", []), new_abi.get("storage", []))
    if conflicts:
        raise UpgradeError("incompatible storage layout: " +
                           "; ".join(msg for _, msg in conflicts))


def check_fuel(fuel: int) -> None:
    if not 0 < fuel <= MAX_TX_FUEL:
        raise FuelLimitError(f"fuel limit {fuel} is outside 1..{MAX_TX_FUEL} "
                             "(the per-transaction cap)")


_BACKTRACE_LINE = re.compile(r"^\s*\d+:\s+0x([0-9a-f]+) - [^!\n]*!(.*)$", re.MULTILINE)


def _qi_frames(frames: list[tuple[str, int]], loaded: Loaded) -> list[str]:
    out: list[str] = []
    for name, offset in frames:
        if name.startswith(("rt.", "q:", "<wasm")) or ":" in name:
            continue
        loc = loaded.artifact.locate(offset)
        out.append(f"{name} ({loc[1]})" if loc else name)
    return _compress(out)


def _compress(frames: list[str], keep: int = 16) -> list[str]:
    """Fold runs of identical frames (deep recursion) and cap the length."""
    out: list[str] = []
    i = 0
    while i < len(frames):
        j = i
        while j < len(frames) and frames[j] == frames[i]:
            j += 1
        out.append(frames[i] if j - i == 1 else f"{frames[i]} [x{j - i}]")
        i = j
    return out if len(out) <= keep else [*out[:keep], f"... {len(out) - keep} more"]
