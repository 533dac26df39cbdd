"""Frames, records and the channel as properties: any split of the stream, any tampering."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.keys import AlgId
from xinlian.network.channel import RECORD_OVERHEAD, Channel, pack, unpack
from xinlian.network.errors import (
    DecryptFailed,
    MalformedFrame,
    OversizeFrame,
    ReplayedRecord,
)
from xinlian.network.framing import FrameDecoder, encode_frame

payloads = st.lists(st.binary(min_size=1, max_size=300), min_size=0, max_size=20)


@given(payloads, st.lists(st.integers(1, 50), min_size=1, max_size=40))
def test_any_split_of_the_stream_gives_the_same_frames(frames: list[bytes],
                                                        cuts: list[int]) -> None:
    stream = b"".join(encode_frame(f, 300) for f in frames)
    decoder = FrameDecoder(300)
    out: list[bytes] = []
    pos, i = 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        out += decoder.feed(stream[pos:pos + step])
        pos += step
        i += 1
    assert out == frames
    assert decoder.buffered == 0


@given(payloads, st.integers(1, 5))
def test_max_frames_leaves_the_rest_buffered(frames: list[bytes], limit: int) -> None:
    stream = b"".join(encode_frame(f, 300) for f in frames)
    decoder = FrameDecoder(300)
    out = decoder.feed(stream, limit)
    assert out == frames[:limit]
    while len(out) < len(frames):
        out += decoder.feed(b"", limit)
    assert out == frames


@given(st.integers(301, 2**32 - 1), st.binary(max_size=8))
def test_oversize_header_is_refused_before_the_body(n: int, tail: bytes) -> None:
    decoder = FrameDecoder(300)
    with pytest.raises(OversizeFrame):
        decoder.feed(n.to_bytes(4, "big") + tail)
    assert decoder.buffered == 0  # nothing kept
    with pytest.raises(MalformedFrame):  # and the decoder is dead
        decoder.feed(b"\0\0\0\1x")


def test_empty_frames_are_malformed() -> None:
    with pytest.raises(MalformedFrame):
        FrameDecoder(10).feed(b"\0\0\0\0")
    with pytest.raises(MalformedFrame):
        encode_frame(b"", 10)
    with pytest.raises(OversizeFrame):
        encode_frame(b"x" * 11, 10)
    with pytest.raises(ValueError):
        FrameDecoder(0)


@given(st.lists(st.binary(min_size=1, max_size=100), min_size=1, max_size=10))
def test_pack_unpack_round_trip(messages: list[bytes]) -> None:
    assert unpack(pack(messages), 100) == messages


@given(st.binary(max_size=64))
def test_unpack_parses_exactly_or_raises_typed(data: bytes) -> None:
    try:
        messages = unpack(data, 32)
    except (MalformedFrame, OversizeFrame):
        return
    assert pack(messages) == data


KEY = {AlgId.AES256_GCM: bytes(range(32)), AlgId.SM4_GCM: bytes(range(16))}


def _pair(alg: AlgId) -> tuple[Channel, Channel]:
    k1, k2 = KEY[alg], bytes(reversed(KEY[alg]))
    return Channel(alg, k1, k2), Channel(alg, k2, k1)


@settings(max_examples=50)
@given(st.sampled_from(sorted(KEY)), st.lists(st.binary(max_size=64), min_size=1, max_size=8),
       st.data())
def test_channel_refuses_every_tampered_record(alg: AlgId, messages: list[bytes],
                                               data: st.DataObject) -> None:
    a, b = _pair(alg)
    records = [a.seal(m) for m in messages]
    victim = data.draw(st.integers(0, len(records) - 1))
    record = records[victim]
    position = data.draw(st.integers(0, len(record) - 1))
    flip = data.draw(st.integers(1, 255))
    bad = record[:position] + bytes([record[position] ^ flip]) + record[position + 1:]
    for i, r in enumerate(records):
        if i == victim:
            with pytest.raises((DecryptFailed, ReplayedRecord)):
                b.open(bad)
        assert b.open(r) == messages[i]
    for r in records:  # replaying anything that was accepted
        with pytest.raises(ReplayedRecord):
            b.open(r)


def test_channel_order_truncation_and_direction() -> None:
    a, b = _pair(AlgId.SM4_GCM)
    r0, r1, r2 = a.seal(b"0"), a.seal(b"1"), a.seal(b"2")
    assert b.open(r1) == b"1"
    with pytest.raises(ReplayedRecord):
        b.open(r0)  # reordered: older than the last accepted
    with pytest.raises(MalformedFrame):
        b.open(r2[:RECORD_OVERHEAD - 1])
    with pytest.raises(DecryptFailed):
        b.open(r2[:-1])
    with pytest.raises(DecryptFailed):
        a.open(r2)  # a record never authenticates in the other direction
    assert b.open(r2) == b"2"
