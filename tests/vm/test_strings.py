"""Strings and bytes: slicing, indexing, find, ordering, checked UTF-8 conversion,
`to_string` and `parse` for every integer width, and wide bitwise operations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import TrapError
from xinlian.lang.types import INT_TYPES

WIDTHS = list(INT_TYPES)

SRC = "contract S {\n" + "\n".join(
    f"    pub view fn round_{n}(x: {n}) -> list<string> {{\n"
    f"        let s = x.to_string();\n"
    f"        let back = {n}.parse(s);\n"
    f"        if back.unwrap() != x {{ return []; }}\n"
    f"        return [s];\n"
    f"    }}\n"
    f"    pub view fn parse_{n}(s: string) -> {n}? {{ return {n}.parse(s); }}"
    for n in WIDTHS) + """
    pub view fn slice(s: string, a: u32, b: u32) -> string { return s.slice(a, b); }
    pub view fn byte(s: string, i: u32) -> u8 { return s[i]; }
    pub view fn find(s: string, part: string) -> u32? { return s.find(part); }
    pub view fn find_bytes(b: bytes, part: bytes) -> u32? { return b.find(part); }
    pub view fn order(a: string, b: string) -> list<bool> { return [a < b, a <= b, a > b, a >= b]; }
    pub view fn order_bytes(a: bytes, b: bytes) -> bool { return a < b; }
    pub view fn text(b: bytes) -> string { return string(b); }
    pub view fn text_as(b: bytes) -> string { return b as string; }
    pub view fn wide(a: u256, b: u256, k: u32) -> list<u256> {
        return [a & b, a | b, a ^ b, !a, a << k, a >> k];
    }
    pub view fn wide_signed(a: i128, k: u32) -> list<i128> { return [a >> k, a << k, !a, a & -2]; }
}
"""


@pytest.fixture(scope="module")
def s() -> tuple[LocalChain, bytes]:
    ch = LocalChain()
    return ch, ch.deploy(compile_source(SRC, "s.qi"))


def _edges(n: str) -> list[int]:
    t = INT_TYPES[n]
    return [t.min, t.max, 0, 1, t.max // 3, t.min // 7]


@pytest.mark.parametrize("n", WIDTHS)
def test_to_string_and_parse_every_width(s: tuple[LocalChain, bytes], n: str) -> None:
    ch, c = s
    t = INT_TYPES[n]
    for x in _edges(n):
        assert ch.call(c, f"round_{n}", x).value == [str(x)]
    assert ch.call(c, f"parse_{n}", str(t.max + 1)).value is None
    assert ch.call(c, f"parse_{n}", str(t.min - 1)).value is None
    for bad in ("", "-", "1x", " 1", "+1", "0x10", "1_000"):
        assert ch.call(c, f"parse_{n}", bad).value is None, bad
    assert ch.call(c, f"parse_{n}", "007").value == 7
    assert ch.call(c, f"parse_{n}", "-0").value == (0 if t.signed else None)


def test_slice_index_find(s: tuple[LocalChain, bytes]) -> None:
    ch, c = s
    assert ch.call(c, "slice", "héllo", 0, 3).value == "hé"
    r = ch.call(c, "slice", "héllo", 0, 2)  # cuts é in two
    assert isinstance(r.error, TrapError) and "invalid UTF-8" in r.error.message
    assert isinstance(ch.call(c, "slice", "abc", 2, 9).error, TrapError)
    assert ch.call(c, "byte", "héllo", 1).value == 0xC3
    assert isinstance(ch.call(c, "byte", "abc", 3).error, TrapError)
    assert ch.call(c, "find", "héllo", "llo").value == 3
    assert ch.call(c, "find", "abc", "d").value is None
    assert ch.call(c, "find", "abc", "").value == 0
    assert ch.call(c, "find_bytes", b"\x00\x01\x02", b"\x02").value == 2


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=6), st.text(max_size=6))
def test_ordering_is_bytewise(s: tuple[LocalChain, bytes], a: str, b: str) -> None:
    ch, c = s
    ea, eb = a.encode(), b.encode()
    assert ch.call(c, "order", a, b).value == [ea < eb, ea <= eb, ea > eb, ea >= eb]
    assert ch.call(c, "order_bytes", ea, eb).value == (ea < eb)


def test_bytes_to_string_is_checked(s: tuple[LocalChain, bytes]) -> None:
    ch, c = s
    for fn in ("text", "text_as"):
        assert ch.call(c, fn, "契约".encode()).value == "契约"
        r = ch.call(c, fn, b"ok\xff")
        assert isinstance(r.error, TrapError) and "invalid UTF-8" in r.error.message
        assert r.error.trace and r.error.trace[0].startswith(fn)


def test_wide_bitwise(s: tuple[LocalChain, bytes]) -> None:
    ch, c = s
    m = (1 << 256) - 1
    a, b = (0xF0F0 << 200) | 0x1234, (0xFF00 << 200) | 0xFF
    for k in (0, 1, 63, 64, 200, 255, 256, 4000):
        want = [a & b, a | b, a ^ b, m - a, (a << k) & m if k < 256 else 0, a >> k]
        assert ch.call(c, "wide", a, b, k).value == want, k
    lo, hi = -(1 << 127), (1 << 127) - 1
    for x in (lo, -5, -1, 0, 7, hi):
        for k in (0, 1, 127, 128, 500):
            left = (x << k) % (1 << 128) if k < 128 else 0
            left -= (1 << 128) if left > hi else 0
            assert ch.call(c, "wide_signed", x, k).value == [
                x >> min(k, 128), left, -x - 1, x & -2], (x, k)
