"""Half-gates garbling with free-XOR and point-and-permute (Zahur, Rosulek, Evans 2015).

The garbler picks a global offset delta (lowest bit 1) and a random zero label for each input
wire; a wire's one label is its zero label ^ delta. XOR gates cost nothing, INV flips the
garbler's zero label, and each AND gate costs two 128-bit ciphertexts and four calls to the
fixed-key AES hash H(L, j) = pi(2L ^ j) ^ 2L ^ j (two for the evaluator). The native core
(_garble.c) does the gate loop; this module holds labels, encoding and decoding.

Output decoding commits to both labels of every output wire (their hashes under tweaks apart
from the gates'), so the evaluator recognises a label that is neither: a garbled circuit
altered in transit is detected, or it still yields the right output (the altered part was not
on the evaluation path). That is authenticity in the sense of Bellare, Hoang and Rogaway;
it is not security against a malicious garbler, who can garble another function.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Rng
from xinlian.crypto.privacy.garbled import _garble
from xinlian.crypto.privacy.garbled.circuit import Circuit
from xinlian.crypto.privacy.garbled.errors import InputMismatch, TamperDetected

LABEL = 16
_DECODE_TWEAK = 1 << 63  # the gates' tweaks count up from 0; decoding's from here


def _xor(x: bytes, y: bytes) -> bytes:
    return (int.from_bytes(x, "little") ^ int.from_bytes(y, "little")).to_bytes(len(x), "little")


def _wires(indices: Sequence[int] | range) -> bytes:
    return array("I", indices).tobytes()


@dataclass(frozen=True)
class GarbledCircuit:
    """What the evaluator receives besides its input labels: two ciphertexts an AND gate and
    the hashes of both labels of each output wire (zero's first)."""

    tables: bytes
    decoding: bytes


@dataclass(frozen=True)
class Garbling:
    """The garbler's secrets: delta and the zero labels of the input wires."""

    key: bytes
    delta: bytes
    input_labels: bytes

    def encode(self, bits: Sequence[int], first_wire: int = 0) -> bytes:
        """The labels of `bits` on the input wires from `first_wire` on."""
        out = bytearray()
        for i, bit in enumerate(bits):
            zero = self.input_labels[LABEL * (first_wire + i): LABEL * (first_wire + i + 1)]
            out += _xor(zero, self.delta) if bit else zero
        return bytes(out)

    def label_pairs(self, first_wire: int, count: int) -> tuple[bytes, bytes]:
        """Both labels of `count` input wires from `first_wire`, as two strings (the OT's
        messages for the evaluator's inputs)."""
        zeros = self.input_labels[LABEL * first_wire: LABEL * (first_wire + count)]
        return zeros, _xor(zeros, self.delta * count)


def garble(circuit: Circuit, key: bytes | None = None,
           rng: Rng = os.urandom) -> tuple[Garbling, GarbledCircuit]:
    """Garble `circuit`; `key` is the fixed AES key of the hash (public; fresh by default),
    `rng(n)` supplies the labels (os.urandom unless a test seeds it)."""
    key = key if key is not None else rng(16)
    delta = bytearray(rng(LABEL))
    delta[0] |= 1
    inputs = rng(LABEL * circuit.n_inputs)
    outputs = circuit.output_wires
    tables, out_zero = _garble.garble(key, bytes(delta), circuit.gates, circuit.n_wires,
                                      circuit.n_and, inputs, _wires(outputs))
    n_out = len(outputs)
    h0 = _garble.hash(key, out_zero, _DECODE_TWEAK)
    h1 = _garble.hash(key, _xor(out_zero, bytes(delta) * n_out), _DECODE_TWEAK)
    decoding = b"".join(h0[LABEL * i: LABEL * (i + 1)] + h1[LABEL * i: LABEL * (i + 1)]
                        for i in range(n_out))
    return Garbling(key, bytes(delta), inputs), GarbledCircuit(tables, decoding)


def evaluate(circuit: Circuit, key: bytes, garbled: GarbledCircuit,
             input_labels: bytes) -> list[int]:
    """The output bits from one label an input wire; `TamperDetected` if an output label is
    not one of the two the garbler committed to."""
    if len(input_labels) != LABEL * circuit.n_inputs:
        raise InputMismatch(f"{len(input_labels)} bytes of labels for {circuit.n_inputs} inputs")
    if len(garbled.tables) != 32 * circuit.n_and:
        raise TamperDetected(f"{len(garbled.tables)} bytes of tables for {circuit.n_and} ANDs")
    outputs = circuit.output_wires
    if len(garbled.decoding) != 32 * len(outputs):
        raise TamperDetected("decoding information of the wrong size")
    labels = _garble.evaluate(key, circuit.gates, circuit.n_wires, garbled.tables, input_labels,
                              _wires(outputs))
    hashes = _garble.hash(key, labels, _DECODE_TWEAK)
    bits = []
    for i in range(len(outputs)):
        h = hashes[LABEL * i: LABEL * (i + 1)]
        pair = garbled.decoding[32 * i: 32 * (i + 1)]
        if h == pair[:LABEL]:
            bits.append(0)
        elif h == pair[LABEL:]:
            bits.append(1)
        else:
            raise TamperDetected(f"output wire {i}: label matches neither committed label")
    return bits
