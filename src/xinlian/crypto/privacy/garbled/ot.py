"""Oblivious transfer: Chou-Orlandi "simplest OT" as the base, IKNP extension on top.

Base OT (Chou and Orlandi, LATINCRYPT 2015) over a prime-order group (ed25519's by default):
the sender publishes A = aG; for choice c the receiver sends B = bG + cA; the sender's keys are
H(aB) and H(a(B - A)), the receiver's H(bA), which equals the one it chose. Semi-honest here:
the receiver's B hides c perfectly, and the other key needs a(B - A) or aB, a CDH instance.

Extension (Ishai, Kilian, Nissim, Petrank, CRYPTO 2003), for m transfers from 128 base OTs
with roles reversed: the extension's sender S picks s in {0,1}^128 and receives seed k_i^{s_i};
the receiver R, choices r, holds both seeds, sends u_i = G(k_i^0) ^ G(k_i^1) ^ r, and keeps
t_i = G(k_i^0). S computes q_i = G(k_i^{s_i}) ^ s_i u_i, so row j of the transposed matrix is
q_j = t_j ^ r_j s. S sends y_j^b = x_j^b ^ H(q_j ^ b s, j); R recovers x_j^{r_j} =
y_j^{r_j} ^ H(t_j, j); the other message is masked by H(t_j ^ s, j), with s unknown to R.
G is AES-128-CTR; H the fixed-key AES hash of the garbling core, under its own key.

Every step is a pure function of its inputs: the protocol module sequences them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from xinlian.crypto.primitives.groups import ED25519, Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy.garbled import _garble
from xinlian.crypto.privacy.garbled.circuit import bits_int
from xinlian.crypto.privacy.garbled.errors import ProtocolError

KAPPA = 128  # base OTs, and the bits of a row of the extension matrix


def _kdf(i: int, *points: Element) -> bytes:
    data = b"xinlian/gc/base-ot" + i.to_bytes(4, "big") + b"".join(p.encode() for p in points)
    return hashlib.sha256(data).digest()[:16]


def _prg(seed: bytes, n: int) -> bytes:
    encryptor = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()
    return encryptor.update(bytes(n)) + encryptor.finalize()


def _xor(x: bytes, y: bytes) -> bytes:
    return (int.from_bytes(x, "little") ^ int.from_bytes(y, "little")).to_bytes(len(x), "little")


def _decode_point(group: Group, data: bytes) -> Element:
    try:
        point = group.decode_element(data)
    except GroupError as exc:
        raise ProtocolError(f"base OT: invalid point: {exc}") from None
    if point.is_identity():
        raise ProtocolError("base OT: identity point")
    return point


# --- base OT ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BaseSender:
    group: Group
    a: Scalar
    A: Element

    @classmethod
    def start(cls, group: Group = ED25519, rng: Rng = os.urandom) -> BaseSender:
        a = group.random_scalar(rng)
        return cls(group, a, group.base_mul(a))

    def keys(self, points: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
        """Both keys of each transfer, from the receiver's points B_i."""
        out = []
        for i, data in enumerate(points):
            B = _decode_point(self.group, data)
            out.append((_kdf(i, self.A, B, B * self.a), _kdf(i, self.A, B, (B - self.A) * self.a)))
        return out


def base_choose(group: Group, A_bytes: bytes, choices: Sequence[int],
                rng: Rng = os.urandom) -> tuple[list[bytes], list[bytes]]:
    """The receiver's points B_i to send and the keys of its choices."""
    A = _decode_point(group, A_bytes)
    points, keys = [], []
    for i, c in enumerate(choices):
        b = group.random_scalar(rng)
        B = group.base_mul(b) + A if c else group.base_mul(b)
        points.append(B.encode())
        keys.append(_kdf(i, A, B, A * b))
    return points, keys


# --- IKNP extension ---------------------------------------------------------------------------

def _row_bytes(m: int) -> int:
    return (m + 7) // 8


def pack_bits(bits: Sequence[int]) -> bytes:
    return bits_int(bits).to_bytes(_row_bytes(len(bits)), "little")


def extension_receive(seeds: Sequence[tuple[bytes, bytes]],
                      choices: Sequence[int]) -> tuple[bytes, bytes]:
    """R's matrix message u (KAPPA rows) and its secret rows t_j (16 bytes each)."""
    n = _row_bytes(len(choices))
    r = pack_bits(choices)
    t_cols, u = [], bytearray()
    for k0, k1 in seeds:
        t = _prg(k0, n)
        t_cols.append(t)
        u += _xor(_xor(t, _prg(k1, n)), r)
    return bytes(u), _garble.transpose(b"".join(t_cols), KAPPA)


def extension_send(s_bits: Sequence[int], seeds: Sequence[bytes], u: bytes, m: int,
                   key: bytes, messages: tuple[bytes, bytes]) -> bytes:
    """S's masked pairs y_j^0 || y_j^1 for the m transfers of 16-byte `messages` (all zeros
    first, then all ones)."""
    n = _row_bytes(m)
    if len(u) != KAPPA * n:
        raise ProtocolError(f"OT extension: {len(u)} bytes of u, expected {KAPPA * n}")
    q_cols = bytearray()
    for i, (s, seed) in enumerate(zip(s_bits, seeds, strict=True)):
        g = _prg(seed, n)
        q_cols += _xor(g, u[i * n: (i + 1) * n]) if s else g
    q = _garble.transpose(bytes(q_cols), KAPPA)[: 16 * m]
    s_row = pack_bits(s_bits)
    y0 = _xor(messages[0], _garble.hash(key, q, 0))
    y1 = _xor(messages[1], _garble.hash(key, _xor(q, s_row * m), 0))
    return b"".join(y0[16 * j: 16 * j + 16] + y1[16 * j: 16 * j + 16] for j in range(m))


def extension_output(t_rows: bytes, choices: Sequence[int], key: bytes, y: bytes) -> bytes:
    """R's chosen messages, 16 bytes each, from S's pairs."""
    m = len(choices)
    if len(y) != 32 * m:
        raise ProtocolError(f"OT extension: {len(y)} bytes of pairs, expected {32 * m}")
    pads = _garble.hash(key, t_rows[: 16 * m], 0)
    chosen = b"".join(y[32 * j + 16 * c: 32 * j + 16 * c + 16] for j, c in enumerate(choices))
    return _xor(chosen, pads)
