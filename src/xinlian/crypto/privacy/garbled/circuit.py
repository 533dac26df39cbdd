"""Boolean circuits in Bristol fashion: parse, write, evaluate in the clear.

The format (https://nigelsmart.github.io/MPC-Circuits/): a header line `gates wires`, a line
`n w1 .. wn` of input value widths, a line `m v1 .. vm` of output value widths, then one gate a
line, `in out a [b] c OP`, with OP one of XOR, AND, INV, EQW, MAND (several ANDs in one line)
or EQ (a constant; not taken here, see `UnsupportedGate`). Input values occupy the first
wires in order, outputs the last ones. Within a value, wire k carries bit k of the integer
(least significant first): that is the convention of `evaluate_plain` and the protocol.

Gates are held flat in an `array('I')` of (a, b, out, op) quadruples, the layout the native
garbler reads, so a circuit of millions of gates costs 16 bytes a gate.
"""

from __future__ import annotations

import functools
import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

from xinlian.crypto.privacy.garbled.errors import InputMismatch, MalformedCircuit, UnsupportedGate

XOR, AND, INV, EQW = 0, 1, 2, 3
_OPS = {"XOR": XOR, "AND": AND, "INV": INV, "EQW": EQW}
_NAMES = {v: k for k, v in _OPS.items()}
_ARITY = {XOR: 2, AND: 2, INV: 1, EQW: 1}


@dataclass(frozen=True)
class Circuit:
    """A checked circuit: wires in topological order, inputs first, outputs last."""

    n_wires: int
    input_widths: tuple[int, ...]
    output_widths: tuple[int, ...]
    gates: array[int] = field(repr=False)
    n_and: int

    @property
    def n_gates(self) -> int:
        return len(self.gates) // 4

    @property
    def n_inputs(self) -> int:
        return sum(self.input_widths)

    @property
    def output_wires(self) -> range:
        return range(self.n_wires - sum(self.output_widths), self.n_wires)

    @functools.cached_property
    def digest(self) -> bytes:
        """SHA-256 of the wire count, the widths and the gates (quadruples of little-endian
        uint32, as on x86-64, which the native core needs anyway): the two parties check
        they hold one circuit."""
        head = array("I", [self.n_wires, len(self.input_widths), *self.input_widths,
                           len(self.output_widths), *self.output_widths])
        return hashlib.sha256(b"xinlian/gc/circuit" + head.tobytes()
                              + self.gates.tobytes()).digest()


def make_circuit(n_wires: int, input_widths: Sequence[int], output_widths: Sequence[int],
                 gates: array[int]) -> Circuit:
    """Check the rules every consumer relies on: each wire written once, read only after it is
    written, inputs never written, outputs the last wires and all written."""
    n_in, n_out = sum(input_widths), sum(output_widths)
    if any(w <= 0 for w in (*input_widths, *output_widths)):
        raise MalformedCircuit("value widths must be positive")
    if n_in > n_wires - n_out:
        raise MalformedCircuit(f"{n_in} inputs and {n_out} outputs overlap in {n_wires} wires")
    defined = bytearray(n_wires)
    defined[:n_in] = b"\x01" * n_in
    n_and = 0
    for g in range(len(gates) // 4):
        a, b, out, op = gates[4 * g: 4 * g + 4]
        if op not in _ARITY:
            raise MalformedCircuit(f"gate {g}: unknown operation {op}")
        reads = (a, b) if _ARITY[op] == 2 else (a,)
        for w in (*reads, out):
            if w >= n_wires:
                raise MalformedCircuit(f"gate {g}: wire {w} out of range ({n_wires} wires)")
        if not all(defined[w] for w in reads):
            raise MalformedCircuit(f"gate {g}: reads a wire before it is written")
        if defined[out]:
            raise MalformedCircuit(f"gate {g}: wire {out} written twice")
        defined[out] = 1
        n_and += op == AND
    if not all(defined[n_wires - n_out:]):
        raise MalformedCircuit("an output wire is never written")
    return Circuit(n_wires, tuple(input_widths), tuple(output_widths), gates, n_and)


def _ints(line: str, lineno: int) -> list[int]:
    try:
        values = [int(x) for x in line.split()]
    except ValueError:
        raise MalformedCircuit(f"line {lineno}: expected integers: {line!r}") from None
    if any(v < 0 for v in values):
        raise MalformedCircuit(f"line {lineno}: negative number")
    return values


def _widths(line: str, lineno: int) -> list[int]:
    values = _ints(line, lineno)
    if not values or values[0] != len(values) - 1:
        raise MalformedCircuit(f"line {lineno}: a count then that many widths: {line!r}")
    return values[1:]


def parse_bristol(text: str) -> Circuit:
    """The circuit a Bristol-fashion text describes; `MalformedCircuit` if it breaks the
    format, `UnsupportedGate` for EQ (constant) gates."""
    lines = [(n + 1, ln.strip()) for n, ln in enumerate(text.splitlines()) if ln.strip()]
    if len(lines) < 3:
        raise MalformedCircuit("a header, input widths and output widths are required")
    header = _ints(lines[0][1], lines[0][0])
    if len(header) != 2:
        raise MalformedCircuit("line 1: expected `gates wires`")
    n_gates, n_wires = header
    input_widths = _widths(lines[1][1], lines[1][0])
    output_widths = _widths(lines[2][1], lines[2][0])
    body = lines[3:]
    if len(body) != n_gates:
        raise MalformedCircuit(f"header says {n_gates} gates, the file has {len(body)}")
    gates: array[int] = array("I")
    for lineno, line in body:
        parts = line.split()
        op = parts[-1] if parts else ""
        nums = _ints(" ".join(parts[:-1]), lineno)
        if len(nums) < 2 or len(nums) != 2 + nums[0] + nums[1]:
            raise MalformedCircuit(f"line {lineno}: wire counts do not match: {line!r}")
        n_in, n_out, wires = nums[0], nums[1], nums[2:]
        if op == "EQ":
            raise UnsupportedGate(f"line {lineno}: EQ (constant) gates are not garbled")
        if op == "MAND":
            if n_in != 2 * n_out:
                raise MalformedCircuit(f"line {lineno}: MAND takes 2k inputs and k outputs")
            for i in range(n_out):
                gates.extend((wires[i], wires[n_out + i], wires[n_in + i], AND))
            continue
        if op not in _OPS:
            raise MalformedCircuit(f"line {lineno}: unknown gate {op!r}")
        code = _OPS[op]
        if (n_in, n_out) != (_ARITY[code], 1):
            raise MalformedCircuit(f"line {lineno}: {op} takes {_ARITY[code]} inputs, 1 output")
        a = wires[0]
        b = wires[1] if n_in == 2 else 0
        gates.extend((a, b, wires[n_in], code))
    return make_circuit(n_wires, input_widths, output_widths, gates)


def to_bristol(circuit: Circuit) -> str:
    """The circuit as Bristol-fashion text (MAND lines come out as single ANDs)."""
    head = [f"{circuit.n_gates} {circuit.n_wires}",
            " ".join(map(str, (len(circuit.input_widths), *circuit.input_widths))),
            " ".join(map(str, (len(circuit.output_widths), *circuit.output_widths))), ""]
    g = circuit.gates
    body = []
    for i in range(0, len(g), 4):
        a, b, out, op = g[i: i + 4]
        body.append(f"2 1 {a} {b} {out} {_NAMES[op]}" if _ARITY[op] == 2
                    else f"1 1 {a} {out} {_NAMES[op]}")
    return "\n".join(head + body) + "\n"


def value_bits(widths: Sequence[int], values: Sequence[int]) -> list[int]:
    """The wire bits of `values` (least significant bit first), checked against `widths`."""
    if len(values) != len(widths):
        raise InputMismatch(f"{len(values)} values for {len(widths)} inputs")
    bits: list[int] = []
    for width, v in zip(widths, values, strict=True):
        if not 0 <= v < 1 << width:
            raise InputMismatch(f"value {v} does not fit in {width} bits")
        bits.extend((v >> k) & 1 for k in range(width))
    return bits


def bits_int(bits: Sequence[int]) -> int:
    """The integer whose bits, least significant first, are `bits` (linear time: a million
    bits are a 1 Mbit integer, which summing shifted bits would build quadratically)."""
    return int("".join("1" if b else "0" for b in reversed(bits)) or "0", 2)


def bits_values(widths: Sequence[int], bits: Sequence[int]) -> list[int]:
    """The integers that consecutive groups of `bits` (least significant first) make."""
    values, pos = [], 0
    for width in widths:
        values.append(bits_int(bits[pos: pos + width]))
        pos += width
    return values


def evaluate_plain(circuit: Circuit, values: Sequence[int]) -> list[int]:
    """The circuit's output values on `values`, evaluated in the clear (the reference the
    garbled evaluation is checked against)."""
    wires = bytearray(circuit.n_wires)
    wires[: circuit.n_inputs] = bytes(value_bits(circuit.input_widths, values))
    g = circuit.gates
    for i in range(0, len(g), 4):
        a, b, out, op = g[i: i + 4]
        if op == XOR:
            wires[out] = wires[a] ^ wires[b]
        elif op == AND:
            wires[out] = wires[a] & wires[b]
        elif op == INV:
            wires[out] = wires[a] ^ 1
        else:
            wires[out] = wires[a]
    return bits_values(circuit.output_widths, wires[circuit.output_wires.start:])
