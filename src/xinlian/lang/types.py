"""Qi types after name resolution."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


class Ty(ABC):
    def __str__(self) -> str:
        return self.name()

    @abstractmethod
    def name(self) -> str:
        """The type as Qi source spells it."""

    def to_json(self) -> object:
        return self.name()


@dataclass(frozen=True)
class IntTy(Ty):
    bits: int
    signed: bool

    def name(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.bits}"

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def big(self) -> bool:
        """Wider than 64 bits: held as four 64-bit limbs."""
        return self.bits > 64


@dataclass(frozen=True)
class PrimTy(Ty):
    label: str  # bool, bytes, string, address, unit

    def name(self) -> str:
        return self.label


@dataclass(frozen=True)
class ListTy(Ty):
    elem: Ty

    def name(self) -> str:
        return f"list<{self.elem}>"

    def to_json(self) -> object:
        return {"list": self.elem.to_json()}


@dataclass(frozen=True)
class ArrayTy(Ty):
    elem: Ty
    size: int

    def name(self) -> str:
        return f"[{self.elem}; {self.size}]"

    def to_json(self) -> object:
        return {"array": self.elem.to_json(), "size": self.size}


@dataclass(frozen=True)
class MapTy(Ty):
    key: Ty
    value: Ty

    def name(self) -> str:
        return f"map<{self.key}, {self.value}>"

    def to_json(self) -> object:
        return {"map": [self.key.to_json(), self.value.to_json()]}


@dataclass(frozen=True)
class OptionalTy(Ty):
    inner: Ty

    def name(self) -> str:
        return f"{self.inner}?"

    def to_json(self) -> object:
        return {"optional": self.inner.to_json()}


@dataclass(eq=False)
class StructTy(Ty):
    label: str
    fields: list[tuple[str, Ty]] = field(default_factory=list)

    def name(self) -> str:
        return self.label

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StructTy) and other.label == self.label

    def __hash__(self) -> int:
        return hash(("struct", self.label))

    def field_index(self, fname: str) -> int | None:
        for i, (n, _) in enumerate(self.fields):
            if n == fname:
                return i
        return None


@dataclass(eq=False)
class EnumTy(Ty):
    label: str
    variants: list[str] = field(default_factory=list)

    def name(self) -> str:
        return self.label

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnumTy) and other.label == self.label

    def __hash__(self) -> int:
        return hash(("enum", self.label))


BOOL = PrimTy("bool")
BYTES = PrimTy("bytes")
STRING = PrimTy("string")
ADDRESS = PrimTy("address")
UNIT = PrimTy("unit")
U8 = IntTy(8, False)
U32 = IntTy(32, False)
U64 = IntTy(64, False)
ADDRESS_LEN = 20

INT_TYPES = {f"{s}{b}": IntTy(b, s == "i") for s in "ui" for b in (8, 16, 32, 64, 128, 256)}
PRIMS = {"bool": BOOL, "bytes": BYTES, "string": STRING, "address": ADDRESS}


def is_storable(t: Ty) -> bool:
    """Everything except maps (which only live in state) and unit can be a value."""
    if isinstance(t, MapTy) or t == UNIT:
        return False
    if isinstance(t, ListTy | ArrayTy):
        return is_storable(t.elem)
    if isinstance(t, OptionalTy):
        return is_storable(t.inner)
    if isinstance(t, StructTy):
        return all(is_storable(ft) for _, ft in t.fields)
    return True
