"""A contract's ABI read as Python: encode calls, decode results, events, errors, storage.

No I/O here. `ContractAbi.of(doc)` turns the compiler's ABI document (lang.abi.build) into
typed method specs, one small frozen class per event and one exception class per Qi error,
and the storage layout, so the contract wrappers (sdk.contracts), the CLI and tests share
one reading of it. Equal ABI documents give the same object (so `except` clauses written
against one wrapper's error classes catch another's).

Python names: a Qi name that is a Python keyword gains a trailing underscore (`from` is
`from_` as an event field or keyword argument); the Qi names stay the keys of `as_dict()`
and of `error_args`.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, make_dataclass
from functools import lru_cache
from typing import Any, ClassVar

from xinlian.lang import abi
from xinlian.lang.errors import ArgumentError
from xinlian.lang.types import (
    ADDRESS_LEN,
    STRING,
    ArrayTy,
    EnumTy,
    IntTy,
    ListTy,
    OptionalTy,
    StructTy,
    Ty,
)
from xinlian.ledger.block import Event, Receipt
from xinlian.sdk.errors import AbiMismatch, ContractFailed, ContractReverted

_EVENT_ATTRS = frozenset({"event_name", "event_fields", "as_dict"})


def py_name(name: str, reserved: frozenset[str] = frozenset()) -> str:
    """The Python spelling of a Qi name (keywords, and names in `reserved`, gain a
    trailing underscore)."""
    return name + "_" if keyword.iskeyword(name) or name in reserved else name


@dataclass(frozen=True)
class Param:
    name: str
    type: Ty


@dataclass(frozen=True)
class Method:
    """One function of the ABI: `kind` is `fn` (public method), `init` (constructor) or an
    entry point only the engine runs; `view` methods change nothing and are queried."""

    name: str
    kind: str
    view: bool
    params: tuple[Param, ...]
    returns: Ty

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[Any]:
        """Positional and keyword arguments (by Qi or Python name) in parameter order."""
        if len(args) > len(self.params):
            raise ArgumentError(f"`{self.name}` takes {len(self.params)} argument(s), "
                                f"got {len(args)}")
        values = list(args)
        names = {py_name(p.name): p.name for p in self.params} | {p.name: p.name
                                                                   for p in self.params}
        given = {}
        for key, value in kwargs.items():
            if key not in names:
                raise ArgumentError(f"`{self.name}` has no parameter `{key}`")
            given[names[key]] = value
        for p in self.params[len(values):]:
            if p.name not in given:
                raise ArgumentError(f"`{self.name}` misses argument `{p.name}`")
            values.append(given.pop(p.name))
        if given:
            raise ArgumentError(f"`{self.name}` got `{next(iter(given))}` twice")
        return values

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        """The ABI encoding of the arguments (what a CALL or DEPLOY payload carries)."""
        out = bytearray()
        for p, v in zip(self.params, self.bind(args, kwargs), strict=True):
            try:
                out += abi.encode(p.type, v)
            except ArgumentError as exc:
                raise ArgumentError(f"argument `{p.name}` of `{self.name}`: "
                                    f"{exc.message}") from None
        return bytes(out)

    def decode(self, output: bytes) -> Any:
        """The return value from its encoding (None for a method that returns nothing)."""
        if self.returns.name() == "unit":
            return None
        try:
            return abi.decode(self.returns, output)
        except ArgumentError as exc:
            raise AbiMismatch(f"the result of `{self.name}` is not a `{self.returns}`: "
                              f"{exc.message}") from None


class ContractEvent:
    """Base of the event classes made from an ABI: one frozen dataclass per event (named
    as the event), its fields the event's parameters, decoded. A parameter named as one of
    this class's attributes gains a trailing underscore."""

    event_name: ClassVar[str]
    event_fields: ClassVar[tuple[str, ...]]  # the Qi parameter names, in order

    def as_dict(self) -> dict[str, Any]:
        """The arguments by their Qi names."""
        return {f: getattr(self, py_name(f, _EVENT_ATTRS)) for f in self.event_fields}


@dataclass(frozen=True)
class EventType:
    params: tuple[Param, ...]
    cls: type[ContractEvent]

    def decode(self, data: bytes) -> ContractEvent:
        try:
            values = abi.decode_many([p.type for p in self.params], data)
        except ArgumentError as exc:
            raise AbiMismatch(f"event {self.cls.event_name} does not decode: "
                              f"{exc.message}") from None
        return self.cls(*values)


@dataclass(frozen=True)
class StorageVar:
    """A state variable: its slot, the types of its map keys (outermost first) and the type
    of the stored value."""

    name: str
    slot: int
    keys: tuple[Ty, ...]
    value: Ty

    def key(self, *keys: Any) -> bytes:
        """The storage key the compiled code uses for this variable (and map entry):
        the slot as u32 little-endian, then each map key's encoding (lang/storage.py)."""
        if len(keys) != len(self.keys):
            raise ArgumentError(f"`{self.name}` takes {len(self.keys)} key(s), got {len(keys)}")
        out = bytearray(abi.slot_prefix(self.slot))
        for i, (t, k) in enumerate(zip(self.keys, keys, strict=True)):
            try:
                out += abi.encode(t, k)
            except ArgumentError as exc:
                raise ArgumentError(f"key {i + 1} of `{self.name}`: {exc.message}") from None
        return bytes(out)

    def decode(self, raw: bytes | None) -> Any:
        """A stored value; an absent one reads as the type's zero value, as in Qi."""
        try:
            return abi.decode(self.value, raw if raw is not None else zero_encoding(self.value))
        except ArgumentError as exc:
            raise AbiMismatch(f"the stored `{self.name}` is not a `{self.value}`: "
                              f"{exc.message}") from None


def zero_encoding(t: Ty) -> bytes:
    """The encoding of `t`'s zero value (what a missing storage entry reads as): zeros
    throughout, as long as the type's fixed part."""
    return bytes(_zero_size(t))


def _zero_size(t: Ty) -> int:
    if isinstance(t, IntTy):
        return t.bits // 8
    if isinstance(t, EnumTy | OptionalTy) or t.name() == "bool":
        return 1
    if t.name() == "address":
        return ADDRESS_LEN
    if isinstance(t, ListTy) or t.name() in ("bytes", "string"):
        return 4
    if isinstance(t, ArrayTy):
        return t.size * _zero_size(t.elem)
    if isinstance(t, StructTy):
        return sum(_zero_size(ft) for _, ft in t.fields)
    raise ArgumentError(f"type {t} has no stored zero value")


class Names(Mapping[str, Any]):
    """Read-only name -> item lookup that also reads as attributes (`abi.events.Transfer`)."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_items"][name]
        except KeyError:
            raise AttributeError(name) from None


class ContractAbi:
    """The typed reading of one ABI document (`of` caches it by content)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        try:
            self.doc = doc
            self.contract: str = str(doc.get("contract") or "")
            fns = [_method(f) for f in doc["functions"]]
            self._event_types = {e["name"]: _event_type(e) for e in doc.get("events", [])}
            self.events = Names({n: et.cls for n, et in self._event_types.items()})
            self.errors = Names({e["name"]: _error_class(e) for e in doc.get("errors", [])})
            self._error_params = {"Error": (Param("reason", STRING),)} | {
                e["name"]: tuple(_params(e["params"])) for e in doc.get("errors", [])}
            self.storage = {s["name"]: _storage_var(s) for s in doc.get("storage", [])}
        except (KeyError, TypeError, ValueError, ArgumentError) as exc:
            raise AbiMismatch(f"not a Qi ABI document: {exc}") from None
        self.methods = {m.name: m for m in fns if m.kind == "fn"}
        self.constructor = next((m for m in fns if m.kind == "init"), None)

    @staticmethod
    def of(doc: dict[str, Any] | str | bytes) -> ContractAbi:
        """The ABI of a document, or of its JSON text (as `qi compile --abi` writes)."""
        if isinstance(doc, str | bytes):
            try:
                doc = json.loads(doc)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise AbiMismatch(f"the ABI is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise AbiMismatch("the ABI is not a JSON object")
        return _cached(canonical_json(doc))

    def method(self, name: str) -> Method:
        m = self.methods.get(name)
        if m is None:
            raise ArgumentError(f"{self.contract or 'the contract'} has no public method "
                                f"`{name}`")
        return m

    def encode_constructor(self, *args: Any, **kwargs: Any) -> bytes:
        if self.constructor is None:
            if args or kwargs:
                raise ArgumentError("the contract has no constructor but arguments were given")
            return b""
        return self.constructor.encode(*args, **kwargs)

    def var(self, name: str) -> StorageVar:
        v = self.storage.get(name)
        if v is None:
            raise ArgumentError(f"{self.contract or 'the contract'} has no state `{name}`")
        return v

    def event_params(self, name: str) -> tuple[Param, ...]:
        return self._event_type(name).params

    def decode_event(self, event: Event) -> ContractEvent:
        """A receipt's event of this contract as its typed object."""
        return self._event_type(event.name).decode(event.data)

    def _event_type(self, name: str) -> EventType:
        et = self._event_types.get(name)
        if et is None:
            raise AbiMismatch(f"the ABI has no event `{name}`")
        return et

    def failure(self, code: int, name: str, message: str, trace: Sequence[str], *,
                fuel_used: int = 0, receipt: Receipt | None = None) -> ContractFailed:
        """The typed exception of a failed run: for a Qi error raised with `revert`, an
        instance of its class in `errors` with the decoded arguments; otherwise
        `ContractFailed` with the engine's error (`trap`, `out_of_fuel`, ...)."""
        message = message.split("\n", 1)[0]  # the engine appends the trace; kept apart
        qi_name, args = self._revert_of(message) if name == "revert" else (None, None)
        if qi_name is None or args is None:
            return ContractFailed(code, name, message, list(trace), fuel_used=fuel_used,
                                  receipt=receipt)
        # `revert "reason"` raises the built-in Error, which no ABI declares
        cls: type[ContractReverted] = self.errors.get(qi_name, ContractReverted)
        return cls(code, name, message, list(trace), error_name=qi_name, error_args=args,
                   fuel_used=fuel_used, receipt=receipt)

    def _revert_of(self, message: str) -> tuple[str | None, dict[str, Any] | None]:
        """The Qi error and its arguments from a revert's message (`Name(a: 1, b: 0x..)`,
        lang.show), or (None, None) if the message does not read as one of ours."""
        qi_name = message.split("(", 1)[0].strip()
        if qi_name not in self._error_params:
            return None, None
        return qi_name, parse_error_args(self._error_params[qi_name], message)


@lru_cache(maxsize=128)
def _cached(text: str) -> ContractAbi:
    return ContractAbi(json.loads(text))


def canonical_json(doc: dict[str, Any]) -> str:
    """The ABI JSON text sent on the chain: as `Artifact.abi_json()` writes it, so an
    ABI read from a file and the compiler's own give the same bytes."""
    return json.dumps(doc, indent=2, sort_keys=False)


def _params(raw: list[dict[str, Any]]) -> list[Param]:
    return [Param(p["name"], abi.type_from_json(p["type"])) for p in raw]


def _method(f: dict[str, Any]) -> Method:
    return Method(f["name"], f["kind"], bool(f.get("view")), tuple(_params(f["params"])),
                  abi.type_from_json(f["returns"]))


def _event_type(e: dict[str, Any]) -> EventType:
    params = tuple(_params(e["params"]))
    cls: type[ContractEvent] = make_dataclass(
        e["name"], [(py_name(p.name, _EVENT_ATTRS), Any) for p in params],
        bases=(ContractEvent,), frozen=True,
        namespace={"event_name": e["name"], "event_fields": tuple(p.name for p in params)})
    return EventType(params, cls)


def _error_class(e: dict[str, Any]) -> type[ContractReverted]:
    return type(e["name"], (ContractReverted,), {"__doc__": f"The Qi error {e['name']}."})


def _storage_var(s: dict[str, Any]) -> StorageVar:
    t = abi.type_from_json(s["type"])
    keys = tuple(abi.map_keys(t))
    value = t
    for _ in keys:
        assert hasattr(value, "value")
        value = value.value
    return StorageVar(s["name"], int(s["slot"]), keys, value)


def parse_error_args(params: Sequence[Param], message: str) -> dict[str, Any] | None:
    """The arguments of an error message written by lang.show (`TooBig(limit: 100)`),
    read back by their declared types; None if the text does not match them."""
    reader = _QiText(message)
    try:
        reader.skip_to("(")
        out: dict[str, Any] = {}
        for i, p in enumerate(params):
            if i:
                reader.expect(",")
            reader.expect(p.name)
            reader.expect(":")
            out[p.name] = reader.value(p.type)
        reader.expect(")")
        return out if reader.at_end() else None
    except ValueError:
        return None


class _QiText:
    """A cursor over Qi value syntax as lang.show writes it (the inverse of show.value)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def at_end(self) -> bool:
        self._ws()
        return self.pos == len(self.text)

    def skip_to(self, token: str) -> None:
        at = self.text.find(token, self.pos)
        if at < 0:
            raise ValueError(token)
        self.pos = at + len(token)

    def expect(self, token: str) -> None:
        self._ws()
        if not self.text.startswith(token, self.pos):
            raise ValueError(token)
        self.pos += len(token)

    def _word(self) -> str:
        self._ws()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum()
                                             or self.text[self.pos] in "_-"):
            self.pos += 1
        if start == self.pos:
            raise ValueError("a value")
        return self.text[start:self.pos]

    def value(self, t: Ty) -> Any:
        self._ws()
        if isinstance(t, OptionalTy):
            if self.text.startswith("none", self.pos):
                self.pos += 4
                return None
            return self.value(t.inner)
        if isinstance(t, IntTy):
            return int(self._word())
        if isinstance(t, EnumTy):
            self.expect(f"{t.label}::")
            variant = self._word()
            if variant not in t.variants:
                raise ValueError(variant)
            return variant
        if isinstance(t, ListTy | ArrayTy):
            self.expect("[")
            items: list[Any] = []
            while not self._peek("]"):
                if items:
                    self.expect(",")
                items.append(self.value(t.elem))
            self.expect("]")
            return items
        if isinstance(t, StructTy):
            self.expect(t.label)
            self.expect("{")
            fields: dict[str, Any] = {}
            for i, (n, ft) in enumerate(t.fields):
                if i:
                    self.expect(",")
                self.expect(n)
                self.expect(":")
                fields[n] = self.value(ft)
            self.expect("}")
            return fields
        return self._scalar(t.name())

    def _peek(self, token: str) -> bool:
        self._ws()
        return self.text.startswith(token, self.pos)

    def _scalar(self, name: str) -> Any:
        if name == "bool":
            word = self._word()
            if word not in ("true", "false"):
                raise ValueError(word)
            return word == "true"
        if name == "string":
            try:
                value, self.pos = json.JSONDecoder().raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                raise ValueError(str(exc)) from None
            if not isinstance(value, str):
                raise ValueError("a string")
            return value
        if name == "address":
            word = self._word()
            if not word.startswith("0x") or len(word) != 2 + 2 * ADDRESS_LEN:
                raise ValueError(word)
            return bytes.fromhex(word[2:])
        if name == "bytes":
            self.expect('hex"')
            end = self.text.find('"', self.pos)
            if end < 0:
                raise ValueError("hex")
            raw = bytes.fromhex(self.text[self.pos:end])
            self.pos = end + 1
            return raw
        raise ValueError(name)
