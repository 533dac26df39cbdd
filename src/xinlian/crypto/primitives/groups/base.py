"""Prime-order groups as small typed values: `Group`, `Scalar` and `Element`.

Theory of operation: a `Group` owns the arithmetic; `Scalar` (an integer mod the group
order) and `Element` (a group element) are immutable values that remember their group and
forward operators to it, so protocol code reads like the paper (`z * G + c * Y`) and never
names a curve. A backend subclass supplies a handful of `_`-hooks over the native library's
own point representation; the identity element is always `None` inside an `Element`, which
keeps every backend's special cases (libraries that cannot represent infinity) in one place.

Decoding is the boundary: `decode_element` accepts only the canonical encoding of a
non-identity element of the prime-order subgroup and raises a typed `GroupError` otherwise.
Scalars are Python ints; they are secrets in protocols, so their `repr` does not show them.
Python-int scalar arithmetic is not constant-time; see docs/crypto/groups.md.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, overload

from xinlian.crypto.primitives.groups.errors import (
    GroupMismatchError,
    IdentityElementError,
    InvalidEncodingError,
    InvalidScalarError,
)

#: A source of random bytes: `os.urandom` in production, `random.Random(seed).randbytes` in tests.
Rng = Callable[[int], bytes]


class Scalar:
    """An integer modulo the group order."""

    __slots__ = ("group", "value")

    def __init__(self, group: Group, value: int) -> None:
        self.group = group
        self.value = value % group.order

    def _other(self, other: Scalar) -> int:
        if other.group is not self.group:
            raise GroupMismatchError(f"{self.group.name} scalar with {other.group.name} scalar")
        return other.value

    def __add__(self, other: Scalar) -> Scalar:
        return Scalar(self.group, self.value + self._other(other))

    def __sub__(self, other: Scalar) -> Scalar:
        return Scalar(self.group, self.value - self._other(other))

    def __neg__(self) -> Scalar:
        return Scalar(self.group, -self.value)

    @overload
    def __mul__(self, other: Scalar) -> Scalar: ...

    @overload
    def __mul__(self, other: Element) -> Element: ...

    def __mul__(self, other: Scalar | Element) -> Scalar | Element:
        if isinstance(other, Scalar):
            return Scalar(self.group, self.value * self._other(other))
        if isinstance(other, Element):
            return other.__mul__(self)
        return NotImplemented

    def invert(self) -> Scalar:
        """The multiplicative inverse; zero has none."""
        if self.value == 0:
            raise InvalidScalarError("zero has no inverse")
        return Scalar(self.group, pow(self.value, -1, self.group.order))

    def is_zero(self) -> bool:
        return self.value == 0

    def encode(self) -> bytes:
        return self.group.encode_scalar(self)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Scalar) and other.group is self.group
                and other.value == self.value)

    def __hash__(self) -> int:
        return hash((self.group.name, self.value))

    def __repr__(self) -> str:
        return f"Scalar({self.group.name}, <hidden>)"


class Element:
    """An element of the group's prime-order subgroup (`_v is None` is the identity)."""

    __slots__ = ("_v", "group")

    def __init__(self, group: Group, native: Any) -> None:
        self.group = group
        self._v = native

    def _native(self, other: Element) -> Any:
        if other.group is not self.group:
            raise GroupMismatchError(f"{self.group.name} element with {other.group.name} element")
        return other._v

    def __add__(self, other: Element) -> Element:
        b = self._native(other)
        if self._v is None:
            return other
        if b is None:
            return self
        return Element(self.group, self.group._add(self._v, b))

    def __neg__(self) -> Element:
        if self._v is None:
            return self
        return Element(self.group, self.group._neg(self._v))

    def __sub__(self, other: Element) -> Element:
        return self + (-other)

    def __mul__(self, k: Scalar) -> Element:
        if not isinstance(k, Scalar):
            return NotImplemented
        if k.group is not self.group:
            raise GroupMismatchError(f"{self.group.name} element with {k.group.name} scalar")
        if self._v is None or k.value == 0:
            return Element(self.group, None)
        return Element(self.group, self.group._mul(self._v, k.value))

    __rmul__ = __mul__

    def is_identity(self) -> bool:
        return self._v is None

    def encode(self) -> bytes:
        """The canonical encoding; the identity has none (as in RFC 9591's SerializeElement)."""
        if self._v is None:
            raise IdentityElementError("the identity element has no encoding")
        return self.group._encode(self._v)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Element) or other.group is not self.group:
            return False
        if self._v is None or other._v is None:
            return self._v is None and other._v is None
        return self.group._encode(self._v) == self.group._encode(other._v)

    def __hash__(self) -> int:
        return hash((self.group.name, None if self._v is None else self.encode()))

    def __repr__(self) -> str:
        body = "identity" if self._v is None else self.encode().hex()
        return f"Element({self.group.name}, {body})"


class Group(ABC):
    """A prime-order group with canonical encodings and hashing into it."""

    name: str
    order: int
    scalar_size: int
    element_size: int
    scalar_byteorder: Literal["little", "big"]  # as the group's standards encode scalars

    # -- scalars ------------------------------------------------------------------------

    def scalar(self, value: int) -> Scalar:
        """The scalar `value mod order`."""
        return Scalar(self, value)

    def random_scalar(self, rng: Rng = os.urandom) -> Scalar:
        """A uniform non-zero scalar (bias below 2^-128)."""
        while True:
            k = int.from_bytes(rng(self.scalar_size + 16), "big") % self.order
            if k:
                return Scalar(self, k)

    def encode_scalar(self, k: Scalar) -> bytes:
        return k.value.to_bytes(self.scalar_size, self.scalar_byteorder)

    def decode_scalar(self, data: bytes) -> Scalar:
        """Decode a canonical scalar: exactly `scalar_size` bytes, value below the order."""
        if len(data) != self.scalar_size:
            raise InvalidEncodingError(
                f"{self.name} scalar must be {self.scalar_size} bytes, got {len(data)}")
        value = int.from_bytes(data, self.scalar_byteorder)
        if value >= self.order:
            raise InvalidScalarError(f"{self.name} scalar encoding is not reduced")
        return Scalar(self, value)

    # -- elements -----------------------------------------------------------------------

    def identity(self) -> Element:
        return Element(self, None)

    def generator(self) -> Element:
        return Element(self, self._base_mul(1))

    def base_mul(self, k: Scalar) -> Element:
        """k * G, on the backend's fixed-base path."""
        if k.group is not self:
            raise GroupMismatchError(f"{k.group.name} scalar in {self.name}")
        if k.value == 0:
            return Element(self, None)
        return Element(self, self._base_mul(k.value))

    def decode_element(self, data: bytes) -> Element:
        """Decode a canonical, non-identity element of the prime-order subgroup.

        Raises InvalidEncodingError, NonCanonicalEncodingError, NotOnCurveError,
        SmallSubgroupError or IdentityElementError; never returns an unchecked point.
        """
        if len(data) != self.element_size:
            raise InvalidEncodingError(
                f"{self.name} element must be {self.element_size} bytes, got {len(data)}")
        return Element(self, self._decode(bytes(data)))

    def sum(self, elements: Iterable[Element]) -> Element:
        """The sum of many elements (one native call where the backend has one)."""
        natives = []
        for e in elements:
            if e.group is not self:
                raise GroupMismatchError(f"{e.group.name} element in {self.name}")
            if e._v is not None:
                natives.append(e._v)
        if not natives:
            return Element(self, None)
        return Element(self, self._sum(natives))

    def msm(self, scalars: Sequence[Scalar], elements: Sequence[Element]) -> Element:
        """Multi-scalar multiplication sum(k_i * P_i).

        None of the bindings exposes a native multi-exponentiation, so this is the sum of
        single products with one native batch addition at the end.
        """
        if len(scalars) != len(elements):
            raise ValueError("msm needs as many scalars as elements")
        return self.sum(k * p for k, p in zip(scalars, elements, strict=True))

    #: The size from which `vartime_msm` uses Pippenger's buckets (never, unless a backend
    #: whose additions are cheap next to its multiplications says so).
    bucket_msm_from = 1 << 62

    def vartime_msm(self, scalars: Sequence[Scalar], elements: Sequence[Element]) -> Element:
        """`msm` for public scalars only (a verifier's): its time depends on the scalars.

        From `bucket_msm_from` terms it sums Pippenger's buckets with native additions,
        whose pattern follows the scalars' digits; below that it is `msm`.
        """
        if len(scalars) != len(elements):
            raise ValueError("msm needs as many scalars as elements")
        if len(scalars) < self.bucket_msm_from:
            return self.msm(scalars, elements)
        terms = []
        for k, p in zip(scalars, elements, strict=True):
            if k.group is not self or p.group is not self:
                raise GroupMismatchError(f"{k.group.name} or {p.group.name} value in {self.name}")
            if k.value and p._v is not None:
                terms.append((k.value, p._v))
        return Element(self, self._bucket_msm(terms))

    def _bucket_msm(self, terms: list[tuple[int, Any]]) -> Any:
        """Pippenger's bucket method over native additions, windows of about log2(N) - 3
        bits: about (bits / c) * (N + 2^(c+1)) additions instead of N multiplications."""
        window = max(4, len(terms).bit_length() - 3)
        mask = (1 << window) - 1

        def plus(a: Any, b: Any) -> Any:
            return b if a is None else a if b is None else self._add(a, b)

        acc = None
        for shift in reversed(range(0, self.order.bit_length(), window)):
            for _ in range(window if acc is not None else 0):
                acc = plus(acc, acc)
            buckets: list[Any] = [None] * (mask + 1)
            for k, p in terms:
                digit = (k >> shift) & mask
                if digit:
                    buckets[digit] = plus(buckets[digit], p)
            running = total = None
            for bucket in reversed(buckets[1:]):
                running = plus(running, bucket)
                total = plus(total, running)
            acc = plus(acc, total)
        return acc

    # -- hashing ------------------------------------------------------------------------

    @abstractmethod
    def digest(self, data: bytes) -> bytes:
        """The hash function paired with this group (SHA-512, SHA-256 or SM3)."""

    @abstractmethod
    def hash_to_scalar(self, dst: bytes, msg: bytes) -> Scalar:
        """A uniform scalar from (domain tag, message).

        `dst` is a fixed protocol constant; callers hashing several variable-length fields
        length-prefix them (see `transcript`). Matches RFC 9591's H1/H2/H3 for the
        ed25519 and secp256k1 ciphersuites.
        """

    @abstractmethod
    def hash_to_element(self, dst: bytes, msg: bytes) -> Element:
        """A non-identity element whose discrete log nobody knows, from (domain tag, message)."""

    # -- backend hooks (natives are never None here) -------------------------------------

    @abstractmethod
    def _add(self, a: Any, b: Any) -> Any:
        """a + b; None if the result is the identity."""

    @abstractmethod
    def _neg(self, a: Any) -> Any: ...

    @abstractmethod
    def _mul(self, a: Any, k: int) -> Any:
        """k * a for 0 < k < order."""

    @abstractmethod
    def _base_mul(self, k: int) -> Any:
        """k * G for 0 < k < order."""

    @abstractmethod
    def _encode(self, a: Any) -> bytes: ...

    @abstractmethod
    def _decode(self, data: bytes) -> Any:
        """Validate and decode `element_size` bytes (see decode_element)."""

    def _sum(self, natives: list[Any]) -> Any:
        acc = natives[0]
        for b in natives[1:]:
            acc = b if acc is None else self._add(acc, b)
        return acc

    def __repr__(self) -> str:
        return f"<group {self.name}>"


def transcript(*parts: bytes) -> bytes:
    """Unambiguous concatenation: each part prefixed with its 4-byte big-endian length."""
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)
