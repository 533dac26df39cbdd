"""Upgrades through the engine (`LocalChain.upgrade` / `Engine.upgrade`): only the admin
recorded at deployment may upgrade, and only to code whose storage layout keeps the
deployed one; a refused upgrade changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.execution.errors import Unauthorised
from xinlian.execution.vm.local import DEFAULT_SENDER, LocalChain
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import UpgradeError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qi"
MALLORY = bytes(19) + b"\x0d"

# compiles on its own (no `upgrades` clause), but moves V1's `count` to another slot
SWAPPED = """
contract Swapped {
    state owner: address;
    state count: u64;
    fn migrate() { count = 1000; }
    pub view fn get() -> u64 { return count; }
}
"""


def build(contract: str) -> Artifact:
    return compile_source((EXAMPLES / "upgradeable.qi").read_text(), "upgradeable.qi",
                          contract=contract)


def deployed() -> tuple[LocalChain, bytes, Artifact]:
    ch = LocalChain()
    v1 = build("CounterV1")
    c = ch.deploy(v1)
    ch.call(c, "increment")
    return ch, c, v1


def test_admin_upgrades_and_migrate_runs() -> None:
    ch, c, _ = deployed()
    assert ch.upgrade(c, build("CounterV2"), sender=DEFAULT_SENDER).ok
    assert ch.call(c, "get_step").value == 10


def test_invalid_upgrade_by_non_admin_changes_nothing() -> None:
    ch, c, v1 = deployed()
    before = dict(ch.state)
    r = ch.upgrade(c, build("CounterV2"), sender=MALLORY)
    assert isinstance(r.error, UpgradeError) and "not the admin" in r.error.message
    assert ch.world.code[c].wasm == v1.wasm and ch.state == before
    assert ch.call(c, "get").value == 1


def test_invalid_upgrade_to_incompatible_layout_changes_nothing() -> None:
    ch, c, v1 = deployed()
    before = dict(ch.state)
    r = ch.engine.upgrade(ch.world, c, compile_source(SWAPPED, "swapped.qi"), DEFAULT_SENDER)
    assert isinstance(r.error, UpgradeError) and "slot 0 was `count`" in r.error.message
    assert ch.world.code[c].wasm == v1.wasm and ch.state == before
    assert ch.call(c, "get").value == 1


def test_invalid_upgrade_of_a_non_contract() -> None:
    ch, _, _ = deployed()
    assert ch.upgrade(bytes(20), build("CounterV2")).error is not None


def test_local_upgrades_follow_the_declared_rule_and_the_admin_hands_it_on() -> None:
    """`LocalChain` shares the chain's runner: the declared rule and SET_ADMIN hold here too."""
    ch = LocalChain()
    frozen_code = compile_source("contract A { upgrade never; state n: u64; pub fn f() {} }",
                                 "a.qi")
    c = ch.deploy(frozen_code)
    r = ch.upgrade(c, frozen_code)
    assert isinstance(r.error, UpgradeError) and "immutable" in r.error.message
    ch, c, _ = deployed()
    ch.set_admin(c, MALLORY)
    assert isinstance(ch.upgrade(c, build("CounterV2")).error, UpgradeError)
    with pytest.raises(Unauthorised):
        ch.set_admin(c, DEFAULT_SENDER)  # no longer the admin
    assert ch.upgrade(c, build("CounterV2"), sender=MALLORY).ok


def test_local_k_of_n_approvals() -> None:
    a, b = bytes(19) + b"\xaa", bytes(19) + b"\xbb"
    v1 = compile_source(f'contract A {{ upgrade by approvals(2 of [hex"{a.hex()}", '
                        f'hex"{b.hex()}"]); state n: u64; '
                        "pub view fn v() -> u64 { return 1; } }", "a.qi")
    v2 = compile_source("contract B { state n: u64; pub view fn v() -> u64 { return 2; } }",
                        "b.qi")
    ch = LocalChain()
    c = ch.deploy(v1)
    assert ch.upgrade(c, v2, sender=a).ok  # recorded
    assert ch.call(c, "v").value == 1
    assert ch.upgrade(c, v2, sender=b).ok  # applied
    assert ch.call(c, "v").value == 2
