"""Anonymous transfers (crypto/privacy/anonymous) on ristretto255 and SM2: prove, verify
and block-batch verification per transfer, bytes, and the shield, scan, registration and
regulator-share costs beside them.

Run: `python -m benchmarks.privacy_anon` (`--quick` for a short smoke run; `make
bench-privacy` runs it after the confidential-transfer figures). A transfer spends one
note hidden in a ring of RING notes and pays two outputs (payment and change), each
receiver hidden in a set of RECEIVERS registered addresses; ristretto255 is also
measured at rings of 4 and 16, which gives the cost per ring member. Times are the best
of several runs in process CPU time (the machine is shared; the load average is on every
line). `batch_verify_per_tx_ms` is a validator's cost per transfer in a block of BATCH:
every ring, receiver, amount and balance proof plus the range proofs in one multi-scalar
multiplication. `verify_fuel` prices a verification as privacy_conftx does.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.privacy_conftx import fuel
from benchmarks.report import best_of, emit
from xinlian import codec
from xinlian.crypto.privacy import anonymous as anon
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.threshold.dkg import share_secret

QUICK = "--quick" in sys.argv
REPEATS = 1 if QUICK else 5
BATCH = 4 if QUICK else 16
RING = 11
RECEIVERS = 8
BENCH = "privacy_anon"
CONTEXT = b"bench-chain"


def bench(name: str, rings: tuple[int, ...]) -> None:
    group = GROUPS[name]
    generators(group)
    rng = random.Random(1).randbytes
    load: dict[str, Any] = {"group": name, "load1": round(os.getloadavg()[0], 2)}

    def out(metric: str, value: float, unit: str = "ms_cpu", **more: Any) -> None:
        emit(BENCH, metric, value, unit, **load, **more)

    def timed(fn: Callable[[], Any]) -> float:
        return best_of(REPEATS, fn, clock=time.process_time) * 1e3

    regulator = share_secret(group, group.random_scalar(rng), 2, [1, 2, 3], rng)
    reg = regulator[0].public.group_public_key
    users = [anon.keygen(group, rng) for _ in range(RECEIVERS)]
    addresses = [u.address() for u in users]
    # BATCH notes to spend (user k % RECEIVERS owns note k), then decoys for the rings
    decoys = max(rings) - 1
    shields = [anon.build_shield(addresses[k % RECEIVERS], 1000 + k, addresses,
                                 regulator=reg, context=CONTEXT, rng=rng)
               for k in range(BATCH + decoys)]
    notes = [s.outputs[0].note for s in shields]
    owned = [anon.scan(users[k % RECEIVERS], [(k, notes[k])])[0] for k in range(BATCH)]
    shield_st = anon.Statement(reg, CONTEXT, [], [addresses])
    out("shield_prove_ms", timed(partial(anon.build_shield, addresses[0], 1000, addresses,
                                         regulator=reg, context=CONTEXT)),
        receivers=RECEIVERS)
    s_ms = timed(partial(anon.verify_transfer, shields[0], shield_st))
    out("shield_verify_ms", s_ms, receivers=RECEIVERS, verify_fuel=fuel(s_ms))
    out("shield_bytes", len(codec.encode(shields[0])), "bytes", receivers=RECEIVERS)
    scan_notes = list(enumerate(notes))
    out("scan_per_note_ms", timed(partial(anon.scan, anon.keygen(group, rng), scan_notes))
        / len(scan_notes))
    proof = anon.prove_registration(users[0], b"account", rng)
    out("register_verify_ms", timed(partial(anon.verify_registration, group, addresses[0],
                                            b"account", proof)))

    for ring_size in rings:
        shape = {"ring": ring_size, "receivers": RECEIVERS, "inputs": 1, "outputs": 2}
        items = []
        for k in range(BATCH):
            ring = [notes[k], *notes[BATCH:BATCH + ring_size - 1]]
            sets = [addresses, addresses]
            outputs = [(addresses[(k + 1) % RECEIVERS], 600),
                       (addresses[k % RECEIVERS], owned[k].amount - 610)]
            tx = anon.build_transfer([owned[k]], [ring], outputs, sets, fee=10, regulator=reg,
                                     context=CONTEXT, rng=rng)
            items.append((tx, anon.Statement(reg, CONTEXT, [ring], sets), outputs))
        tx, st, outputs = items[0]
        out("transfer_prove_ms", timed(partial(
            anon.build_transfer, [owned[0]], list(st.rings), outputs, list(st.receiver_sets),
            fee=10, regulator=reg, context=CONTEXT)), **shape)
        v_ms = timed(partial(anon.verify_transfer, tx, st))
        out("transfer_verify_ms", v_ms, verify_fuel=fuel(v_ms), **shape)
        batch_ms = timed(partial(anon.batch_verify, [(t, s) for t, s, _ in items])) / BATCH
        out("transfer_batch_verify_per_tx_ms", batch_ms, batch=BATCH,
            verify_fuel=fuel(batch_ms), **shape)
        out("transfer_bytes", len(codec.encode(tx)), "bytes", **shape)

    tx = items[0][0]
    member = regulator[0]
    shares = anon.decryption_shares(member.secret, tx, b"open", rng)
    out("shares_verify_per_tx_ms", timed(partial(anon.verify_shares,
                                                 group.base_mul(member.secret), tx, shares,
                                                 b"open")),
        ciphertexts=len(shares))


def main() -> None:
    bench("ristretto255", (RING,) if QUICK else (4, RING, 16))
    bench("sm2", (RING,))


if __name__ == "__main__":
    main()
