"""The canonical codec: round trips, one encoding per value, typed rejection of bad input."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian import codec
from xinlian.codec import Struct, at_most, exactly


class Inner(Struct):
    tag: int
    note: str


class Outer(Struct):
    height: int
    digest: Annotated[bytes, exactly(32)]
    blob: Annotated[bytes, at_most(64)]
    items: list[Inner]
    labels: dict[str, int]
    parent: bytes | None = None


ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
inners = st.builds(Inner, tag=ints, note=st.text(max_size=20))
outers = st.builds(
    Outer,
    height=st.integers(min_value=0, max_value=2**64 - 1),
    digest=st.binary(min_size=32, max_size=32),
    blob=st.binary(max_size=64),
    items=st.lists(inners, max_size=5),
    labels=st.dictionaries(st.text(max_size=8), ints, max_size=5),
    parent=st.none() | st.binary(max_size=40),
)


@given(outers)
def test_round_trip(value: Outer) -> None:
    assert codec.decode(codec.encode(value), Outer) == value


@given(outers)
def test_encoding_is_a_function_of_the_value(value: Outer) -> None:
    # Rebuilding the value with its map inserted in reverse order gives the same bytes.
    shuffled = Outer(value.height, value.digest, value.blob, value.items,
                     dict(reversed(list(value.labels.items()))), value.parent)
    assert codec.encode(shuffled) == codec.encode(value)


@given(outers, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_rejected(value: Outer, extra: bytes) -> None:
    with pytest.raises(codec.MalformedError):
        codec.decode(codec.encode(value) + extra, Outer)


@given(outers, st.data())
def test_truncation_rejected(value: Outer, data: st.DataObject) -> None:
    raw = codec.encode(value)
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    with pytest.raises(codec.CodecError):
        codec.decode(raw[:cut], Outer)


@given(st.integers(min_value=0, max_value=127))
def test_non_minimal_integer_rejected(n: int) -> None:
    assert codec.decode(bytes([n]), int) == n
    with pytest.raises(codec.NonCanonicalError):
        codec.decode(b"\xcd" + n.to_bytes(2, "big"), int)


def test_unsorted_map_rejected() -> None:
    unsorted = msgspec.msgpack.encode({"b": 1, "a": 2})
    with pytest.raises(codec.NonCanonicalError):
        codec.decode(unsorted, dict[str, int])


@pytest.mark.parametrize("bad", [
    codec.encode([1, 2]),                       # wrong type
    codec.encode([1, b"\0" * 32, b"", [], {}, None, 7]),  # extra field
    codec.encode(["1", b"\0" * 32, b"", [], {}, None]),   # field of the wrong type
])
def test_wrong_schema_rejected(bad: bytes) -> None:
    with pytest.raises(codec.WrongTypeError):
        codec.decode(bad, Outer)


def test_fixed_and_bounded_lengths_rejected() -> None:
    short_digest = codec.encode([1, b"\0" * 31, b"", [], {}, None])
    long_blob = codec.encode([1, b"\0" * 32, b"\0" * 65, [], {}, None])
    with pytest.raises(codec.WrongTypeError):
        codec.decode(short_digest, Outer)
    with pytest.raises(codec.OversizeError):
        codec.decode(long_blob, Outer)


def test_oversize_input_and_length_header_rejected() -> None:
    with pytest.raises(codec.OversizeError):
        codec.decode(b"\xc4\x01x" * 10, bytes, max_size=8)
    # A bin32 header that claims 4 GiB of data backed by nothing.
    with pytest.raises(codec.MalformedError):
        codec.decode(b"\xc6\xff\xff\xff\xff", bytes)


def test_deep_nesting_rejected() -> None:
    deep = b"\x91" * 100_000 + b"\xc0"
    with pytest.raises(codec.TooDeepError):
        codec.decode(deep, Any)
    with pytest.raises(codec.WrongTypeError):
        codec.decode(deep, list[list[int]])


def test_floats_are_not_canonical_values() -> None:
    with pytest.raises(codec.WrongTypeError):
        codec.decode(codec.encode(1.5), int)


def test_errors_are_typed_with_stable_codes() -> None:
    try:
        codec.decode(b"\xc1", int)
    except codec.CodecError as exc:
        assert exc.code == codec.MalformedError.code
        assert exc.to_dict()["name"] == "malformed"


def test_a_string_that_is_not_utf8_is_malformed() -> None:
    class Named(Struct):
        name: str

    assert codec.decode(codec.encode(Named("ok")), Named) == Named("ok")
    with pytest.raises(codec.MalformedError):
        codec.decode(b"\x91\xa2\xc3\x28", Named)  # 0xc3 0x28 is not UTF-8


def test_typed_errors_cross_processes_whatever_their_constructor_takes() -> None:
    import pickle

    from xinlian.lang.errors import RevertError

    error = RevertError("TooBig", [100], ["f (a.qi:1:2)"], "TooBig(limit: 100)")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is RevertError
    assert (back.message, back.trace, back.error_name, back.args_, back.code) == (
        error.message, error.trace, error.error_name, error.args_, 7506)
