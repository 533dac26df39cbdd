"""Anonymous transfers as the chain verifies them (execution/anonymous.py) on ristretto255
and SM2: the verification of a transfer (every proof, the range proof and the binding of
submitter and public receiver) for a few shapes, from which the per-part fuel of
VERIFY_FUEL follows, plus a registration, one decryption share and the bytes of a
transaction.

Run: `python -m benchmarks.privacy_anontx` (`--quick`: fewer repeats; `make bench-privacy`
runs it after benchmarks.privacy_anon, the library's own figures). Times are the
best of several runs in process CPU time. Shapes (rings, receiver sets, outputs):
`small` one spend in a ring of 2, one output to a set of 1; `ring16` its ring of 16;
`recv16` its set of 16; `out4` four outputs. The fit: fuel = base + ring_member x (ring
members + the first ring again, the binding's) + receiver x (set members) + output x
outputs, each part at 20 fuel per ns plus 10 %.
"""

from __future__ import annotations

import os
import random
import sys
import time
from typing import Any

from benchmarks.report import best_of, emit
from xinlian import codec
from xinlian.crypto.privacy import anonymous as anon
from xinlian.crypto.privacy.anonymous_binding import verify_binding
from xinlian.crypto.privacy.confidential import GROUPS, tracing
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.suites import get_suite
from xinlian.execution.anonymous import binding_message, chain_context
from xinlian.execution.anonymous_payloads import AnonTransfer
from xinlian.ledger.transaction import TxBody, TxKind, sign_body
from xinlian.sdk.anonymous import Payment, transfer_op

QUICK = "--quick" in sys.argv
REPEATS = 2 if QUICK else 4
BENCH = "privacy_anontx"
FUEL_PER_MS = 20_000_000  # 20 fuel per ns (execution/vm/engine.py)
SUBMITTER = bytes(20)


def fuel(ms: float) -> int:
    return int(ms * FUEL_PER_MS * 1.1) + 1


def bench(name: str) -> None:
    group = GROUPS[name]
    generators(group)
    rng = random.Random(1).randbytes
    extra: dict[str, Any] = {"group": name, "load1": round(os.getloadavg()[0], 2)}
    context = chain_context("bench")
    regulator = group.base_mul(group.random_scalar(rng))
    users = [anon.keygen(group, rng) for _ in range(16)]
    addresses = [u.address() for u in users]
    notes = [anon.build_shield(addresses[k % 16], 1000 + k, [addresses[k % 16]],
                               regulator=regulator, context=context, rng=rng).outputs[0].note
             for k in range(16)]
    owned = anon.scan(users[0], [(0, notes[0])])[0]

    def shape(ring: int, receivers: int, outputs: int) -> tuple[AnonTransfer, anon.Statement]:
        ring_notes = notes[:ring]
        accounts = [bytes([k]) * 20 for k in range(receivers)]
        amounts = [1] * (outputs - 1) + [owned.amount - 10 - (outputs - 1)]
        pays = [Payment(addresses[0], v, accounts, addresses[:receivers]) for v in amounts]
        op = transfer_op([owned], [list(range(ring))], [ring_notes], pays, 10, regulator,
                         "bench", SUBMITTER, rng=rng)
        return op, anon.Statement(regulator, context, [ring_notes],
                                  [addresses[:receivers]] * outputs)

    def verify_ms(op: AnonTransfer, st: anon.Statement) -> float:
        def run() -> None:
            anon.verify_transfer(op.transfer, st, rng)
            verify_binding(group, op.transfer, st.rings[0], context,
                           binding_message(SUBMITTER, None), op.binding)
        return best_of(REPEATS, run, clock=time.process_time) * 1e3

    times = {}
    for label, args in (("small", (2, 1, 1)), ("ring16", (16, 1, 1)),
                        ("recv16", (2, 16, 1)), ("out4", (2, 1, 4))):
        op, st = shape(*args)
        times[label] = verify_ms(op, st)
        emit(BENCH, f"transfer_{label}_verify_ms", times[label], "ms_cpu", **extra)
    ring_member = (times["ring16"] - times["small"]) / 28
    receiver = (times["recv16"] - times["small"]) / 15
    output = (times["out4"] - times["small"]) / 3
    base = max(times["small"] - 4 * ring_member - receiver - output, 0.0)
    for part, ms in (("base", base), ("ring_member", ring_member), ("receiver", receiver),
                     ("output", output)):
        emit(BENCH, f"fuel_{part}", fuel(ms), "fuel", ms=round(ms, 3), **extra)

    keys = users[0]
    proof = anon.prove_registration(keys, b"r", rng)
    reg_ms = best_of(REPEATS, lambda: anon.verify_registration(group, keys.address(), b"r",
                                                               proof),
                     clock=time.process_time) * 1e3
    emit(BENCH, "fuel_register", fuel(reg_ms), "fuel", ms=round(reg_ms, 3), **extra)
    secret = group.random_scalar(rng)
    c1 = group.base_mul(group.random_scalar(rng))
    share, share_proof = tracing.decryption_share(secret, c1, b"s", rng)
    verifying = group.base_mul(secret)
    share_ms = best_of(REPEATS, lambda: tracing.verify_share(verifying, c1, share,
                                                             share_proof, b"s"),
                       clock=time.process_time) * 1e3
    emit(BENCH, "fuel_share", fuel(share_ms), "fuel", ms=round(share_ms, 3), **extra)

    op, _ = shape(4, 4, 2)
    key = get_suite("intl").generate_signing_key(bytes(32))
    raw = sign_body(TxBody("bench", key.public_key, 0, TxKind.ANONYMOUS, codec.encode(op),
                           10**6, 10**6), key)
    emit(BENCH, "transfer_ring4_recv4_out2_tx_bytes", len(raw), "bytes", suite="intl",
         **extra)


def main() -> None:
    for name in GROUPS:
        bench(name)


if __name__ == "__main__":
    main()
