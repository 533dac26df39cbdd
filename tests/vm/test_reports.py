"""What the engine reports for every call: result, events, error with its Qi stack, fuel,
storage bytes read and written and (measured on request) peak memory."""

from __future__ import annotations

from xinlian.execution.vm.engine import DEFAULT_FUEL, MEMORY_STEP
from xinlian.execution.vm.local import LocalChain
from xinlian.lang import abi, indexkeys
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import RevertError

SRC = """
interface Store { fn put(k: u64, v: bytes); }

contract Keeper {
    state count: u64;
    indexed state owners: map<address, map<u64, bytes>>;
    event Put(indexed key: u64, indexed data: bytes, note: string);
    error Full(limit: u64);

    pub fn put(k: u64, v: bytes) {
        if k > 100 { revert Full(100); }
        owners[caller()][k] = v;
        count += 1;
        emit Put(k, v, "stored");
    }
    pub view fn get(k: u64) -> bytes { return owners[caller()][k]; }
    pub fn relay(to: address, k: u64, v: bytes) { Store(to).put(k, v); count += 1; }
    pub view fn build(n: u64) -> u64 {
        let mut xs: list<u64> = [];
        for i in 0..n { xs.push(i); }
        return xs.len() as u64;
    }
}
"""
ART = compile_source(SRC, "keeper.qi")


def test_storage_reads_and_writes_are_counted_in_bytes() -> None:
    ch = LocalChain()
    c = ch.deploy(ART)
    res = ch.call(c, "put", 7, b"\xaa" * 10)
    assert res.ok and res.events[0].indexed == {"key": 7, "data": b"\xaa" * 10}
    u = res.usage
    # count: read (absent) then written; the map entry written once
    key_count = 4
    key_entry = 4 + 20 + 8  # slot, address, u64
    assert (u.storage_reads, u.storage_read_bytes) == (1, key_count)
    assert u.storage_writes == 2
    assert u.storage_written_bytes == key_count + 8 + key_entry + 4 + 10
    got = ch.call(c, "get", 7)
    assert got.value == b"\xaa" * 10
    assert (got.usage.storage_reads, got.usage.storage_read_bytes) == (1, key_entry + 4 + 10)
    assert got.usage.storage_writes == 0
    assert got.resources() == {"fuel": got.fuel_used, "peak_memory": None,
                               "storage_reads": 1, "storage_read_bytes": key_entry + 14,
                               "storage_writes": 0, "storage_written_bytes": 0}


def test_nested_calls_add_up_in_the_callers_report() -> None:
    ch = LocalChain()
    a, b = ch.deploy(ART), ch.deploy(ART)
    direct = ch.call(b, "put", 1, b"x")
    relayed = ch.call(a, "relay", b, 2, b"x")
    assert relayed.ok
    assert relayed.usage.storage_writes == direct.usage.storage_writes + 1
    assert relayed.usage.storage_reads == direct.usage.storage_reads + 1


def test_a_failed_call_reports_its_error_stack_and_what_it_consumed() -> None:
    ch = LocalChain()
    c = ch.deploy(ART)
    res = ch.call(c, "put", 101, b"x")
    assert isinstance(res.error, RevertError) and res.error.error_name == "Full"
    assert res.error.trace[0].startswith("put (keeper.qi:")
    assert res.fuel_used > 0 and res.events == []
    assert res.usage.storage_writes == 0


def test_peak_memory_is_the_smallest_limit_that_fits() -> None:
    ch = LocalChain()
    c = ch.deploy(ART)
    small = ch.call(c, "build", 10, measure_memory=True)
    large = ch.call(c, "build", 200_000, measure_memory=True)
    assert small.ok and large.ok and small.peak_memory and large.peak_memory
    assert large.peak_memory > 8 * 200_000 > small.peak_memory
    for res, n in ((small, 10), (large, 200_000)):
        peak = res.peak_memory
        assert peak is not None
        assert ch.engine.call(ch.world, c, "build", [n], bytes(20), DEFAULT_FUEL, peak).ok
        assert not ch.engine.call(ch.world, c, "build", [n], bytes(20), DEFAULT_FUEL,
                                  peak - 2 * MEMORY_STEP).ok


def test_measuring_memory_leaves_state_as_one_call_would() -> None:
    ch = LocalChain()
    c = ch.deploy(ART)
    res = ch.call(c, "put", 3, b"once", measure_memory=True)
    assert res.ok and res.peak_memory is not None
    assert ch.call(c, "get", 3).value == b"once"
    assert ch.world.state.get(c, (1).to_bytes(4, "little")) is None
    stored = ch.world.state.get(c, (0).to_bytes(4, "little"))
    assert stored is not None
    assert abi.decode(abi.type_from_json("u64"), stored) == 1


def test_abi_describes_indexed_events_and_state_for_a_node() -> None:
    spec = ART.abi
    put = spec["events"][0]["params"]
    assert [(p["name"], p["indexed"], p.get("index")) for p in put] == [
        ("key", True, "ordered"), ("data", True, "ordered"), ("note", False, None)]
    owners = next(s for s in spec["storage"] if s["name"] == "owners")
    assert owners["indexed"] and owners["key_prefix"] == "01000000"
    assert owners["key_types"] == ["address", "u64"]
    count = next(s for s in spec["storage"] if s["name"] == "count")
    assert "key_prefix" not in count
    u64, data = abi.type_from_json("u64"), abi.type_from_json("bytes")
    assert indexkeys.value_key(u64, 7) == (7).to_bytes(8, "big")
    assert indexkeys.value_key(data, b"\xaa\x00") == b"\xaa\x00\xff\x00\x00"
