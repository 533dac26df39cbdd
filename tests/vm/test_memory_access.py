"""Host calls read and write the program's linear memory where it is now: after the program
grows it (beyond the space reserved for growth in place, so it moves) between host calls,
and in a fresh instance of the next call."""

from __future__ import annotations

import wasmtime

from xinlian.execution.vm.local import LocalChain
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact
from xinlian.lang.types import BYTES

# Writes key 'a' = "1111" from the first page, grows the memory by 40 pages (2.5 MiB: more
# than the 1 MiB reserved for growth in place), writes key 'b' = "2222" from the last page,
# reads key 'a' back (the host gives its value at offset 0) and returns it (a u32).
GROW = """
(module
  (import "qi" "storage_write" (func $write (param i32 i32 i32 i32)))
  (import "qi" "storage_read" (func $read (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "q:grow") (param i32) (result i32) (local $hi i32) (local $n i32)
    (i32.store8 (i32.const 100) (i32.const 97))
    (i32.store (i32.const 104) (i32.const 0x31313131))
    (call $write (i32.const 100) (i32.const 1) (i32.const 104) (i32.const 4))
    (drop (memory.grow (i32.const 40)))
    (local.set $hi (i32.const 2686000))
    (i32.store8 (local.get $hi) (i32.const 98))
    (i32.store (i32.add (local.get $hi) (i32.const 4)) (i32.const 0x32323232))
    (call $write (local.get $hi) (i32.const 1)
                 (i32.add (local.get $hi) (i32.const 4)) (i32.const 4))
    (i32.store8 (i32.const 200) (i32.const 97))
    (local.set $n (call $read (i32.const 200) (i32.const 1)))
    (local.get $n)))
"""


def installed(wat: str, method: str, returns: str) -> tuple[LocalChain, bytes]:
    """A chain with the module `wat` at an address, its one method `method` public."""
    ch = LocalChain()
    addr = bytes(19) + b"\x61"
    ch.world.code[addr] = Artifact(bytes(wasmtime.wat2wasm(wat)), {
        "functions": [{"name": method, "export": f"q:{method}", "kind": "fn",
                       "public": True, "view": False, "params": [], "returns": returns}],
        "events": [], "errors": []})
    return ch, addr


def test_host_calls_follow_the_memory_when_the_program_grows_and_moves_it() -> None:
    ch, addr = installed(GROW, "grow", "u32")
    for _ in range(3):  # each call a fresh instance in the same slot
        r = ch.call(addr, "grow")
        assert r.ok, r.error
        assert r.output == b"1111" and r.memory_used == 41 * 65536
        assert ch.world.state.get(addr, b"a") == b"1111"
        assert ch.world.state.get(addr, b"b") == b"2222"


# Reads key 'k' into its one-page memory and returns what the host gave it.
READ_BIG = """
(module
  (import "qi" "storage_read" (func $read (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "q:get") (param i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 107))
    (call $read (i32.const 0) (i32.const 1))))
"""


def test_a_host_result_larger_than_the_memory_grows_it_and_arrives_whole() -> None:
    ch, addr = installed(READ_BIG, "get", "bytes")
    value = bytes(range(256)) * 1000  # 256,000 bytes: the memory grows from 1 to 4 pages
    ch.world.state.set(addr, b"k", abi.encode(BYTES, value))
    r = ch.call(addr, "get")
    assert r.ok, r.error
    assert r.value == value and r.memory_used == 4 * 65536
    small = ch.engine.call(ch.world, addr, "get", [], bytes(20), memory=2 * 65536)
    assert small.error is not None and small.error.name == "out_of_memory"
