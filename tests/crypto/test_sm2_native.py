"""The native SM2 verifier against the standard, Tongsuo and GmSSL, on every invalid case,
and its input parsing under arbitrary bytes (typed errors, never a crash).

Randomness is seeded (the cross-check's keys and messages, hypothesis's own database aside).
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.crypto.batch import verify_batch
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import _sm2verify, sm2
from xinlian.crypto.primitives.sm2_exchange import SM2_CURVE
from xinlian.crypto.suites import get_suite
from xinlian.testing.sm2_reference import (
    cross_check,
    gmssl_verify,
    gmssl_verify_digest,
    public_of,
    sign_digest,
    tongsuo_verify,
)

# GB/T 32918.2-2016 / 32918.5-2017 Annex A, recommended curve, ID 1234567812345678.
D_A = int("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 16)
P_A = bytes.fromhex(
    "04" "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
SIG = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")
MESSAGE = b"message digest"
N, P = sm2.N, sm2.P
R_STD, S_STD = int.from_bytes(SIG[:32], "big"), int.from_bytes(SIG[32:], "big")


def _rs(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _point(x: int, y: int) -> bytes:
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _all_three(public: bytes, message: bytes, signature: bytes) -> tuple[bool, bool, bool]:
    return (sm2.verify(public, message, signature), tongsuo_verify(public, message, signature),
            gmssl_verify(public, message, signature))


# --- the standard ---------------------------------------------------------------------------

def test_standard_example_verifies_at_the_digest_and_the_message() -> None:
    assert sm2.digest(P_A, MESSAGE) == E
    assert _sm2verify.verify(P_A, E, SIG) is True
    assert _all_three(P_A, MESSAGE, SIG) == (True, True, True)
    assert sm2.verify_many([(P_A, MESSAGE, SIG)] * 3) == [True] * 3
    assert _sm2verify.verify_many(P_A * 2, E * 2, SIG * 2) == b"\x01\x01"


def test_buffers_of_any_kind_are_read() -> None:
    assert _sm2verify.verify(bytearray(P_A), memoryview(E), bytearray(SIG)) is True


# --- random keys and messages ---------------------------------------------------------------

def test_seeded_random_signatures_agree_with_tongsuo_and_gmssl() -> None:
    result = cross_check(200, seed=7, gmssl_every=2)
    assert result.disagreements == 0
    assert result.native_valid == result.tongsuo_valid == 200
    assert result.gmssl_valid == 100
    assert result.native_refused == result.tongsuo_refused == 200
    assert result.gmssl_refused == 100


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_hundred_thousand_random_signatures_agree_with_tongsuo_and_gmssl() -> None:
    result = cross_check(100_000, seed=2026, gmssl_every=100)
    assert result.disagreements == 0
    assert result.native_valid == result.tongsuo_valid == 100_000
    assert result.native_refused == result.tongsuo_refused == 100_000
    assert result.gmssl_valid == result.gmssl_refused == 1_000


# --- every invalid case, refused by all three -----------------------------------------------

INVALID_SIGNATURES = {
    "r = 0": _rs(0, S_STD),
    "s = 0": _rs(R_STD, 0),
    "r = n": _rs(N, S_STD),
    "s = n": _rs(R_STD, N),
    "r + n (same residue)": _rs(R_STD + N, S_STD) if R_STD + N < 1 << 256 else _rs(N + 1, S_STD),
    "s = 2^256 - 1": _rs(R_STD, (1 << 256) - 1),
    "r = 2^256 - 1": _rs((1 << 256) - 1, S_STD),
    "t = r + s = n": _rs(R_STD, N - R_STD),
    "short": SIG[:63],
    "long": SIG + b"\x00",
}


@pytest.mark.parametrize("case", sorted(INVALID_SIGNATURES))
def test_invalid_signature_is_refused_by_all(case: str) -> None:
    assert _all_three(P_A, MESSAGE, INVALID_SIGNATURES[case]) == (False, False, False)


X_A, Y_A = int.from_bytes(P_A[1:33], "big"), int.from_bytes(P_A[33:], "big")
INVALID_KEYS = {
    "off the curve": _point(X_A, (Y_A + 1) % P),
    "x = p": _point(P, Y_A),
    "y = p": _point(X_A, P),
    "(0, 0)": _point(0, 0),
    "infinity (00)": b"\x00",
    "compressed": bytes([2 + (Y_A & 1)]) + P_A[1:33],
    "wrong prefix": b"\x06" + P_A[1:],
    "short": P_A[:-1],
}


@pytest.mark.parametrize("case", sorted(INVALID_KEYS))
def test_invalid_key_is_refused_by_all(case: str) -> None:
    assert _all_three(INVALID_KEYS[case], MESSAGE, SIG) == (False, False, False)


def test_wrong_signer_id_is_refused() -> None:
    key = sm2.SM2PrivateKey(D_A.to_bytes(32, "big"))
    signature = key.sign_with_id(MESSAGE, b"ALICE123@YAHOO.COM")
    assert _all_three(P_A, MESSAGE, signature) == (False, False, False)
    assert sm2.verify_with_id(P_A, MESSAGE, signature, b"ALICE123@YAHOO.COM")
    assert gmssl_verify(P_A, MESSAGE, signature, b"ALICE123@YAHOO.COM")
    assert not sm2.verify_with_id(P_A, MESSAGE, signature, b"ALICE123@YAHOO.COM!")
    # Z_A over the right ID but for another key: the digest differs
    other = public_of(5)
    assert sm2.digest(other, MESSAGE) != sm2.digest(P_A, MESSAGE)
    assert not _sm2verify.verify(P_A, sm2.digest(other, MESSAGE), SIG)


# --- digests and points that random messages never reach -----------------------------------

@pytest.mark.parametrize("e", [0, 1, N - 1, N, N + 5, (1 << 256) - 1])
def test_extreme_digests_agree_with_gmssl(e: int) -> None:
    signature = sign_digest(D_A, e, k=0x1234567890ABCDEF)
    assert signature is not None
    digest = e.to_bytes(32, "big")
    assert _sm2verify.verify(P_A, digest, signature) is True
    assert gmssl_verify_digest(P_A, digest, signature) is True
    flipped = (e ^ 1).to_bytes(32, "big")
    assert _sm2verify.verify(P_A, flipped, signature) is False
    assert gmssl_verify_digest(P_A, flipped, signature) is False


def _lift_x(x: int) -> tuple[int, int] | None:
    rhs = (x * x * x + sm2.A * x + sm2.B) % P
    y = pow(rhs, (P + 1) // 4, P)  # p = 3 mod 4
    return (x, y) if y * y % P == rhs else None


def _forge_for_point(q: tuple[int, int], s: int, t: int) -> tuple[bytes, bytes, bytes]:
    """A key, digest and signature whose s G + t P is q: P = t^-1 (q - s G), r = t - s,
    and e chosen so that (e + x1) mod n = r."""
    key = SM2_CURVE.mul_sum(pow(t, -1, N), q, N - s, SM2_CURVE.base_mul(1))
    assert key is not None
    r = (t - s) % N
    e = (r - q[0]) % N
    return SM2_CURVE.encode_point(key), e.to_bytes(32, "big"), _rs(r, s)


def test_x1_at_or_above_n_takes_the_second_candidate() -> None:
    # x1 in [n, p) is congruent to (r - e) mod n plus n: the rarely taken branch
    x = N
    while (q := _lift_x(x)) is None:
        x += 1
    assert N <= q[0] < P
    public, digest, signature = _forge_for_point(q, s=12345, t=67890)
    assert _sm2verify.verify(public, digest, signature) is True
    assert gmssl_verify_digest(public, digest, signature) is True
    other = (int.from_bytes(digest, "big") + 1).to_bytes(32, "big")
    assert _sm2verify.verify(public, other, signature) is False


def test_sum_at_infinity_is_refused() -> None:
    s, t = 1111, 2222  # P = -(s / t) G, so s G + t P = O
    key = SM2_CURVE.encode_point(SM2_CURVE.base_mul(-s * pow(t, -1, N) % N))
    signature, digest = _rs((t - s) % N, s), bytes(32)
    assert _sm2verify.verify(key, digest, signature) is False
    assert gmssl_verify_digest(key, digest, signature) is False


@pytest.mark.parametrize("secret", [1, 2, 3, N - 2])
def test_keys_next_to_the_generator_agree(secret: int) -> None:
    # P = G, 2G, 3G or -3G: the additions meet equal and opposite points
    key = sm2.SM2PrivateKey(secret.to_bytes(32, "big"))
    rng = random.Random(secret)
    for _ in range(20):
        message = rng.randbytes(16)
        signature = key.sign(message)
        assert _all_three(key.public_bytes, message, signature) == (True, True, True)
        assert _all_three(key.public_bytes, message + b"!", signature) == (False, False, False)


# --- the batch path the node uses -----------------------------------------------------------

@pytest.mark.parametrize("parallel", [False, True])
def test_batch_verification_mixes_algorithms_in_order(parallel: bool) -> None:
    sm, intl = get_suite("sm").generate_signing_key(), get_suite("intl").generate_signing_key()
    items: list[tuple[int, bytes, bytes, bytes]] = []
    expected: list[bool] = []
    for i in range(40):
        message = i.to_bytes(2, "big")
        key = sm if i % 2 else intl
        signature = key.sign(message).data
        if i % 5 == 0:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        items.append((int(key.alg), key.public_key.data, message, signature))
        expected.append(i % 5 != 0)
    items.append((99, b"key", b"m", b"sig"))  # an unknown algorithm is simply invalid
    items.append((int(AlgId.SM2), b"\x04short", b"m", SIG))
    expected += [False, False]
    assert verify_batch(items, parallel=parallel) == expected


# --- input parsing under arbitrary input ----------------------------------------------------

@given(st.binary(max_size=70), st.binary(max_size=40), st.binary(max_size=70))
def test_fuzz_verify_gives_a_bool_or_a_value_error(pub: bytes, e: bytes, sig: bytes) -> None:
    try:
        result = _sm2verify.verify(pub, e, sig)
    except ValueError:
        assert (len(pub), len(e), len(sig)) != (65, 32, 64)
    else:
        assert result is False or result is True


@given(st.binary(min_size=64, max_size=64), st.binary(min_size=32, max_size=32),
       st.binary(min_size=64, max_size=64))
def test_fuzz_well_sized_garbage_agrees_with_tongsuo(xy: bytes, e: bytes, sig: bytes) -> None:
    public = b"\x04" + xy
    assert _sm2verify.verify(public, e, sig) is gmssl_verify_digest(public, e, sig)
    assert sm2.verify(public, e, sig) is tongsuo_verify(public, e, sig)


@given(st.integers(1, N - 1), st.binary(max_size=40), st.binary(min_size=64, max_size=64))
def test_fuzz_random_signatures_on_real_keys_agree(secret: int, message: bytes,
                                                   sig: bytes) -> None:
    public = public_of(secret)
    assert sm2.verify(public, message, sig) is tongsuo_verify(public, message, sig)


@given(st.binary(max_size=200), st.binary(max_size=100), st.binary(max_size=200))
def test_fuzz_verify_many_gives_one_byte_per_record_or_a_value_error(
        pubs: bytes, digests: bytes, sigs: bytes) -> None:
    try:
        result = _sm2verify.verify_many(pubs, digests, sigs)
    except ValueError:
        count = len(digests) // 32
        assert (len(digests) % 32, len(pubs), len(sigs)) != (0, 65 * count, 64 * count)
    else:
        assert len(result) * 32 == len(digests) and set(result) <= {0, 1}


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.binary())))
def test_fuzz_non_buffers_are_a_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        _sm2verify.verify(value, E, SIG)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _sm2verify.verify_many(P_A, value, SIG)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.binary(max_size=70), st.binary(max_size=20),
                          st.binary(max_size=70)), max_size=8))
def test_fuzz_verify_many_never_raises(items: list[tuple[bytes, bytes, bytes]]) -> None:
    assert sm2.verify_many(items) == [sm2.verify(*item) for item in items]


def test_missing_build_fails_the_import_loudly() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'xinlian.crypto.primitives._sm2verify':\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import xinlian.crypto.primitives.sm2\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode != 0
    assert "the native SM2 verifier is not built" in run.stderr
