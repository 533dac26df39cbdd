"""Order-preserving key encodings: byte order equals value order. The one place for them.

Authenticated indexes (contract indexes, data indexes) keep entries in key order and answer
a value range as a key range, so a value's encoding must sort as the value does and be
prefix-free (an entry key is `prefix || value key || suffix`, and all the entries of one
value must be exactly the keys that start with `prefix || value key`):

- signed integers: big-endian two's complement at their width with the sign bit flipped
  (adding 2^(bits-1)), so -1 sorts just below 0;
- unsigned integers (timestamps in ms: `time_key`): big-endian at their width;
- fixed-point decimals (`decimal_key`): the signed key of value * 10^scale, exact;
- byte strings (UTF-8 text after NFC normalisation too): the bytes with 0x00 written
  0x00 0xff, ended by 0x00 0x00. The end mark sorts below any continuation, so "ab" sorts
  before "abc", and no encoding is a prefix of another.

`key_range` turns an inclusive value range and a page cursor into the half-open key range
that a range query asks for.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from xinlian.storage.errors import InvalidKeyError

_END = b"\x00\x00"


def signed_key(value: int, bits: int = 64) -> bytes:
    """The key of a signed integer of `bits` bits; InvalidKeyError outside that range."""
    offset = 1 << (bits - 1)
    if not -offset <= value < offset:
        raise InvalidKeyError(f"{value} is not a signed {bits}-bit integer")
    return (value + offset).to_bytes(bits // 8, "big")


def unsigned_key(value: int, bits: int = 64) -> bytes:
    """The key of an unsigned integer of `bits` bits; InvalidKeyError outside that range."""
    if not 0 <= value < 1 << bits:
        raise InvalidKeyError(f"{value} is not an unsigned {bits}-bit integer")
    return value.to_bytes(bits // 8, "big")


def read_signed(data: bytes, pos: int = 0, bits: int = 64) -> tuple[int, int]:
    """The signed integer whose key starts at `data[pos]`, and where its key ends."""
    value, end = read_unsigned(data, pos, bits)
    return value - (1 << (bits - 1)), end


def read_unsigned(data: bytes, pos: int = 0, bits: int = 64) -> tuple[int, int]:
    end = pos + bits // 8
    if end > len(data):
        raise InvalidKeyError("an integer key cut short")
    return int.from_bytes(data[pos:end], "big"), end


def escaped(raw: bytes) -> bytes:
    """The prefix-free, order-preserving key of a byte string."""
    return raw.replace(b"\x00", b"\x00\xff") + _END


def read_escaped(data: bytes, pos: int = 0) -> tuple[bytes, int]:
    """The byte string whose `escaped` key starts at `data[pos]`, and where its key ends;
    InvalidKeyError if the key has no end mark or a bad escape."""
    out = bytearray()
    while True:
        zero = data.find(b"\x00", pos)
        if zero == -1 or zero + 1 >= len(data) or data[zero + 1] not in (0x00, 0xFF):
            raise InvalidKeyError("a byte-string key without its end mark")
        out += data[pos:zero]
        pos = zero + 2
        if data[zero + 1] == 0x00:
            return bytes(out), pos
        out.append(0)


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key above every key that starts with `prefix` (None: there is none)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def key_range(index: bytes, lo: bytes | None = None, hi: bytes | None = None, *,
              reverse: bool = True, cursor: bytes | None = None
              ) -> tuple[bytes, bytes | None] | None:
    """The keys under prefix `index` whose value keys lie from `lo` to `hi`, both included
    (None: unbounded; a value key may be a prefix, such as leading map keys), after the
    page that ended at `cursor` (the last key of the previous page): (start, stop) with
    start <= key < stop, or None when nothing can be left."""
    start = index + lo if lo is not None else index
    stop = prefix_end(index + hi) if hi is not None else prefix_end(index)
    if cursor is not None:
        if reverse:
            stop = cursor if stop is None else min(stop, cursor)
        else:
            start = max(start, cursor + b"\x00")
    if stop is not None and stop <= start:
        return None
    return start, stop


def decimal_key(value: Decimal | int | str, scale: int, bits: int = 64) -> bytes:
    """The key of a fixed-point decimal with `scale` digits after the point: the signed key
    of value * 10^scale; InvalidKeyError if the value has more digits or is out of range."""
    return signed_key(fixed_point(value, scale), bits)


def fixed_point(value: Decimal | int | str, scale: int) -> int:
    """value * 10^scale as an integer, exactly (no rounding: a finer value is refused)."""
    try:
        exact = Decimal(value) if not isinstance(value, Decimal) else value
        scaled = exact.scaleb(scale)
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidKeyError(f"{value!r} is not a decimal number") from None
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise InvalidKeyError(f"{value} has more than {scale} digits after the point")
    return int(scaled)


def read_decimal(data: bytes, scale: int, pos: int = 0, bits: int = 64
                 ) -> tuple[Decimal, int]:
    """The decimal whose `decimal_key` starts at `data[pos]`, and where its key ends."""
    raw, end = read_signed(data, pos, bits)
    return Decimal(raw).scaleb(-scale), end


def time_key(ms: int) -> bytes:
    """The key of a timestamp in milliseconds since the Unix epoch (u64 big-endian)."""
    return unsigned_key(ms, 64)
