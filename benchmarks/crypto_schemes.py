"""Threshold BLS, certificates, threshold SM2, ring signatures and PRE (vs pyUmbral).

Run: `python -m benchmarks.crypto_schemes` (add `--quick` for a short smoke run). The
pyUmbral peer needs cryptography~=3.0, so it runs in `.venv-umbral` through a subprocess in
the same run; when that venv is missing its figures are skipped and a line says so.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import blspy
import nacl.signing
import py_arkworks_bls12381 as ark

from benchmarks.report import best_of, emit
from xinlian import codec
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import sm2
from xinlian.crypto.primitives.groups import ED25519, SM2, Group
from xinlian.crypto.privacy import pre, ring
from xinlian.crypto.signing import generate_signing_key
from xinlian.crypto.threshold import tbls, tsm2
from xinlian.crypto.threshold.tsm2.core import Keygen, Presign
from xinlian.testing.mpc.tsm2_committee import Committee

QUICK = "--quick" in sys.argv
ROOT = Path(__file__).resolve().parent.parent
UMBRAL_PYTHON = ROOT / ".venv-umbral" / "bin" / "python"


def per_op(fn: Callable[[], Any], repeats: int) -> float:
    """Fastest seconds per call over `repeats` calls after one warm-up.

    The minimum, not the median: the machine is shared with other work, and interference
    only ever adds time.
    """
    fn()
    return best_of(repeats, fn)


def rng_of(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


# --- threshold BLS ---------------------------------------------------------------------------


def bench_tbls_primitives() -> None:
    """The two BLS12-381 bindings side by side for the partial-signature operations."""
    sk = blspy.PopSchemeMPL.key_gen(bytes(range(32)))
    msg = b"block digest " * 3
    scalar = ark.Scalar.from_be_bytes(bytes(sk))
    dst = tbls.Scheme.POP.dst
    sig = blspy.PopSchemeMPL.sign(sk, msg)
    pk = sk.get_g1()
    ark_pk, ark_sig = (
        ark.G1Point.from_compressed_bytes(bytes(pk)),
        ark.G2Point.from_compressed_bytes(bytes(sig)),
    )
    reps = 20 if QUICK else 100
    emit(
        "tbls",
        "partial_sign",
        per_op(lambda: blspy.PopSchemeMPL.sign(sk, msg), reps) * 1e6,
        "us",
        lib="blspy",
    )
    emit(
        "tbls",
        "partial_sign",
        per_op(lambda: ark.G2Point.hash_to_curve(msg, dst) * scalar, reps) * 1e6,
        "us",
        lib="py-arkworks-bls12381",
    )
    emit(
        "tbls",
        "partial_verify",
        per_op(lambda: blspy.PopSchemeMPL.verify(pk, msg, sig), reps) * 1e6,
        "us",
        lib="blspy",
    )
    emit(
        "tbls",
        "partial_verify",
        per_op(
            lambda: ark.GT.pairing_check(
                [-ark.G1Point(), ark_pk], [ark_sig, ark.G2Point.hash_to_curve(msg, dst)]
            ),
            reps,
        )
        * 1e6,
        "us",
        lib="py-arkworks-bls12381",
    )


class AggregateCert(codec.Struct):
    signature: bytes
    signers: bytes  # bitmap


class ListCert(codec.Struct):
    signatures: list[tuple[int, bytes]]


class ThresholdCert(codec.Struct):
    signature: bytes


def bench_certificates() -> None:
    """Constant-size threshold certificates against certificates carrying n signatures."""
    for n in (4, 16) if QUICK else (4, 16, 64, 100):
        _certificates_for(n)


def _certificates_for(n: int) -> None:
    msg = b"\x11" * 32  # a block digest
    t = 2 * n // 3 + 1
    keys, shares = tbls.deal(n, t, tbls.seeded(b"bench-%d" % n))
    partials = [tbls.sign_share(s, msg) for s in shares]
    combined = tbls.combine(keys, msg, partials[:t]).signature
    reps = 5 if QUICK else 20
    emit(
        "certificate",
        "tbls_combine",
        per_op(lambda: tbls.combine(keys, msg, partials[:t]), reps) * 1e3,
        "ms",
        n=n,
        t=t,
        note="optimistic: interpolate t partials, verify once",
    )
    emit(
        "certificate",
        "tbls_verify_partials",
        per_op(lambda: [tbls.verify_share(keys, msg, p) for p in partials[:t]], 5) * 1e3,
        "ms",
        n=n,
        t=t,
        note="aggregator's cost when it checks every partial (pessimistic path)",
    )
    cert = ThresholdCert(signature=combined)
    emit("certificate", "size", len(codec.encode(cert)), "bytes", n=n, kind="threshold-bls")
    emit(
        "certificate",
        "verify",
        per_op(lambda: tbls.verify(keys.group_key, msg, cert.signature), reps) * 1e3,
        "ms",
        n=n,
        kind="threshold-bls",
    )

    # BLS multi-signature with proof-of-possession keys: one aggregate + signer bitmap
    sks = [blspy.PopSchemeMPL.key_gen(bytes([i % 256, n]) * 16) for i in range(n)]
    pks = [sk.get_g1() for sk in sks]
    sigs = [blspy.PopSchemeMPL.sign(sk, msg) for sk in sks[:t]]
    agg = AggregateCert(
        signature=bytes(blspy.PopSchemeMPL.aggregate(sigs)), signers=bytes((n + 7) // 8)
    )
    emit("certificate", "size", len(codec.encode(agg)), "bytes", n=n, kind="bls-aggregate")

    def verify_agg() -> bool:
        sig = blspy.G2Element.from_bytes(agg.signature)
        return bool(blspy.PopSchemeMPL.fast_aggregate_verify(pks[:t], msg, sig))

    assert verify_agg()
    emit(
        "certificate",
        "verify",
        per_op(verify_agg, reps) * 1e3,
        "ms",
        n=n,
        kind="bls-aggregate",
        note="fast_aggregate_verify over t keys",
    )

    eds = [nacl.signing.SigningKey(bytes([i % 256, n]) * 16) for i in range(n)]
    vks = [k.verify_key for k in eds]
    lst = ListCert(signatures=[(i, eds[i].sign(msg).signature) for i in range(t)])
    emit("certificate", "size", len(codec.encode(lst)), "bytes", n=n, kind="ed25519-list")

    def verify_list() -> None:
        for i, s in lst.signatures:
            vks[i].verify(msg, s)

    emit(
        "certificate",
        "verify",
        per_op(verify_list, reps) * 1e3,
        "ms",
        n=n,
        kind="ed25519-list",
        note="t PyNaCl verifications, one core",
    )


# --- ring signatures -------------------------------------------------------------------------


def bench_ring() -> None:
    sizes = (16,) if QUICK else (16, 64, 256)
    for n in sizes:
        _ring_for(ED25519, n)
    for n in sizes[:2]:
        _ring_for(SM2, n)


def _ring_for(group: Group, n: int) -> None:
    rng = rng_of(n)
    xs = [group.random_scalar(rng) for _ in range(n)]
    keys = [group.base_mul(x) for x in xs]
    signer = xs[n // 2]
    opener = group.base_mul(group.random_scalar(rng))
    reps = 1 if QUICK else 2 if n >= 256 else 5
    for kind, y in (("linkable", None), ("accountable", opener)):
        sig = ring.sign(b"m", b"ctx", keys, signer, opener_key=y, rng=os.urandom)
        sign_s = per_op(partial(ring.sign, b"m", b"ctx", keys, signer, opener_key=y,
                                rng=os.urandom), reps)
        verify_s = per_op(partial(ring.verify, sig, b"m", keys, opener_key=y), reps)
        tags = {"group": group.name, "n": n, "kind": kind}
        emit("ring", "sign", sign_s * 1e3, "ms", **tags)
        emit("ring", "verify", verify_s * 1e3, "ms", **tags)
        emit("ring", "size", len(codec.encode(sig)), "bytes", **tags)
    traced = ring.sign_traceable(b"m", b"ctx", keys, signer, os.urandom)
    tags = {"group": group.name, "n": n, "kind": "traceable"}
    sign_s = per_op(partial(ring.sign_traceable, b"m", b"ctx", keys, signer, os.urandom), reps)
    verify_s = per_op(partial(ring.verify_traceable, traced, b"m", keys), reps)
    emit("ring", "sign", sign_s * 1e3, "ms", **tags)
    emit("ring", "verify", verify_s * 1e3, "ms", **tags)
    emit("ring", "size", len(codec.encode(traced)), "bytes", **tags)


# --- proxy re-encryption ---------------------------------------------------------------------

PRE_M, PRE_N, PRE_DATA = 3, 5, 1024

UMBRAL_PEER = r"""
import json, sys, time
from umbral import SecretKey, Signer, encrypt, generate_kfrags, reencrypt, decrypt_reencrypted
M, N, SIZE, REPS = (int(a) for a in sys.argv[1:5])
def per_op(fn, reps):
    fn(); xs = []
    for _ in range(reps):
        s = time.perf_counter(); fn(); xs.append(time.perf_counter() - s)
    return min(xs)
alice, bob, sk = SecretKey.random(), SecretKey.random(), SecretKey.random()
signer = Signer(sk)
apk, bpk, vpk = alice.public_key(), bob.public_key(), sk.public_key()
data = bytes(SIZE)
capsule, ct = encrypt(apk, data)
kfrags = generate_kfrags(alice, bpk, signer, M, N)
raw = [k.kfrag for k in kfrags]
cfrags = [reencrypt(capsule, k) for k in kfrags[:M]]
plain = [c.cfrag for c in cfrags]
def decrypt():
    verified = [c.verify(capsule, vpk, apk, bpk) for c in plain]
    return decrypt_reencrypted(bob, apk, capsule, verified, ct)
assert decrypt() == data
out = {
  "encrypt": per_op(lambda: encrypt(apk, data), REPS),
  "rekey": per_op(lambda: generate_kfrags(alice, bpk, signer, M, N), REPS),
  "kfrag_verify": per_op(lambda: raw[0].verify(vpk, apk, bpk), REPS),
  "reencrypt": per_op(lambda: reencrypt(capsule, kfrags[0]), REPS),
  "decrypt": per_op(decrypt, REPS),
}
print(json.dumps(out))
"""


def umbral_peer(reps: int) -> dict[str, float] | None:
    if not UMBRAL_PYTHON.exists():
        return None
    args = [str(UMBRAL_PYTHON), "-c", UMBRAL_PEER, str(PRE_M), str(PRE_N), str(PRE_DATA), str(reps)]
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def bench_pre() -> None:
    reps = 5 if QUICK else 30
    peer = umbral_peer(reps)
    if peer is None:
        emit("pre", "peer_missing", 0, "", note="create .venv-umbral (umbral==0.3.0) for the peer")
    _pre_for("intl", AlgId.ED25519, reps, peer)
    _pre_for("sm", AlgId.SM2, reps, None)
    if peer is not None:
        for op, seconds in peer.items():
            emit(
                "pre", op, seconds * 1e3, "ms", lib="umbral-0.3.0", m=PRE_M, n=PRE_N, bytes=PRE_DATA
            )


def _pre_for(suite: str, sig_alg: AlgId, reps: int, peer: dict[str, float] | None) -> None:
    data = bytes(PRE_DATA)
    group = pre.get_suite(suite).group
    alice, bob = group.random_scalar(rng_of(1)), group.random_scalar(rng_of(2))
    apk, bpk = group.base_mul(alice), group.base_mul(bob)
    signer = generate_signing_key(sig_alg, seed=b"\x01" * 32)
    vk = signer.public_key
    ct = pre.encrypt(suite, apk, data, os.urandom)
    kfrags = pre.generate_kfrags(suite, alice, bpk, signer, PRE_M, PRE_N, os.urandom)
    frags = [pre.reencrypt(k, ct, apk, bpk, vk, os.urandom) for k in kfrags[:PRE_M]]
    assert pre.decrypt_reencrypted(bob, apk, vk, ct, frags, PRE_M) == data
    ours = {
        "encrypt": per_op(partial(pre.encrypt, suite, apk, data, os.urandom), reps),
        "rekey": per_op(
            partial(pre.generate_kfrags, suite, alice, bpk, signer, PRE_M, PRE_N, os.urandom),
            reps,
        ),
        "reencrypt": per_op(
            partial(pre.reencrypt, kfrags[0], ct, apk, bpk, vk, os.urandom), reps
        ),
        "decrypt": per_op(partial(pre.decrypt_reencrypted, bob, apk, vk, ct, frags, PRE_M), reps),
    }
    for op, seconds in ours.items():
        extra: dict[str, Any] = {"suite": suite, "m": PRE_M, "n": PRE_N, "bytes": PRE_DATA}
        if peer is not None:
            # our re-encryption checks the kfrag signature every time; Umbral's does it once
            peer_s = peer[op] + (peer["kfrag_verify"] if op == "reencrypt" else 0.0)
            extra |= {
                "umbral_ms": round(peer_s * 1e3, 3),
                "ratio_vs_umbral": round(seconds / peer_s, 2),
            }
        emit("pre", op, seconds * 1e3, "ms", **extra)
    emit("pre", "reencrypted_size", len(codec.encode(frags[0])), "bytes", suite=suite)


# --- threshold SM2 ---------------------------------------------------------------------------


def bench_tsm2() -> None:
    key = sm2.SM2PrivateKey(bytes(31) + b"\x07")
    emit(
        "tsm2",
        "single_key_sign",
        per_op(partial(key.sign, b"m"), 50) * 1e3,
        "ms",
        lib="tongsuopy",
        note="reference: one ordinary SM2 signature",
    )
    for n, t in ((5, 3),) if QUICK else ((5, 3), (16, 8)):
        _tsm2_for(n, t)


def _tsm2_for(n: int, t: int) -> None:
    """The members' cores in one simulation without latency: wall time = every member's
    computation, the consistent broadcast's signatures and echoes included."""
    members = list(range(1, n + 1))
    c = Committee(members, t, seed=1, latency_ms=0.0)
    start = time.perf_counter()
    c.run(Keygen(b"bench"))
    keygen_s = time.perf_counter() - start
    keyset = c.keysets()[1]
    tags = {"n": n, "t": t, "note": "all n members' cores in one simulation, broadcast "
            "included; per party = total / n"}
    emit("tsm2", "keygen_total", keygen_s, "s", **tags)
    batch = 4
    start = time.perf_counter()
    c.run(Presign(batch, b"bench-presign"))
    presign_s = (time.perf_counter() - start) / batch
    presigs = c.presignatures(1)
    emit("tsm2", "presign_per_nonce_total", presign_s, "s", batch=batch, **tags)
    # bytes one party sends while presigning one batch (dealing broadcast + private shares)
    probe = Committee(members, t, seed=2, latency_ms=0.0)
    probe.run(Keygen(b"probe"))
    dealing, privates = probe.parties[0].presign_deal(b"probe-presign", 1, members)
    sent = len(codec.encode(dealing)) + sum(len(codec.encode(m)) for m in privates)
    emit(
        "tsm2",
        "presign_deal_bytes_per_party",
        sent,
        "bytes",
        n=n,
        t=t,
        note="first round; the multiplication round sends the same plus one proof per nonce",
    )
    parties = c.parties
    signers = parties[:t]
    presig = presigs[0]
    partials, times = [], []
    for p in signers:  # each presignature signs once per party: time each party once
        start = time.perf_counter()
        partials.append(p.sign(presig.id, b"block 1"))
        times.append(time.perf_counter() - start)
    partial_s = sorted(times)[len(times) // 2]
    combine_s = per_op(partial(tsm2.combine, keyset, presig, b"block 1", partials), 20)
    signed = tsm2.combine(keyset, presig, b"block 1", partials)
    assert sm2.verify(keyset.public_key, b"block 1", signed.signature)
    emit("tsm2", "sign_partial", partial_s * 1e3, "ms", n=n, t=t, note="one party, online")
    emit(
        "tsm2",
        "sign_combine",
        combine_s * 1e3,
        "ms",
        n=n,
        t=t,
        note="optimistic: interpolate t partials, verify the SM2 signature once",
    )
    emit(
        "tsm2",
        "sign_online",
        (partial_s + combine_s) * 1e3,
        "ms",
        n=n,
        t=t,
        note="partials run in parallel at the signers, so online = one partial + combine",
    )


def main() -> None:
    emit("crypto_schemes", "start", time.time(), "s", quick=QUICK, pid=os.getpid())
    bench_tbls_primitives()
    bench_certificates()
    bench_ring()
    bench_pre()
    bench_tsm2()


if __name__ == "__main__":
    main()
