"""The ristretto255 backend: RFC 9496's encodings of small multiples of the generator,
rejection of every kind of bad encoding with its typed error, group laws and round trips."""

from __future__ import annotations

import ctypes.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import (
    SM2,
    GroupError,
    GroupMismatchError,
    IdentityElementError,
    InvalidEncodingError,
    NonCanonicalEncodingError,
    NotOnCurveError,
    ristretto255,
)
from xinlian.crypto.primitives.groups.ristretto255 import RISTRETTO255, P

G = RISTRETTO255
VECTORS = Path(__file__).parent / "schemes" / "vectors" / "ristretto255_multiples.json"


def test_small_multiples_of_the_generator_match_rfc9496() -> None:
    multiples = json.loads(VECTORS.read_text())["multiples"]
    assert multiples[0] == "00" * 32
    acc = G.identity()
    for k, expected in enumerate(multiples):
        if k:
            assert acc.encode().hex() == expected
            assert G.base_mul(G.scalar(k)).encode().hex() == expected
            assert G.decode_element(bytes.fromhex(expected)) == acc
        acc = acc + G.generator()


def test_bad_encodings_have_typed_errors() -> None:
    with pytest.raises(IdentityElementError):
        G.decode_element(bytes(32))
    for s in (P, P + 2, 2**255 - 2, 1, 2**254 + 1):  # not reduced, or negative (odd)
        with pytest.raises(NonCanonicalEncodingError):
            G.decode_element((s % 2**256).to_bytes(32, "little"))
    with pytest.raises(NonCanonicalEncodingError):  # the top bit set
        G.decode_element(bytes(31) + b"\x80")
    # the smallest even s that is no ristretto255 encoding
    s = next(s for s in range(2, 100, 2) if not _decodes(s.to_bytes(32, "little")))
    with pytest.raises(NotOnCurveError):
        G.decode_element(s.to_bytes(32, "little"))
    for size in (0, 31, 33):
        with pytest.raises(InvalidEncodingError):
            G.decode_element(bytes(size))


def _decodes(data: bytes) -> bool:
    try:
        G.decode_element(data)
    except NotOnCurveError:
        return False
    return True


@settings(max_examples=25, deadline=None)
@given(a=st.integers(0, 2**256), b=st.integers(0, 2**256))
def test_group_laws_and_round_trip(a: int, b: int) -> None:
    ka, kb = G.scalar(a), G.scalar(b)
    A, B = G.base_mul(ka), G.base_mul(kb)
    assert G.base_mul(ka + kb) == A + B
    assert (A - B) + B == A
    assert ka * B == kb * A
    assert G.msm([ka, kb], [B, A]) == G.base_mul(ka * kb + kb * ka)
    if not A.is_identity():
        assert G.decode_element(A.encode()) == A


def test_hash_to_element_is_deterministic_and_domain_separated() -> None:
    a = G.hash_to_element(b"dst", b"msg")
    assert a == G.hash_to_element(b"dst", b"msg")
    assert a != G.hash_to_element(b"dst2", b"msg")
    assert a != G.hash_to_element(b"dst", b"msg2")
    assert G.decode_element(a.encode()) == a


def test_mixing_groups_is_refused() -> None:
    with pytest.raises(GroupMismatchError):
        _ = G.generator() + SM2.generator()


def test_without_the_system_libsodium_the_group_is_a_typed_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ristretto255._sodium.cache_clear()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "/nonexistent.so")
    try:
        with pytest.raises(GroupError, match="libsodium23"):
            G.base_mul(G.scalar(5))
    finally:
        ristretto255._sodium.cache_clear()
    monkeypatch.undo()
    assert G.base_mul(G.scalar(1)) == G.generator()
