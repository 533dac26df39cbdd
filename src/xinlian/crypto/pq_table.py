"""The measured post-quantum table: each catalogue algorithm (`pq_params`) timed through
the bindings installed here, with its sizes taken from real keys, signatures and
ciphertexts, and its four indicators.

Used by `xinlian pq table` and `benchmarks/pq.py`. Times are CPU time per operation
(`time.process_time`), which a machine loaded by other work inflates less than wall time;
wall time is reported next to it. Implementations: fast-mldsa (the platform's ML-DSA) and
PQClean through pqcrypto (ML-DSA, ML-KEM, SLH-DSA); Falcon through liboqs (liboqs-python),
only where the liboqs C library is installed (`oqs_available`); the composites, hybrid
encryption and hybrid exchanges through the platform's own recipes.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import fast_mldsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from xinlian.crypto import encryption, signing
from xinlian.crypto.hashes import hkdf
from xinlian.crypto.key_exchange import Parties, new_key_exchange
from xinlian.crypto.keys import AlgId
from xinlian.crypto.pq_params import (
    ALGORITHMS,
    MAX_EXPANSION,
    MAX_OPERATION_US,
    MAX_SIGNATURE,
    MIN_QUANTUM_BITS,
    PLAINTEXT_SIZES,
    Algorithm,
)

MESSAGE = bytes(range(32))  # what a signature row signs: a 32-byte digest


@dataclass(frozen=True, slots=True)
class Ops:
    """One implementation of one algorithm, its keys made: `run` is one sign+verify,
    encrypt+decrypt (of `plaintext`) or key exchange, returning the bytes it produced
    (signature, ciphertext or both shares)."""

    implementation: str
    public_key: int
    run: Callable[[bytes], int]


def oqs_available() -> ModuleType | None:
    """liboqs-python, if the liboqs C library is installed under $OQS_INSTALL_PATH, the
    venv (`make liboqs`) or ~/_oqs. Without it the binding would try to download and build
    liboqs on import, so it is not imported at all."""
    roots = [Path(p) for p in (os.environ.get("OQS_INSTALL_PATH"), sys.prefix) if p]
    for root in [*roots, Path.home() / "_oqs"]:
        if any((root / d / "liboqs.so").exists() for d in ("lib", "lib64")):
            # the binding looks where this variable says (or in ~/_oqs)
            os.environ["OQS_INSTALL_PATH"] = str(root)
            try:  # its import logs a line to stdout, which would break JSON-line output
                with contextlib.redirect_stdout(io.StringIO()):
                    return importlib.import_module("oqs")
            except (ImportError, RuntimeError, SystemExit):
                return None
    return None


def _fast_mldsa(level: int) -> Ops:
    vk, sk = getattr(fast_mldsa, f"MlDsa{level}").key_gen()

    def run(_: bytes) -> int:
        sig = sk.sign(MESSAGE)
        assert vk.verify(sig, MESSAGE)
        return len(sig)

    return Ops("fast-mldsa", len(vk.to_bytes()), run)


def _pqclean_sign(module: str) -> Ops:
    alg: Any = importlib.import_module(f"pqcrypto.sign.{module}")
    pk, sk = alg.keygen()

    def run(_: bytes) -> int:
        sig = alg.sign(sk, MESSAGE)
        alg.verify(pk, MESSAGE, sig)  # raises on a bad signature
        return len(sig)

    return Ops("pqcrypto (PQClean)", len(pk), run)


def _oqs_sign(name: str) -> Ops | None:
    oqs = oqs_available()
    if oqs is None:
        return None
    signer = oqs.Signature(name)
    pk = signer.generate_keypair()
    verifier = oqs.Signature(name)

    def run(_: bytes) -> int:
        sig = signer.sign(MESSAGE)
        assert verifier.verify(MESSAGE, sig, pk)
        return len(sig)

    return Ops("liboqs", len(pk), run)


def _composite(alg: AlgId) -> Ops:
    key = signing.generate_signing_key(alg)

    def run(_: bytes) -> int:
        sig = key.sign(MESSAGE)
        assert signing.verify(key.public_key, MESSAGE, sig)
        return len(sig.data)

    return Ops("xinlian composite (fast-mldsa + Tongsuo/PyNaCl)", len(key.public_key.data), run)


def _kem_aead(module: str) -> Ops:
    """ML-KEM + HKDF-SHA256 + AES-256-GCM, the `pq` suite's construction at another level."""
    kem: Any = importlib.import_module(f"pqcrypto.kem.{module}")
    pk, sk = kem.keygen()
    nonce = bytes(12)

    def key_of(secret: bytes, ct: bytes) -> bytes:
        return hkdf(AlgId.SHA256, bytes(secret) + bytes(ct), salt=b"", info=b"pq-table",
                    length=32)

    def run(plaintext: bytes) -> int:
        ct, secret = kem.encaps(pk)
        sealed = AESGCM(key_of(secret, ct)).encrypt(nonce, plaintext, b"")
        opened = AESGCM(key_of(kem.decaps(sk, ct), ct)).decrypt(nonce, sealed, b"")
        assert opened == plaintext
        return len(ct) + len(sealed)

    return Ops("pqcrypto (PQClean) + AES-256-GCM", len(pk), run)


def _platform_encryption(alg: AlgId) -> Ops:
    key = encryption.DecryptionKey.generate(alg)

    def run(plaintext: bytes) -> int:
        ct = encryption.encrypt(key.public_key, plaintext)
        assert key.decrypt(ct) == plaintext
        return len(ct.data)

    return Ops("xinlian encryption", len(key.public_key.data), run)


def _exchange(alg: AlgId, signature: AlgId) -> Ops:
    a, b = signing.generate_signing_key(signature), signing.generate_signing_key(signature)

    def run(_: bytes) -> int:
        initiator, responder = new_key_exchange(alg, os.urandom), new_key_exchange(alg, os.urandom)
        offer = initiator.offer()
        accepted = responder.accept(offer, Parties(b, a.public_key, b.public_key))
        done = initiator.complete(accepted.share, accepted.confirm,
                                  Parties(a, a.public_key, b.public_key))
        responder.check_finish(done.confirm)
        assert done.secret == accepted.secret
        return len(offer) + len(accepted.share) + len(accepted.confirm) + len(done.confirm)

    return Ops("xinlian key exchange (handshake's three moves)", 0, run)


IMPLEMENTATIONS: dict[str, list[Callable[[], Ops | None]]] = {
    "ML-DSA-44": [lambda: _fast_mldsa(44), lambda: _pqclean_sign("ml_dsa_44"),
                  lambda: _oqs_sign("ML-DSA-44")],
    "ML-DSA-65": [lambda: _fast_mldsa(65), lambda: _pqclean_sign("ml_dsa_65"),
                  lambda: _oqs_sign("ML-DSA-65")],
    "ML-DSA-87": [lambda: _fast_mldsa(87), lambda: _pqclean_sign("ml_dsa_87"),
                  lambda: _oqs_sign("ML-DSA-87")],
    "Falcon-512": [lambda: _oqs_sign("Falcon-512")],
    "Falcon-1024": [lambda: _oqs_sign("Falcon-1024")],
    "SLH-DSA-SHA2-128s": [lambda: _pqclean_sign("slh_dsa_sha2_128s"),
                          lambda: _oqs_sign("SLH_DSA_PURE_SHA2_128S")],
    "SLH-DSA-SHA2-128f": [lambda: _pqclean_sign("slh_dsa_sha2_128f"),
                          lambda: _oqs_sign("SLH_DSA_PURE_SHA2_128F")],
    "SM2+ML-DSA-65": [lambda: _composite(AlgId.SM2_ML_DSA_65)],
    "Ed25519+ML-DSA-65": [lambda: _composite(AlgId.ED25519_ML_DSA_65)],
    "ML-KEM-512": [lambda: _kem_aead("ml_kem_512")],
    "ML-KEM-768": [lambda: _platform_encryption(AlgId.ML_KEM_768_AES256_GCM)],
    "ML-KEM-1024": [lambda: _kem_aead("ml_kem_1024")],
    "SM2+ML-KEM-768": [lambda: _platform_encryption(AlgId.SM2_ML_KEM_768_SM4_GCM)],
    "X25519+ML-KEM-768": [lambda: _platform_encryption(AlgId.X25519_ML_KEM_768_AES256_GCM)],
    "X25519+ML-KEM-768 exchange": [
        lambda: _exchange(AlgId.X25519_ML_KEM_768, AlgId.ED25519_ML_DSA_65)],
    "SM2-KE+ML-KEM-768 exchange": [
        lambda: _exchange(AlgId.SM2_ML_KEM_768, AlgId.SM2_ML_DSA_65)],
}


def _time(run: Callable[[bytes], int], plaintext: bytes, budget: float,
          ) -> tuple[float, float, int]:
    """(CPU µs, wall µs) per call, and the call's output size; at least 3 calls, then
    until `budget` seconds of CPU time are spent."""
    size = run(plaintext)  # warm-up (caches, lazy tables)
    calls, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while calls < 3 or (time.process_time() - cpu0 < budget and calls < 100_000):
        run(plaintext)
        calls += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu / calls * 1e6, wall / calls * 1e6, size


def _row(algorithm: Algorithm, ops: Ops, budget: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "algorithm": algorithm.name, "use": algorithm.use,
        "implementation": ops.implementation, "nist_level": algorithm.nist_level,
        "quantum_bits": algorithm.quantum_bits,
        "public_key_bytes": ops.public_key or algorithm.public_key,
        "secret_key_bytes": algorithm.secret_key}
    failed = algorithm.static_failures()
    cpu, wall, size = _time(ops.run, b"\x00" * PLAINTEXT_SIZES[0], budget)
    if algorithm.use == "signature":
        row.update(signature_bytes=size, sign_verify_us=round(cpu, 1),
                   sign_verify_wall_us=round(wall, 1))
    elif algorithm.use == "encryption":
        row.update(enc_dec_us=round(cpu, 1), enc_dec_wall_us=round(wall, 1))
        for n in PLAINTEXT_SIZES:  # real ciphertexts of each size
            row[f"ciphertext_bytes_{n}"] = ops.run(b"\x00" * n)
            row[f"expansion_{n}"] = round(row[f"ciphertext_bytes_{n}"] / n, 3)
    else:
        row.update(wire_bytes=size, exchange_us=round(cpu, 1), exchange_wall_us=round(wall, 1))
    row["ratio_to_1ms"] = round(cpu / MAX_OPERATION_US, 3)
    if cpu >= MAX_OPERATION_US:
        failed.append(f"{cpu:.0f} µs CPU >= {MAX_OPERATION_US:.0f} µs")
    row["indicators_met"] = not failed
    row["failed"] = failed
    return row


def measure(budget: float = 0.2, names: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """One row per (algorithm, installed implementation); an algorithm with none installed
    gets a row saying so."""
    for algorithm in ALGORITHMS:
        if names and algorithm.name not in names:
            continue
        found = False
        for factory in IMPLEMENTATIONS[algorithm.name]:
            ops = factory()
            if ops is not None:
                found = True
                yield _row(algorithm, ops, budget)
        if not found:
            yield {"algorithm": algorithm.name, "use": algorithm.use,
                   "implementation": None, "nist_level": algorithm.nist_level,
                   "quantum_bits": algorithm.quantum_bits,
                   "failed": [*algorithm.static_failures(), "no binding installed here"],
                   "indicators_met": False}


INDICATORS = (f">= {MIN_QUANTUM_BITS}-bit quantum security; one sign+verify or "
              f"encrypt+decrypt < {MAX_OPERATION_US / 1000:.0f} ms; ciphertext < "
              f"{MAX_EXPANSION:.0f}x plaintext; signature <= {MAX_SIGNATURE:,} bytes")
