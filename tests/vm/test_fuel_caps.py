"""Fuel caps: a call may ask for at most MAX_TX_FUEL, and a LocalChain block runs at most
MAX_BLOCK_FUEL; a request above either is refused with a typed error before it runs."""

from __future__ import annotations

import pytest

from xinlian.execution.vm.engine import MAX_BLOCK_FUEL, MAX_TX_FUEL
from xinlian.execution.vm.host import FUEL_SCHEDULE
from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import FuelLimitError

SRC = """
contract C {
    state n: u64;
    pub fn bump() { n += 1; }
    pub view fn get() -> u64 { return n; }
}
"""


@pytest.fixture
def chain() -> tuple[LocalChain, bytes]:
    ch = LocalChain()
    return ch, ch.deploy(compile_source(SRC, "c.qi"))


@pytest.mark.parametrize("fuel", [MAX_TX_FUEL + 1, 0, -5])
def test_invalid_fuel_outside_the_transaction_cap(chain: tuple[LocalChain, bytes],
                                                  fuel: int) -> None:
    ch, c = chain
    r = ch.call(c, "bump", fuel=fuel)
    assert isinstance(r.error, FuelLimitError) and r.fuel_used == 0
    assert ch.call(c, "get").value == 0
    raw = ch.engine.call_raw(ch.world, c, "bump", b"", bytes(20), fuel=fuel)
    assert isinstance(raw.error, FuelLimitError)


def test_invalid_call_beyond_what_is_left_of_the_block(chain: tuple[LocalChain, bytes]) -> None:
    ch, c = chain
    ch.block_fuel_used = MAX_BLOCK_FUEL - MAX_TX_FUEL // 2
    r = ch.call(c, "bump")  # asks for the default, MAX_TX_FUEL
    assert isinstance(r.error, FuelLimitError) and ch.call(c, "get", fuel=10**6).value == 0
    assert ch.call(c, "bump", fuel=10**6).ok  # a smaller limit still fits
    ch.advance_block()
    assert ch.block_fuel_used == 0 and ch.call(c, "bump").ok
    assert ch.call(c, "get").value == 2


def test_used_fuel_counts_against_the_block(chain: tuple[LocalChain, bytes]) -> None:
    ch, c = chain
    before = ch.block_fuel_used
    r = ch.call(c, "bump")
    assert ch.block_fuel_used == before + r.fuel_used
    assert r.fuel_used >= FUEL_SCHEDULE["storage_read"][0] + FUEL_SCHEDULE["storage_write"][0]
