"""The relay codec: every message round-trips; any bytes decode or raise a typed error."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.network.errors import MalformedRelayMessage, UnsupportedRelayVersion
from xinlian.network.relay.messages import (
    COMPRESSED,
    MAX_IDS,
    MAX_MESSAGE_SIZE,
    VERSION,
    BlockHave,
    BlockTxs,
    Compact,
    GetBlockTxs,
    GetCompact,
    Graft,
    Hello,
    IHave,
    IWant,
    Message,
    Prune,
    Txs,
    decode_message,
    encode_message,
)

ids = st.binary(min_size=32, max_size=32)
txs = st.lists(st.binary(min_size=1, max_size=300), max_size=8)
indexes = st.lists(st.integers(0, MAX_IDS - 1), max_size=8)

messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(Hello, st.binary(min_size=16, max_size=16)),
    st.just(Graft()),
    st.just(Prune()),
    st.builds(IHave, st.lists(ids, max_size=8)),
    st.builds(IWant, st.lists(ids, max_size=8)),
    st.builds(Txs, txs),
    st.builds(BlockHave, ids),
    st.builds(GetCompact, ids),
    st.builds(Compact, ids, st.binary(max_size=100), ids,
              st.integers(0, 10).map(lambda n: bytes(6 * n))),
    st.builds(GetBlockTxs, ids, indexes),
    txs.flatmap(lambda t: st.builds(BlockTxs, ids, st.lists(st.integers(0, 99), min_size=len(t),
                                                              max_size=len(t)), st.just(t))),
)


@given(messages)
def test_every_message_round_trips(message: Message) -> None:
    data = encode_message(message)
    assert data[0] == VERSION
    assert decode_message(data) == message


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_a_typed_error(data: bytes) -> None:
    with contextlib.suppress(MalformedRelayMessage):
        decode_message(data)


@given(messages, st.integers(0, 255).filter(lambda v: v not in (VERSION, COMPRESSED)))
def test_another_version_is_refused(message: Message, version: int) -> None:
    with pytest.raises(UnsupportedRelayVersion):
        decode_message(bytes((version,)) + encode_message(message)[1:])


@given(messages, st.data())
def test_truncated_messages_are_refused(message: Message, data: st.DataObject) -> None:
    encoded = encode_message(message)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(MalformedRelayMessage):
        decode_message(encoded[:cut])


@pytest.mark.parametrize("message", [
    BlockTxs(bytes(32), [0, 1], [b"a"]),                # indexes and bodies differ in count
    Compact(bytes(32), b"", bytes(32), bytes(7)),      # not whole 6-byte short ids
    IHave([bytes(31)]),                                 # an id of the wrong size
    IWant([bytes(32)] * (MAX_IDS + 1)),                 # more ids than a message may hold
    Txs([b""]),                                         # an empty transaction
])
def test_invalid_contents_are_refused(message: Message) -> None:
    with pytest.raises(MalformedRelayMessage):
        decode_message(encode_message(message))


@given(messages)
def test_every_message_round_trips_compressed(message: Message) -> None:
    assert decode_message(encode_message(message, compress=True)) == message


def test_large_bodies_are_deflated_and_small_ones_are_not() -> None:
    bundle = Txs([b"xinlian transfer to %d" % (i % 7) for i in range(200)])
    packed = encode_message(bundle, compress=True)
    assert packed[0] == COMPRESSED and len(packed) < len(encode_message(bundle)) // 2
    small = Txs([b"one transfer"])
    assert encode_message(small, compress=True) == encode_message(small)
    ids = IHave([bytes([i]) * 32 for i in range(100)])  # never compressed: not bodies
    assert encode_message(ids, compress=True)[0] == VERSION


def _deflate(data: bytes) -> bytes:
    d = zlib.compressobj(9, zlib.DEFLATED, -15)
    return d.compress(data) + d.flush()


@pytest.mark.parametrize("data", [
    bytes([COMPRESSED]) + b"\xff\xfe garbage",
    bytes([COMPRESSED]) + _deflate(encode_message(Txs([b"x" * 2000]))[1:])[:-4],
    bytes([COMPRESSED]) + _deflate(encode_message(Txs([b"x" * 2000]))[1:]) + b"tail",
    bytes([COMPRESSED]) + _deflate(b"\x00" * (MAX_MESSAGE_SIZE + 1)),  # a bomb
])
def test_invalid_compressed_messages_get_a_typed_error(data: bytes) -> None:
    with pytest.raises(MalformedRelayMessage):
        decode_message(data)
