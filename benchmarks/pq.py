"""The post-quantum algorithm table: per algorithm and implementation, one JSON line with
`sign_verify_us` (signatures), `enc_dec_us` (KEM + AEAD encryption, 32-byte plaintext) or
`exchange_us` (the handshake's hybrid exchange), the sizes, the ciphertext expansion at 32 B,
1 KiB and 64 KiB, `ratio_to_1ms` and the indicators it meets or fails.

Run: `make bench-pq` or
`python -m benchmarks.pq [--budget SECONDS] [--only table|migration|handshake]`.
Times are CPU time per operation (wall time alongside): the development machine is shared.
The classical signatures SM2 and Ed25519 are measured in the same run as the peer the
hybrids add to.

Migration (`commit_p50_ms` per phase): the live move of a 4-validator `intl` chain to `pq`
accounts in the whole-validator simulation (xinlian.testing.pq_migration, seed 41): the
median of first-sent to first-committed per transfer, in simulated milliseconds, for the
transfers of the blocks before H, in the window and after it; each line also has the
simulation's process CPU time per committed transfer of that phase (the real signing,
verification and execution work) and the load average. The same move on 4 real validator
processes (`xinlian pq demo`, xinlian.cli.pq_demo) gives `round_commit_p50_ms` per phase:
the wall time from submitting a round of 16 transfers to its last receipt, closed loop.

Handshake (`handshake_us` per suite): the node handshake (xinlian.network.handshake, both
sides in one process, no sockets), CPU time for both sides' work together, and its bytes on
the wire; once with membership certificates (each side checks the other's: one more
signature verification per side, and the certificates travel) and once without, in the
same run, so the certificates' cost is the difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.report import emit
from xinlian import codec
from xinlian.cli.pq_demo import run_cluster_migration
from xinlian.crypto import signing
from xinlian.crypto.keys import AlgId
from xinlian.crypto.pq_params import MAX_OPERATION_US
from xinlian.crypto.pq_table import MESSAGE, measure
from xinlian.crypto.suites import SUITES, Suite
from xinlian.ledger.migration import Phase, get_phase
from xinlian.ledger.transaction import SignedTransaction
from xinlian.network import handshake as hs
from xinlian.network import identity as idn
from xinlian.network.membership import Membership, PeerInfo, node_id_of
from xinlian.testing.pq_migration import run_migration

METRIC = {"signature": "sign_verify_us", "encryption": "enc_dec_us",
          "key_exchange": "exchange_us"}


def classical_peer(alg: AlgId, budget: float) -> None:
    key = signing.generate_signing_key(alg)
    calls, start = 0, time.process_time()
    while calls < 3 or time.process_time() - start < budget:
        assert signing.verify(key.public_key, MESSAGE, key.sign(MESSAGE))
        calls += 1
    us = (time.process_time() - start) / calls * 1e6
    emit("pq", "sign_verify_us", us, "us", algorithm=alg.name, use="signature",
         implementation="classical peer", quantum_bits=0,
         public_key_bytes=len(key.public_key.data), signature_bytes=64,
         ratio_to_1ms=round(us / MAX_OPERATION_US, 3), clock="cpu")


def migration() -> None:
    run = run_migration(41)
    try:
        chain, schedule = run.chain, run.schedule
        hash_bytes = run.net.genesis.crypto_suite().hash_bytes
        latencies: dict[Phase, list[int]] = {}
        for height in range(1, chain.height + 1):
            block = chain.block(height)
            assert block is not None
            for raw in block.txs:
                sent = run.sent_ms.get(hash_bytes(codec.decode(raw, SignedTransaction).body))
                if sent is not None:  # a transfer of the load (not a setup transaction)
                    latencies.setdefault(get_phase(schedule, height), []).append(
                        run.committed_ms[height] - sent)
        load = os.getloadavg()[0]
        for phase, values in latencies.items():
            emit("pq", "commit_p50_ms", statistics.median(values), "ms (simulated)",
                 phase=phase.value, transfers=len(values), validators=4,
                 cpu_ms_per_transfer=round(run.cpu_s.get(phase, 0.0) * 1e3 / len(values), 3),
                 window=schedule.window, load_average=round(load, 2), clock="simulated")
    finally:
        run.close()


def cluster_migration() -> None:
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-pq-") as root:
        run = run_cluster_migration(Path(root), done_rounds=10)
    load = os.getloadavg()[0]
    for phase in Phase:
        rounds = [r for r in run.rounds if r.phase == phase.value]
        if rounds:
            emit("pq", "round_commit_p50_ms",
                 statistics.median(r.commit_s for r in rounds) * 1e3, "ms", phase=phase.value,
                 rounds=len(rounds), transfers_per_round=rounds[0].transfers, validators=4,
                 processes=True, window=run.window, load_average=round(load, 2), clock="wall")


def _identities(suite: Suite, nodes: list[signing.SigningKey]) -> list[hs.Identity]:
    admin = suite.generate_signing_key(b"\x0a" * 32)
    policy = idn.IdentityPolicy(suite, "bench", {"org0": (admin.public_key,)})
    return [hs.Identity(idn.issue_certificate(
        admin, chain_id="bench", organisation="org0", role="validator",
        subject=node.public_key, serial=i, not_before_ms=0, not_after_ms=2**62), policy)
        for i, node in enumerate(nodes)]


def handshake(suite: Suite, budget: float, certified: bool) -> None:
    """Both sides of complete handshakes, back to back, until `budget` CPU seconds."""
    nodes = [suite.generate_signing_key(bytes([i]) * 32) for i in range(2)]
    members = Membership(suite, [PeerInfo(k.public_key, "127.0.0.1", 0, "org0")
                                 for k in nodes])
    ids: list[hs.Identity | None] = [*_identities(suite, nodes)] if certified else [None, None]
    target = nodes[1].public_key
    peer = node_id_of(suite, target)
    calls, wire, start = 0, 0, time.process_time()
    while calls < 3 or time.process_time() - start < budget:
        ini = hs.Initiator(suite, nodes[0], peer, target, identity=ids[0], now_ms=1,
                           peer_organisation="org0")
        res = hs.Responder(suite, nodes[1], members, identity=ids[1], now_ms=1)
        hello = ini.hello()
        reply = res.reply(hello)
        finish, session = ini.finish(reply)
        assert res.finish(finish).session_id == session.session_id
        wire = len(hello) + len(reply) + len(finish)
        calls += 1
    us = (time.process_time() - start) / calls * 1e6
    emit("pq", "handshake_us", us, "us", suite=suite.name, certificates=certified,
         signature=suite.signature.name, key_exchange=suite.key_exchange.name,
         wire_bytes=wire, clock="cpu")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=1.0,
                        help="CPU seconds spent timing each row")
    parser.add_argument("--only", choices=("table", "migration", "handshake"),
                        help="run only one part (default: all)")
    args = parser.parse_args()
    if args.only in (None, "migration"):
        migration()
        cluster_migration()
    if args.only in (None, "handshake"):
        for suite in SUITES.values():
            for certified in (False, True):
                handshake(suite, args.budget, certified)
    if args.only not in (None, "table"):
        return
    for alg in (AlgId.SM2, AlgId.ED25519):
        classical_peer(alg, args.budget)
    for row in measure(args.budget):
        metric = METRIC[row["use"]]
        if row.get("implementation") is None:
            emit("pq", "unavailable", 0, "", **row)
            continue
        emit("pq", metric, row[metric], "us", clock="cpu", **row)


if __name__ == "__main__":
    main()
