"""Fuel per second by operation kind: does fuel bound time?

Each kind is a Qi loop that does one operation per iteration (plain integer code, wide
integers, hashing, storage, signature checks, events, memory growth, cross-contract calls).
The figure for a kind is fuel used / wall time; a schedule is calibrated when every kind
burns fuel at about the rate of plain Wasm code, so a fuel limit is a time limit.
Times are CPU time of the running thread; each run of a kind sits between two runs of plain
code in the same process, and a kind's figure is the median over rounds of its rate
relative to theirs, so the ratios hold on a machine shared with other work.

Run: `python -m benchmarks.fuel` (or `make bench-fuel`); `--calibrate` also prints, per
host function, the base and per-byte fuel that the measured times imply at the plain rate.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.report import emit
from xinlian import codec
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import sm2, symmetric
from xinlian.crypto.signing import generate_signing_key
from xinlian.execution.confidential import ACCOUNT_PREFIX, ConfidentialAccount
from xinlian.execution.vm.engine import MAX_TX_FUEL
from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source

SRC = """
interface Peer { fn nothing() -> u64; }

contract Fuel {
    state cells: map<u64, bytes>;
    state words: map<u64, u64>;
    event Note(indexed n: u64, data: bytes);
    error Stop(at: u64);

    pub view fn int_mix(n: u64) -> u64 {
        let mut acc: u64 = 7;
        let mut i: u64 = 0;
        while i < n {
            acc = ((acc * 2654435761 % 1000000007) ^ (i << 3)) + (i >> 2);
            i += 1;
        }
        return acc;
    }
    pub view fn u128_mul(n: u64) -> u128 {
        let mut acc: u128 = 3;
        for i in 0..n { acc = acc * 3 % 85070591730234615865843651857942052727; }
        return acc;
    }
    pub view fn u256_mul(n: u64) -> u256 {
        let y: u256 = 340282366920938463463374607431768211456;
        let mut acc: u256 = 0;
        for i in 0..n { acc = y * u256(i); }
        return acc;
    }
    pub view fn u256_div(n: u64) -> u256 {
        let x: u256 = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;
        let mut acc: u256 = 0;
        for i in 0..n { acc = x / (u256(i) + 1); }
        return acc;
    }
    pub view fn u256_mod(n: u64) -> u256 {
        let x: u256 = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;
        let mut acc: u256 = 0;
        for i in 0..n { acc = x % (u256(i) + 3); }
        return acc;
    }
    pub view fn u256_add(n: u64) -> u256 {
        let mut acc: u256 = 0;
        for i in 0..n { acc = acc + 1; }
        return acc;
    }
    pub view fn sm3_loop(n: u64, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = sm3(data); }
        return h;
    }
    pub view fn sha256_loop(n: u64, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = sha256(data); }
        return h;
    }
    pub view fn keccak_loop(n: u64, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = keccak256(data); }
        return h;
    }
    pub fn write_loop(n: u64, data: bytes) {
        for i in 0..n { cells[1000 + i % 64] = data; }
    }
    pub fn fill(at: u64, n: u64, small: bytes, large: bytes) {
        for i in 0..n { cells[i] = small; cells[at + i] = large; }
    }
    pub view fn read_loop(n: u64, size: u64) -> u64 {
        let mut base: u64 = 0;
        if size > 32 { base = 64; }
        let mut t: u64 = 0;
        for i in 0..n { t += cells[base + i % 4].len() as u64; }
        return t;
    }
    pub fn emit_loop(n: u64, data: bytes) {
        for i in 0..n { emit Note(i, data); }
    }
    pub view fn grow_loop(n: u64, data: bytes) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { let b = data + data; t += b.len() as u64; }
        return t;
    }
    pub view fn sm2_loop(n: u64, pk: bytes, msg: bytes, sig: bytes) -> bool {
        let mut ok = true;
        for i in 0..n { ok = ok && sm2_verify(pk, msg, sig); }
        return ok;
    }
    pub view fn ed25519_loop(n: u64, pk: bytes, msg: bytes, sig: bytes) -> bool {
        let mut ok = true;
        for i in 0..n { ok = ok && ed25519_verify(pk, msg, sig); }
        return ok;
    }
    pub view fn mldsa_loop(n: u64, pk: bytes, msg: bytes, sig: bytes) -> bool {
        let mut ok = true;
        for i in 0..n { ok = ok && mldsa_verify(pk, msg, sig); }
        return ok;
    }
    pub view fn gcm_enc_loop(n: u64, k: bytes, iv: bytes, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = sm4_gcm_encrypt(k, iv, data, b""); }
        return h;
    }
    pub view fn gcm_dec_loop(n: u64, k: bytes, iv: bytes, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = sm4_gcm_decrypt(k, iv, data, b""); }
        return h;
    }
    pub view fn cbc_enc_loop(n: u64, k: bytes, iv: bytes, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = sm4_cbc_encrypt(k, iv, data); }
        return h;
    }
    pub view fn cbc_dec_loop(n: u64, k: bytes, iv: bytes, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = sm4_cbc_decrypt(k, iv, data); }
        return h;
    }
    pub view fn sm2_enc_loop(n: u64, pk: bytes, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = sm2_encrypt(pk, data); }
        return h;
    }
    pub view fn sm2_dec_loop(n: u64, sk: bytes, data: bytes) -> bytes {
        let mut h = data;
        for i in 0..n { h = sm2_decrypt(sk, data); }
        return h;
    }
    pub view fn sm2_id_loop(n: u64, pk: bytes, msg: bytes, sig: bytes, id: bytes) -> bool {
        let mut ok = true;
        for i in 0..n { ok = ok && sm2_verify_id(pk, msg, sig, id); }
        return ok;
    }
    pub view fn suite_loop(n: u64, pk: bytes, msg: bytes, sig: bytes) -> bool {
        let mut ok = true;
        for i in 0..n { ok = ok && verify(pk, msg, sig); }
        return ok;
    }
    pub view fn tx_loop(n: u64) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { t += tx_hash().len() as u64; }
        return t;
    }
    pub view fn call_loop(n: u64, peer: address) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { t += Peer(peer).nothing(); }
        return t;
    }
    pub view fn try_loop(n: u64) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { try { t += 1; } catch { } }
        return t;
    }
    pub view fn catch_loop(n: u64) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { try { revert Stop(i); } catch Stop(at) { t += at; } }
        return t;
    }
    pub view fn find_loop(n: u64, data: bytes) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { if data.find(hex"00").is_none() { t += 1; } }
        return t;
    }
    pub view fn utf8_loop(n: u64, data: bytes) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { t += string(data).len() as u64; }
        return t;
    }
    pub view fn wide_text_loop(n: u64) -> u64 {
        let x: u256 = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;
        let mut t: u64 = 0;
        for i in 0..n { t += (u256.parse(x.to_string()).unwrap() % 2) as u64; }
        return t;
    }
    pub view fn conf_read_loop(n: u64, a: address) -> u64 {
        let mut t: u64 = 0;
        for i in 0..n { t += conf_balance(a).unwrap().len() as u64; }
        return t;
    }
    pub view fn nothing() -> u64 { return 1; }
}
"""
CONF_ACCOUNT = bytes(19) + b"\x0c"  # a confidential account the reads find


@dataclass
class Kind:
    """One operation kind: the method and its arguments after the loop count, the host
    function it exercises, how many such calls one iteration makes and how many bytes each
    passes (two sizes of one host function give its base and per-byte cost)."""

    name: str
    method: str
    args: list[Any]
    host: str | None = None
    size: int = 0
    per_iter: int = 1


SMALL, LARGE = 32, 65536


def kinds(peer: bytes) -> list[Kind]:
    small, large = b"\x5a" * SMALL, b"\x5a" * LARGE
    sigs = {}
    for alg in (AlgId.SM2, AlgId.ED25519, AlgId.ML_DSA_65):
        key = generate_signing_key(alg, seed=bytes(32))
        sigs[alg] = [key.public_key.data, b"fuel", key.sign(b"fuel").data]
    out = [
        Kind("wasm_int", "int_mix", []),
        Kind("u256_add_inline", "u256_add", []),
        Kind("u128_mul_mod", "u128_mul", [], "big", per_iter=2),
        Kind("u256_mul", "u256_mul", [], "big"),
        Kind("u256_div", "u256_div", [], "big"),
        Kind("u256_mod", "u256_mod", [], "big"),
        Kind("memory_grow_32B", "grow_loop", [small]),
        Kind("memory_grow_64KiB", "grow_loop", [large]),
        Kind("external_call", "call_loop", [peer], "call"),
        Kind("try_block", "try_loop", [], "try", per_iter=2),  # enter, leave
        # enter, revert, catch (rolls back), the caught arguments: four host calls
        Kind("try_catch_revert", "catch_loop", []),
        # u256 to_string then parse (78 digits each way): two `text` host calls
        Kind("u256_text_round_trip", "wide_text_loop", [], "text", 82, per_iter=2),
    ]
    for alg, sig in (("sm2", sigs[AlgId.SM2]), ("ed25519", sigs[AlgId.ED25519]),
                     ("mldsa65", sigs[AlgId.ML_DSA_65])):
        out.append(Kind(f"verify_{alg}", f"{alg.removesuffix('65')}_loop", sig, "verify",
                        sum(map(len, sig)) + 12))
    for host, method, extra in (("sm3", "sm3_loop", 0), ("sha256", "sha256_loop", 0),
                                ("keccak256", "keccak_loop", 0), ("emit", "emit_loop", 12),
                                ("storage_write", "write_loop", 16)):
        for label, data in (("32B", small), ("64KiB", large)):
            out.append(Kind(f"{host}_{label}", method, [data],
                            "hash" if host in ("sm3", "sha256", "keccak256") else host,
                            len(data) + extra))
    for label, data in (("32B", small), ("64KiB", large)):  # a search that finds nothing
        out.append(Kind(f"text_find_{label}", "find_loop", [data], "text", len(data) + 9))
        out.append(Kind(f"text_utf8_{label}", "utf8_loop", [data], "text", len(data) + 4))
    for label, n in (("32B", SMALL), ("64KiB", LARGE)):  # the value read comes back
        out.append(Kind(f"storage_read_{label}", "read_loop", [n], "storage_read", n))
    return out + service_kinds(small, large)


def _enc(*values: bytes) -> int:
    """Bytes of the canonical encoding of byte strings (4-byte length each)."""
    return sum(4 + len(v) for v in values)


def service_kinds(small: bytes, large: bytes) -> list[Kind]:
    """The builtins served through `qi.service`: SM4, SM2 encryption and verification
    with a signer ID, the suite's `verify`, the transaction context, a confidential
    account's read (`conf_pay` is priced by its proofs' verification instead:
    benchmarks/privacy_conftx.py)."""
    key, iv, nonce = bytes(range(16)), bytes(16), bytes(12)
    sm2_key = sm2.SM2PrivateKey(bytes(31) + b"\x07")
    pk, sid = sm2_key.public_bytes, b"alice@example.org"
    signed = sm2_key.sign_with_id(b"fuel", sid)
    suite_key = generate_signing_key(AlgId.SM2, seed=bytes(32))
    suite_sig = [suite_key.public_key.data, b"fuel", suite_key.sign(b"fuel").data]
    out = []
    for label, data in (("32B", small), ("64KiB", large)):
        sealed = symmetric.seal(AlgId.SM4_GCM, key, nonce, data)
        cbc = symmetric.sm4_cbc_encrypt(key, iv, data)
        out += [
            Kind(f"sm4_gcm_encrypt_{label}", "gcm_enc_loop", [key, nonce, data], "service",
                 _enc(key, nonce, data, b"")),
            Kind(f"sm4_gcm_decrypt_{label}", "gcm_dec_loop", [key, nonce, sealed], "service",
                 _enc(key, nonce, sealed, b"")),
            Kind(f"sm4_cbc_encrypt_{label}", "cbc_enc_loop", [key, iv, data], "service",
                 _enc(key, iv, data)),
            Kind(f"sm4_cbc_decrypt_{label}", "cbc_dec_loop", [key, iv, cbc], "service",
                 _enc(key, iv, cbc)),
        ]
    ct = sm2.encrypt_with_seed(pk, small, b"fuel")
    return [
        *out,
        Kind("sm2_encrypt", "sm2_enc_loop", [pk, small], "service", _enc(pk, small)),
        Kind("sm2_decrypt", "sm2_dec_loop", [sm2_key.secret, ct], "service",
             _enc(sm2_key.secret, ct)),
        Kind("sm2_verify_id", "sm2_id_loop", [pk, b"fuel", signed, sid], "service",
             _enc(pk, b"fuel", signed, sid)),
        Kind("verify_suite_sm", "suite_loop", suite_sig, "service", _enc(*suite_sig)),
        Kind("tx_hash", "tx_loop", [], "service"),
        Kind("conf_balance", "conf_read_loop", [CONF_ACCOUNT], "service", 20),  # an address
    ]



def run(ch: LocalChain, addr: bytes, k: Kind, n: int) -> tuple[int, float]:
    """Fuel used and CPU time of one call doing `n` iterations. CPU time of this thread
    (which runs the Wasm code and the host functions) leaves out the time other processes
    hold the cores, so the figures hold on a shared machine."""
    t = time.thread_time()
    res = ch.engine.call(ch.world, addr, k.method, [n, *k.args], bytes(20), fuel=MAX_TX_FUEL)
    dt = time.thread_time() - t
    assert res.ok, f"{k.name}: {res.error}"
    return res.fuel_used, dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--ms", type=float, default=10.0, help="target duration of one run")
    ap.add_argument("--calibrate", action="store_true",
                    help="print the host fuel the measured times imply")
    ap.add_argument("--only", nargs="*", default=None, metavar="KIND",
                    help="measure only these kinds (plain code is always measured)")
    opts = ap.parse_args()
    ch = LocalChain()
    art = compile_source(SRC, "fuel.qi")
    addr, peer = ch.deploy(art), ch.deploy(art)
    todo = kinds(peer)
    if opts.only is not None:
        todo = [k for i, k in enumerate(todo) if i == 0 or k.name in opts.only]
    # values for the reads: keys below 64 hold 32 bytes, keys from 64 up 64 KiB
    assert ch.call(addr, "fill", 64, 4, b"\x5a" * SMALL, b"\x5a" * LARGE).ok
    # a confidential account record as the chain stores it (a key and a balance)
    ch.state[ACCOUNT_PREFIX + CONF_ACCOUNT] = codec.encode(
        ConfidentialAccount(b"\x5a" * 32, b"\x5a" * 64))
    # the call itself (n = 0) is measured and subtracted; each run is sized to about
    # `--ms` of CPU time beyond it
    base = {k.name: min(run(ch, addr, k, 0) for _ in range(20)) for k in todo}
    iters: dict[str, int] = {}
    for k in todo:
        n = 1
        while True:
            fuel, dt = min(run(ch, addr, k, n) for _ in range(3))
            dt -= base[k.name][1]
            if dt > opts.ms / 1000 / 4 or fuel * 4 > MAX_TX_FUEL or n >= 1 << 26:
                break
            n *= 4
        iters[k.name] = max(1, min(int(n * opts.ms / 1000 / max(dt, 1e-6)), n * 4))
    # every run of a kind sits between two runs of plain code, and the kind's figure is
    # the median over rounds of its rate relative to their mean: a ratio measured back to
    # back holds when the machine's speed drifts
    plain_kind = todo[0]
    fuel: dict[str, int] = {}
    ratios: dict[str, list[float]] = {k.name: [] for k in todo}
    rates: dict[str, list[float]] = {k.name: [] for k in todo}

    def rate_of(k: Kind) -> float:
        f, dt = run(ch, addr, k, iters[k.name])
        fuel[k.name] = f - base[k.name][0]
        return fuel[k.name] / max(dt - base[k.name][1], 1e-9)

    for _ in range(opts.rounds):
        for k in todo:
            before = rate_of(plain_kind)
            rate = rate_of(k)
            plain_rate = (before + rate_of(plain_kind)) / 2
            rates[k.name].append(rate)
            ratios[k.name].append(rate / plain_rate)
    ratio = {name: statistics.median(r) for name, r in ratios.items()}
    plain = statistics.median(rates[plain_kind.name])
    for k in todo:
        emit("fuel", f"fuel_per_s_{k.name}", statistics.median(rates[k.name]), "fuel/s",
             vs_plain=round(ratio[k.name], 3), fuel_per_run=fuel[k.name],
             iterations=iters[k.name], rounds=opts.rounds)
    emit("fuel", "fuel_per_ns_plain_wasm", plain / 1e9, "fuel/ns")
    slow, fast = min(ratio, key=ratio.__getitem__), max(ratio, key=ratio.__getitem__)
    emit("fuel", "fuel_per_s_spread", ratio[fast] / ratio[slow], "x", target=2.0,
         fastest=fast, slowest=slow)
    emit("fuel", "fuel_per_s_slowest_vs_plain", ratio[slow], "x", kind=slow,
         note="below 1: the kind gets more time per fuel than plain code")
    if opts.calibrate:
        calibrate(todo, iters, fuel, ratio)


def calibrate(todo: list[Kind], iters: dict[str, int], fuel: dict[str, int],
              ratio: dict[str, float]) -> None:
    """Per host call, the fuel that would bring its kind to the plain rate: what one
    call (with its share of the loop) is charged now, divided by the kind's ratio."""
    per_call: dict[str, float] = {}
    for k in todo:
        if k.host is None:
            continue
        charged = fuel[k.name] / (iters[k.name] * k.per_iter)
        per_call[k.name] = charged / ratio[k.name]
        emit("fuel", f"calibrated_fuel_per_call_{k.name}", per_call[k.name], "fuel",
             host=k.host, bytes_per_call=k.size, charged_now=round(charged))
    by_name = {k.name: k for k in todo}
    for pre in ("sm3", "sha256", "keccak256", "emit", "storage_write", "storage_read",
                "text_find", "text_utf8", "sm4_gcm_encrypt", "sm4_gcm_decrypt", "sm4_cbc_encrypt",
                "sm4_cbc_decrypt"):
        if f"{pre}_32B" not in by_name or f"{pre}_64KiB" not in by_name:
            continue  # left out with --only
        lo, hi = by_name[f"{pre}_32B"], by_name[f"{pre}_64KiB"]
        per_byte = (per_call[hi.name] - per_call[lo.name]) / (hi.size - lo.size)
        emit("fuel", f"calibrated_{pre}", per_call[lo.name] - per_byte * lo.size, "fuel",
             per_byte=round(per_byte, 2))


if __name__ == "__main__":
    main()
