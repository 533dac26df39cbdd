"""Privacy benchmarks: garbled circuits (half-gates AND gates, IKNP OT extension, one AES
block between two parties).

    python -m benchmarks.privacy [--blocks 25] [--ots 1000000] [--repeats 3]

`and_gate_ns` is CPU time (time.process_time, one core: the native loop is single-threaded)
per AND gate of an AES-128 circuit of `--blocks` blocks under one key (25 blocks: 1,034,240
AND gates and 3.4 million free gates, whose cost the figure includes), for garbling,
evaluation and both; the best of `--repeats`. The garbled result is checked against an
independent AES before any figure is printed. Every line carries the 1-minute load average.
"""

from __future__ import annotations

import argparse
import os
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from benchmarks.report import best_of, emit
from xinlian.crypto.primitives.groups import ED25519
from xinlian.crypto.privacy.garbled import ot
from xinlian.crypto.privacy.garbled.builder import aes128
from xinlian.crypto.privacy.garbled.circuit import bits_values, value_bits
from xinlian.crypto.privacy.garbled.garbling import evaluate, garble
from xinlian.crypto.privacy.garbled.protocol import Evaluator, Garbler
from xinlian.crypto.privacy.garbled.runner import run_in_process

BENCH = "privacy"


def load() -> float:
    return round(os.getloadavg()[0], 2)


def bench_and_gates(blocks: int, repeats: int) -> None:
    circuit = aes128(blocks)
    key, plain = os.urandom(16), os.urandom(16 * blocks)
    values = [int.from_bytes(key, "big"),
              sum(int.from_bytes(plain[16 * i: 16 * i + 16], "big") << (128 * i)
                  for i in range(blocks))]
    bits = value_bits(circuit.input_widths, values)
    garbled = []

    def garble_once() -> None:
        garbled[:] = [garble(circuit)]

    t_garble = best_of(repeats, garble_once, time.process_time)
    secrets, tables = garbled[0]
    labels = secrets.encode(bits)
    out: list[list[int]] = []

    def evaluate_once() -> None:
        out[:] = [evaluate(circuit, secrets.key, tables, labels)]

    t_eval = best_of(repeats, evaluate_once, time.process_time)
    cipher = bits_values(circuit.output_widths, out[0])[0]
    expected = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(plain)
    assert all((cipher >> (128 * i)) & (2**128 - 1)
               == int.from_bytes(expected[16 * i: 16 * i + 16], "big") for i in range(blocks))
    common = {"circuit": f"aes_128 x {blocks} blocks", "and_gates": circuit.n_and,
              "gates": circuit.n_gates, "clock": "process_time", "load_1min": load()}
    for mode, seconds in (("garble", t_garble), ("evaluate", t_eval),
                          ("garble+evaluate", t_garble + t_eval)):
        emit(BENCH, "and_gate_ns", seconds / circuit.n_and * 1e9, "ns", mode=mode, **common)
    emit(BENCH, "garbled_table_bytes", len(tables.tables) / circuit.n_and, "bytes/AND",
         **common)


def bench_ot_extension(m: int, repeats: int) -> None:
    key = os.urandom(16)
    choices = [b & 1 for b in os.urandom(m)]
    x0, x1 = os.urandom(16 * m), os.urandom(16 * m)
    s = [b & 1 for b in os.urandom(ot.KAPPA)]

    def base() -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
        sender = ot.BaseSender.start(ED25519)
        points, s_seeds = ot.base_choose(ED25519, sender.A.encode(), s)
        return sender.keys(points), s_seeds

    t_base = best_of(repeats, base, time.process_time)
    r_seeds, s_seeds = base()
    result = []

    def extend() -> None:
        u, t_rows = ot.extension_receive(r_seeds, choices)
        y = ot.extension_send(s, s_seeds, u, m, key, (x0, x1))
        result[:] = [ot.extension_output(t_rows, choices, key, y)]

    t_ext = best_of(repeats, extend, time.process_time)
    assert all(result[0][16 * j: 16 * j + 16] == (x1 if c else x0)[16 * j: 16 * j + 16]
               for j, c in enumerate(choices[:1000]))
    common = {"clock": "process_time", "load_1min": load()}
    emit(BENCH, "base_ot_ms", t_base * 1e3, "ms", ots=ot.KAPPA, group="ed25519",
         note="128 Chou-Orlandi OTs, both parties", **common)
    emit(BENCH, "ot_extension_per_s", m / t_ext, "OT/s", ots=m,
         note="IKNP, both parties, 128-bit messages", **common)


def bench_protocol(repeats: int) -> None:
    circuit = aes128()
    key, plain = int.from_bytes(os.urandom(16), "big"), int.from_bytes(os.urandom(16), "big")
    sizes: list[int] = []

    def run() -> None:
        g, e = Garbler(circuit, [key]), Evaluator(circuit, [plain])
        message: bytes | None = e.start()
        total = 0
        while message is not None:
            total += len(message)
            message = g.receive(message)
            if message is not None:
                total += len(message)
                message = e.receive(message)
        sizes[:] = [total]

    seconds = best_of(repeats, run, time.process_time)
    g, e = Garbler(circuit, [key]), Evaluator(circuit, [plain])
    assert run_in_process(g, e) == [int.from_bytes(
        Cipher(algorithms.AES(key.to_bytes(16, "big")), modes.ECB()).encryptor()
        .update(plain.to_bytes(16, "big")), "big")]
    emit(BENCH, "aes_two_party_ms", seconds * 1e3, "ms", bytes=sizes[0],
         note="one AES-128 block, both parties in one process (base OT, IKNP, garble, "
              "evaluate)", clock="process_time", load_1min=load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=25)
    parser.add_argument("--ots", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bench_and_gates(args.blocks, args.repeats)
    bench_ot_extension(args.ots, args.repeats)
    bench_protocol(args.repeats)


if __name__ == "__main__":
    main()
