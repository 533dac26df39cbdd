"""A small circuit builder and the circuits the package ships: adder, comparator, AES-128,
SHA-256's compression function.

The standard Bristol-fashion files are public but not vendored here; these circuits are built
from their definitions instead and checked against plain arithmetic and against FIPS-197
(tests/crypto/garbled). `write_circuit` prints any of them in Bristol fashion.

AES's S-box is built from its algebraic definition (FIPS-197 section 5.1.1): the inverse in
GF(2^8) as x^254, computed with the addition chain x^2, x^3, x^6, x^12, x^15, x^30, x^60,
x^120, x^240, x^252, x^254 (4 multiplications of 64 AND gates each; squarings are linear, so
XOR gates only), then the affine map. That is 256 AND gates an S-box, against 32 for the
Boyar-Peralta circuit: larger but derived in full from the standard.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence

from xinlian.crypto.privacy.garbled.circuit import AND, EQW, INV, XOR, Circuit, make_circuit

Bits = list[int]


class CircuitBuilder:
    """Appends gates over integer wire names; inputs first, then gates, then `build`."""

    def __init__(self) -> None:
        self._gates: array[int] = array("I")
        self._widths: list[int] = []
        self._wires = 0
        self._zero: int | None = None

    def input(self, width: int) -> Bits:
        if self._gates:
            raise ValueError("inputs must be declared before any gate")
        self._widths.append(width)
        self._wires += width
        return list(range(self._wires - width, self._wires))

    def _gate(self, a: int, b: int, op: int) -> int:
        out = self._wires
        self._wires += 1
        self._gates.extend((a, b, out, op))
        return out

    def xor(self, a: int, b: int) -> int:
        return self._gate(a, b, XOR)

    def and_(self, a: int, b: int) -> int:
        return self._gate(a, b, AND)

    def inv(self, a: int) -> int:
        return self._gate(a, 0, INV)

    def zero(self) -> int:
        """A wire that is always 0 (an input XORed with itself: free under free-XOR)."""
        if self._zero is None:
            self._zero = self.xor(0, 0)
        return self._zero

    def xor_all(self, wires: Sequence[int]) -> int:
        if not wires:
            return self.zero()
        acc = wires[0]
        for w in wires[1:]:
            acc = self.xor(acc, w)
        return acc

    def build(self, outputs: Sequence[Bits]) -> Circuit:
        """The circuit with `outputs` copied (EQW) onto its last wires, as the format wants."""
        gates = array("I", self._gates)
        wires = self._wires
        for value in outputs:
            for w in value:
                gates.extend((w, 0, wires, EQW))
                wires += 1
        return make_circuit(wires, self._widths, [len(v) for v in outputs], gates)


def add(b: CircuitBuilder, x: Bits, y: Bits, carry_out: bool = True) -> Bits:
    """x + y, with the carry out as a last bit unless the sum is modular: one AND gate a bit
    (c' = c ^ ((x^c) & (y^c))), none for the carry a modular sum drops."""
    carry, out = b.zero(), []
    for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
        out.append(b.xor(b.xor(xi, yi), carry))
        if carry_out or i + 1 < len(x):
            carry = b.xor(carry, b.and_(b.xor(xi, carry), b.xor(yi, carry)))
    return [*out, carry] if carry_out else out


def less_than(b: CircuitBuilder, x: Bits, y: Bits) -> int:
    """x < y (unsigned): the carry out of x + ~y + 1 is x >= y; one AND gate a bit."""
    carry = b.inv(b.zero())
    for xi, yi in zip(x, y, strict=True):
        nyi = b.inv(yi)
        carry = b.xor(carry, b.and_(b.xor(xi, carry), b.xor(nyi, carry)))
    return b.inv(carry)


def adder(width: int) -> Circuit:
    b = CircuitBuilder()
    x, y = b.input(width), b.input(width)
    return b.build([add(b, x, y)])


def comparator(width: int) -> Circuit:
    """Millionaires' comparison: one output bit, x < y."""
    b = CircuitBuilder()
    x, y = b.input(width), b.input(width)
    return b.build([[less_than(b, x, y)]])


# --- AES-128 --------------------------------------------------------------------------------

def gf_mul(x: int, y: int) -> int:
    """Multiplication in AES's GF(2^8), modulo x^8 + x^4 + x^3 + x + 1."""
    r = 0
    for k in range(8):
        if (y >> k) & 1:
            r ^= x << k
    for k in range(14, 7, -1):
        if (r >> k) & 1:
            r ^= 0x11B << (k - 8)
    return r


def _linear(b: CircuitBuilder, x: Bits, f: Callable[[int], int], constant: int = 0) -> Bits:
    """y = f(x) ^ constant on bytes, for f GF(2)-linear: each output bit XORs the input bits
    whose basis images have it set; constant bits are INV gates."""
    images = [f(1 << i) for i in range(8)]
    out = []
    for k in range(8):
        w = b.xor_all([x[i] for i in range(8) if (images[i] >> k) & 1])
        out.append(b.inv(w) if (constant >> k) & 1 else w)
    return out


def _mul_bytes(b: CircuitBuilder, x: Bits, y: Bits) -> Bits:
    """GF(2^8) product: 64 AND gates for the partial products, XORs to reduce."""
    terms: list[Bits] = [[] for _ in range(15)]
    for i in range(8):
        for j in range(8):
            terms[i + j].append(b.and_(x[i], y[j]))
    for k in range(14, 7, -1):  # x^k = x^(k-4) + x^(k-5) + x^(k-7) + x^(k-8)
        for d in (4, 5, 7, 8):
            terms[k - d].extend(terms[k])
    return [b.xor_all(terms[k]) for k in range(8)]


def _square(b: CircuitBuilder, x: Bits) -> Bits:
    return _linear(b, x, lambda v: gf_mul(v, v))


def _rotl8(v: int, n: int) -> int:
    return ((v << n) | (v >> (8 - n))) & 0xFF


def sub_byte(b: CircuitBuilder, x: Bits) -> Bits:
    """The S-box: x^254 (the inverse, 0 for 0) then the affine map of FIPS-197 5.1.1."""
    x2 = _square(b, x)
    x3 = _mul_bytes(b, x2, x)
    x12 = _square(b, _square(b, x3))
    x15 = _mul_bytes(b, x12, x3)
    x240 = x15
    for _ in range(4):
        x240 = _square(b, x240)
    x252 = _mul_bytes(b, x240, x12)
    inverse = _mul_bytes(b, x252, x2)
    return _linear(b, inverse, lambda v: v ^ _rotl8(v, 1) ^ _rotl8(v, 2) ^ _rotl8(v, 3)
                   ^ _rotl8(v, 4), 0x63)


def _xor_bytes(b: CircuitBuilder, x: Bits, y: Bits) -> Bits:
    return [b.xor(p, q) for p, q in zip(x, y, strict=True)]


def _key_schedule(b: CircuitBuilder, key: list[Bits]) -> list[list[Bits]]:
    """The 11 round keys (FIPS-197 5.2), each 16 bytes."""
    words = [key[4 * i: 4 * i + 4] for i in range(4)]
    rcon = 1
    for i in range(4, 44):
        t = words[i - 1]
        if i % 4 == 0:
            t = [sub_byte(b, byte) for byte in (t[1], t[2], t[3], t[0])]
            t[0] = _linear(b, t[0], lambda v: v, rcon)
            rcon = gf_mul(rcon, 2)
        words.append([_xor_bytes(b, p, q) for p, q in zip(words[i - 4], t, strict=True)])
    return [[byte for w in words[4 * r: 4 * r + 4] for byte in w] for r in range(11)]


def _encrypt(b: CircuitBuilder, block: list[Bits], keys: list[list[Bits]]) -> list[Bits]:
    """One block (FIPS-197 5.1); the state's byte r + 4c is row r, column c."""
    state = [_xor_bytes(b, s, k) for s, k in zip(block, keys[0], strict=True)]
    for rnd in range(1, 11):
        state = [sub_byte(b, s) for s in state]
        state = [state[(r + 4 * (c + r)) % 16] for c in range(4) for r in range(4)]
        if rnd < 10:
            mixed = []
            for c in range(4):
                col = state[4 * c: 4 * c + 4]
                doubled = [_linear(b, s, lambda v: gf_mul(v, 2)) for s in col]
                for r in range(4):  # 2*a_r + 3*a_{r+1} + a_{r+2} + a_{r+3}
                    parts = [doubled[r], doubled[(r + 1) % 4], col[(r + 1) % 4],
                             col[(r + 2) % 4], col[(r + 3) % 4]]
                    mixed.append([b.xor_all([p[k] for p in parts]) for k in range(8)])
            state = mixed
        state = [_xor_bytes(b, s, k) for s, k in zip(state, keys[rnd], strict=True)]
    return state


def _block_bytes(wires: Bits) -> list[Bits]:
    """A 128-bit value's wires as its 16 bytes, big-endian (the value is
    int.from_bytes(block, "big"), wire k is its bit k)."""
    return [wires[8 * (15 - i): 8 * (16 - i)] for i in range(16)]


def _block_wires(block: list[Bits]) -> Bits:
    return [w for byte in reversed(block) for w in byte]


def aes128(blocks: int = 1) -> Circuit:
    """AES-128 encryption of `blocks` blocks under one key: inputs key (128 bits) and the
    blocks (128 * blocks bits, block i in bits 128i..); output the ciphertext blocks alike.
    Values are big-endian byte strings as integers: `int.from_bytes(block, "big")`."""
    b = CircuitBuilder()
    key = b.input(128)
    plain = b.input(128 * blocks)
    keys = _key_schedule(b, _block_bytes(key))
    out: Bits = []
    for i in range(blocks):
        out += _block_wires(_encrypt(b, _block_bytes(plain[128 * i: 128 * (i + 1)]), keys))
    return b.build([out])


# --- SHA-256 ----------------------------------------------------------------------------------

def _icbrt(n: int) -> int:
    """The integer cube root, floor(n^(1/3))."""
    x = 1 << ((n.bit_length() + 2) // 3)
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            break
        x = y
    while x ** 3 > n:
        x -= 1
    while (x + 1) ** 3 <= n:
        x += 1
    return x


def _primes(count: int) -> list[int]:
    found: list[int] = []
    n = 2
    while len(found) < count:
        if all(n % p for p in found if p * p <= n):
            found.append(n)
        n += 1
    return found


# FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
# 64 primes.
SHA256_K = [_icbrt(p << 96) & 0xFFFFFFFF for p in _primes(64)]


def _const_word(b: CircuitBuilder, value: int) -> Bits:
    one = b.inv(b.zero())
    return [one if (value >> k) & 1 else b.zero() for k in range(32)]


def _rotr(x: Bits, n: int) -> Bits:
    return [x[(k + n) % 32] for k in range(32)]


def _xor3(b: CircuitBuilder, x: Bits, y: Bits, z: Bits) -> Bits:
    return [b.xor(b.xor(p, q), r) for p, q, r in zip(x, y, z, strict=True)]


def _sum(b: CircuitBuilder, *words: Bits) -> Bits:
    acc = words[0]
    for w in words[1:]:
        acc = add(b, acc, w, carry_out=False)
    return acc


def _words(wires: Bits) -> list[Bits]:
    """A value's 32-bit words, big-endian (word 0 in the top bits), each least significant
    bit first."""
    n = len(wires)
    return [wires[n - 32 * (i + 1): n - 32 * i] for i in range(n // 32)]


def _compress(b: CircuitBuilder, block: list[Bits], state: list[Bits]) -> list[Bits]:
    """The SHA-256 compression function (FIPS 180-4 6.2.2)."""
    zero = b.zero()
    w = list(block)
    for t in range(16, 64):
        s0 = _xor3(b, _rotr(w[t - 15], 7), _rotr(w[t - 15], 18), w[t - 15][3:] + [zero] * 3)
        s1 = _xor3(b, _rotr(w[t - 2], 17), _rotr(w[t - 2], 19), w[t - 2][10:] + [zero] * 10)
        w.append(_sum(b, s1, w[t - 7], s0, w[t - 16]))
    a, bb, c, d, e, f, g, h = state
    for t in range(64):
        big_s1 = _xor3(b, _rotr(e, 6), _rotr(e, 11), _rotr(e, 25))
        ch = [b.xor(gi, b.and_(ei, b.xor(fi, gi))) for ei, fi, gi in zip(e, f, g, strict=True)]
        t1 = _sum(b, h, big_s1, ch, _const_word(b, SHA256_K[t]), w[t])
        big_s0 = _xor3(b, _rotr(a, 2), _rotr(a, 13), _rotr(a, 22))
        maj = [b.xor(b.and_(b.xor(ai, bi), b.xor(ai, ci)), ai)
               for ai, bi, ci in zip(a, bb, c, strict=True)]
        t2 = _sum(b, big_s0, maj)
        a, bb, c, d, e, f, g, h = _sum(b, t1, t2), a, bb, c, _sum(b, d, t1), e, f, g
    return [_sum(b, x, y) for x, y in zip(state, [a, bb, c, d, e, f, g, h], strict=True)]


def sha256_compress() -> Circuit:
    """SHA-256's compression function: inputs a 512-bit block and the 256-bit chaining value,
    output the next chaining value; each big-endian as an integer (`int.from_bytes(block,
    "big")`), so one padded block and the standard initial value give the digest."""
    b = CircuitBuilder()
    block, state = b.input(512), b.input(256)
    out = _compress(b, _words(block), _words(state))
    return b.build([[wire for word in reversed(out) for wire in word]])


CIRCUITS: dict[str, Callable[[], Circuit]] = {
    "adder64": lambda: adder(64),
    "comparator64": lambda: comparator(64),
    "aes_128": aes128,
    "sha256": sha256_compress,
}
