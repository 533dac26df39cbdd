"""Cross-contract calls: errors propagate or are caught, state rolls back per call, fuel
and the depth limit are shared by the whole call tree."""

from __future__ import annotations

from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import OutOfFuelError, RevertError, TrapError

SRC = """
interface Callee {
    fn bump(fail: bool) -> u64;
    fn spin() -> u64;
    fn again(depth: u64) -> u64;
    fn touch(fail: bool);
}

contract Inner {
    state n: u64;
    error Refused(at: u64);
    pub fn bump(fail: bool) -> u64 {
        n += 1;
        if fail { revert Refused(n); }
        return n;
    }
    pub fn spin() -> u64 { let mut i: u64 = 0; while true { i += 1; } return i; }
    pub view fn get() -> u64 { return n; }
    pub fn touch(fail: bool) { n += 100; assert(!fail); }
    pub fn again(depth: u64) -> u64 { return Callee(self_address()).again(depth + 1); }
}

contract Outer {
    state calls: u64;
    state caught: string;
    pub fn plain(inner: address, fail: bool) -> u64 {
        calls += 1;
        return Callee(inner).bump(fail);
    }
    pub fn guarded(inner: address, fail: bool) -> u64 {
        calls += 1;
        try let v = Callee(inner).bump(fail) { return v; } catch e { caught = e; }
        return 0;
    }
    pub fn spin(inner: address) -> u64 { return Callee(inner).spin(); }
    pub fn recurse(inner: address) -> u64 { return Callee(inner).again(0); }
    pub fn later(inner: address, fail: bool) { async Callee(inner).touch(fail) then done; }
    fn done(ok: bool) { if ok { calls += 10; } else { calls += 1000; } }
    pub view fn get_calls() -> u64 { return calls; }
    pub view fn get_caught() -> string { return caught; }
}
"""


def setup() -> tuple[LocalChain, bytes, bytes]:
    ch = LocalChain()
    inner = ch.deploy(compile_source(SRC, "calls.qi", contract="Inner"))
    outer = ch.deploy(compile_source(SRC, "calls.qi", contract="Outer"))
    return ch, inner, outer


def test_sync_call_result_and_error_propagation() -> None:
    ch, inner, outer = setup()
    assert ch.call(outer, "plain", inner, False).value == 1
    r = ch.call(outer, "plain", inner, True)
    assert isinstance(r.error, RevertError) and r.error.error_name == "Refused"
    assert r.error.args_ == [2]
    # the whole call rolled back: the caller's counter and the callee's state
    assert ch.call(outer, "get_calls").value == 1
    assert ch.call(inner, "get").value == 1


def test_try_catch_rolls_back_only_the_callee() -> None:
    ch, inner, outer = setup()
    assert ch.call(outer, "guarded", inner, True).value == 0
    assert ch.call(outer, "get_caught").value == "Refused"
    assert ch.call(outer, "get_calls").value == 1  # the caller's write is kept
    assert ch.call(inner, "get").value == 0  # the callee's write was undone
    assert ch.call(outer, "guarded", inner, False).value == 1


def test_fuel_is_shared_with_callees() -> None:
    ch, inner, outer = setup()
    r = ch.call(outer, "spin", inner, fuel=2_000_000)
    assert isinstance(r.error, OutOfFuelError)
    assert r.fuel_used == 2_000_000


def test_call_depth_is_limited() -> None:
    ch, inner, outer = setup()
    r = ch.call(outer, "recurse", inner)
    assert isinstance(r.error, TrapError) and "depth" in r.error.message


def test_async_call_without_result_reports_success_as_bool() -> None:
    ch, inner, outer = setup()
    assert ch.call(outer, "later", inner, False).ok
    assert ch.call(outer, "later", inner, True).ok
    assert ch.call(outer, "get_calls").value == 0
    results = ch.advance_block()
    assert [r.ok for r in results] == [True, True, False, True]  # call, callback, call, cb
    assert ch.call(outer, "get_calls").value == 1010
    assert ch.call(inner, "get").value == 100  # the failed async call was rolled back


def test_failing_constructor_deploys_nothing() -> None:
    import pytest

    from xinlian.lang.errors import EngineError

    ch = LocalChain()
    art = compile_source("contract C { init(x: u64) { require(x > 0, \"x\"); } }", "c.qi")
    with pytest.raises(EngineError):
        ch.deploy(art, 0)
    assert ch.world.code == {}
    assert ch.deploy(art, 1) in ch.world.code
