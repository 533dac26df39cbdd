"""Nothing one call does is visible to the next: globals, linear memory (contents and
size), tables and the GC heap start fresh for every call and every nested instance, and a
call's result, fuel and memory need do not depend on the calls that ran before it."""

from __future__ import annotations

import pytest
import wasmtime

from xinlian.execution.vm import services
from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import Artifact, compile_source

# `poke` reports what an earlier instance could have left behind, one bit each (a global,
# a memory cell, the memory's size, a table slot, a GC object held by a global), then
# leaves all of them behind itself. A fresh instance returns 0.
POKE = """
(module
  (type $box (struct (field (mut i32))))
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const 0))
  (global $keep (mut (ref null $box)) (ref.null $box))
  (table $t 1 funcref)
  (elem declare func $seven)
  (func $seven (result i32) (i32.const 7))
  (func (export "q:poke") (param i32) (result i32) (local $seen i32)
    (local.set $seen
      (i32.or
        (i32.or (i32.ne (global.get $count) (i32.const 0))
                (i32.shl (i32.ne (i32.load (i32.const 1024)) (i32.const 0)) (i32.const 1)))
        (i32.or
          (i32.shl (i32.ne (memory.size) (i32.const 1)) (i32.const 2))
          (i32.or
            (i32.shl (i32.eqz (ref.is_null (table.get $t (i32.const 0)))) (i32.const 3))
            (i32.shl (i32.eqz (ref.is_null (global.get $keep))) (i32.const 4))))))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.store (i32.const 1024) (i32.const 99))
    (drop (memory.grow (i32.const 1)))
    (table.set $t (i32.const 0) (ref.func $seven))
    (global.set $keep (struct.new $box (i32.const 5)))
    (i32.store (i32.const 0) (local.get $seen))
    (i32.const 4)))
"""
POKE_ABI = {"functions": [{"name": "poke", "export": "q:poke", "kind": "fn", "public": True,
                           "view": False, "params": [], "returns": "u32"}],
            "events": [], "errors": []}

CALLER_SRC = """
interface Poke { fn poke() -> u32; }
contract C {
    pub view fn who() -> address { return caller(); }
    pub fn poke_twice(p: address) -> u32 { return Poke(p).poke() * 100 + Poke(p).poke(); }
    pub view fn hoard(n: u64) -> u64 {
        let mut keep: list<bytes> = [];
        for i in 0..n { keep.push(encode(i)); }
        return keep.len() as u64;
    }
}
"""


@pytest.fixture(scope="module")
def env() -> tuple[LocalChain, bytes, bytes]:
    ch = LocalChain()
    poke = bytes(19) + b"\x50"
    ch.world.code[poke] = Artifact(bytes(wasmtime.wat2wasm(POKE)), POKE_ABI)
    return ch, poke, ch.deploy(compile_source(CALLER_SRC, "c.qi"))


def test_a_call_sees_nothing_an_earlier_call_left(env) -> None:
    ch, poke, _ = env
    seen = [ch.call(poke, "poke") for _ in range(3)]
    assert [r.error for r in seen] == [None] * 3
    assert [r.value for r in seen] == [0, 0, 0]


def test_nested_instances_of_one_contract_start_fresh(env) -> None:
    ch, poke, c = env
    r = ch.call(c, "poke_twice", poke)
    assert r.ok, r.error
    assert r.value == 0


def test_the_cached_caller_is_the_current_one(env) -> None:
    ch, _, c = env
    for sender in (b"\x01" * 20, b"\x02" * 20, b"\x01" * 20):
        assert ch.call(c, "who", sender=sender).value == sender


def test_outcome_and_fuel_do_not_depend_on_earlier_calls(env) -> None:
    """The smallest memory limit under which a call succeeds, and its fuel, are the same in
    a fresh engine and after other calls have grown, filled and left garbage in theirs."""
    ch, _, c = env
    fresh = LocalChain()
    c2 = fresh.deploy(compile_source(CALLER_SRC, "c.qi"))
    sender = b"\x07" * 20
    need = fresh.engine.measure_memory(fresh.world, c2, "hoard", [3000], sender)
    fuel = fresh.engine.call(fresh.world, c2, "hoard", [3000], sender).fuel_used
    assert need is not None
    for n in (50_000, 10, 20_000):  # history: large and small heaps, garbage
        assert ch.engine.call(ch.world, c, "hoard", [n], sender).ok
    assert ch.engine.measure_memory(ch.world, c, "hoard", [3000], sender) == need
    again = ch.engine.call(ch.world, c, "hoard", [3000], sender, memory=need)
    assert again.ok and again.fuel_used == fuel
    short = ch.engine.call(ch.world, c, "hoard", [3000], sender, memory=need - 4096)
    assert short.error is not None and short.error.name == "out_of_memory"


def test_an_interrupt_in_a_host_function_escapes_and_the_engine_stays_usable(
        env, monkeypatch) -> None:
    ch, _, _ = env
    src = "contract H { pub view fn h() -> bytes { return tx_hash(); } }"
    addr = ch.deploy(compile_source(src, "h.qi"))

    def interrupted(frame: object) -> bytes:
        raise KeyboardInterrupt

    monkeypatch.setitem(services.SERVICE_FNS, "tx_hash", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ch.call(addr, "h")
    monkeypatch.undo()
    assert ch.engine.host.stack == []
    r = ch.call(addr, "h")
    assert r.ok and r.value == ch.world.tx.hash


def test_engines_on_two_threads_match_one_after_the_other() -> None:
    """Engines share nothing: each has its own host state and scratch buffers, so two
    running at once (wasmtime runs without the GIL) give what they give alone."""
    import threading
    from pathlib import Path

    token = compile_source((Path(__file__).resolve().parents[2] / "examples" / "qi"
                            / "token.qi").read_text(), "token.qi")

    def run() -> list[tuple[object, int, int]]:
        ch = LocalChain()
        owner = b"\x01" * 20
        addr = ch.deploy(token, "T", 10**6, sender=owner)
        out = []
        for i in range(150):
            r = ch.call(addr, "transfer", bytes([2 + i % 7]) * 20, i, sender=owner)
            out.append((r.value, r.fuel_used, len(r.events)))
        out.append((ch.call(addr, "balance_of", owner).value, 0, 0))
        return out

    alone = run()
    results: list[list[tuple[object, int, int]]] = [[], []]

    def worker(k: int) -> None:
        results[k] = run()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [alone, alone]
