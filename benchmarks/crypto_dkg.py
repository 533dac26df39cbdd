"""DKG, refresh, FROST and ROAST at n = 16, 64, 100, 200 with t = 2n/3 + 1.

    python -m benchmarks.crypto_dkg [--sizes 16,64,100,200] [--groups ed25519,secp256k1,sm2]
                                     [--roast-groups secp256k1[,ed25519]]

Per-party DKG and refresh costs are measured on real parties: every dealer deals (timed),
then one receiver processes all n deals and the n - 1 (empty) complaint messages the
others broadcast, and finishes (timed). All parties do the same work, so this is the
per-party CPU cost without simulating n copies of it in one process. ROAST runs its cores
in the simulator (`xinlian.testing.mpc.roast_run`) with measured CPU per step: its
completion time is what n machines in parallel would see with zero network latency,
`cpu_total` is this process's time for all parties. Peer anchor: the ROAST paper's
Python prototype, 67-of-100, 0.7 s uncoordinated and 7 s under a coordinated attack.
"""

from __future__ import annotations

import argparse
import random
import time

from benchmarks.report import best_of, emit, percentile
from xinlian import codec
from xinlian.crypto.primitives.groups import Group, get_group
from xinlian.crypto.threshold import dkg, frost
from xinlian.crypto.threshold.dkg import Complaints, DkgConfig, DkgParty, KeyShare
from xinlian.testing.mpc import roast_run


def _threshold(n: int) -> int:
    return 2 * n // 3 + 1


def _parties(cfg: DkgConfig, secrets: dict, shares: dict | None, seed: int) -> dict:
    return {i: DkgParty(cfg, i, secrets[i], (shares or {}).get(i),
                        rng=random.Random(seed + i).randbytes) for i in cfg.receivers}


def _one_party_run(cfg: DkgConfig, secrets: dict, shares: dict | None, seed: int
                   ) -> tuple[float, float, int, dkg.DkgResult]:
    """(seconds per deal, seconds for one receiver to finish, bytes per party, result)."""
    parties = _parties(cfg, secrets, shares, seed)
    deals: dict[int, bytes] = {}
    start = time.perf_counter()
    for i in cfg.dealers:
        (deals[i],) = parties[i].start()
    per_deal = (time.perf_counter() - start) / len(cfg.dealers)
    me = cfg.receivers[0]
    party = parties[me]
    acks = {i: codec.encode(Complaints(cfg.session, i, 2, [])) for i in cfg.receivers}
    start = time.perf_counter()
    for i in cfg.dealers:
        if i != me:
            party.receive(i, deals[i])
    for i in cfg.receivers:
        if i != me:
            party.receive(i, acks[i])
    elapsed = time.perf_counter() - start
    assert party.result is not None, party.error
    sent = len(deals[me]) + len(acks[me])
    return per_deal, elapsed, sent, party.result


def bench_dkg(g: Group, n: int) -> dict[int, KeyShare]:
    t = _threshold(n)
    ids = list(range(1, n + 1))
    rng = random.Random(n).randbytes
    secrets = {i: g.random_scalar(rng) for i in ids}
    pubs = {i: g.base_mul(s) for i, s in secrets.items()}
    cfg = DkgConfig.keygen(g, b"bench-keygen", ids, t, pubs)
    per_deal, process, sent, result = _one_party_run(cfg, secrets, None, 1)
    extra = {"group": g.name, "n": n, "t": t}
    emit("crypto_dkg", "dkg_deal", per_deal, "s", **extra)
    emit("crypto_dkg", "dkg_process_per_party", process, "s", **extra)
    emit("crypto_dkg", "dkg_per_party", per_deal + process, "s", **extra)
    emit("crypto_dkg", "dkg_bytes_per_party", sent, "B", **extra)
    # the key material for the refresh and signing benchmarks: a trusted-dealer sharing of
    # the same shape (its cost is not what is measured here)
    assert result.public.threshold == t
    keys = frost.share_secret(g, g.random_scalar(rng), t, ids, rng)
    k = {s.identifier: s for s in keys}
    cfg_r = DkgConfig.refresh(keys[0].public, b"bench-refresh", pubs)
    per_deal, process, sent, result = _one_party_run(cfg_r, secrets, k, 2)
    assert result.public.group_public_key == keys[0].public.group_public_key
    emit("crypto_dkg", "refresh_per_party", per_deal + process, "s", **extra)
    emit("crypto_dkg", "refresh_bytes_per_party", sent, "B", **extra)
    return k


def bench_frost(keys: dict[int, KeyShare], n: int) -> None:
    t = _threshold(n)
    signers = [keys[i] for i in sorted(keys)[:t]]
    suite = frost.suite_for(signers[0].group)
    rng = random.Random(5).randbytes
    extra = {"group": suite.group.name, "n": n, "t": t}
    start = time.perf_counter()
    nonces = {k.identifier: frost.commit(k, rng) for k in signers}
    emit("crypto_dkg", "frost_round1_per_signer", (time.perf_counter() - start) / t, "s",
         **extra)
    commitments = tuple(nonces[k.identifier].commitments for k in signers)
    public = signers[0].public
    msg = b"checkpoint"
    shares = {}
    times = []
    for k in signers:  # each signer computes the package (binding factors, R) itself
        start = time.perf_counter()
        package = frost.SigningPackage(suite, public.group_public_key, msg, commitments)
        shares[k.identifier] = frost.sign(k, nonces[k.identifier], package)
        times.append(time.perf_counter() - start)
    emit("crypto_dkg", "frost_round2_per_signer", percentile(times, 50), "s", **extra)

    def coordinate() -> frost.Signature:
        agg_package = frost.SigningPackage(suite, public.group_public_key, msg, commitments)
        return frost.aggregate(agg_package, shares, public)

    emit("crypto_dkg", "frost_aggregate_verified", best_of(3, coordinate), "s", **extra)
    assert frost.verify(suite, public.group_public_key, msg, coordinate())


def bench_roast(keys: dict[int, KeyShare], n: int) -> None:
    t = _threshold(n)
    ks = [keys[i] for i in sorted(keys)]
    g = ks[0].group
    bad = range(1, n - t + 1)
    scenarios: list[tuple[str, dict, bool]] = [
        ("honest", {}, False),
        ("silent_uncoordinated", dict.fromkeys(bad, "silent"), False),
        ("invalid_uncoordinated", dict.fromkeys(bad, "invalid"), False),
        ("silent_coordinated", dict.fromkeys(bad, "silent"), True),
    ]
    for name, behaviours, coordinated in scenarios:
        res = roast_run.simulate(ks, b"checkpoint", behaviours=behaviours,
                                 coordinated=coordinated, seed=n)
        assert res.signature is not None, res.error
        extra = {"group": g.name, "n": n, "t": t, "scenario": name,
                 "sessions": res.sessions_started, "cpu_total_s": round(res.cpu_total, 3),
                 "cpu_coordinator_s": round(res.cpu_coordinator, 3),
                 "messages": res.messages, "bytes": res.bytes}
        if n == 100 and name in ("silent_uncoordinated", "silent_coordinated"):
            extra["peer"] = "ROAST paper Python prototype, 67-of-100"
            extra["peer_value_s"] = 0.7 if name == "silent_uncoordinated" else 7.0
        emit("crypto_dkg", "roast_completion", res.completion_time, "s", **extra)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16,64,100,200")
    ap.add_argument("--groups", default="ed25519,secp256k1,sm2")
    ap.add_argument("--roast-groups", default="secp256k1")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    roast_groups = set(args.roast_groups.split(","))
    for name in args.groups.split(","):
        g = get_group(name)
        for n in sizes:
            keys = bench_dkg(g, n)
            if name in frost.CIPHERSUITES:
                bench_frost(keys, n)
                if name in roast_groups:
                    bench_roast(keys, n)


if __name__ == "__main__":
    main()
