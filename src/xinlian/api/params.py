"""Method parameters: declared per method, decoded and validated before any handler runs.

A method lists its `Param`s; `bind` takes the request's `params` (an array by position or an
object by name, as JSON-RPC 2.0 allows) and returns typed keyword arguments, or raises
InvalidParams naming the parameter. Handlers therefore only ever see valid, typed values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from xinlian import codec
from xinlian.api.errors import FormatError, InvalidParams
from xinlian.api.format import bytes_of
from xinlian.errors import XinlianError

T = TypeVar("T")

Parser = Callable[[Any, str], Any]
REQUIRED: Any = object()
MAX_UINT = 2**63 - 1


@dataclass(frozen=True)
class Param:
    name: str
    parse: Parser
    default: Any = REQUIRED


def bind(spec: Sequence[Param], params: object) -> dict[str, Any]:
    """Typed keyword arguments for a method declared with `spec`."""
    if params is None:
        given: dict[str, Any] = {}
    elif isinstance(params, list):
        if len(params) > len(spec):
            raise InvalidParams(f"expected at most {len(spec)} params, got {len(params)}")
        given = {p.name: v for p, v in zip(spec, params, strict=False)}
    elif isinstance(params, dict):
        unknown = set(params) - {p.name for p in spec}
        if unknown:
            raise InvalidParams(f"unknown params {sorted(map(str, unknown))}")
        given = params
    else:
        raise InvalidParams("params must be an array or an object")
    out = {}
    for p in spec:
        if p.name in given:
            try:
                out[p.name] = p.parse(given[p.name], p.name)
            except FormatError as exc:
                raise InvalidParams(exc.message) from None
        elif p.default is REQUIRED:
            raise InvalidParams(f"missing param {p.name!r}")
        else:
            out[p.name] = p.default
    return out


def hex_bytes(*, size: int | None = None, max_size: int | None = None) -> Parser:
    def parse(value: Any, name: str) -> bytes:
        return bytes_of(value, name, size=size, max_size=max_size)
    return parse


def list_of(item: Parser, *, max_items: int) -> Parser:
    """A non-empty array, each item parsed by `item`. This is the batch-submission hot
    path: items are parsed without per-item bookkeeping, and only when one fails is the
    array walked again to name the failing index."""
    def parse(value: Any, name: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise InvalidParams(f"{name} must be a non-empty array")
        if len(value) > max_items:
            raise InvalidParams(f"{name} has {len(value)} items; the limit is {max_items}")
        try:
            return [item(v, name) for v in value]
        except XinlianError:
            for i, v in enumerate(value):
                item(v, f"{name}[{i}]")
            raise
    return parse


def uint(*, maximum: int = MAX_UINT) -> Parser:
    def parse(value: Any, name: str) -> int:
        if type(value) is not int or not 0 <= value <= maximum:
            raise InvalidParams(f"{name} must be an integer from 0 to {maximum}")
        return value
    return parse


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParams(f"{name} must be true or false")
    return value


def choice(*options: str) -> Parser:
    def parse(value: Any, name: str) -> str:
        if value not in options:
            raise InvalidParams(f"{name} must be one of {list(options)}")
        return str(value)
    return parse


def text(*, max_length: int) -> Parser:
    def parse(value: Any, name: str) -> str:
        if not isinstance(value, str) or not 0 < len(value) <= max_length:
            raise InvalidParams(f"{name} must be a string of 1 to {max_length} characters")
        return value
    return parse


def scalar(*, max_length: int) -> Parser:
    """A JSON integer or string (a value whose kind the handler knows: a data attribute's
    bound, execution/data/values.py)."""
    def parse(value: Any, name: str) -> int | str:
        if type(value) is int or (isinstance(value, str) and len(value) <= max_length):
            return value
        raise InvalidParams(f"{name} must be an integer or a string of at most "
                            f"{max_length} characters")
    return parse


def optional(inner: Parser) -> Parser:
    """`inner`, or None for null."""
    def parse(value: Any, name: str) -> Any:
        return None if value is None else inner(value, name)
    return parse


def encoded(type_: type[T], *, max_size: int) -> Parser:
    """A canonical codec encoding of a `type_` record, as hex."""
    def parse(value: Any, name: str) -> T:
        raw = bytes_of(value, name, max_size=max_size)
        try:
            return codec.decode(raw, type_)
        except codec.CodecError as exc:
            raise InvalidParams(f"{name} is not a {type_.__name__}: {exc.message}") from None
    return parse
