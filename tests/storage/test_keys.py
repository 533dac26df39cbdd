"""The order-preserving key codec (storage/keys.py): byte order is value order, every
encoding reads back, byte-string keys are prefix-free, and key ranges hold exactly the keys
of the values asked for. Hypothesis runs derandomised (tests/conftest.py)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.execution.data import values
from xinlian.execution.data.indexes import value_key
from xinlian.storage import keys
from xinlian.storage.errors import InvalidKeyError

I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
U64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(I64, I64)
def test_signed_keys_sort_as_the_numbers_and_read_back(a: int, b: int) -> None:
    ka, kb = keys.signed_key(a), keys.signed_key(b)
    assert len(ka) == 8 and (ka < kb) == (a < b) and (ka == kb) == (a == b)
    assert keys.read_signed(ka) == (a, 8)


@given(U64, U64)
def test_unsigned_keys_sort_as_the_numbers_and_read_back(a: int, b: int) -> None:
    ka, kb = keys.unsigned_key(a), keys.unsigned_key(b)
    assert (ka < kb) == (a < b)
    assert keys.read_unsigned(ka) == (a, 8)


@given(st.binary(max_size=40), st.binary(max_size=40), st.binary(max_size=8))
def test_escaped_keys_sort_as_the_bytes_are_prefix_free_and_read_back(
        a: bytes, b: bytes, tail: bytes) -> None:
    ka, kb = keys.escaped(a), keys.escaped(b)
    assert (ka < kb) == (a < b) and (ka == kb) == (a == b)
    if a != b:
        assert not kb.startswith(ka) and not ka.startswith(kb)
    assert keys.read_escaped(ka + tail) == (a, len(ka))


@given(st.text(max_size=20), st.text(max_size=20))
def test_text_values_sort_as_their_nfc_utf8(a: str, b: str) -> None:
    ra, rb = values.encode("text", a), values.encode("text", b)
    assert (value_key("text", ra) < value_key("text", rb)) == (ra < rb)
    assert values.decode("text", ra) == unicodedata.normalize("NFC", a)


@given(st.lists(I64, min_size=1, max_size=30), I64, I64)
def test_key_ranges_hold_exactly_the_values_in_bounds(nums: list[int], lo: int,
                                                      hi: int) -> None:
    prefix = b"\x07\x01"
    entries = sorted(prefix + keys.signed_key(n) + bytes([i]) for i, n in enumerate(nums))
    span = keys.key_range(prefix, keys.signed_key(lo), keys.signed_key(hi), reverse=False)
    inside = sorted(prefix + keys.signed_key(n) + bytes([i]) for i, n in enumerate(nums)
                    if lo <= n <= hi)
    if span is None:
        assert lo > hi or not inside
        return
    start, stop = span
    assert [k for k in entries if start <= k and (stop is None or k < stop)] == inside


@given(st.lists(st.binary(max_size=6), min_size=1, max_size=20), st.integers(1, 5))
def test_cursors_page_through_every_key_once(raws: list[bytes], page: int) -> None:
    prefix = b"\x09"
    entries = sorted({prefix + keys.escaped(r) + b"id" for r in raws})
    for reverse in (False, True):
        seen: list[bytes] = []
        cursor = None
        while True:
            span = keys.key_range(prefix, reverse=reverse, cursor=cursor)
            if span is None:
                break
            found = [k for k in entries if span[0] <= k and (span[1] is None or k < span[1])]
            found = (found[::-1] if reverse else found)[:page]
            if not found:
                break
            seen += found
            cursor = found[-1]
        assert seen == (entries[::-1] if reverse else entries)


def test_out_of_range_and_cut_keys_are_refused() -> None:
    for bad in (lambda: keys.signed_key(2**63), lambda: keys.unsigned_key(-1),
                lambda: keys.read_unsigned(b"\x00" * 7),
                lambda: keys.read_escaped(b"ab\x00"), lambda: keys.read_escaped(b"a\x00\x01")):
        with pytest.raises(InvalidKeyError):
            bad()
    assert keys.prefix_end(b"ab\xff") == b"ac" and keys.prefix_end(b"\xff\xff") is None
