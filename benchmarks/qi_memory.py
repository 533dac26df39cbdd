"""Qi peak memory on state-heavy programs: struct lists, maps and nested data read from
contract state, at 3,000 and 30,000 elements (`peak_memory_vs_state_input`, target <= 2.0).

Peak memory is the smallest memory limit under which the call still succeeds (the limit
bounds each linear memory and the GC heap; see `smallest_memory`); it is compared with the
encoded bytes of the state the call reads plus its arguments. Run as part of `make bench-qi`
or alone: `python -m benchmarks.qi_memory`.
"""

from __future__ import annotations

from typing import Any

from benchmarks.report import emit
from xinlian.execution.vm.local import LocalChain
from xinlian.lang import abi
from xinlian.lang.compiler import compile_source
from xinlian.lang.types import ListTy, StructTy

MEMORY_SRC = """
struct Holding { id: u64, amount: u64, owner: address }
struct Line { sku: u64, qty: u64 }
struct Order { id: u64, buyer: address, lines: list<Line> }

contract Ledger {
    state holdings: list<Holding>;
    state orders: list<Order>;
    state books: map<address, list<Holding>>;
    state by_id: map<u64, Holding>;

    pub fn set_holdings(data: list<Holding>) { holdings = data; }
    pub fn set_orders(data: list<Order>) { orders = data; }
    pub fn set_book(owner: address, data: list<Holding>) { books[owner] = data; }
    pub fn put(data: list<Holding>) { for h in data { by_id[h.id] = h; } }

    pub view fn total_holdings(salt: u64) -> u64 {
        let mut t: u64 = salt;
        for h in holdings { t = (t + h.amount + h.id) & 1048575; }
        return t;
    }
    pub view fn total_orders(salt: u64) -> u64 {
        let mut t: u64 = salt;
        for o in orders {
            for l in o.lines { t = (t + l.sku * l.qty + o.id) & 1048575; }
        }
        return t;
    }
    pub view fn total_book(owner: address) -> u64 {
        let mut t: u64 = 0;
        for h in books[owner] { t = (t + h.amount) & 1048575; }
        return t;
    }
    pub view fn total_by_id(n: u64) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { t = (t + by_id[i].amount) & 1048575; }
        return t;
    }
}
"""

SIZES = (3_000, 30_000)
MAP_ENTRIES = 3_000  # one storage read per entry: 3,000 reads are 1.5e9 fuel, near the tx cap
PUT_CHUNK = 1_000  # entries stored per transaction


def smallest_memory(ch: LocalChain, addr: bytes, method: str, arg: object) -> int:
    """The smallest memory limit (each linear memory and the GC heap), to 4 KiB, at which
    the call succeeds: the engine's own measurement."""
    peak = ch.engine.measure_memory(ch.world, addr, method, [arg], bytes(20))
    assert peak is not None, f"{method} fails at the default memory limit"
    return peak


def _types(art: Any) -> dict[str, StructTy]:
    spec = next(f for f in art.abi["functions"] if f["name"] == "set_orders")
    order = abi.type_from_json(spec["params"][0]["type"])
    assert isinstance(order, ListTy) and isinstance(order.elem, StructTy)
    line = dict(order.elem.fields)["lines"]
    assert isinstance(line, ListTy) and isinstance(line.elem, StructTy)
    spec = next(f for f in art.abi["functions"] if f["name"] == "set_holdings")
    holding = abi.type_from_json(spec["params"][0]["type"])
    assert isinstance(holding, ListTy) and isinstance(holding.elem, StructTy)
    return {"holding": holding.elem, "order": order.elem}


def _holding(i: int) -> dict[str, Any]:
    return {"id": i, "amount": i * 7 + 1, "owner": i.to_bytes(20, "big")}


def _order(i: int) -> dict[str, Any]:
    return {"id": i, "buyer": i.to_bytes(20, "big"),
            "lines": [{"sku": i + k, "qty": k + 1} for k in range(3)]}


def _measure(ch: LocalChain, addr: bytes, metric: str, method: str, arg: object,
             state_bytes: int, input_bytes: int, **extra: Any) -> None:
    limit = smallest_memory(ch, addr, method, arg)
    emit("qi", "peak_memory_vs_state_input", limit / (state_bytes + input_bytes), "x",
         workload=metric, limit_bytes=limit, state_bytes=state_bytes,
         input_bytes=input_bytes, target=2.0, **extra)


def main() -> None:
    art = compile_source(MEMORY_SRC, "ledger.qi", opt_level=2)
    types = _types(art)
    holding_list, order_list = ListTy(types["holding"]), ListTy(types["order"])
    owner = bytes(19) + b"\x0b"
    for n in SIZES:
        ch = LocalChain()
        addr = ch.deploy(art)
        holdings = [_holding(i) for i in range(n)]
        orders = [_order(i) for i in range(n)]
        for method, args in (("set_holdings", (holdings,)), ("set_orders", (orders,)),
                             ("set_book", (owner, holdings))):
            ch.advance_block()
            res = ch.call(addr, method, *args)
            assert res.ok, res.error
        assert ch.call(addr, "total_holdings", 0).ok
        hb = len(abi.encode(holding_list, holdings))
        _measure(ch, addr, f"struct_list_{n}", "total_holdings", 1, hb, 8, elements=n,
                 shape="state list<Holding{u64, u64, address}>, iterated")
        ob = len(abi.encode(order_list, orders))
        _measure(ch, addr, f"nested_list_{n}", "total_orders", 1, ob, 8, elements=n,
                 shape="state list<Order{u64, address, list<Line{u64, u64}>[3]}>, "
                       "iterated with its inner lists")
        _measure(ch, addr, f"map_of_list_{n}", "total_book", owner, hb, len(owner),
                 elements=n, shape="state map<address, list<Holding>>, one key's list iterated")
    ch = LocalChain()
    addr = ch.deploy(art)
    entries = [_holding(i) for i in range(MAP_ENTRIES)]
    for start in range(0, MAP_ENTRIES, PUT_CHUNK):
        ch.advance_block()
        res = ch.call(addr, "put", entries[start:start + PUT_CHUNK])
        assert res.ok, res.error
    value_bytes = sum(len(abi.encode(types["holding"], h)) for h in entries)
    _measure(ch, addr, f"map_entries_{MAP_ENTRIES}", "total_by_id", MAP_ENTRIES,
             value_bytes, 8, elements=MAP_ENTRIES,
             shape="state map<u64, Holding>, every entry read by key")


if __name__ == "__main__":
    main()
