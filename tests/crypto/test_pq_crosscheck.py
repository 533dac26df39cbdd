"""Every post-quantum algorithm of the table against a second, independent implementation.

- ML-DSA-44/65/87: fast-mldsa (the platform's) against dilithium-py (pure Python, FIPS 204):
  the same 32-byte seed gives the same public key, and signatures (with a FIPS 204 context)
  verify both ways; PQClean (pqcrypto) signatures verify under fast-mldsa.
- The composites' ML-DSA half verifies under dilithium-py with the composite label as context
  over M': the construction is FIPS 204's, not a private variant.
- ML-KEM-512/768/1024: PQClean against kyber-py (pure Python, FIPS 203), both directions.
- SLH-DSA-SHA2-128s/f and Falcon-512/1024, ML-DSA and ML-KEM again: PQClean / fast-mldsa
  against liboqs, where the liboqs C library is installed (`make liboqs`); Falcon has no
  other implementation here, so liboqs is checked only against its own keys' sizes.
"""

from __future__ import annotations

import importlib
import random
from typing import Any

import fast_mldsa
import pytest
from dilithium_py import ml_dsa
from kyber_py import ml_kem

from xinlian.crypto import composite, signing
from xinlian.crypto.keys import AlgId
from xinlian.crypto.pq_params import BY_NAME
from xinlian.crypto.pq_table import oqs_available

LEVELS = (44, 65, 87)


@pytest.mark.parametrize("level", LEVELS)
def test_mldsa_seed_keys_and_signatures_match_dilithium_py(level: int) -> None:
    seed = random.Random(level).randbytes(32)  # seeded: the same seed every run
    reference: Any = getattr(ml_dsa, f"ML_DSA_{level}")
    pk, sk = reference.key_derive(seed)
    vk, fsk = getattr(fast_mldsa, f"MlDsa{level}").key_gen(seed=seed)
    assert vk.to_bytes() == pk
    assert len(pk) == BY_NAME[f"ML-DSA-{level}"].public_key
    ours = fsk.sign(b"xinlian", ctx=b"ctx")
    assert len(ours) == BY_NAME[f"ML-DSA-{level}"].signature
    assert reference.verify(pk, b"xinlian", ours, ctx=b"ctx")
    assert not reference.verify(pk, b"xinlian", ours, ctx=b"other")
    theirs = reference.sign(sk, b"xinlian", ctx=b"ctx")
    assert vk.verify(theirs, b"xinlian", ctx=b"ctx")
    assert not vk.verify(theirs, b"xinliaN", ctx=b"ctx")


@pytest.mark.parametrize("level", LEVELS)
def test_pqclean_mldsa_signatures_verify_under_fast_mldsa(level: int) -> None:
    pq: Any = importlib.import_module(f"pqcrypto.sign.ml_dsa_{level}")
    pk, sk = pq.keygen()
    vk = fast_mldsa.VerificationKey.from_bytes(pk)
    assert vk.verify(pq.sign(sk, b"m"), b"m")


@pytest.mark.parametrize("alg, combination", [
    (AlgId.SM2_ML_DSA_65, composite.MLDSA65_SM2),
    (AlgId.ED25519_ML_DSA_65, composite.MLDSA65_ED25519)])
def test_composite_mldsa_half_is_fips204_with_the_label_as_context(
        alg: AlgId, combination: composite.Combination) -> None:
    key = signing.generate_signing_key(alg, b"\x03" * 32)
    sig = key.sign(b"block header")
    mldsa_public, _ = combination.split_public(key.public_key.data)
    mldsa_sig, _ = combination.split_signature(sig.data)
    m = combination.representative(b"block header")
    assert ml_dsa.ML_DSA_65.verify(mldsa_public, m, mldsa_sig, ctx=combination.label)
    # Neither a plain signature of the message nor one under another label.
    assert not ml_dsa.ML_DSA_65.verify(mldsa_public, b"block header", mldsa_sig)
    assert not ml_dsa.ML_DSA_65.verify(mldsa_public, m, mldsa_sig, ctx=b"COMPSIG-other")


@pytest.mark.parametrize("level", (512, 768, 1024))
def test_mlkem_pqclean_and_kyber_py_agree_both_ways(level: int) -> None:
    pq: Any = importlib.import_module(f"pqcrypto.kem.ml_kem_{level}")
    reference: Any = getattr(ml_kem, f"ML_KEM_{level}")
    pk, sk = pq.keygen()
    shared, ct = reference.encaps(pk)
    assert pq.decaps(sk, ct) == shared
    ek, dk = reference.keygen()
    ct2, shared2 = pq.encaps(ek)
    assert reference.decaps(dk, ct2) == shared2
    assert len(ct2) + 16 == BY_NAME[f"ML-KEM-{level}"].overhead


def _oqs() -> Any:
    oqs = oqs_available()
    if oqs is None:
        pytest.skip("the liboqs C library is not installed (make liboqs)")
    return oqs


@pytest.mark.parametrize("name, module", [
    ("SLH_DSA_PURE_SHA2_128S", "slh_dsa_sha2_128s"), ("SLH_DSA_PURE_SHA2_128F",
                                                      "slh_dsa_sha2_128f"),
    ("ML-DSA-44", "ml_dsa_44"), ("ML-DSA-65", "ml_dsa_65"), ("ML-DSA-87", "ml_dsa_87")])
def test_pqclean_signatures_and_liboqs_verify_each_other(name: str, module: str) -> None:
    oqs = _oqs()
    pq: Any = importlib.import_module(f"pqcrypto.sign.{module}")
    signer = oqs.Signature(name)
    oqs_pk = signer.generate_keypair()
    pq.verify(oqs_pk, b"m", signer.sign(b"m"))  # raises on a bad signature
    pk, sk = pq.keygen()
    assert oqs.Signature(name).verify(b"m", pq.sign(sk, b"m"), pk)
    assert not oqs.Signature(name).verify(b"n", pq.sign(sk, b"m"), pk)


@pytest.mark.parametrize("level", (512, 768, 1024))
def test_mlkem_pqclean_and_liboqs_agree(level: int) -> None:
    oqs = _oqs()
    pq: Any = importlib.import_module(f"pqcrypto.kem.ml_kem_{level}")
    kem = oqs.KeyEncapsulation(f"ML-KEM-{level}")
    ek = kem.generate_keypair()
    ct, shared = pq.encaps(ek)
    assert kem.decap_secret(ct) == shared


@pytest.mark.parametrize("name", ("Falcon-512", "Falcon-1024"))
def test_falcon_through_liboqs_signs_within_the_catalogue_sizes(name: str) -> None:
    oqs = _oqs()
    signer = oqs.Signature(name)
    pk = signer.generate_keypair()
    sig = signer.sign(b"m")
    assert len(pk) == BY_NAME[name].public_key and len(sig) <= BY_NAME[name].signature
    assert oqs.Signature(name).verify(b"m", sig, pk)
    assert not oqs.Signature(name).verify(b"m", sig[:-1] + bytes([sig[-1] ^ 1]), pk)
