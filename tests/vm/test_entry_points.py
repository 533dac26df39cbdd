"""Only the engine starts constructors, async callbacks, scheduled functions and `migrate`:
the three attacks that once worked through an async call (a forged oracle answer, an extra
payout, a stolen ownership) are refused by the engine, also for hand-written modules."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from xinlian.execution.vm.host import AsyncRequest
from xinlian.execution.vm.local import LocalChain
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import EntryPointError
from xinlian.lang.types import ADDRESS, BYTES, STRING, Ty

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qi"
BOB = bytes(19) + b"\x0b"

ATTACKER = """
interface Victim {
    fn on_price(result: u64?);
    fn pay();
    fn migrate();
}

contract Attacker {
    state answers: u64;
    pub fn forge_answer(victim: address) { async Victim(victim).on_price(999) then done; }
    pub fn extra_payout(victim: address) { async Victim(victim).pay() then done; }
    pub fn steal(victim: address) { async Victim(victim).migrate() then done; }
    fn done(ok: bool) { answers += 1; }
}
"""

VAULT = """
contract Vault {
    state owner: address;
    init() { owner = caller(); }
    fn migrate() { owner = caller(); }   // sets the upgrader as owner
    pub view fn get_owner() -> address { return owner; }
}
"""


def example(name: str, contract: str | None = None) -> Artifact:
    return compile_source((EXAMPLES / name).read_text(), name, contract=contract)


@pytest.fixture
def chain() -> tuple[LocalChain, bytes]:
    ch = LocalChain()
    return ch, ch.deploy(compile_source(ATTACKER, "attacker.qi"), sender=BOB)


def test_invalid_forged_oracle_answer(chain: tuple[LocalChain, bytes]) -> None:
    ch, attacker = chain
    oracle = ch.deploy(example("oracle.qi", "Oracle"))
    consumer = ch.deploy(example("oracle.qi", "Consumer"), oracle)
    r = ch.call(attacker, "forge_answer", consumer, sender=BOB)
    assert isinstance(r.error, EntryPointError) and "async callback" in r.error.message
    ch.advance_block()
    assert ch.call(consumer, "latest").value == 0
    assert isinstance(ch.call(consumer, "on_price", 5).error, EntryPointError)


def test_invalid_extra_payout(chain: tuple[LocalChain, bytes]) -> None:
    ch, attacker = chain
    payout = ch.deploy(example("payout.qi"), 7)
    ch.call(payout, "add", BOB)
    r = ch.call(attacker, "extra_payout", payout, sender=BOB)
    assert isinstance(r.error, EntryPointError) and "scheduled" in r.error.message
    ch.advance_block()
    assert ch.call(payout, "balance", BOB).value == 0
    assert ch.call(payout, "paid_rounds").value == 0


def test_invalid_stolen_ownership(chain: tuple[LocalChain, bytes]) -> None:
    ch, attacker = chain
    vault = ch.deploy(compile_source(VAULT, "vault.qi"))
    owner = ch.call(vault, "get_owner").value
    r = ch.call(attacker, "steal", vault, sender=BOB)
    assert isinstance(r.error, EntryPointError) and "migration" in r.error.message
    ch.advance_block()
    assert ch.call(vault, "get_owner").value == owner != attacker


def test_invalid_request_is_refused_at_delivery_too(chain: tuple[LocalChain, bytes]) -> None:
    """A request made before the target existed (so not checkable when made) is refused
    when delivered; the requester's callback hears of the failure."""
    ch, attacker = chain
    vault = ch.deploy(compile_source(VAULT, "vault.qi"))
    owner = ch.call(vault, "get_owner").value
    ch.request(AsyncRequest(attacker, vault, "migrate", b"", "done"))
    call, callback = ch.advance_block()
    assert isinstance(call.error, EntryPointError)
    assert callback.ok and ch.call(vault, "get_owner").value == owner


def test_invalid_callback_must_be_a_callback_of_the_requester(
        chain: tuple[LocalChain, bytes]) -> None:
    ch, attacker = chain
    oracle = ch.deploy(example("oracle.qi", "Oracle"))
    ch.call(oracle, "set", "XL", 1)
    req = AsyncRequest(attacker, oracle, "price", abi.encode(STRING, "XL"), "forge_answer")
    call, callback = ch.engine.deliver(ch.world, req)
    assert call.ok and isinstance(callback.error, EntryPointError)


def _encoded(*parts: tuple[Ty, object]) -> tuple[str, int]:
    """WAT data-string text of the encoded values, and its length."""
    data = b"".join(abi.encode(t, v) for t, v in parts)
    return "".join(f"\\{b:02x}" for b in data), len(data)


def test_invalid_hand_written_module_cannot_reach_engine_entries() -> None:
    """A module not made by the Qi compiler calls the host directly: the async request
    to another contract's callback, the test-only context setter and the test-only
    deployment are all refused."""
    ch = LocalChain()
    oracle = ch.deploy(example("oracle.qi", "Oracle"))
    consumer = ch.deploy(example("oracle.qi", "Consumer"), oracle)
    req, n = _encoded((ADDRESS, consumer), (STRING, "on_price"),
                      (BYTES, b"\x01" + (999).to_bytes(8, "little")), (STRING, "cb"))
    dep, n_dep = _encoded((STRING, "Oracle"), (BYTES, b""))
    ch.world.test_artifacts = {"Oracle": example("oracle.qi", "Oracle")}
    wat = f"""(module
      (import "qi" "async_call" (func $async (param i32 i32)))
      (import "qi" "test_set" (func $set (param i32 i32 i32)))
      (import "qi" "test_deploy" (func $deploy (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (global (export "panic") (mut i32) (i32.const 0))
      (data (i32.const 1024) "{req}")
      (data (i32.const 4096) "\\ff\\ff\\ff\\ff\\ff\\ff\\ff\\7f")
      (data (i32.const 8192) "{dep}")
      (func (export "q:forge") (param i32) (result i32)
        (call $async (i32.const 1024) (i32.const {n})) (i32.const 0))
      (func (export "q:jump") (param i32) (result i32)
        (call $set (i32.const 1) (i32.const 4096) (i32.const 8)) (i32.const 0))
      (func (export "q:spawn") (param i32) (result i32)
        (drop (call $deploy (i32.const 8192) (i32.const {n_dep}))) (i32.const 0))
      (func (export "q:cb") (param i32) (result i32) (i32.const 0)))"""
    fns = [{"name": name, "export": f"q:{name}", "kind": kind, "public": kind == "fn",
            "view": False, "params": params, "returns": "unit"}
           for name, kind, params in (("forge", "fn", []), ("jump", "fn", []), ("spawn", "fn", []),
                                      ("cb", "callback", [{"name": "ok", "type": "bool"}]))]
    hostile = bytes(19) + b"\x66"
    ch.world.code[hostile] = Artifact(bytes(wasmtime.wat2wasm(wat)),
                                      {"functions": fns, "events": [], "errors": []})
    assert isinstance(ch.call(hostile, "forge").error, EntryPointError)
    assert isinstance(ch.call(hostile, "jump").error, EntryPointError)
    contracts = set(ch.world.code)
    assert isinstance(ch.call(hostile, "spawn").error, EntryPointError)
    assert set(ch.world.code) == contracts
    ch.advance_block()
    assert ch.call(consumer, "latest").value == 0
    assert ch.world.block_number == 1


def test_invalid_abi_entry_without_kind_or_public_flag_is_not_callable() -> None:
    """Also: the same module under another ABI is loaded with that ABI, not a cached one."""
    ch = LocalChain()
    wat = """(module (memory (export "memory") 1) (global (export "panic") (mut i32) (i32.const 0))
      (func (export "q:f") (param i32) (result i32) (i32.const 0)))"""
    addr = bytes(19) + b"\x67"
    public = {"name": "f", "export": "q:f", "kind": "fn", "public": True, "params": [],
              "returns": "unit"}
    ch.world.code[bytes(20)] = Artifact(bytes(wasmtime.wat2wasm(wat)), {"functions": [public],
                                                                 "events": [], "errors": []})
    assert ch.call(bytes(20), "f").ok
    for spec in ({"name": "f", "export": "q:f", "kind": "fn", "params": [], "returns": "unit"},
                 {"name": "f", "export": "q:f", "public": True, "params": [],
                  "returns": "unit"},
                 {**public, "kind": "migrate"}):
        ch.world.code[addr] = Artifact(bytes(wasmtime.wat2wasm(wat)), {"functions": [spec],
                                                                 "events": [], "errors": []})
        assert isinstance(ch.call(addr, "f").error, EntryPointError)
