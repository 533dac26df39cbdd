"""Loops over stored lists decode one element at a time: same results as decoding the whole
list first, at every optimisation level, and within a memory limit the whole decoded list
would exceed."""

from __future__ import annotations

from typing import Any

import pytest

from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import OutOfMemoryError

SRC = """
struct Item { id: u64, owner: address, tags: list<u32>, note: string? }

contract Store {
    state items: list<Item>;
    state books: map<u64, list<Item>>;
    state words: list<string>;

    pub fn set(data: list<Item>) { items = data; }
    pub fn set_book(k: u64, data: list<Item>) { books[k] = data; }
    pub fn add_word(w: string) { words.push(w); }

    fn score(it: Item) -> u64 {
        let mut t: u64 = it.id;
        for g in it.tags { t += g as u64; }
        if it.note.is_some() { t += 1000; }
        return t + bytes(it.owner)[19] as u64;
    }
    pub view fn streamed() -> list<u64> {
        let mut out: list<u64> = [];
        for it in items { out.push(score(it)); }
        return out;
    }
    pub view fn whole() -> list<u64> {
        let data = items;
        let mut out: list<u64> = [];
        for it in data { out.push(score(it)); }
        return out;
    }
    pub view fn book_ids(k: u64) -> list<u64> {
        let mut out: list<u64> = [];
        for it in books[k] { out.push(it.id); }
        return out;
    }
    pub fn grow_while_iterating() -> u64 {
        let mut n: u64 = 0;
        for it in items {
            items.push(it);   // the loop sees the list as it was when it started
            n += 1;
        }
        return n * 1000 + items.len() as u64;
    }
    pub view fn skip_and_stop(stop: u64) -> u64 {
        let mut s: u64 = 0;
        for it in items {
            if it.id % 2 == 1 { continue; }
            if it.id >= stop { break; }
            for again in items { s += again.id; }   // nested loops over one list
        }
        return s;
    }
    pub view fn total_length() -> u64 {
        let mut s: u64 = 0;
        for w in words { s += w.len() as u64; }
        return s;
    }
    pub view fn ids_sum() -> u64 {
        let mut s: u64 = 0;
        for it in items { s += it.id; }
        return s;
    }
    pub view fn ids_sum_whole() -> u64 {
        let data = items;
        let mut s: u64 = 0;
        for it in data { s += it.id; }
        return s;
    }
}
"""


def _item(i: int) -> dict[str, Any]:
    return {"id": i, "owner": bytes(19) + bytes([i % 256]), "tags": list(range(i % 4)),
            "note": "n" if i % 3 == 0 else None}


@pytest.fixture(params=[0, 1, 2], ids=["O0", "O1", "O2"])
def store(request: pytest.FixtureRequest) -> tuple[LocalChain, bytes]:
    ch = LocalChain()
    return ch, ch.deploy(compile_source(SRC, "store.qi", opt_level=request.param))


def test_streamed_loop_matches_whole_decode(store: tuple[LocalChain, bytes]) -> None:
    ch, addr = store
    assert ch.call(addr, "streamed").value == []  # never stored: the empty list
    data = [_item(i) for i in range(40)]
    assert ch.call(addr, "set", data).ok
    want = [d["id"] + sum(d["tags"]) + (1000 if d["note"] else 0) + d["id"] % 256
            for d in data]
    assert ch.call(addr, "streamed").value == want
    assert ch.call(addr, "whole").value == want


def test_streamed_loop_over_a_map_value(store: tuple[LocalChain, bytes]) -> None:
    ch, addr = store
    assert ch.call(addr, "set_book", 5, [_item(i) for i in (7, 8, 9)]).ok
    assert ch.call(addr, "book_ids", 5).value == [7, 8, 9]
    assert ch.call(addr, "book_ids", 6).value == []


def test_loop_sees_the_list_as_it_was(store: tuple[LocalChain, bytes]) -> None:
    ch, addr = store
    assert ch.call(addr, "set", [_item(i) for i in range(3)]).ok
    assert ch.call(addr, "grow_while_iterating").value == 3006


def test_break_continue_and_nested_streams(store: tuple[LocalChain, bytes]) -> None:
    ch, addr = store
    assert ch.call(addr, "set", [_item(i) for i in range(10)]).ok
    # ids 0, 2, 4 pass before stop=6 breaks; each adds the sum of all ids (45)
    assert ch.call(addr, "skip_and_stop", 6).value == 3 * 45
    for w in ("ab", "cde", ""):
        assert ch.call(addr, "add_word", w).ok
    assert ch.call(addr, "total_length").value == 5


def test_streamed_loop_fits_where_the_decoded_list_does_not() -> None:
    ch = LocalChain()
    addr = ch.deploy(compile_source(SRC, "store.qi", opt_level=2))
    n = 20_000
    data: list[dict[str, object]] = [{"id": i, "owner": bytes(20), "tags": [], "note": None}
                                     for i in range(n)]
    assert ch.call(addr, "set", data).ok
    encoded = n * (8 + 20 + 4 + 1) + 4  # 660 KB stored
    limit = 1 << 20  # 1 MiB: room for the encoding, not for 20,000 decoded structs
    assert encoded < limit
    streamed = ch.engine.call(ch.world, addr, "ids_sum", [], bytes(20), memory=limit)
    assert streamed.ok and streamed.value == n * (n - 1) // 2
    whole = ch.engine.call(ch.world, addr, "ids_sum_whole", [], bytes(20), memory=limit)
    assert isinstance(whole.error, OutOfMemoryError)
