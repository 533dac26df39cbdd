"""The relay's wire messages: one version byte, then a tagged MessagePack array.

A message that carries transaction bodies (Txs, BlockTxs) may instead start with
`COMPRESSED` and hold the MessagePack deflated (zlib, level 1): measured on bundles of 100
real signed transfers it saves 16 % (SM2) to 19 % (Ed25519) of the bytes, and nothing on
ids, short ids or post-quantum signatures, which are random (docs/benchmarks.md, "Relay
payload compression"). Inflating stops at `MAX_MESSAGE_SIZE`.

Every size inside a message is bounded by the schema, so decoding a hostile message costs
at most its length (inflated, for a compressed one); anything that does not decode is a
typed `MalformedRelayMessage` (or `UnsupportedRelayVersion` for another version byte),
never an exception from deep inside the core.
"""

from __future__ import annotations

import zlib
from typing import Annotated

import msgspec

from xinlian.codec import CodecError, Struct, at_most, decode, encode, exactly
from xinlian.network.errors import MalformedRelayMessage, UnsupportedRelayVersion

VERSION = 1
COMPRESSED = 0x81  # version 1, body deflated (raw DEFLATE, RFC 1951)
COMPRESS_MIN = 1024  # smaller messages gain nothing (measured: a single transfer grows)
COMPRESS_LEVEL = 1  # as small as level 6 on transaction bundles, a third faster
ID_SIZE = 32
SHORT_ID_SIZE = 6
MAX_IDS = 20_000  # ids in one IHave/IWant, short ids in one compact block
MAX_TX_SIZE = 128 * 1024
MAX_HEADER_SIZE = 4096
MAX_MESSAGE_SIZE = 32 * 1024 * 1024

Id = Annotated[bytes, exactly(ID_SIZE)]
Tx = Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_TX_SIZE)]
Ids = Annotated[list[Id], at_most(MAX_IDS)]
Txs_ = Annotated[list[Tx], at_most(MAX_IDS)]


class Hello(Struct, tag=1):
    """Sent on connect; the two nonces give the link's SipHash key."""

    nonce: Annotated[bytes, exactly(16)]


class Graft(Struct, tag=2):
    """The sender added the receiver to its mesh."""


class Prune(Struct, tag=3):
    """The sender removed the receiver from its mesh (or refused its graft)."""


class IHave(Struct, tag=4):
    """Transaction ids the sender holds and the receiver may want (one heartbeat's batch)."""

    ids: Ids


class IWant(Struct, tag=5):
    ids: Ids


class Txs(Struct, tag=6):
    txs: Txs_


class BlockHave(Struct, tag=7):
    block_id: Id


class GetCompact(Struct, tag=8):
    block_id: Id


class Compact(Struct, tag=9):
    """A block as its header, the digest of its transaction ids and 6-byte short ids."""

    block_id: Id
    header: Annotated[bytes, at_most(MAX_HEADER_SIZE)]
    txs_digest: Id
    short_ids: Annotated[bytes, at_most(MAX_IDS * SHORT_ID_SIZE)]


class GetBlockTxs(Struct, tag=10):
    block_id: Id
    indexes: Annotated[list[Annotated[int, msgspec.Meta(ge=0, lt=MAX_IDS)]], at_most(MAX_IDS)]


class BlockTxs(Struct, tag=11):
    block_id: Id
    indexes: Annotated[list[Annotated[int, msgspec.Meta(ge=0, lt=MAX_IDS)]], at_most(MAX_IDS)]
    txs: Txs_


Message = (Hello | Graft | Prune | IHave | IWant | Txs | BlockHave | GetCompact | Compact
           | GetBlockTxs | BlockTxs)


def encode_message(message: Message, compress: bool = False) -> bytes:
    """Version byte and MessagePack; with `compress`, a body-carrying message (Txs,
    BlockTxs) of at least `COMPRESS_MIN` bytes is deflated when that makes it smaller."""
    plain = encode(message)
    if compress and isinstance(message, Txs | BlockTxs) and len(plain) >= COMPRESS_MIN:
        deflater = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
        packed = deflater.compress(plain) + deflater.flush()
        if len(packed) < len(plain):
            return bytes((COMPRESSED,)) + packed
    return bytes((VERSION,)) + plain


def _inflate(data: memoryview) -> bytes:
    """Raw DEFLATE, refusing more than MAX_MESSAGE_SIZE bytes out (a decompression bomb)."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, MAX_MESSAGE_SIZE)
    except zlib.error as exc:
        raise MalformedRelayMessage(f"bad compressed relay message: {exc}") from exc
    if inflater.unconsumed_tail:
        raise MalformedRelayMessage("compressed relay message inflates past the size limit")
    if not inflater.eof or inflater.unused_data:
        raise MalformedRelayMessage("compressed relay message is truncated or has trailing bytes")
    return out


def decode_message(data: bytes) -> Message:
    """The message in `data`; raises MalformedRelayMessage (or UnsupportedRelayVersion)."""
    if not data:
        raise MalformedRelayMessage("empty relay message")
    if data[0] not in (VERSION, COMPRESSED):
        raise UnsupportedRelayVersion(f"relay version {data[0]} (this node speaks {VERSION})")
    body = memoryview(data)[1:] if data[0] == VERSION else _inflate(memoryview(data)[1:])
    try:
        message: Message = decode(body, Message,
                                  max_size=MAX_MESSAGE_SIZE, check_canonical=False)
    except CodecError as exc:
        raise MalformedRelayMessage(f"{exc.name}: {exc}") from exc
    if isinstance(message, BlockTxs) and len(message.indexes) != len(message.txs):
        raise MalformedRelayMessage("block transactions and their indexes differ in count")
    if isinstance(message, Compact) and len(message.short_ids) % SHORT_ID_SIZE:
        raise MalformedRelayMessage("short ids are not a whole number of 6-byte ids")
    return message
