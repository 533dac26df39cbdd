"""The source-level debugger: traces of example calls (lines, locals, writes, events),
debug builds behave as normal builds, the chain refuses debug builds, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.execution.vm.debugger import (
    MAX_STEPS,
    DebugEngine,
    Trace,
    debug_call,
    trace_call,
)
from xinlian.execution.vm.engine import Engine
from xinlian.execution.vm.local import DEFAULT_SENDER, LocalChain
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import (
    ArgumentError,
    CompileError,
    ModuleError,
    RevertError,
    TraceLimitError,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qi"
TOKEN = EXAMPLES / "token.qi"
BOB_HEX = "0x" + "00" * 19 + "b0"
ALICE_HEX = "0x" + DEFAULT_SENDER.hex()

LOOP = """
contract Loop {
    state total: u64;
    pub fn spin(n: u64) -> u64 {
        let mut i: u64 = 0;
        while i < n { i += 1; }
        total = i;
        return i;
    }
}
"""


def build(name: str, debug: bool) -> Artifact:
    path = EXAMPLES / name
    return compile_source(path.read_text(), str(path), 0, debug=debug)


def token_trace(call: str) -> Trace:
    return debug_call(TOKEN.read_text(), str(TOKEN), call=call, init=['"T"', "1000"])


def test_transfer_trace_has_lines_locals_writes_and_events_in_order() -> None:
    trace = token_trace(f'transfer("{BOB_HEX}", 5)')
    assert trace.error is None and trace.result is True
    assert [(s.function, s.line) for s in trace.steps] == [
        ("transfer", 41), ("move_funds", 27), ("move_funds", 28), ("move_funds", 29),
        ("move_funds", 30), ("move_funds", 31), ("transfer", 42)]
    assert [s.depth for s in trace.steps] == [0, 1, 1, 1, 1, 1, 0]
    first, before_write = trace.steps[1], trace.steps[3]
    assert first.locals == {"from": DEFAULT_SENDER, "to": bytes.fromhex(BOB_HEX[2:]),
                            "amount": 5}
    assert before_write.locals["have"] == 1000 and before_write.writes == 0
    # the balance writes land between lines 29/30 and 30/31, the event before line 42
    assert [s.writes for s in trace.steps] == [0, 0, 0, 0, 1, 2, 2]
    assert [s.events for s in trace.steps] == [0, 0, 0, 0, 0, 0, 1]
    assert [(w["var"], w["map_keys"], w["decoded"]) for w in trace.writes] == [
        ("balances", [ALICE_HEX], 995), ("balances", [BOB_HEX], 5)]
    assert trace.events == [{"contract": trace.writes[0]["contract"], "name": "Transfer",
                             "args": {"from": ALICE_HEX, "to": BOB_HEX, "amount": 5}}]
    json.dumps(trace.to_json())  # the whole trace is JSON


def test_a_reverting_call_traces_up_to_the_revert() -> None:
    trace = token_trace(f'transfer("{BOB_HEX}", 5000)')
    assert isinstance(trace.error, RevertError)
    assert [s.line for s in trace.steps] == [41, 27, 28, 28]
    assert trace.writes == [] and trace.events == []


def test_loop_locals_and_struct_lists() -> None:
    src = (EXAMPLES / "voting.qi").read_text()
    trace = debug_call(src, "voting.qi", call="winner()", init=['["a", "b"]'])
    assert trace.error is None and trace.result == "a"
    loop_steps = [s for s in trace.steps if s.line == 40]  # the `if` in the loop body
    assert [s.locals["i"] for s in loop_steps] == [0, 1]
    assert loop_steps[0].locals["all"] == [{"title": "a", "votes": 0},
                                           {"title": "b", "votes": 0}]


def test_debug_a_test_fn() -> None:
    trace = debug_call(TOKEN.read_text(), str(TOKEN), test="transfer_moves_balance")
    assert trace.error is None
    assert any(s.function == "move_funds" and s.locals.get("have") == 100
               for s in trace.steps)
    assert [w.get("decoded") for w in trace.writes if w.get("var") == "balances"][-2:] == [
        70, 30]


def test_the_chain_refuses_a_debug_build() -> None:
    art = build("token.qi", debug=True)
    assert art.debug and not build("token.qi", debug=False).debug
    with pytest.raises(ModuleError):
        Engine().load(art)
    with pytest.raises(ModuleError):
        LocalChain().deploy(art, "T", 1)


def test_bad_input_is_a_typed_error() -> None:
    with pytest.raises(ArgumentError, match="no function `nope`"):
        token_trace("nope()")
    with pytest.raises(ArgumentError, match="argument `to` of `transfer`"):
        token_trace("transfer(1, 2)")
    with pytest.raises(ArgumentError, match="is not `method"):
        token_trace("transfer")
    with pytest.raises(ArgumentError, match="not JSON"):
        token_trace("transfer(0xzz)")
    with pytest.raises(ArgumentError, match="no test `missing`"):
        debug_call(TOKEN.read_text(), str(TOKEN), test="missing")
    with pytest.raises(CompileError):
        debug_call("contract C { pub fn f() { x = 1; } }", "bad.qi", call="f()")


def test_an_oversize_trace_ends_with_a_clear_error() -> None:
    trace = debug_call(LOOP, "loop.qi", call="spin(10)", limit=12)
    assert isinstance(trace.error, TraceLimitError)
    assert "exceeds 12 steps" in trace.error.message and len(trace.steps) == 12
    assert MAX_STEPS == 100_000
    assert debug_call(LOOP, "loop.qi", call="spin(10)").result == 10


# one engine per build kind for the whole run: compiled modules are cached
_ENGINES = {True: DebugEngine(), False: DebugEngine()}
_BUILDS: dict[tuple[str, bool], Artifact] = {}


def same_outcome(name: str, init: list[str], method: str, raw: list[str]) -> None:
    traces = []
    for debug in (False, True):
        art = _BUILDS.get((name, debug))
        if art is None:
            art = _BUILDS[(name, debug)] = build(name, debug)
        traces.append(trace_call(art, method, raw, init, engine=_ENGINES[debug]))
    normal, debugged = traces
    assert not normal.steps and debugged.steps
    assert normal.result == debugged.result
    assert normal.writes == debugged.writes and normal.events == debugged.events
    assert (normal.error is None) == (debugged.error is None)
    if normal.error is not None:
        assert debugged.error is not None and normal.error.to_dict() == debugged.error.to_dict()


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([BOB_HEX, ALICE_HEX]), st.integers(0, 2000))
def test_debug_and_normal_builds_agree_on_token_transfers(to: str, amount: int) -> None:
    same_outcome("token.qi", ['"T"', "1000"], "transfer", [json.dumps(to), str(amount)])


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 4))
def test_debug_and_normal_builds_agree_on_votes(index: int) -> None:
    same_outcome("voting.qi", ['["a", "b", "c"]'], "vote", [str(index)])


@settings(max_examples=10, deadline=None)
@given(st.text(alphabet="abcxyz", min_size=0, max_size=8), st.binary(max_size=8))
def test_debug_and_normal_builds_agree_on_registrations(name: str, target: bytes) -> None:
    same_outcome("registry.qi", [], "register", [json.dumps(name), json.dumps("0x" + target.hex())])
