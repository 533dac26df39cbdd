"""Index keys: the ordered encoding keeps value order for every indexable Qi type, is
prefix-free, and the key layout pages newest first. Hypothesis drives the values."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.lang import abi, indexkeys
from xinlian.lang.errors import ArgumentError
from xinlian.lang.types import INT_TYPES, IntTy, Ty

ADDR = bytes(range(20))


def _ints(t: IntTy) -> st.SearchStrategy[int]:
    return st.integers(-(1 << (t.bits - 1)) if t.signed else 0,
                       (1 << (t.bits - 1)) - 1 if t.signed else (1 << t.bits) - 1)


@pytest.mark.parametrize("name", sorted(INT_TYPES))
def test_integer_keys_keep_order_at_every_width(name: str) -> None:
    t = INT_TYPES[name]

    @given(_ints(t), _ints(t))
    def check(a: int, b: int) -> None:
        ka, kb = indexkeys.value_key(t, a), indexkeys.value_key(t, b)
        assert len(ka) == t.bits // 8
        assert (ka < kb) == (a < b) and (ka == kb) == (a == b)
    check()


@given(st.lists(st.binary(max_size=6), min_size=2, max_size=2),
       st.lists(st.text(max_size=6), min_size=2, max_size=2))
def test_bytes_and_strings_keep_order_and_are_prefix_free(raw: list[bytes],
                                                          text: list[str]) -> None:
    for t, (a, b), order in ((abi.type_from_json("bytes"), raw, raw),
                             (abi.type_from_json("string"), text,
                              [s.encode() for s in text])):
        ka, kb = indexkeys.value_key(t, a), indexkeys.value_key(t, b)
        assert (ka < kb) == (order[0] < order[1])
        if ka != kb:
            assert not ka.startswith(kb) and not kb.startswith(ka)


def test_scalars_composites_and_bad_values() -> None:
    boolean, address = abi.type_from_json("bool"), abi.type_from_json("address")
    assert indexkeys.value_key(boolean, False) < indexkeys.value_key(boolean, True)
    assert indexkeys.value_key(address, ADDR) == ADDR
    pair = abi.type_from_json({"list": "u8"})
    assert abi.index_kind(pair) == "sm3" and len(indexkeys.value_key(pair, [1, 2])) == 32
    with pytest.raises(ArgumentError):
        indexkeys.value_key(INT_TYPES["u8"], 256)
    with pytest.raises(ArgumentError):
        indexkeys.value_key(address, b"short")
    with pytest.raises(ArgumentError):
        indexkeys.event_index(b"short", "Transfer", "from")


def test_positions_order_oldest_to_newest_and_read_back() -> None:
    base = indexkeys.event_index(ADDR, "Transfer", "from") + ADDR
    keys = [base + indexkeys.event_position(h, t, e)
            for h, t, e in [(9, 0, 0), (10, 0, 1), (10, 2, 0), (300, 0, 0)]]
    assert keys == sorted(keys)
    assert indexkeys.read_position(keys[2], indexkeys.EVENT_KIND) == (10, False, 2, 0)
    state = indexkeys.state_index(ADDR, "balances") + indexkeys.state_position(7, 3)
    assert indexkeys.read_position(state, indexkeys.STATE_KIND) == (7, False, 3, 0)
    # a block's engine runs come before its transactions, as they run
    run = base + indexkeys.event_position(10, 5, 0, engine_run=True)
    assert keys[0] < run < keys[1]
    assert indexkeys.read_position(run, indexkeys.EVENT_KIND) == (10, True, 5, 0)
    with pytest.raises(ArgumentError):
        indexkeys.read_position(keys[2][:-9] + b"\x02" + keys[2][-8:], indexkeys.EVENT_KIND)
    # an event's own index and its parameters' indexes never share a prefix
    assert not indexkeys.event_index(ADDR, "T", "a").startswith(indexkeys.event_index(ADDR, "T"))
    assert indexkeys.prefix_end(b"ab\xff") == b"ac" and indexkeys.prefix_end(b"\xff") is None


@given(st.integers(-(1 << 63), (1 << 63) - 1), st.integers(0, (1 << 256) - 1),
       st.binary(max_size=8), st.text(max_size=8), st.booleans())
def test_value_keys_read_back(small: int, big: int, raw: bytes, text: str, flag: bool) -> None:
    cases = [("i64", small), ("u256", big), ("bytes", raw), ("string", text), ("bool", flag),
             ("address", ADDR)]
    for name, value in cases:
        t = abi.type_from_json(name)
        key = indexkeys.value_key(t, value) + b"\x00\x00\x07"  # a position follows
        assert indexkeys.read_value_key(t, key) == (value, len(key) - 3)
    with pytest.raises(ArgumentError):
        indexkeys.read_value_key(abi.type_from_json("bytes"), b"ab\x00")  # no end mark


def test_key_ranges_bound_values_and_follow_cursors() -> None:
    index = indexkeys.event_index(ADDR, "Transfer", "to")
    assert indexkeys.key_range(index) == (index, indexkeys.prefix_end(index))
    start, stop = indexkeys.key_range(index, b"\x01", b"\x02") or (b"", None)
    assert (start, stop) == (index + b"\x01", index + b"\x03")
    cursor = index + b"\x02" + bytes(16)
    assert indexkeys.key_range(index, b"\x01", b"\x02", cursor=cursor) == (start, cursor)
    assert indexkeys.key_range(index, b"\x01", b"\x02", reverse=False, cursor=cursor) == (
        cursor + b"\x00", stop)
    assert indexkeys.key_range(index, b"\x01", b"\x02", cursor=start) is None  # nothing left


_FIXED = [INT_TYPES[n] for n in sorted(INT_TYPES)] + [
    abi.type_from_json("address"), abi.type_from_json("bool"),
    abi.type_from_json({"enum": "Side", "variants": ["buy", "sell", "hold"]})]
_VARIABLE = [abi.type_from_json("string"), abi.type_from_json({"list": "u8"})]


@given(st.lists(st.sampled_from(_FIXED + _VARIABLE), min_size=1, max_size=4), st.data())
def test_key_reader_cuts_the_keys_that_decoding_makes(types: list[Ty],
                                                      data: st.DataObject) -> None:
    """`KeyReader` gives each kept value's `value_key` from the encoding alone, and refuses
    exactly what does not decode (a bad bool or variant byte, a wrong length)."""
    keep = data.draw(st.lists(st.integers(0, len(types) - 1), max_size=3))
    reader = indexkeys.KeyReader(types, keep)
    values: list[Any] = []
    for t in types:
        if isinstance(t, IntTy):
            values.append(data.draw(_ints(t)))
        elif t.name() == "address":
            values.append(data.draw(st.binary(min_size=20, max_size=20)))
        elif t.name() == "bool":
            values.append(data.draw(st.booleans()))
        elif t.name() == "string":
            values.append(data.draw(st.text(max_size=4)))
        elif abi.index_kind(t) == "sm3":
            values.append(data.draw(st.lists(st.integers(0, 255), max_size=3)))
        else:
            values.append(data.draw(st.sampled_from(["buy", "sell", "hold"])))
    encoded = b"".join(abi.encode(t, v) for t, v in zip(types, values, strict=True))
    assert reader.read(encoded) == [indexkeys.value_key(types[i], values[i]) for i in keep]
    at = data.draw(st.integers(0, len(encoded) - 1))
    changed = encoded[:at] + bytes([data.draw(st.integers(0, 255))]) + encoded[at + 1:]
    for other in (changed, data.draw(st.binary(max_size=len(encoded) + 2))):
        try:
            decoded = abi.decode_many(types, other)
        except ArgumentError:
            assert reader.read(other) is None
        else:
            assert reader.read(other) == [indexkeys.value_key(types[i], decoded[i])
                                          for i in keep]


def test_key_readers_pickle() -> None:
    """An engine's events hold their ABI's reader, and results may cross processes."""
    types = [INT_TYPES["i8"], INT_TYPES["i64"], abi.type_from_json("address"),
             abi.type_from_json("bool")]
    reader = indexkeys.KeyReader(types)
    data = b"".join(abi.encode(t, v) for t, v in zip(types, [-3, 5, ADDR, True], strict=True))
    assert pickle.loads(pickle.dumps(reader)).read(data) == reader.read(data) == [
        indexkeys.value_key(t, v) for t, v in zip(types, [-3, 5, ADDR, True], strict=True)]
