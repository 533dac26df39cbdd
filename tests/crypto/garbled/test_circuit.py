"""Bristol-fashion parsing (typed errors for malformed files), writing, plain evaluation, and
the builder's circuits against arithmetic, FIPS-197 and an independent AES."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.privacy.garbled.builder import CIRCUITS, adder, comparator, gf_mul
from xinlian.crypto.privacy.garbled.circuit import (
    evaluate_plain,
    parse_bristol,
    to_bristol,
    value_bits,
)
from xinlian.crypto.privacy.garbled.errors import (
    InputMismatch,
    MalformedCircuit,
    UnsupportedGate,
)

from .helpers import (
    FIPS197_CIPHER,
    FIPS197_KEY,
    FIPS197_PLAIN,
    SHA256_IV,
    aes,
    block,
    padded,
    sha256,
)

# x AND y, then NOT, then x XOR (that): a 1-bit and 1-bit input, one output.
SMALL = """3 5
2 1 1
1 1

2 1 0 1 2 AND
1 1 2 3 INV
2 1 0 3 4 XOR
"""


def test_a_small_file_parses_and_evaluates() -> None:
    c = parse_bristol(SMALL)
    assert (c.n_wires, c.input_widths, c.output_widths, c.n_and) == (5, (1, 1), (1,), 1)
    for x in (0, 1):
        for y in (0, 1):
            assert evaluate_plain(c, [x, y]) == [x ^ (1 - (x & y))]


def test_mand_expands_to_and_gates() -> None:
    c = parse_bristol("1 6\n2 2 2\n1 2\n\n4 2 0 1 2 3 4 5 MAND\n")
    assert c.n_and == 2
    assert evaluate_plain(c, [0b11, 0b01]) == [0b01]


@pytest.mark.parametrize("text, message", [
    ("", "header"),
    ("3 5\n2 1 1\n", "header"),
    ("3 x\n2 1 1\n1 1\n" + SMALL.split("\n\n")[1], "integers"),
    ("3 5 7\n2 1 1\n1 1\n" + SMALL.split("\n\n")[1], "gates wires"),
    ("3 5\n3 1 1\n1 1\n" + SMALL.split("\n\n")[1], "count then"),
    ("4 5\n2 1 1\n1 1\n" + SMALL.split("\n\n")[1], "header says 4"),
    (SMALL.replace("2 1 0 1 2 AND", "2 1 0 1 2 NAND"), "unknown gate"),
    (SMALL.replace("2 1 0 1 2 AND", "2 1 0 9 2 AND"), "out of range"),
    (SMALL.replace("2 1 0 1 2 AND", "2 1 0 3 2 AND"), "before it is written"),
    (SMALL.replace("1 1 2 3 INV", "1 1 2 2 INV"), "written twice"),
    (SMALL.replace("2 1 0 1 2 AND", "2 1 0 1 0 AND"), "written twice"),
    (SMALL.replace("2 1 0 1 2 AND", "2 1 0 1 AND"), "counts do not match"),
    (SMALL.replace("1 1 2 3 INV", "2 1 2 2 3 INV"), "INV takes 1"),
    (SMALL.replace("2 1 0 1 2 AND", "2 1 0 -1 2 AND"), "negative"),
    ("1 3\n2 1 1\n1 1\n\n4 2 0 1 2 MAND\n", "counts do not match"),
    ("1 3\n2 1 1\n1 1\n\n2 2 0 1 2 3 MAND\n", "2k inputs"),
    ("1 3\n1 2\n1 2\n\n2 1 0 1 2 XOR\n", "overlap"),
    ("0 3\n2 1 1\n1 1\n", "never written"),
])
def test_malformed_files_get_typed_errors(text: str, message: str) -> None:
    with pytest.raises(MalformedCircuit, match=message):
        parse_bristol(text)


def test_constant_gates_are_refused_as_unsupported() -> None:
    with pytest.raises(UnsupportedGate):
        parse_bristol("1 3\n2 1 1\n1 1\n\n1 1 1 2 EQ\n")


def test_values_must_fit_their_widths() -> None:
    c = parse_bristol(SMALL)
    with pytest.raises(InputMismatch):
        evaluate_plain(c, [2, 0])
    with pytest.raises(InputMismatch):
        evaluate_plain(c, [1])


@pytest.mark.parametrize("name", ["adder64", "comparator64", "sha256"])
def test_written_circuits_parse_back_identical(name: str) -> None:
    c = CIRCUITS[name]()
    again = parse_bristol(to_bristol(c))
    assert again == c and again.digest == c.digest


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_the_adder_and_comparator_compute_sum_and_order(x: int, y: int) -> None:
    assert evaluate_plain(adder(64), [x, y]) == [x + y]
    assert evaluate_plain(comparator(64), [x, y]) == [int(x < y)]


def test_the_comparator_on_equal_and_extreme_values() -> None:
    c = comparator(8)
    assert [evaluate_plain(c, [x, y])[0] for x, y in [(5, 5), (0, 255), (255, 0), (0, 0)]] \
        == [0, 1, 0, 0]


def _sbox(x: int) -> int:
    inv = 1
    for _ in range(254):
        inv = gf_mul(inv, x)
    inv = inv if x else 0
    rot = [((inv << n) | (inv >> (8 - n))) & 0xFF for n in range(5)]
    return rot[0] ^ rot[1] ^ rot[2] ^ rot[3] ^ rot[4] ^ 0x63


def test_the_sbox_definition_matches_fips197_entries() -> None:
    assert [_sbox(x) for x in (0x00, 0x01, 0x53, 0xFF)] == [0x63, 0x7C, 0xED, 0x16]


def test_aes_circuit_gives_the_fips197_ciphertext() -> None:
    assert evaluate_plain(aes(), [block(FIPS197_KEY), block(FIPS197_PLAIN)]) \
        == [block(FIPS197_CIPHER)]
    assert aes().n_and == 200 * 256  # 160 S-boxes in the rounds, 40 in the key schedule


@settings(max_examples=5, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_aes_circuit_agrees_with_an_independent_aes(key: bytes, plain: bytes) -> None:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert evaluate_plain(aes(), [block(key), block(plain)]) == [block(enc.update(plain))]


def test_sha256_circuit_gives_the_fips180_digest_of_abc() -> None:
    digest = bytes.fromhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert evaluate_plain(sha256(), [block(padded(b"abc")), block(SHA256_IV)]) == [block(digest)]


@settings(max_examples=5, deadline=None)
@given(st.binary(max_size=55))
def test_sha256_circuit_agrees_with_hashlib(message: bytes) -> None:
    assert evaluate_plain(sha256(), [block(padded(message)), block(SHA256_IV)]) \
        == [block(hashlib.sha256(message).digest())]


def test_value_bits_are_least_significant_first() -> None:
    assert value_bits([4, 2], [0b0011, 0b10]) == [1, 1, 0, 0, 0, 1]
