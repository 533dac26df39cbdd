"""The source-level debugger: run one call of a debug build and record its trace.

A debug build (`compile_source(debug=True)`) calls `qi_debug.step(step, depth, n)` before
every statement with the statement's visible locals ABI-encoded at memory offset 0. Only
`DebugEngine` defines that import; the chain's engine has no `qi_debug` module, so a debug
build fails to load there (`ModuleError`) and cannot be deployed by accident. Calls are
deterministic, so the debugger records the whole run once (each step with its source
position, locals, and how many storage writes and events came before it) and stepping
forward, back, over, into and out is navigation over the recorded trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import wasmtime

from xinlian.execution.vm import capi, host
from xinlian.execution.vm.capi import Ctx
from xinlian.execution.vm.engine import MAX_TX_FUEL, CallResult, Engine
from xinlian.execution.vm.local import DEFAULT_SENDER, LocalChain
from xinlian.lang import abi
from xinlian.lang.abi_json import args_from_text, params_of, value_to_json
from xinlian.lang.codegen import DEBUG_MODULE
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import ArgumentError, EngineError, TraceLimitError
from xinlian.lang.testruns import TEST_ADDRESS, TEST_CALLER, runs_of_tests
from xinlian.lang.types import MapTy, Ty

MAX_STEPS = 100_000  # a trace longer than this ends the run with TraceLimitError


@dataclass
class Step:
    """One statement about to run: where, at which call depth, with which locals, after
    how many of the trace's storage writes and events."""

    contract: bytes
    function: str
    line: int
    col: int
    depth: int
    locals: dict[str, Any]
    writes: int
    events: int

    def to_json(self) -> dict[str, Any]:
        return {"contract": "0x" + self.contract.hex(), "function": self.function,
                "line": self.line, "col": self.col, "depth": self.depth,
                "locals": {k: value_to_json(v) for k, v in self.locals.items()},
                "writes": self.writes, "events": self.events}


@dataclass
class Trace:
    """A recorded debug run: its steps, storage writes and events in order, and the
    call's outcome (`result` or `error`)."""

    steps: list[Step] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    result: Any = None
    error: EngineError | None = None
    limit: int = MAX_STEPS

    def to_json(self) -> dict[str, Any]:
        return {"steps": [s.to_json() for s in self.steps], "writes": self.writes,
                "events": self.events, "result": value_to_json(self.result),
                "error": None if self.error is None else self.error.to_dict()}


class DebugHost(host.HostApi):
    """The host API plus `qi_debug.step`, recording into `trace` while one is set."""

    # the hook costs no host fuel
    schedule: ClassVar[dict[str, tuple[int, int, tuple[int, ...]]]] = {
        **host.FUEL_SCHEDULE, "step": (0, 0, ())}

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.trace: Trace | None = None
        self._types: dict[tuple[int, int], list[Ty]] = {}
        # the depth of each running frame's first statement: a contract called from a
        # statement at depth d starts at d + 1, so depths order nested calls too
        self._bases: dict[int, tuple[host.Frame, int]] = {}

    def define(self, linker: wasmtime.Linker) -> None:
        super().define(linker)
        i32 = wasmtime.ValType.i32()
        self._callbacks.append(capi.define_host(
            linker, DEBUG_MODULE.encode(), b"step", wasmtime.FuncType([i32] * 3, []),
            self._guarded("step", [b"\x7f"] * 3, [])))

    def h_step(self, caller: Ctx, step_id: int, depth: int, n: int) -> None:
        trace, f = self.trace, self.top
        if trace is None:
            return
        if len(trace.steps) >= trace.limit:
            raise host.HostFault(TraceLimitError(
                f"the trace exceeds {trace.limit} steps; debug a shorter call"))
        art = f.loaded.artifact
        assert art.steps is not None  # only a debug build imports the hook
        info = art.steps[step_id]
        key = (id(art), step_id)
        types = self._types.get(key)
        if types is None:
            types = self._types[key] = [abi.type_from_json(v["type"]) for v in info["locals"]]
        values = abi.decode_many(types, self.read(caller, 0, n))
        base = self._bases.get(f.depth)
        if base is None or base[0] is not f:
            base = self._bases[f.depth] = (f, trace.steps[-1].depth + 1
                                           if trace.steps and f.depth else 0)
        trace.steps.append(Step(f.contract, info["function"], info["line"], info["col"],
                                base[1] + depth,
                                {v["name"]: x for v, x in zip(info["locals"], values,
                                                               strict=True)},
                                len(trace.writes), len(trace.events)))

    def h_storage_write(self, caller: Ctx, kp: int, kl: int, vp: int, vl: int) -> None:
        super().h_storage_write(caller, kp, kl, vp, vl)
        if self.trace is not None:
            f = self.top
            self.trace.writes.append(describe_write(
                f.loaded.artifact, f.contract, self.read(caller, kp, kl),
                self.read(caller, vp, vl)))

    def h_emit(self, caller: Ctx, event_id: int, p: int, n: int) -> None:
        super().h_emit(caller, event_id, p, n)
        if self.trace is not None:
            e = self.top.events[-1]
            self.trace.events.append({"contract": "0x" + e.contract.hex(), "name": e.name,
                                      "args": value_to_json(e.args)})


class DebugEngine(Engine):
    """An engine that also loads debug builds and records their steps."""

    host_api = DebugHost

    def record(self, trace: Trace | None) -> None:
        """Record the steps of the calls that follow into `trace` (None: stop)."""
        assert isinstance(self.host, DebugHost)
        self.host.trace = trace


def describe_write(art: Artifact, contract: bytes, key: bytes, value: bytes) -> dict[str, Any]:
    """A storage write as the debugger shows it: the state variable (and map keys) it
    writes, with the value decoded by the variable's type where the layout says how."""
    out: dict[str, Any] = {"contract": "0x" + contract.hex(), "key": "0x" + key.hex(),
                           "value": "0x" + value.hex()}
    slot = int.from_bytes(key[:4], "little") if len(key) >= 4 else -1
    var = next((s for s in art.abi.get("storage", []) if s["slot"] == slot), None)
    if var is None:
        return out
    out["var"] = var["name"]
    ty = abi.type_from_json(var["type"])
    try:
        if isinstance(ty, MapTy):
            out["map_keys"] = value_to_json(abi.decode_many(abi.map_keys(ty), key[4:]))
            ty = _map_value(ty)
        elif len(key) != 4:
            return out
        out["decoded"] = value_to_json(abi.decode(ty, value))
    except (ArgumentError, ValueError):
        pass  # a container's element or length record: shown as raw bytes
    return out


def _map_value(t: MapTy) -> Ty:
    while isinstance(t.value, MapTy):
        t = t.value
    return t.value


def parse_call(text: str) -> tuple[str, list[str]]:
    """`method(arg, ...)` -> the method and each argument as JSON text."""
    name, sep, rest = text.strip().partition("(")
    if not sep or not rest.endswith(")") or not name.strip().isidentifier():
        raise ArgumentError(f"--call {text!r} is not `method(arg, ...)`")
    try:
        values = json.loads("[" + rest[:-1] + "]")
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"the arguments of {text!r} are not JSON values: {exc}") from None
    return name.strip(), [json.dumps(v) for v in values]


def debug_call(source: str, file: str, call: str | None = None, test: str | None = None,
               init: list[str] | None = None, contract: str | None = None,
               sender: bytes = DEFAULT_SENDER, limit: int = MAX_STEPS) -> Trace:
    """Debug one call (`method(args)`, after deploying the contract with `init`) or one
    `test fn` of the source; the source does not compile: CompileError, a bad call or
    test name: ArgumentError. A failing call is a trace with `error` set."""
    if (call is None) == (test is None):
        raise ArgumentError("debug either a call or a test")
    if test is not None:
        engine = DebugEngine()
        chain = LocalChain(engine=engine)
        trace = Trace(limit=limit)
        art, builds = _test_build(source, file, test)
        chain.world.test_artifacts = builds
        chain.world.code[TEST_ADDRESS] = art
        engine.record(trace)
        res = engine.run_entry(chain.world, TEST_ADDRESS, "test", test, [], TEST_CALLER,
                               MAX_TX_FUEL)
        return _finish(trace, res)
    assert call is not None
    method, raw = parse_call(call)
    art = compile_source(source, file, 0, contract, debug=True)
    return trace_call(art, method, raw, init or [], sender, limit)


def trace_call(art: Artifact, method: str, raw: list[str], init: list[str],
               sender: bytes = DEFAULT_SENDER, limit: int = MAX_STEPS,
               engine: DebugEngine | None = None) -> Trace:
    """Deploy `art` on a fresh local chain (constructor arguments `init`, JSON text) and
    trace one call of `method`. A normal build traces too (writes, events, no steps):
    that is how tests compare a debug build with it. `engine` may be reused (it keeps
    compiled modules) across traces."""
    args = args_from_text(params_of(art.abi, method), method, raw)
    has_init = any(f["kind"] == "init" for f in art.abi["functions"])
    init_args = args_from_text(params_of(art.abi, "init"), "init", init) if has_init else []
    engine = engine or DebugEngine()
    engine.record(None)  # the constructor is not traced
    chain = LocalChain(engine=engine)
    addr = chain.deploy(art, *init_args, sender=sender)
    trace = Trace(limit=limit)
    engine.record(trace)
    return _finish(trace, chain.call(addr, method, *args, sender=sender, fuel=MAX_TX_FUEL))


def _test_build(source: str, file: str, test: str) -> tuple[Artifact, dict[str, Artifact]]:
    """The debug build that runs `test fn test`, and every contract's debug build by name."""
    runs, builds = runs_of_tests(source, file, debug=True)
    found = next((art for art, name, _ in runs if name == test), None)
    if found is None:
        raise ArgumentError(f"no test `{test}` in {file}")
    return found, builds


def _finish(trace: Trace, res: CallResult) -> Trace:
    trace.result, trace.error = res.value, res.error
    return trace
