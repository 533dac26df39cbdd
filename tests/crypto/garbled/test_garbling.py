"""Half-gates garbling: garbled evaluation equals plain evaluation (random circuits and
inputs), and an altered garbled circuit is detected or still gives the right output."""

from __future__ import annotations

import contextlib
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.privacy.garbled import _garble
from xinlian.crypto.privacy.garbled.builder import CircuitBuilder, comparator
from xinlian.crypto.privacy.garbled.circuit import (
    Circuit,
    bits_values,
    evaluate_plain,
    value_bits,
)
from xinlian.crypto.privacy.garbled.errors import InputMismatch, TamperDetected
from xinlian.crypto.privacy.garbled.garbling import GarbledCircuit, evaluate, garble

from .helpers import FIPS197_CIPHER, FIPS197_KEY, FIPS197_PLAIN, aes, block, seeded


@st.composite
def circuits(draw: st.DrawFn) -> Circuit:
    """Random circuits over XOR, AND and INV on 1-3 inputs, outputs any wires (inputs too)."""
    b = CircuitBuilder()
    wires = [w for width in draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
             for w in b.input(width)]
    for op, i, j in draw(st.lists(st.tuples(st.sampled_from("XAN"), st.integers(0, 10**6),
                                            st.integers(0, 10**6)), max_size=60)):
        x, y = wires[i % len(wires)], wires[j % len(wires)]
        wires.append(b.xor(x, y) if op == "X" else b.and_(x, y) if op == "A" else b.inv(x))
    outs = draw(st.lists(st.lists(st.sampled_from(wires), min_size=1, max_size=5),
                         min_size=1, max_size=3))
    return b.build(outs)


def garbled_run(c: Circuit, values: list[int], seed: int) -> list[int]:
    g, gc = garble(c, rng=seeded(seed))
    bits = evaluate(c, g.key, gc, g.encode(value_bits(c.input_widths, values)))
    return bits_values(c.output_widths, bits)


@settings(max_examples=200, deadline=None)
@given(circuits(), st.data(), st.integers(0, 2**32))
def test_garbled_evaluation_equals_plain_evaluation(c: Circuit, data: st.DataObject,
                                                     seed: int) -> None:
    values = [data.draw(st.integers(0, 2**w - 1)) for w in c.input_widths]
    assert garbled_run(c, values, seed) == evaluate_plain(c, values)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32))
def test_a_garbled_comparator_orders_its_inputs(x: int, y: int, seed: int) -> None:
    assert garbled_run(comparator(32), [x, y], seed) == [int(x < y)]


def test_garbled_aes_gives_the_fips197_ciphertext() -> None:
    assert garbled_run(aes(), [block(FIPS197_KEY), block(FIPS197_PLAIN)], 7) \
        == [block(FIPS197_CIPHER)]


def test_labels_carry_no_value_in_their_permute_bit_alone() -> None:
    """Point-and-permute: delta's lowest bit is 1, so a wire's two labels differ there."""
    g, _ = garble(comparator(8), rng=seeded(1))
    assert g.delta[0] & 1 == 1
    zeros, ones = g.label_pairs(0, 16)
    assert all((zeros[16 * i] ^ ones[16 * i]) & 1 for i in range(16))


def _flip(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position // 8] ^= 1 << (position % 8)
    return bytes(out)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32),
       st.data())
def test_an_altered_table_is_detected_or_harmless(x: int, y: int, seed: int,
                                                  data: st.DataObject) -> None:
    """Half-gates is semi-honest; with the output labels committed, a flipped table bit is
    either detected (TamperDetected) or off the evaluation path (the right output)."""
    c = comparator(32)
    g, gc = garble(c, rng=seeded(seed))
    position = data.draw(st.integers(0, 8 * len(gc.tables) - 1))
    altered = GarbledCircuit(_flip(gc.tables, position), gc.decoding)
    labels = g.encode(value_bits(c.input_widths, [x, y]))
    with contextlib.suppress(TamperDetected):
        assert evaluate(c, g.key, altered, labels) == [int(x < y)]


def test_a_flip_on_the_evaluation_path_is_detected() -> None:
    """The evaluator uses a gate's first ciphertext when its first label's permute bit is set:
    altering it there changes the output label, which matches neither commitment."""
    c = comparator(32)
    last_and = 32 * (c.n_and - 1)
    for offset in (0, 16):  # TG (used when sa = 1) and TE (used when sb = 1)
        outcomes = set()
        for seed in range(20):
            g, gc = garble(c, rng=seeded(seed))
            labels = g.encode(value_bits(c.input_widths, [5, 9]))
            altered = GarbledCircuit(_flip(gc.tables, 8 * (last_and + offset)), gc.decoding)
            try:
                outcomes.add(evaluate(c, g.key, altered, labels)[0])
            except TamperDetected:
                outcomes.add(-1)
        assert -1 in outcomes and 0 not in outcomes  # detected, never a wrong answer


def test_wrong_sizes_are_refused() -> None:
    c = comparator(8)
    g, gc = garble(c, rng=seeded(4))
    labels = g.encode([0] * 16)
    with pytest.raises(InputMismatch):
        evaluate(c, g.key, gc, labels[:-1])
    with pytest.raises(TamperDetected):
        evaluate(c, g.key, GarbledCircuit(gc.tables[:-32], gc.decoding), labels)
    with pytest.raises(TamperDetected):
        evaluate(c, g.key, GarbledCircuit(gc.tables, gc.decoding + bytes(32)), labels)
    with pytest.raises(TamperDetected):
        evaluate(c, g.key, GarbledCircuit(gc.tables, _flip(gc.decoding, 3)), labels)


def test_a_wrong_input_label_is_detected() -> None:
    c = comparator(8)
    g, gc = garble(c, rng=seeded(5))
    labels = _flip(g.encode(value_bits(c.input_widths, [3, 200])), 77)
    with pytest.raises(TamperDetected):
        evaluate(c, g.key, gc, labels)


@pytest.mark.parametrize("gate, outputs", [
    ((0, 0, 99, 0), [2]), ((0, 99, 2, 1), [2]), ((0, 0, 2, 9), [2]), ((0, 0, 2, 0), [3]),
])
def test_the_native_core_refuses_wires_outside_the_circuit(gate, outputs) -> None:
    """Memory safety below the Python validation: a gate list naming a wire past the end (or
    an unknown op) is refused before any label is read or written."""
    gates, outs = array("I", gate).tobytes(), array("I", outputs).tobytes()
    with pytest.raises(ValueError):
        _garble.garble(bytes(16), bytes(16), gates, 3, gate[3] == 1, bytes(32), outs)
    with pytest.raises(ValueError):
        _garble.evaluate(bytes(16), gates, 3, bytes(32 * (gate[3] == 1)), bytes(32), outs)


def test_the_native_core_refuses_tables_sized_for_another_and_count() -> None:
    gates, outs = array("I", (0, 1, 2, 1)).tobytes(), array("I", [2]).tobytes()
    with pytest.raises(ValueError, match="1 AND gates, tables for 0"):
        _garble.garble(bytes(16), bytes(16), gates, 3, 0, bytes(32), outs)
    with pytest.raises(ValueError, match="1 AND gates, tables for 2"):
        _garble.evaluate(bytes(16), gates, 3, bytes(64), bytes(32), outs)
