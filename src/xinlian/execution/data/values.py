"""Attribute values: their checks on chain, and their conversion from and to Python values.

The encodings are in model.py's docstring; `check` is what execution applies to every value
of a DATA_WRITE, `encode` / `decode` are what clients (SDK, CLI) use.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from xinlian import codec
from xinlian.crypto.primitives.groups import SM2
from xinlian.crypto.privacy.homomorphic import contribution
from xinlian.crypto.privacy.homomorphic.errors import HomomorphicError
from xinlian.execution.data.model import MAX_VALUE, Kind
from xinlian.execution.errors import ValueTooLarge, WrongKind
from xinlian.storage import keys
from xinlian.storage.blob_proof import BlobCommitment
from xinlian.storage.errors import InvalidKeyError

_POINT = 16  # a sequence point: time (8) + number (8)


def check(kind: str, raw: bytes) -> None:
    """Raise WrongKind unless `raw` is a valid encoding of a `kind` value, ValueTooLarge
    if it is over MAX_VALUE."""
    if len(raw) > MAX_VALUE:
        raise ValueTooLarge(f"a value of {len(raw)} bytes; the limit is {MAX_VALUE}")
    decode(kind, raw)


def encode(kind: str, value: Any) -> bytes:
    """The encoding of Python `value` as a `kind` value: number int, time int (ms), text
    str, bytes bytes, sequence [(time ms, number), ...], blob BlobCommitment
    (storage/blob_proof.py), encrypted the bytes of a contribution (its proof is checked
    on chain against the attribute's key: apply.py). WrongKind otherwise, ValueTooLarge
    over MAX_VALUE bytes."""
    raw = _encode(kind, value)
    if len(raw) > MAX_VALUE:
        raise ValueTooLarge(f"a value of {len(raw)} bytes; the limit is {MAX_VALUE}")
    return raw


def _encode(kind: str, value: Any) -> bytes:
    try:
        if kind == Kind.NUMBER and is_int(value):
            return keys.signed_key(value)
        if kind == Kind.TIME and is_int(value):
            return keys.unsigned_key(value)
        if kind == Kind.TEXT and isinstance(value, str):
            return unicodedata.normalize("NFC", value).encode()
        if kind == Kind.BYTES and isinstance(value, bytes):
            return value
        if kind == Kind.SEQUENCE and isinstance(value, Sequence):
            raw = b"".join(keys.unsigned_key(t) + keys.signed_key(v) for t, v in value)
            decode(kind, raw)  # checks the order of times
            return raw
        if kind == Kind.BLOB and isinstance(value, BlobCommitment):
            return codec.encode(value)
        if kind == Kind.ENCRYPTED and isinstance(value, bytes):
            decode(kind, value)
            return value
    except (InvalidKeyError, TypeError, ValueError) as exc:
        raise WrongKind(f"not a {kind} value: {exc}") from None
    raise WrongKind(f"a {type(value).__name__} is not a {kind} value")


def from_json(kind: str, value: Any) -> Any:
    """A bound as JSON gives it (bytes as 0x hex) as the Python value `encode` takes."""
    if kind in (Kind.BYTES, Kind.ENCRYPTED) and isinstance(value, str):
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise WrongKind(f"a {kind} value is 0x hex") from None
    return value


def decode(kind: str, raw: bytes) -> Any:
    """The Python value of an encoded `kind` value; WrongKind if `raw` is not one."""
    if kind in (Kind.NUMBER, Kind.TIME):
        if len(raw) != 8:
            raise WrongKind(f"a {kind} value is 8 bytes, not {len(raw)}")
        return (keys.read_signed(raw) if kind == Kind.NUMBER else keys.read_unsigned(raw))[0]
    if kind == Kind.TEXT:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise WrongKind("a text value that is not UTF-8") from None
        if not unicodedata.is_normalized("NFC", text):
            raise WrongKind("a text value that is not in Unicode NFC")
        return text
    if kind == Kind.BYTES:
        return raw
    if kind == Kind.SEQUENCE:
        return _points(raw)
    if kind == Kind.BLOB:
        try:
            return codec.decode(raw, BlobCommitment)
        except codec.CodecError as exc:
            raise WrongKind(f"a blob value that is not a blob commitment: {exc.message}"
                            ) from None
    if kind == Kind.ENCRYPTED:
        try:
            contribution.decode(SM2, raw)
        except HomomorphicError as exc:
            raise WrongKind(f"an encrypted value that is not a contribution: {exc.message}"
                            ) from None
        return raw
    raise WrongKind(f"unknown attribute kind {kind!r}")


def _points(raw: bytes) -> list[tuple[int, int]]:
    if len(raw) % _POINT:
        raise WrongKind(f"a sequence value is {_POINT}-byte points, not {len(raw)} bytes")
    points = [(keys.read_unsigned(raw, i)[0], keys.read_signed(raw, i + 8)[0])
              for i in range(0, len(raw), _POINT)]
    if any(a[0] >= b[0] for a, b in pairwise(points)):
        raise WrongKind("a sequence's times must strictly increase")
    return points


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
