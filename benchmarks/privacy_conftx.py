"""Confidential transfers (PGC-style accounts with regulator tracing) on ristretto255 and
SM2: prove, verify and block-batch verification per transfer, withdrawal, registration,
regulator open request and share verification, a contract's payment (`conf_pay`: a transfer
and its floor proof), decryption, and bytes per confidential transfer.

Run: `python -m benchmarks.privacy_conftx` (`--quick` for a short smoke run; `make
bench-privacy` runs it after the garbled-circuit figures). Times are the best of several
runs in process CPU time (the machine is shared; the load average is on every line).
`batch_verify_per_tx_ms` is what a validator spends per transfer in a block of BATCH
transfers: the range proofs in one multi-scalar multiplication plus each sigma proof
(execution/confidential.py, `begin_block`). `verify_fuel` is the verification's fuel at
plain Wasm code's 20 fuel per ns plus 10 % (the VERIFY_FUEL table the fees come from).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.report import best_of, emit
from xinlian import codec
from xinlian.crypto.privacy.confidential import GROUPS, dlog, elgamal, tracing, transfer
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.suites import get_suite
from xinlian.crypto.threshold.dkg import share_secret
from xinlian.execution.confidential_payloads import ConfidentialTransfer
from xinlian.ledger.transaction import TxBody, TxKind, sign_body

QUICK = "--quick" in sys.argv
REPEATS = 2 if QUICK else 5
BATCH = 4 if QUICK else 16
BENCH = "privacy_conftx"
FUEL_PER_MS = 20_000_000  # 20 fuel per ns (execution/vm/engine.py)


def fuel(ms: float) -> int:
    return int(ms * FUEL_PER_MS * 1.1)


def bench(name: str) -> None:
    group = GROUPS[name]
    generators(group)
    rng = random.Random(1).randbytes
    extra: dict[str, Any] = {"group": name, "load1": round(os.getloadavg()[0], 2)}

    def out(metric: str, value: float, unit: str = "ms_cpu", **more: Any) -> None:
        emit(BENCH, metric, value, unit, **extra, **more)

    def timed(fn: Callable[[], Any]) -> float:
        return best_of(REPEATS, fn, clock=time.process_time) * 1e3

    regulator = share_secret(group, group.random_scalar(rng), 2, [1, 2, 3], rng)
    pk_r = regulator[0].public.group_public_key
    receiver = elgamal.public_key(group.random_scalar(rng))
    statements = []
    for k in range(BATCH):
        sk = group.random_scalar(rng)
        balance = elgamal.encrypt(elgamal.public_key(sk), 10_000 + k, group.random_scalar(rng))
        st = transfer.TransferStatement(b"bench%d" % k, elgamal.public_key(sk), receiver, pk_r,
                                        balance)
        statements.append((st, sk, transfer.prove_transfer(st, sk, 10_000 + k, 1234, rng)))
    st, sk, note = statements[0]

    prove_ms = timed(partial(transfer.prove_transfer, st, sk, 10_000, 1234))
    verify_ms = timed(partial(transfer.verify_transfer, st, note))
    sigma_ms = timed(partial(transfer.verify_transfer_sigma, st, note))

    def block() -> None:
        transfer.batch_verify_ranges(group, [n.range_item() for _, _, n in statements])
        for s, _, n in statements:
            transfer.verify_transfer_sigma(s, n)

    batch_ms = timed(block) / BATCH
    out("transfer_prove_ms", prove_ms)
    out("transfer_verify_ms", verify_ms, verify_fuel=fuel(verify_ms))
    out("transfer_verify_sigma_ms", sigma_ms)
    out("transfer_batch_verify_per_tx_ms", batch_ms, batch=BATCH)
    payload = codec.encode(ConfidentialTransfer(bytes(20), note.encode(), bytes(32)))
    key = get_suite("intl").generate_signing_key(bytes(32))
    raw = sign_body(TxBody("bench", key.public_key, 0, TxKind.CONFIDENTIAL, payload, 10**6,
                           10**6), key)
    out("transfer_note_bytes", len(note.encode()), "bytes")
    out("transfer_tx_bytes", len(raw), "bytes", suite="intl")

    floored, floor_proof = transfer.prove_transfer_floor(st, sk, 10_000, 1234, 1000, rng)

    def pay() -> None:  # what `conf_pay` verifies: the transfer alone and its floor
        transfer.verify_transfer(st, floored)
        transfer.verify_floor(floored, 1000, floor_proof)

    pay_ms = timed(pay)
    out("contract_pay_verify_ms", pay_ms, verify_fuel=fuel(pay_ms))
    out("contract_pay_floor_bytes", len(floor_proof), "bytes")
    w = transfer.prove_withdraw(sk, st.balance, 10_000, 500, b"w", rng)
    out("withdraw_prove_ms", timed(partial(transfer.prove_withdraw, sk, st.balance, 10_000,
                                           500, b"w")))
    w_ms = timed(partial(transfer.verify_withdraw, st.sender, st.balance, 500, b"w", w))
    out("withdraw_verify_ms", w_ms, verify_fuel=fuel(w_ms))
    out("withdraw_note_bytes", len(w.encode()), "bytes")
    proof = transfer.prove_key(sk, b"r", rng)
    r_ms = timed(partial(transfer.verify_key, st.sender, b"r", proof))
    out("register_verify_ms", r_ms, verify_fuel=fuel(r_ms))
    d, share_proof = tracing.decryption_share(regulator[0].secret, note.c1, b"s", rng)
    verifying = group.base_mul(regulator[0].secret)
    s_ms = timed(partial(tracing.verify_share, verifying, note.c1, d, share_proof, b"s"))
    out("share_verify_ms", s_ms, verify_fuel=fuel(s_ms))
    shares = {k.identifier: tracing.decryption_share(k.secret, note.c1, b"s", rng)[0]
              for k in regulator[:2]}
    out("open_combine_ms", timed(partial(tracing.combine, group, shares)))
    _, blinded, request_proof = tracing.blind(note.c1, b"q", rng)
    q_ms = timed(partial(tracing.verify_blinding, note.c1, blinded, request_proof, b"q"))
    out("open_request_verify_ms", q_ms, verify_fuel=fuel(q_ms))

    start = time.process_time()
    dlog.solve(group.identity())  # builds the 2^16-entry table once per process
    out("decrypt_table_s", time.process_time() - start, "s_cpu")
    draw = random.Random(7)
    amounts = [draw.randrange(2**32) for _ in range(3 if QUICK else 10)]
    points = [generators(group).g * group.scalar(a) for a in amounts]
    start = time.process_time()
    for p in points:
        dlog.solve(p)
    out("decrypt_32bit_ms", (time.process_time() - start) * 1e3 / len(points),
        samples=len(points))


def main() -> None:
    for name in GROUPS:
        bench(name)


if __name__ == "__main__":
    main()
