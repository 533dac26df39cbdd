"""Engine behaviour: values round-trip, every fault is a typed error with a Qi trace, fuel
and memory limits hold, garbage is collected, crypto host calls match the libraries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.crypto import hashes
from xinlian.crypto.keys import AlgId
from xinlian.crypto.signing import generate_signing_key
from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import (
    ArgumentError,
    ModuleError,
    OutOfFuelError,
    OutOfMemoryError,
    StackOverflowError,
    TrapError,
)

SRC = """
struct Point { x: i32, y: i32 }
enum Color { Red, Green, Blue }
contract T {
    state hits: u64;
    pub view fn echo_u256(a: u256) -> u256 { return a; }
    pub view fn echo_point(p: Point) -> Point { return p; }
    pub view fn echo_list(l: list<list<i16>>) -> list<list<i16>> { return l; }
    pub view fn echo_opt(o: string?) -> string? { return o; }
    pub view fn echo_color(c: Color) -> Color { return c; }
    pub view fn add8(a: u8, b: u8) -> u8 { return a + b; }
    pub view fn add64(a: i64, b: i64) -> i64 { return a + b; }
    pub view fn mul64(a: u64, b: u64) -> u64 { return a * b; }
    pub view fn sub32(a: i32, b: i32) -> i32 { return a - b; }
    pub view fn big(a: i256, b: i256) -> i256 { return a * b - a / b; }
    pub view fn wide(a: u256, b: u256) -> list<bool> { return [a < b, a <= b, a == b]; }
    pub view fn wide_s(a: i128, b: i128) -> list<bool> { return [a < b, a <= b, a > b]; }
    pub view fn add256(a: u256, b: u256) -> u256 { return a + b; }
    pub view fn sub256(a: u256, b: u256) -> u256 { return a - b; }
    pub view fn add128(a: u128, b: u128) -> u128 { return a + b; }
    pub view fn sub128(a: u128, b: u128) -> u128 { return a - b; }
    pub view fn div(a: i64, b: i64) -> i64 { return a / b; }
    pub view fn rem(a: i64, b: i64) -> i64 { return a % b; }
    pub view fn narrow(a: i64) -> u16 { return a as u16; }
    pub view fn at(l: list<u64>, i: u32) -> u64 { return l[i]; }
    pub view fn unwrap(o: u64?) -> u64 { return o.unwrap(); }
    pub view fn check(a: u64) -> u64 { assert(a != 3); return a; }
    pub view fn down(n: u64) -> u64 { if n == 0 { return 0; } return down(n - 1) + 1; }
    pub view fn spin() -> u64 { let mut i: u64 = 0; while true { i += 1; } return i; }
    pub view fn churn(n: u64) -> u64 {
        let mut keep: list<u64> = [];
        for i in 0..n {
            let tmp: list<u64> = [i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i];
            if i % 100000 == 0 { keep.push(tmp[0]); }
        }
        return keep.len() as u64;
    }
    pub view fn hoard(n: u64) -> u64 {
        let mut keep: list<bytes> = [];
        for i in 0..n { keep.push(encode(i)); }
        return keep.len() as u64;
    }
    pub view fn h(b: bytes) -> list<bytes> { return [sm3(b), sha256(b), keccak256(b)]; }
    pub view fn verify_all(pk: bytes, m: bytes, s: bytes) -> list<bool> {
        return [sm2_verify(pk, m, s), ed25519_verify(pk, m, s), mldsa_verify(pk, m, s)];
    }
    pub fn hit() -> u64 { hits += 1; return hits; }
    pub fn hit_then_fail() { hits += 1; assert(false); }
}
"""


@pytest.fixture(scope="module")
def env() -> tuple[LocalChain, bytes]:
    ch = LocalChain()
    return ch, ch.deploy(compile_source(SRC, "t.qi"))


def call(env: tuple[LocalChain, bytes], m: str, *a: object, **kw: object):
    ch, addr = env
    return ch.call(addr, m, *a, **kw)  # type: ignore[arg-type]


@given(st.integers(0, 2**256 - 1))
def test_u256_round_trip(env, v: int) -> None:
    assert call(env, "echo_u256", v).value == v


@given(st.integers(-(2**255), 2**255 - 1), st.integers(-(2**255), 2**255 - 1))
def test_i256_arithmetic_matches_python(env, a: int, b: int) -> None:
    r = call(env, "big", a, b)
    if b == 0:
        assert isinstance(r.error, TrapError) and "division by zero" in r.error.message
        return
    q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
    want = a * b - q
    if -(2**255) <= a * b < 2**255 and -(2**255) <= want < 2**255:
        assert r.value == want
    else:
        assert isinstance(r.error, TrapError) and "overflow" in r.error.message


_U256 = st.integers(0, 2**256 - 1) | st.sampled_from([0, 1, 2**64 - 1, 2**64, 2**128,
                                                     2**255, 2**256 - 1])
_U128 = st.integers(0, 2**128 - 1) | st.sampled_from([0, 2**64 - 1, 2**64, 2**128 - 1])


@given(_U256, _U256)
def test_u256_add_sub_compare(env, a: int, b: int) -> None:
    assert call(env, "wide", a, b).value == [a < b, a <= b, a == b]
    r = call(env, "add256", a, b)
    assert r.value == a + b if a + b < 2**256 else "overflow" in r.error.message
    r = call(env, "sub256", a, b)
    assert r.value == a - b if a >= b else "overflow" in r.error.message


@given(_U128, _U128, st.integers(-(2**127), 2**127 - 1), st.integers(-(2**127), 2**127 - 1))
def test_u128_add_sub_and_signed_compare(env, a: int, b: int, x: int, y: int) -> None:
    r = call(env, "add128", a, b)
    assert r.value == a + b if a + b < 2**128 else "overflow" in r.error.message
    r = call(env, "sub128", a, b)
    assert r.value == a - b if a >= b else "overflow" in r.error.message
    assert call(env, "wide_s", x, y).value == [x < y, x <= y, x > y]


@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1))
def test_i64_add_checked(env, a: int, b: int) -> None:
    r = call(env, "add64", a, b)
    assert r.value == a + b if -(2**63) <= a + b < 2**63 else "overflow" in r.error.message


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_u64_mul_checked(env, a: int, b: int) -> None:
    r = call(env, "mul64", a, b)
    assert r.value == a * b if a * b < 2**64 else "overflow" in r.error.message


@given(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1))
def test_i32_sub_checked(env, a: int, b: int) -> None:
    r = call(env, "sub32", a, b)
    assert r.value == a - b if -(2**31) <= a - b < 2**31 else "overflow" in r.error.message


@given(st.lists(st.lists(st.integers(-(2**15), 2**15 - 1), max_size=4), max_size=4))
def test_nested_list_round_trip(env, v: list[list[int]]) -> None:
    assert call(env, "echo_list", v).value == v


def test_struct_optional_enum_round_trip(env) -> None:
    assert call(env, "echo_point", {"x": -5, "y": 7}).value == {"x": -5, "y": 7}
    assert call(env, "echo_opt", None).value is None
    assert call(env, "echo_opt", "公链").value == "公链"
    assert call(env, "echo_color", "Green").value == "Green"


@pytest.mark.parametrize(("method", "args", "kind", "text"), [
    ("add8", [200, 56], TrapError, "arithmetic overflow"),
    ("div", [1, 0], TrapError, "division by zero"),
    ("div", [-(2**63), -1], TrapError, "arithmetic overflow"),
    ("narrow", [-1], TrapError, "out of range"),
    ("narrow", [65536], TrapError, "out of range"),
    ("at", [[1, 2], 2], TrapError, "index out of bounds"),
    ("unwrap", [None], TrapError, "unwrap of none"),
    ("check", [3], TrapError, "assertion failed"),
    ("down", [10**7], StackOverflowError, "recursion"),
])
def test_faults_are_typed_with_qi_trace(env, method, args, kind, text) -> None:
    r = call(env, method, *args)
    assert isinstance(r.error, kind), r.error
    assert text in r.error.message
    assert r.error.trace and r.error.trace[0].startswith(f"{method} (t.qi:")


def test_rem_of_min_by_minus_one_is_zero(env) -> None:
    assert call(env, "rem", -(2**63), -1).value == 0
    assert call(env, "rem", -7, 2).value == -1


def test_trace_names_caller_chain(env) -> None:
    r = call(env, "down", 10**7)
    assert "[x" in r.error.trace[1]  # repeated recursive frames are folded


def test_fuel_limit_is_enforced(env) -> None:
    r = call(env, "spin", fuel=1_000_000)
    assert isinstance(r.error, OutOfFuelError)
    assert r.fuel_used == 1_000_000
    small = call(env, "add8", 1, 2)
    assert 0 < small.fuel_used < 10_000


def test_garbage_is_collected_under_a_small_memory_limit(env) -> None:
    ch, addr = env
    # 1,000,000 lists of 16 u64 (about 150 MB allocated) with an 8 MiB limit
    r = ch.engine.call(ch.world, addr, "churn", [1_000_000], bytes(20), memory=8 << 20)
    assert r.ok and r.value == 10


def test_live_data_beyond_the_limit_is_out_of_memory(env) -> None:
    ch, addr = env
    r = ch.engine.call(ch.world, addr, "hoard", [400_000], bytes(20), memory=4 << 20)
    assert isinstance(r.error, OutOfMemoryError)
    assert r.error.trace and r.error.trace[0].startswith("hoard (t.qi:")


def test_hash_host_calls_match_library(env) -> None:
    assert call(env, "h", b"abc").value == [hashes.sm3(b"abc"), hashes.sha256(b"abc"),
                                           hashes.keccak256(b"abc")]
    # GB/T 32905 example: SM3("abc")
    assert call(env, "h", b"abc").value[0].hex().startswith("66c7f0f462eeedd9")


@pytest.mark.parametrize(("alg", "slot"), [(AlgId.SM2, 0), (AlgId.ED25519, 1),
                                           (AlgId.ML_DSA_65, 2)])
def test_signature_verification_host_calls(env, alg: AlgId, slot: int) -> None:
    key = generate_signing_key(alg, seed=bytes(32))
    sig = key.sign(b"qi").data
    got = call(env, "verify_all", key.public_key.data, b"qi", sig).value
    assert got[slot] is True
    assert call(env, "verify_all", key.public_key.data, b"qj", sig).value[slot] is False


def test_failed_call_rolls_back_state(env) -> None:
    before = call(env, "hit").value
    assert isinstance(call(env, "hit_then_fail").error, TrapError)
    assert call(env, "hit").value == before + 1


def test_bad_arguments_are_typed(env) -> None:
    ch, addr = env
    assert isinstance(call(env, "add8", 300, 1).error, ArgumentError)
    assert isinstance(call(env, "add8", 1).error, ArgumentError)
    assert isinstance(call(env, "nope").error, ArgumentError)
    assert isinstance(call(env, "echo_color", "Purple").error, ArgumentError)
    r = ch.engine.call_raw(ch.world, addr, "add8", b"\x01", bytes(20))
    assert isinstance(r.error, ArgumentError)
    r = ch.engine.call_raw(ch.world, addr, "echo_opt", b"\x02", bytes(20))
    assert isinstance(r.error, ArgumentError)


@pytest.mark.parametrize("damage", [lambda w: w[:40], lambda w: w[:8] + b"\x01\xff" + w[10:],
                                    lambda w: b"\x00wasm" + w[5:]])
def test_malformed_module_is_typed(damage) -> None:
    art = compile_source("contract C { pub fn f() {} }")
    art.wasm = damage(art.wasm)
    with pytest.raises(ModuleError):
        LocalChain().engine.load(art)


HOSTILE = """
(module
  (import "qi" "emit" (func $emit (param i32 i32 i32)))
  (import "qi" "storage_read" (func $sr (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global (export "panic") (mut i32) (i32.const 0))
  (func (export "q:bad_event") (param i32) (result i32)
    (call $emit (i32.const 99) (i32.const 0) (i32.const 4)) (i32.const 0))
  (func (export "q:bad_pointer") (param i32) (result i32)
    (drop (call $sr (i32.const 70000) (i32.const 10))) (i32.const 0)))
"""


@pytest.mark.parametrize("method", ["bad_event", "bad_pointer"])
def test_hostile_module_host_misuse_is_a_typed_trap(method: str) -> None:
    import wasmtime

    from xinlian.lang.compiler import Artifact

    fn = {"name": method, "export": f"q:{method}", "kind": "fn", "public": True,
          "view": False, "params": [], "returns": "unit"}
    art = Artifact(bytes(wasmtime.wat2wasm(HOSTILE)), {"functions": [fn], "events": [],
                                                "errors": []})
    ch = LocalChain()
    addr = bytes(20)
    ch.world.code[addr] = art
    r = ch.call(addr, method)
    assert isinstance(r.error, TrapError)
    assert "bad host call" in r.error.message or "outside linear memory" in r.error.message


def test_module_without_entry_point_is_typed() -> None:
    import wasmtime

    from xinlian.lang.compiler import Artifact

    fn = {"name": "f", "export": "q:f", "kind": "fn", "public": True, "view": False,
          "params": [], "returns": "unit"}
    art = Artifact(bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1))')),
                   {"functions": [fn], "events": [], "errors": []})
    ch = LocalChain()
    ch.world.code[bytes(20)] = art
    assert isinstance(ch.call(bytes(20), "f").error, ModuleError)


def test_arguments_larger_than_the_memory_limit(env) -> None:
    ch, addr = env
    r = ch.engine.call(ch.world, addr, "h", [bytes(3 << 20)], bytes(20), memory=1 << 20)
    assert isinstance(r.error, OutOfMemoryError)


CODEC_SRC = """
struct P { x: i32, name: string, tags: list<u8>, owner: address? }
contract C {
    pub view fn enc(p: P) -> bytes { return encode(p); }
    pub view fn dec(b: bytes) -> P { let p: P = decode(b); return p; }
}
"""


@given(st.integers(-(2**31), 2**31 - 1), st.text(max_size=8),
       st.lists(st.integers(0, 255), max_size=5), st.none() | st.binary(min_size=20,
                                                                        max_size=20))
def test_in_language_encoding_matches_the_abi(x: int, name: str, tags: list[int],
                                              owner: bytes | None) -> None:
    from xinlian.lang import abi
    from xinlian.lang.types import ADDRESS, STRING, U8, IntTy, ListTy, OptionalTy, StructTy

    i32 = IntTy(32, True)

    ch, addr = CODEC_ENV
    p = {"x": x, "name": name, "tags": tags, "owner": owner}
    ty = StructTy("P", [("x", i32), ("name", STRING), ("tags", ListTy(U8)),
                        ("owner", OptionalTy(ADDRESS))])
    enc = ch.call(addr, "enc", p).value
    assert enc == abi.encode(ty, p)
    assert ch.call(addr, "dec", enc).value == p
    assert isinstance(ch.call(addr, "dec", enc + b"\0").error, TrapError)
    assert isinstance(ch.call(addr, "dec", enc[:-1]).error, TrapError)


_codec_chain = LocalChain()
CODEC_ENV = (_codec_chain, _codec_chain.deploy(compile_source(CODEC_SRC, "c.qi")))


def test_host_work_is_metered(env) -> None:
    small = call(env, "h", b"x").fuel_used
    large = call(env, "h", bytes(100_000)).fuel_used
    assert large - small >= 3 * 2 * 100_000  # three hashes at 2 fuel per byte
    key = generate_signing_key(AlgId.ED25519, seed=bytes(32))
    r = call(env, "verify_all", key.public_key.data, b"m", key.sign(b"m").data)
    assert r.fuel_used > 1_500_000 + 2 * 250_000


def test_out_of_fuel_inside_a_host_call(env) -> None:
    r = call(env, "h", bytes(1_000_000), fuel=1_000_000)
    assert isinstance(r.error, OutOfFuelError) and r.fuel_used == 1_000_000


def test_events_carry_the_encoding_they_were_emitted_with() -> None:
    from pathlib import Path

    from xinlian.lang import abi
    from xinlian.lang.types import ADDRESS, IntTy

    token = Path(__file__).resolve().parents[2] / "examples" / "qi" / "token.qi"
    ch = LocalChain()
    owner, bob = b"\x01" * 20, b"\xb0" * 20
    addr = ch.deploy(compile_source(token.read_text(), "token.qi"), "T", 100, sender=owner)
    r = ch.call(addr, "transfer", bob, 30, sender=owner)
    assert r.ok, r.error
    (event,) = r.events
    assert event.args == {"from": owner, "to": bob, "amount": 30}
    assert event.indexed == {"from": owner, "to": bob}
    assert event.data == (abi.encode(ADDRESS, owner) + abi.encode(ADDRESS, bob)
                          + abi.encode(IntTy(256, False), 30))


EMITTER = """
(module
  (import "qi" "emit" (func $emit (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\\07\\00\\00\\00\\00\\00\\00\\00\\01")
  (data (i32.const 32) "\\07\\00\\00\\00\\00\\00\\00\\00\\02")
  (func (export "q:good") (param i32) (result i32)
    (call $emit (i32.const 0) (i32.const 16) (i32.const 9)) (i32.const 0))
  (func (export "q:short") (param i32) (result i32)
    (call $emit (i32.const 0) (i32.const 16) (i32.const 8)) (i32.const 0))
  (func (export "q:bad_bool") (param i32) (result i32)
    (call $emit (i32.const 0) (i32.const 32) (i32.const 9)) (i32.const 0)))
"""


@pytest.mark.parametrize("method", ["good", "short", "bad_bool"])
def test_emitted_event_data_is_checked_strictly_and_decoded_when_asked(method: str) -> None:
    """The host keeps an event's bytes without decoding them, but only bytes that decode
    by the ABI: a short encoding or a bool byte of 2 fails the call like a decode did."""
    import wasmtime

    from xinlian.lang.compiler import Artifact

    fn = {"name": method, "export": f"q:{method}", "kind": "fn", "public": True,
          "view": False, "params": [], "returns": "unit"}
    event = {"name": "Seen", "id": 0, "params": [
        {"name": "n", "type": "u64", "indexed": True},
        {"name": "ok", "type": "bool", "indexed": False}]}
    art = Artifact(bytes(wasmtime.wat2wasm(EMITTER)), {"functions": [fn], "events": [event],
                                                 "errors": []})
    ch = LocalChain()
    addr = bytes(20)
    ch.world.code[addr] = art
    r = ch.call(addr, method)
    if method == "good":
        assert r.ok and [(e.name, e.args, e.indexed) for e in r.events] == [
            ("Seen", {"n": 7, "ok": True}, {"n": 7})]
        assert r.events[0].data == bytes([7, 0, 0, 0, 0, 0, 0, 0, 1])
    else:
        assert isinstance(r.error, TrapError) and "bad host call `emit`" in r.error.message
