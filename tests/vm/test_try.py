"""`try { } catch ...` around any block: typed clauses bind the error's arguments, a
caught error rolls back the block's state writes, events and async requests (locals keep
their values), an error no clause takes goes on up, and faults are not caught."""

from __future__ import annotations

import pytest

from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CompileError, RevertError, TrapError

SRC = """
interface Other { fn bump(fail: bool) -> u64; fn ping(); }

contract Callee {
    state n: u64;
    error Refused(at: u64);
    pub fn bump(fail: bool) -> u64 { n += 1; if fail { revert Refused(n); } return n; }
    pub fn ping() {}
    pub view fn get() -> u64 { return n; }
}

contract C {
    state n: u64;
    state log: list<string>;
    event Bumped(v: u64);
    error TooBig(limit: u64, asked: u64);
    error Named(who: string, tags: list<u8>);

    fn bump(x: u64) { n += x; emit Bumped(n); if n > 10 { revert TooBig(10, n); } }

    pub fn add(x: u64) -> u64 {
        let mut seen: u64 = 0;
        try {
            seen = 1;
            bump(x);
        } catch TooBig(limit, asked) {
            seen = seen * 1_000_000 + limit * 1000 + asked;
        }
        return seen;
    }
    pub fn pick(which: u8) -> string {
        try {
            if which == 0 { revert TooBig(1, 2); }
            if which == 1 { revert Named("ann", [7, 8]); }
            if which == 2 { require(false, "plain"); }
            return "none";
        } catch TooBig(_, asked) {
            return "too big " + asked.to_string();
        } catch Named(who, tags) {
            return who + " " + tags[1].to_string();
        } catch Error(reason) {
            return "error " + reason;
        }
    }
    pub fn only_too_big(named: bool) {
        n = 5;
        try { if named { revert Named("x", []); } revert TooBig(0, 0); } catch TooBig { n = 6; }
    }
    pub fn cached() -> u64 {
        let before = n;
        try { n = before + 1; bump(100); } catch { }
        return n * 1000 + before;
    }
    pub fn nested() -> string {
        let mut out = "";
        try {
            n = 1;
            try { n = 2; revert Named("inner", []); } catch TooBig { out = "wrong"; }
        } catch e {
            out = e + " " + n.to_string();
        }
        return out;
    }
    pub fn looped() -> u64 {
        let mut caught: u64 = 0;
        for i in 0..20 {
            try {
                if i % 3 == 0 { continue; }
                if i == 19 { break; }
                revert TooBig(i, i);
            } catch TooBig(a, b) { caught += a + b; }
        }
        n = caught;
        return caught;
    }
    pub fn call_other(other: address, fail: bool) -> string {
        try {
            n += 1;
            let v = Other(other).bump(fail);
            return v.to_string();
        } catch e {
            return e + " " + n.to_string();
        }
    }
    pub fn later(other: address) -> u64 {
        try { async Other(other).ping() then done; revert TooBig(0, 0); } catch { }
        return 0;
    }
    fn done(ok: bool) { n = 1000; }
    pub fn fault(x: u8) -> u8 {
        try { return x + 250; } catch e { return 0; }
    }
    pub view fn get() -> u64 { return n; }
}
"""


@pytest.fixture(params=[0, 2], ids=["O0", "O2"])
def chain(request: pytest.FixtureRequest) -> tuple[LocalChain, bytes, bytes]:
    ch = LocalChain()
    callee = ch.deploy(compile_source(SRC, "try.qi", contract="Callee"))
    c = ch.deploy(compile_source(SRC, "try.qi", opt_level=request.param, contract="C"))
    return ch, c, callee


def test_typed_catch_binds_arguments_and_rolls_back_the_block(
        chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, _ = chain
    r = ch.call(c, "add", 4)
    assert r.value == 1 and [e.args for e in r.events] == [{"v": 4}]
    r = ch.call(c, "add", 50)
    # `seen = 1` (a local) is kept; n went to 54 and is back to 4; the event is gone
    assert r.value == 1_000_000 + 10_054 and r.events == []
    assert ch.call(c, "get").value == 4


def test_clauses_match_by_error_type(chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, _ = chain
    assert [ch.call(c, "pick", w).value for w in range(4)] == [
        "too big 2", "ann 8", "error plain", "none"]


def test_an_error_no_clause_takes_goes_on_up(chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, _ = chain
    assert ch.call(c, "only_too_big", False).ok and ch.call(c, "get").value == 6
    r = ch.call(c, "only_too_big", True)
    assert isinstance(r.error, RevertError) and r.error.error_name == "Named"
    assert r.error.message.startswith('Named(who: "x", tags: [])')
    assert ch.call(c, "get").value == 6  # the whole call rolled back


def test_state_read_after_a_caught_block_is_the_rolled_back_value(
        chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, _ = chain
    ch.call(c, "add", 3)
    assert ch.call(c, "cached").value == 3003


def test_nested_blocks_roll_back_to_their_own_savepoint(
        chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, _ = chain
    assert ch.call(c, "nested").value == "Named 0"
    assert ch.call(c, "get").value == 0


def test_break_and_continue_leave_a_try_block(chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, _ = chain
    want = sum(2 * i for i in range(19) if i % 3)
    assert ch.call(c, "looped").value == want and ch.call(c, "get").value == want


def test_failed_contract_call_is_caught_and_rolled_back(
        chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, callee = chain
    assert ch.call(c, "call_other", callee, False).value == "1"
    assert ch.call(c, "call_other", callee, True).value == "Refused 1"
    assert ch.call(callee, "get").value == 1 and ch.call(c, "get").value == 1


def test_async_request_in_a_caught_block_is_dropped(
        chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, callee = chain
    r = ch.call(c, "later", callee)
    assert r.ok and r.async_calls == []


def test_faults_are_not_caught(chain: tuple[LocalChain, bytes, bytes]) -> None:
    ch, c, _ = chain
    assert ch.call(c, "fault", 5).value == 255
    r = ch.call(c, "fault", 6)
    assert isinstance(r.error, TrapError) and "overflow" in r.error.message


@pytest.mark.parametrize(("body", "code"), [
    ("try { } catch Missing(a) { }", 7201),
    ("try { } catch Oops(a) { }", 7205),
    ("try { } catch e { } catch Oops { }", 7217),
])
def test_bad_catch_clauses(body: str, code: int) -> None:
    src = f"contract K {{ error Oops(a: u8, b: u8); pub fn f() {{ {body} }} }}"
    with pytest.raises(CompileError) as info:
        compile_source(src, "k.qi")
    assert [d.code for d in info.value.diagnostics] == [code]
