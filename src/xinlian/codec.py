"""Canonical binary encoding for everything that is hashed, signed, stored or sent.

MessagePack via msgspec, with typed Structs encoded as arrays (field order is the schema
order), map keys sorted, and no floats in any schema. A value has exactly one encoding:
`decode` re-encodes what it decoded and rejects input whose bytes differ (non-minimal
integers, unsorted maps, ...), so hashes and signatures over encodings are well defined.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

import msgspec
from typing_extensions import dataclass_transform

from xinlian.errors import XinlianError

T = TypeVar("T")

MAX_MESSAGE_SIZE = 16 * 1024 * 1024


class CodecError(XinlianError):
    code = 1000
    name = "codec_error"


class MalformedError(CodecError):
    """The bytes are not well-formed MessagePack (truncated, trailing bytes, bad header)."""

    code = 1001
    name = "malformed"


class WrongTypeError(CodecError):
    """Well-formed, but not the expected schema (wrong type, missing or extra field)."""

    code = 1002
    name = "wrong_type"


class OversizeError(CodecError):
    """The input, or a length inside it, is larger than the limit."""

    code = 1003
    name = "oversize"


class TooDeepError(CodecError):
    """The input nests deeper than the decoder allows."""

    code = 1004
    name = "too_deep"


class NonCanonicalError(CodecError):
    """The value decodes, but these are not its one canonical encoding."""

    code = 1005
    name = "non_canonical"


if TYPE_CHECKING:
    # Tell type checkers that subclasses inherit `frozen` (msgspec applies it at runtime).
    @dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
    class Struct(msgspec.Struct, frozen=True):
        """Base of every canonical record: immutable, encoded as an array in field order."""
else:
    class Struct(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
        """Base of every canonical record: immutable, encoded as an array in field order."""


def exactly(n: int) -> msgspec.Meta:
    """Size of a field written `Annotated[bytes, exactly(n)]`: exactly n bytes, checked on
    decode. (An `Annotated` alias, unlike a function returning a type, is a type to mypy.)"""
    return msgspec.Meta(min_length=n, max_length=n)


def at_most(n: int) -> msgspec.Meta:
    """Size of a field written `Annotated[bytes, at_most(n)]`: at most n bytes."""
    return msgspec.Meta(max_length=n)


_encoder = msgspec.msgpack.Encoder(order="deterministic")
_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def encode(value: Any) -> bytes:
    """The canonical encoding of `value`."""
    try:
        return _encoder.encode(value)
    except (TypeError, OverflowError) as exc:
        raise WrongTypeError(f"cannot encode: {exc}") from exc


def _decoder(type_: Any) -> msgspec.msgpack.Decoder[Any]:
    dec = _decoders.get(type_)
    if dec is None:
        dec = _decoders[type_] = msgspec.msgpack.Decoder(type_)
    return dec


Buffer = bytes | bytearray | memoryview


def trusted_decoder(type_: type[T]) -> Callable[[Buffer], T]:
    """A fast decoder for bytes this node wrote itself (its own store), without the
    canonical-encoding check. Never use it on input from outside the node."""
    return _decoder(type_).decode


@overload
def decode(data: Buffer, type_: type[T], *, max_size: int = ...,
           check_canonical: bool = ...) -> T: ...
@overload
def decode(data: Buffer, type_: Any, *, max_size: int = ...,
           check_canonical: bool = ...) -> Any: ...
def decode(data: Buffer, type_: Any, *, max_size: int = MAX_MESSAGE_SIZE,
           check_canonical: bool = True) -> Any:
    """Decode `data` as `type_`, rejecting anything that is not its canonical encoding."""
    if len(data) > max_size:
        raise OversizeError(f"{len(data)} bytes exceeds the limit of {max_size}")
    try:
        value = _decoder(type_).decode(data)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "of length <=" in text:
            raise OversizeError(text) from exc
        raise WrongTypeError(text) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # a str that is not UTF-8
        raise MalformedError(str(exc)) from exc
    except RecursionError as exc:
        raise TooDeepError("nesting too deep") from exc
    if check_canonical and _encoder.encode(value) != bytes(data):
        raise NonCanonicalError("input is not the canonical encoding of the value it decodes to")
    return value

