"""The two-party protocol as one sans-I/O state machine per party: bytes in, bytes out.

Theory of operation. The garbler G holds some of the circuit's input values, the evaluator E
the rest (`garbler_inputs`: the indices of G's). Five messages, each a tag byte then fields
of sizes both parties know from the circuit:

    E -> G  1 HELLO    circuit digest (32) | base-OT sender point A
    G -> E  2 CHOOSE   hash key (16) | 128 base-OT receiver points B_i
    E -> G  3 EXTEND   the IKNP matrix u (128 rows of ceil(m/8) bytes, m = E's input bits)
    G -> E  4 GARBLED  OT pairs (32 m) | G's input labels (16 each) | tables (32 an AND gate)
                       | output decoding (32 an output bit)
    E -> G  5 RESULT   the output bits, packed least significant first

E runs the base OTs as sender and the extension as receiver (choices: its input bits); G the
other way round, its extension messages the two labels of each of E's input wires. E evaluates
and decodes; both learn the output. A message out of turn, of the wrong size or for another
circuit raises `ProtocolError`; the party is then unusable (`failed`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from xinlian.crypto.primitives.groups import ED25519, Group, Rng
from xinlian.crypto.privacy.garbled import ot
from xinlian.crypto.privacy.garbled.circuit import Circuit, bits_values, value_bits
from xinlian.crypto.privacy.garbled.errors import InputMismatch, ProtocolError
from xinlian.crypto.privacy.garbled.garbling import LABEL, GarbledCircuit, evaluate, garble

HELLO, CHOOSE, EXTEND, GARBLED, RESULT = 1, 2, 3, 4, 5


def _ot_key(key: bytes) -> bytes:
    """The extension's hash key, apart from the garbling hash's."""
    return hashlib.sha256(b"xinlian/gc/ot" + key).digest()[:16]


def _split(circuit: Circuit, garbler_inputs: Sequence[int]) -> list[tuple[int, int, bool]]:
    """Each input value's (first wire, width, whether the garbler supplies it)."""
    if any(not 0 <= v < len(circuit.input_widths) for v in garbler_inputs):
        raise InputMismatch(f"garbler values {list(garbler_inputs)} outside the circuit's inputs")
    out, first = [], 0
    for index, width in enumerate(circuit.input_widths):
        out.append((first, width, index in garbler_inputs))
        first += width
    return out


class _Party:
    def __init__(self, circuit: Circuit, values: Sequence[int], garbler_inputs: Sequence[int],
                 mine: bool, group: Group, rng: Rng) -> None:
        self.circuit = circuit
        self.group = group
        self.rng = rng
        self.split = _split(circuit, garbler_inputs)
        widths = [w for _, w, g in self.split if g == mine]
        self.bits = value_bits(widths, values)
        self.other_bits = sum(w for _, w, g in self.split if g != mine)
        self.point = len(group.generator().encode())
        self.outputs: list[int] | None = None
        self.failed = False
        self._expecting: int | None = None

    def _take(self, data: bytes, sizes: Sequence[int]) -> list[bytes]:
        """The fields of the message now due, checked for tag and sizes."""
        tag = self._expecting
        if self.failed or tag is None:
            raise ProtocolError("no message is expected")
        if not data or data[0] != tag or len(data) != 1 + sum(sizes):
            self.failed = True
            raise ProtocolError(f"expected message {tag} of {1 + sum(sizes)} bytes, "
                                f"got {len(data)} bytes (tag {data[:1].hex() or 'none'})")
        fields, pos = [], 1
        for size in sizes:
            fields.append(data[pos: pos + size])
            pos += size
        return fields

    def _finish(self, bits: Sequence[int]) -> None:
        self.outputs = bits_values(self.circuit.output_widths, bits)
        self._expecting = None

    @property
    def done(self) -> bool:
        return self.outputs is not None


class Evaluator(_Party):
    """E: `start()` for the first message, then `receive` each of G's; `outputs` at the end."""

    def __init__(self, circuit: Circuit, values: Sequence[int],
                 garbler_inputs: Sequence[int] = (0,), group: Group = ED25519,
                 rng: Rng = os.urandom) -> None:
        super().__init__(circuit, values, garbler_inputs, False, group, rng)

    def start(self) -> bytes:
        if self._expecting is not None or self.done:
            raise ProtocolError("the evaluator has already started")
        self._base = ot.BaseSender.start(self.group, self.rng)
        self._expecting = CHOOSE
        return bytes([HELLO]) + self.circuit.digest + self._base.A.encode()

    def receive(self, data: bytes) -> bytes:
        if self._expecting == CHOOSE:
            key, points = self._take(data, [16, ot.KAPPA * self.point])
            self._key = key
            try:
                seeds = self._base.keys([points[i: i + self.point]
                                         for i in range(0, len(points), self.point)])
            except ProtocolError:
                self.failed = True
                raise
            u, self._t = ot.extension_receive(seeds, self.bits)
            self._expecting = GARBLED
            return bytes([EXTEND]) + u
        c = self.circuit
        y, theirs, tables, decoding = self._take(data, [
            32 * len(self.bits), LABEL * self.other_bits, 32 * c.n_and,
            32 * len(c.output_wires)])
        mine = ot.extension_output(self._t, self.bits, _ot_key(self._key), y)
        labels, pos = bytearray(), {True: 0, False: 0}
        for _, width, by_garbler in self.split:
            source = theirs if by_garbler else mine
            labels += source[LABEL * pos[by_garbler]: LABEL * (pos[by_garbler] + width)]
            pos[by_garbler] += width
        bits = evaluate(c, self._key, GarbledCircuit(tables, decoding), bytes(labels))
        self._finish(bits)
        return bytes([RESULT]) + ot.pack_bits(bits)


class Garbler(_Party):
    """G: `receive` each of E's messages; `outputs` once E's result arrives."""

    def __init__(self, circuit: Circuit, values: Sequence[int],
                 garbler_inputs: Sequence[int] = (0,), group: Group = ED25519,
                 rng: Rng = os.urandom) -> None:
        super().__init__(circuit, values, garbler_inputs, True, group, rng)
        self._expecting = HELLO

    def receive(self, data: bytes) -> bytes | None:
        if self._expecting == HELLO:
            digest, A = self._take(data, [32, self.point])
            if digest != self.circuit.digest:
                self.failed = True
                raise ProtocolError("the evaluator holds another circuit")
            self._s = [b & 1 for b in self.rng(ot.KAPPA)]
            try:
                points, self._seeds = ot.base_choose(self.group, A, self._s, self.rng)
            except ProtocolError:
                self.failed = True
                raise
            self._garbling, self._garbled = garble(self.circuit, rng=self.rng)
            self._expecting = EXTEND
            return bytes([CHOOSE]) + self._garbling.key + b"".join(points)
        if self._expecting == EXTEND:
            (u,) = self._take(data, [ot.KAPPA * ((self.other_bits + 7) // 8)])
            g = self._garbling
            mine, pairs = bytearray(), []
            bit = 0
            for first, width, by_garbler in self.split:
                if by_garbler:
                    mine += g.encode(self.bits[bit: bit + width], first)
                    bit += width
                else:
                    pairs.append(g.label_pairs(first, width))
            messages = (b"".join(p[0] for p in pairs), b"".join(p[1] for p in pairs))
            y = ot.extension_send(self._s, self._seeds, u, self.other_bits,
                                  _ot_key(g.key), messages)
            self._expecting = RESULT
            return (bytes([GARBLED]) + y + bytes(mine) + self._garbled.tables
                    + self._garbled.decoding)
        n_out = len(self.circuit.output_wires)
        (packed,) = self._take(data, [(n_out + 7) // 8])
        value = int.from_bytes(packed, "little")
        self._finish([(value >> j) & 1 for j in range(n_out)])
        return None
