"""The BLS wrapper: validator keys against Ethereum's bls12-381-tests vectors and py_ecc, the
basic scheme, and the point arithmetic threshold BLS builds on."""

from __future__ import annotations

import sys

import pytest
from eth_typing import BLSPubkey, BLSSignature

from xinlian.crypto.errors import InvalidKey, InvalidSignature
from xinlian.crypto.primitives import bls
from xinlian.crypto.primitives.bls import BlsKey, Scheme, check_public_key
from xinlian.crypto.primitives.groups.bls12_381 import ORDER

# py_ecc raises the interpreter's recursion limit to 100,000 on import, which would let
# deeply nested input overflow the C stack in other tests' decoders: put it back.
_limit = sys.getrecursionlimit()
from py_ecc.bls.ciphersuites import G2Basic as basic_reference  # noqa: E402
from py_ecc.bls.ciphersuites import G2ProofOfPossession as reference  # noqa: E402

sys.setrecursionlimit(_limit)

# ethereum/bls12-381-tests v0.1: (secret, public key) and sign cases (secret, message, sig).
KEYS = [
    ("263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3",
     "a491d1b0ecd9bb917989f0e74f0dea0422eac4a873e5e2644f368dffb9a6e20fd6e10c1b77654d067c0618f6e5a7f79a"),
    ("47b8192d77bf871b62e87859d653922725724a5c031afeabc60bcef5ff665138",
     "b301803f8b5ac4a1133581fc676dfedc60d891dd5fa99028805e5ea5b08d3491af75d0707adab3b70c6a6a580217bf81"),
]
SIGN_CASES = [
    ("263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3", "56" * 32,
     "882730e5d03f6b42c3abc26d3372625034e1d871b65a8a6b900a56dae22da98abbe1b68f85e49fe7652a55ec3d0591c20767677e33e5cbb1207315c41a9ac03be39c2e7668edc043d6cb1d9fd93033caa8a1c5b0e84bedaeb6c64972503a43eb"),
    ("263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3", "00" * 32,
     "b6ed936746e01f8ecf281f020953fbf1f01debd5657c4a383940b020b26507f6076334f91e2366c96e9ab279fb5158090352ea1c5b0c9274504f4f0e7053af24802e51e4568d164fe986834f41e55c8e850ce1f98458c0cfc9ab380b55285a55"),
    ("328388aff0d4a5b7dc9205abd374e7e98f3cd9f3418edb4eafda5fb16473d216", "56" * 32,
     "a4efa926610b8bd1c8330c918b7a5e9bf374e53435ef8b7ec186abf62e1b1f65aeaaeb365677ac1d1172a1f5b44b4e6d022c252c58486c0a759fbdc7de15a756acc4d343064035667a594b4c2a6f0b0b421975977f297dba63ee2f63ffe47bb6"),
]


@pytest.mark.parametrize(("secret", "public"), KEYS)
def test_public_key_vectors(secret: str, public: str) -> None:
    assert BlsKey(bytes.fromhex(secret)).public.hex() == public


@pytest.mark.parametrize(("secret", "message", "signature"), SIGN_CASES)
def test_sign_vectors(secret: str, message: str, signature: str) -> None:
    assert BlsKey(bytes.fromhex(secret)).sign(bytes.fromhex(message)).hex() == signature


def test_proof_of_possession_matches_py_ecc() -> None:
    key = BlsKey.generate(b"\x07" * 32)
    sk = int.from_bytes(key.secret, "big")
    assert reference.SkToPk(sk) == key.public
    assert reference.PopProve(sk) == key.pop
    assert reference.PopVerify(BLSPubkey(key.public), BLSSignature(key.pop))
    check_public_key(key.public, key.pop)


def test_keys_from_a_seed_are_deterministic() -> None:
    assert BlsKey.generate(b"\x01" * 32).public == BlsKey.generate(b"\x01" * 32).public
    assert BlsKey.generate(b"\x01" * 32).public != BlsKey.generate(b"\x02" * 32).public


def test_bad_keys_and_proofs_are_refused() -> None:
    a, b = BlsKey.generate(b"\x01" * 32), BlsKey.generate(b"\x02" * 32)
    with pytest.raises(InvalidKey):
        check_public_key(a.public, b.pop)          # a rogue key with someone else's proof
    with pytest.raises(InvalidKey):
        check_public_key(b"\xc0" + bytes(47), a.pop)  # the identity
    with pytest.raises(InvalidKey):
        check_public_key(a.public[:-1], a.pop)
    with pytest.raises(InvalidKey):
        check_public_key(bytes(48), a.pop)          # not a point encoding
    with pytest.raises(InvalidKey):
        BlsKey.generate(b"short")


def test_basic_scheme_matches_py_ecc_and_is_domain_separated() -> None:
    key = BlsKey.generate(b"\x03" * 32)
    message = b"beacon round"
    signature = key.sign(message, Scheme.BASIC)
    assert signature == basic_reference.Sign(int.from_bytes(key.secret, "big"), message)
    public, point = bls.decode_public_key(key.public), bls.decode_signature(signature)
    assert bls.verify(public, message, point, Scheme.BASIC)
    assert not bls.verify(public, message, point)  # the POP scheme hashes with another tag
    assert signature != key.sign(message)


def test_strict_decoding_round_trips_and_refuses_bad_points() -> None:
    key = BlsKey.generate(b"\x04" * 32)
    signature = key.sign(b"m")
    assert bls.encode_point(bls.decode_g1(key.public)) == key.public
    assert bls.encode_point(bls.decode_g2(signature)) == signature
    for bad_key in (key.public[:-1], b"\xc0" + bytes(47), bytes(48)):
        with pytest.raises(InvalidKey):
            bls.decode_g1(bad_key)
    for bad_signature in (signature[:-1], bytes(96), b"\xff" * 96):
        with pytest.raises(InvalidSignature):
            bls.decode_g2(bad_signature)


def test_multiexp_is_scalar_multiplication_of_keys_and_signatures() -> None:
    a, b = BlsKey.generate(b"\x05" * 32), BlsKey.generate(b"\x06" * 32)
    x, y = int.from_bytes(a.secret, "big"), int.from_bytes(b.secret, "big")
    k, j = 7, ORDER - 3  # j = -3 mod the order
    combined = BlsKey(((k * x + j * y) % ORDER).to_bytes(32, "big"))
    keys = [bls.decode_g1(a.public), bls.decode_g1(b.public)]
    signatures = [bls.decode_g2(a.sign(b"m")), bls.decode_g2(b.sign(b"m"))]
    assert bls.encode_point(bls.g1_multiexp(keys, [k, j])) == combined.public
    assert bls.encode_point(bls.g2_multiexp(signatures, [k, j])) == combined.sign(b"m")


def test_weighted_verification_catches_signatures_that_cancel_out() -> None:
    a, b = BlsKey.generate(b"\x08" * 32), BlsKey.generate(b"\x09" * 32)
    keys = [bls.decode_g1(a.public), bls.decode_g1(b.public)]
    messages = [b"one", b"two"]
    good = [bls.decode_g2(a.sign(messages[0])), bls.decode_g2(b.sign(messages[1]))]
    assert bls.verify_weighted(keys, messages, good, [5, 11])
    # sigma_a + G and sigma_b - G: both invalid, yet their plain sum is the valid sum
    shift = bls.decode_g2(bls.G2_GENERATOR)
    forged = [bls.g2_multiexp([good[0], shift], [1, 1]),
              bls.g2_multiexp([good[1], shift], [1, ORDER - 1])]
    assert bls.verify_weighted(keys, messages, forged, [1, 1])
    assert not bls.verify_weighted(keys, messages, forged, [5, 11])
    assert not bls.verify_weighted(keys, messages[::-1], good, [5, 11])
