"""BBS signatures: the draft's vectors on both ciphersuites, RFC 9380 vectors for hashing to
G1, a py_ecc cross-check of the SHAKE-256 suite's hash_to_curve, tampering and bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_arkworks_bls12381 import G1Point, G2Point

from xinlian.crypto.privacy import bbs
from xinlian.crypto.privacy.bbs.encoding import decode_proof, decode_signature
from xinlian.crypto.privacy.bbs.hash_to_curve import (
    P,
    expand_message_xmd,
    expand_message_xof,
    hash_to_curve_g1_xmd,
    hash_to_curve_g1_xof,
    map_fields_to_g1,
)
from xinlian.crypto.privacy.bbs.suite import EXPAND_LEN, Ciphersuite, R

VECTORS = Path(__file__).parent / "vectors"
SUITE_DIRS = {
    "bls12-381-sha-256": bbs.BLS12_381_SHA_256,
    "bls12-381-shake-256": bbs.BLS12_381_SHAKE_256,
}


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def unhex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def seeded_random_scalars(
    suite: Ciphersuite, seed: bytes, dst: bytes
) -> Callable[[int], list[int]]:
    """The draft's mocked calculate_random_scalars (section 8.1), for the proof vectors only."""

    def scalars(count: int) -> list[int]:
        v = suite.expand_message(seed, dst, EXPAND_LEN * count)
        return [
            int.from_bytes(v[i * EXPAND_LEN : (i + 1) * EXPAND_LEN], "big") % R
            for i in range(count)
        ]

    return scalars


def suite_cases(sub: str) -> list[Any]:
    return [
        pytest.param(suite, path, id=f"{name}/{path.name}")
        for name, suite in SUITE_DIRS.items()
        for path in sorted((VECTORS / "bbs" / name / sub).glob("*.json"))
    ]


SUITES = [pytest.param(suite, name, id=name) for name, suite in SUITE_DIRS.items()]


# --- RFC 9380 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expand"),
    [
        ("expand_message_xmd_SHA256_38.json", expand_message_xmd),
        ("expand_message_xof_SHAKE256_36.json", expand_message_xof),
    ],
)
def test_expand_message_matches_rfc9380(
    name: str, expand: Callable[[bytes, bytes, int], bytes]
) -> None:
    data = load(VECTORS / "rfc9380" / name)
    for case in data["tests"]:
        out = expand(case["msg"].encode(), data["DST"].encode(), int(case["len_in_bytes"], 16))
        assert out.hex() == case["uniform_bytes"]


def test_hash_to_curve_g1_matches_rfc9380() -> None:
    data = load(VECTORS / "rfc9380" / "BLS12381G1_XMD-SHA-256_SSWU_RO_.json")
    dst = data["dst"].encode()
    for case in data["vectors"]:
        msg = case["msg"].encode()
        want = bytes.fromhex(case["P"]["x"][2:] + case["P"]["y"][2:])
        assert bytes(hash_to_curve_g1_xmd(msg, dst).to_xy_bytes_be()) == want
        # the path the SHAKE-256 suite takes (Python hash_to_field, native map) agrees too
        uniform = expand_message_xmd(msg, dst, 128)
        assert [int.from_bytes(uniform[i : i + 64], "big") % P for i in (0, 64)] == [
            int(u, 16) for u in case["u"]
        ]
        assert bytes(map_fields_to_g1(uniform).to_xy_bytes_be()) == want


def test_shake_hash_to_curve_agrees_with_py_ecc() -> None:
    from py_ecc.bls.hash_to_curve import clear_cofactor_G1, map_to_curve_G1
    from py_ecc.fields import optimized_bls12_381_FQ as FQ
    from py_ecc.optimized_bls12_381.optimized_curve import add, normalize

    dst = b"BBS_BLS12381G1_XOF:SHAKE-256_SSWU_RO_H2G_HM2S_SIG_GENERATOR_DST_"
    for msg in (b"", b"abc", bytes(range(200))):
        uniform = expand_message_xof(msg, dst, 128)
        u0, u1 = (FQ(int.from_bytes(uniform[i : i + 64], "big")) for i in (0, 64))
        x, y = normalize(clear_cofactor_G1(add(map_to_curve_G1(u0), map_to_curve_G1(u1))))
        want = int(x).to_bytes(48, "big") + int(y).to_bytes(48, "big")
        assert bytes(hash_to_curve_g1_xof(msg, dst).to_xy_bytes_be()) == want


# --- the draft's vectors ----------------------------------------------------------------


@pytest.mark.parametrize(("suite", "name"), SUITES)
def test_key_pair_vector(suite: Ciphersuite, name: str) -> None:
    v = load(VECTORS / "bbs" / name / "keypair.json")
    sk = bbs.key_gen(
        bytes.fromhex(v["keyMaterial"]),
        bytes.fromhex(v["keyInfo"]),
        bytes.fromhex(v["keyDst"]),
        suite,
    )
    assert sk.to_bytes(32, "big").hex() == v["keyPair"]["secretKey"]
    assert bbs.sk_to_pk(sk).hex() == v["keyPair"]["publicKey"]
    # the default key_dst is the one the vectors use
    assert (
        bbs.key_gen(bytes.fromhex(v["keyMaterial"]), bytes.fromhex(v["keyInfo"]), suite=suite) == sk
    )


@pytest.mark.parametrize(("suite", "name"), SUITES)
def test_generators_and_p1_vectors(suite: Ciphersuite, name: str) -> None:
    v = load(VECTORS / "bbs" / name / "generators.json")
    hexes = [bytes(g.to_compressed_bytes()).hex() for g in suite.generators(11)]
    assert bytes(suite.p1.to_compressed_bytes()).hex() == v["P1"]
    assert hexes == [v["Q1"], *v["MsgGenerators"]]


@pytest.mark.parametrize(("suite", "name"), SUITES)
def test_scalar_vectors(suite: Ciphersuite, name: str) -> None:
    base = VECTORS / "bbs" / name
    m2s = load(base / "MapMessageToScalarAsHash.json")
    assert bytes.fromhex(m2s["dst"]) == suite.api_id + b"MAP_MSG_TO_SCALAR_AS_HASH_"
    got = suite.messages_to_scalars(unhex([c["message"] for c in m2s["cases"]]))
    assert [s.to_bytes(32, "big").hex() for s in got] == [c["scalar"] for c in m2s["cases"]]
    h2s = load(base / "h2s.json")
    s = suite.hash_to_scalar(bytes.fromhex(h2s["message"]), bytes.fromhex(h2s["dst"]))
    assert s.to_bytes(32, "big").hex() == h2s["scalar"]
    rng = load(base / "mockedRng.json")
    mocked = seeded_random_scalars(suite, bytes.fromhex(rng["seed"]), bytes.fromhex(rng["dst"]))
    assert [x.to_bytes(32, "big").hex() for x in mocked(rng["count"])] == rng["mockedScalars"]


@pytest.mark.parametrize(("suite", "path"), suite_cases("signature"))
def test_signature_vector(suite: Ciphersuite, path: Path) -> None:
    v = load(path)
    pk = bytes.fromhex(v["signerKeyPair"]["publicKey"])
    header, messages = bytes.fromhex(v["header"]), unhex(v["messages"])
    signature = bytes.fromhex(v["signature"])
    if v["result"]["valid"]:
        sk = int(v["signerKeyPair"]["secretKey"], 16)
        assert bbs.sign(sk, pk, header, messages, suite) == signature
        bbs.verify(pk, signature, header, messages, suite)
    else:
        with pytest.raises(bbs.InvalidBbsSignatureError):
            bbs.verify(pk, signature, header, messages, suite)


@pytest.mark.parametrize(("suite", "path"), suite_cases("proof"))
def test_proof_vector(suite: Ciphersuite, path: Path) -> None:
    v = load(path)
    pk = bytes.fromhex(v["signerPublicKey"])
    header, ph = bytes.fromhex(v["header"]), bytes.fromhex(v["presentationHeader"])
    messages, indexes = unhex(v["messages"]), v["disclosedIndexes"]
    proof = bytes.fromhex(v["proof"])
    disclosed = [messages[i] for i in indexes]
    if v["result"]["valid"]:
        rng = load(path.parent.parent / "mockedRng.json")
        mocked = seeded_random_scalars(suite, bytes.fromhex(rng["seed"]), bytes.fromhex(rng["dst"]))
        signature = bytes.fromhex(v["signature"])
        made = bbs.proof_gen(pk, signature, header, ph, messages, indexes, suite, mocked)
        assert made == proof
        bbs.proof_verify(pk, proof, header, ph, disclosed, indexes, suite)
    else:
        # re-ordered indexes are malformed input; every other case is a proof that fails
        with pytest.raises((bbs.InvalidBbsProofError, bbs.BbsIndexError)):
            bbs.proof_verify(pk, proof, header, ph, disclosed, indexes, suite)


# --- sizes, freshness, tampering ------------------------------------------------------------

SK = bbs.key_gen(b"x" * 32 + b"xinlian test key")
PK = bbs.sk_to_pk(SK)
MESSAGES = [f"attribute {i}".encode() for i in range(6)]
HEADER = b"issuer context"
SIG = bbs.sign(SK, PK, HEADER, MESSAGES)
SHOWN = [1, 4]
PROOF = bbs.proof_gen(PK, SIG, HEADER, b"nonce", MESSAGES, SHOWN)


@pytest.mark.parametrize("count", [0, 1, 10, 100])
def test_signature_is_80_bytes_for_any_number_of_messages(count: int) -> None:
    messages = [bytes([i % 256]) * 3 for i in range(count)]
    sig = bbs.sign(SK, PK, b"", messages)
    assert len(sig) == bbs.SIGNATURE_LEN == 80
    bbs.verify(PK, sig, b"", messages)


def test_proof_size_and_fresh_randomness() -> None:
    assert len(PROOF) == bbs.PROOF_FLOOR + 32 * (len(MESSAGES) - len(SHOWN))
    again = bbs.proof_gen(PK, SIG, HEADER, b"nonce", MESSAGES, SHOWN)
    bbs.proof_verify(PK, again, HEADER, b"nonce", [MESSAGES[i] for i in SHOWN], SHOWN)
    # two presentations of one signature share no component
    a, b = decode_proof(PROOF), decode_proof(again)
    assert a.a_bar != b.a_bar and a.b_bar != b.b_bar and a.d != b.d and a.challenge != b.challenge


def test_round_trip_on_shake_suite_with_all_and_no_messages_disclosed() -> None:
    suite = bbs.BLS12_381_SHAKE_256
    sk = bbs.generate_secret_key(suite)
    pk = bbs.sk_to_pk(sk)
    sig = bbs.sign(sk, pk, b"", MESSAGES, suite)
    for shown in ([], list(range(len(MESSAGES)))):
        proof = bbs.proof_gen(pk, sig, b"", b"", MESSAGES, shown, suite)
        bbs.proof_verify(pk, proof, b"", b"", [MESSAGES[i] for i in shown], shown, suite)
    with pytest.raises(bbs.InvalidBbsSignatureError):  # a signature binds its suite
        bbs.verify(pk, sig, b"", MESSAGES, bbs.BLS12_381_SHA_256)


def flip(data: bytes, position: int, mask: int) -> bytes:
    out = bytearray(data)
    out[position % len(out)] ^= mask
    return bytes(out)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 255))
def test_tampered_signature_never_verifies(position: int, mask: int) -> None:
    with pytest.raises(bbs.BbsError):
        bbs.verify(PK, flip(SIG, position, mask), HEADER, MESSAGES)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 255))
def test_tampered_proof_never_verifies(position: int, mask: int) -> None:
    with pytest.raises(bbs.BbsError):
        bbs.proof_verify(
            PK, flip(PROOF, position, mask), HEADER, b"nonce", [MESSAGES[i] for i in SHOWN], SHOWN
        )


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1), st.binary(max_size=20))
def test_changed_disclosed_message_never_verifies(which: int, suffix: bytes) -> None:
    shown = [MESSAGES[i] for i in SHOWN]
    shown[which] = shown[which] + b"!" + suffix
    with pytest.raises(bbs.InvalidBbsProofError):
        bbs.proof_verify(PK, PROOF, HEADER, b"nonce", shown, SHOWN)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=40))
def test_other_headers_never_verify(other: bytes) -> None:
    shown = [MESSAGES[i] for i in SHOWN]
    if other != HEADER:
        with pytest.raises(bbs.InvalidBbsProofError):
            bbs.proof_verify(PK, PROOF, other, b"nonce", shown, SHOWN)
        with pytest.raises(bbs.InvalidBbsSignatureError):
            bbs.verify(PK, SIG, other, MESSAGES)
    if other != b"nonce":
        with pytest.raises(bbs.InvalidBbsProofError):
            bbs.proof_verify(PK, PROOF, HEADER, other, shown, SHOWN)


# --- bad input ------------------------------------------------------------------------------


def non_subgroup_g1() -> bytes:
    """A compressed point on the curve y^2 = x^3 + 4 outside the prime-order subgroup."""
    x = 1
    while True:
        rhs = (x**3 + 4) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            point = G1Point.from_xy_bytes_unchecked_be(
                x.to_bytes(48, "big") + y.to_bytes(48, "big")
            )
            if not point.is_in_subgroup():
                return bytes(point.to_compressed_bytes())
        x += 1


def test_invalid_signature_encodings() -> None:
    e = SIG[48:]
    identity = bytes(G1Point.identity().to_compressed_bytes())
    for bad, error in [
        (SIG[:-1], bbs.MalformedBbsInputError),
        (SIG + b"\x00", bbs.MalformedBbsInputError),
        (identity + e, bbs.BbsPointError),
        (non_subgroup_g1() + e, bbs.BbsPointError),
        (b"\xff" * 48 + e, bbs.BbsPointError),
        (SIG[:48] + bytes(32), bbs.MalformedBbsInputError),  # e = 0
        (SIG[:48] + R.to_bytes(32, "big"), bbs.MalformedBbsInputError),  # e = r
    ]:
        with pytest.raises(error):
            bbs.verify(PK, bad, HEADER, MESSAGES)
    assert decode_signature(SIG).e == int.from_bytes(e, "big")


def test_invalid_public_keys() -> None:
    identity = bytes(G2Point.identity().to_compressed_bytes())
    for bad, error in [
        (PK[:-1], bbs.MalformedBbsInputError),
        (identity, bbs.BbsPointError),
        (b"\xff" * 96, bbs.BbsPointError),
    ]:
        with pytest.raises(error):
            bbs.verify(bad, SIG, HEADER, MESSAGES)
        with pytest.raises(error):
            bbs.proof_verify(bad, PROOF, HEADER, b"nonce", [MESSAGES[i] for i in SHOWN], SHOWN)


def test_invalid_proof_encodings() -> None:
    shown = [MESSAGES[i] for i in SHOWN]
    identity = bytes(G1Point.identity().to_compressed_bytes())
    for bad, error in [
        (PROOF[: bbs.PROOF_FLOOR - 1], bbs.MalformedBbsInputError),
        (PROOF[:-1], bbs.MalformedBbsInputError),
        (identity + PROOF[48:], bbs.BbsPointError),
        (PROOF[:48] + non_subgroup_g1() + PROOF[96:], bbs.BbsPointError),
        (PROOF[:-32] + bytes(32), bbs.MalformedBbsInputError),  # challenge 0
        (PROOF[:144] + R.to_bytes(32, "big") + PROOF[176:], bbs.MalformedBbsInputError),
        (PROOF[:-64] + PROOF[-32:], bbs.InvalidBbsProofError),  # one hidden message fewer
        (PROOF + PROOF[-32:] * 70_000, bbs.MalformedBbsInputError),  # over the message bound
    ]:
        with pytest.raises(error):
            bbs.proof_verify(PK, bad, HEADER, b"nonce", shown, SHOWN)


def test_invalid_disclosed_indexes() -> None:
    shown = [MESSAGES[i] for i in SHOWN]
    for indexes in ([4, 1], [1, 1], [1, 6], [-1, 4]):
        with pytest.raises(bbs.BbsIndexError):
            bbs.proof_verify(PK, PROOF, HEADER, b"nonce", shown, indexes)
        with pytest.raises(bbs.BbsIndexError):
            bbs.proof_gen(PK, SIG, HEADER, b"nonce", MESSAGES, indexes)
    with pytest.raises(bbs.BbsIndexError):
        bbs.proof_verify(PK, PROOF, HEADER, b"nonce", shown[:1], SHOWN)


def test_invalid_keys_and_signing_input() -> None:
    with pytest.raises(bbs.MalformedBbsInputError):
        bbs.key_gen(b"short")
    for sk in (0, R, -1):
        with pytest.raises(bbs.MalformedBbsInputError):
            bbs.sk_to_pk(sk)
        with pytest.raises(bbs.MalformedBbsInputError):
            bbs.sign(sk, PK, b"", MESSAGES)
    with pytest.raises(bbs.InvalidBbsSignatureError):  # proof_gen checks the signature first
        bbs.proof_gen(PK, SIG, b"other", b"", MESSAGES, SHOWN)
    with pytest.raises(bbs.MalformedBbsInputError):  # a broken source of random scalars
        bbs.proof_gen(PK, SIG, HEADER, b"", MESSAGES, SHOWN, random_scalars=lambda n: [1] * 4)
    with pytest.raises(bbs.MalformedBbsInputError):
        bbs.proof_gen(PK, SIG, HEADER, b"", MESSAGES, SHOWN, random_scalars=lambda n: [0] * n)
    with pytest.raises(bbs.MalformedBbsInputError):
        bbs.get_suite("BLS12-381-MD5")
    with pytest.raises(bbs.MalformedBbsInputError):
        expand_message_xmd(b"", b"d" * 256, 32)
    assert bbs.get_suite("BLS12-381-SHAKE-256") is bbs.BLS12_381_SHAKE_256


def test_errors_are_typed() -> None:
    for cls, code in [
        (bbs.BbsError, 8900),
        (bbs.MalformedBbsInputError, 8901),
        (bbs.BbsPointError, 8902),
        (bbs.BbsIndexError, 8903),
        (bbs.InvalidBbsSignatureError, 8904),
        (bbs.InvalidBbsProofError, 8905),
    ]:
        assert cls.code == code and issubclass(cls, bbs.BbsError)
