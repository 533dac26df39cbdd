"""SM2, SM3 and SM4 against the GB/T example vectors and independent implementations."""

from __future__ import annotations

import gmssl_pyx
import pytest
from gmssl import sm2 as pure_sm2
from gmssl import sm3 as pure_sm3
from gmssl import sm4 as pure_sm4
from hypothesis import given
from hypothesis import strategies as st
from tongsuopy.crypto.asymciphers.utils import encode_dss_signature

from xinlian.crypto.errors import DecryptionError, InvalidKey
from xinlian.crypto.hashes import sm3
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import sm2, symmetric

# GB/T 32918.2-2016 / 32918.5-2017 Annex A, recommended curve, ID 1234567812345678.
D_A = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
P_A = bytes.fromhex(
    "04" "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
Z_A = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
SIG = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")
# GB/T 32918.4 example: "encryption standard" to P_A with k = 59276E27..., C1 || C3 || C2.
ENC_CT = bytes.fromhex(
    "04" "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    "21886CA989CA9C7D58087307CA93092D651EFA")


def _der(sig: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))


def test_sm3_gbt32905_examples() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16).hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")


@given(st.binary(max_size=300))
def test_sm3_matches_pure_python_implementation(data: bytes) -> None:
    assert sm3(data).hex() == pure_sm3.sm3_hash(list(data))


def test_sm2_key_derivation_and_z_a_match_the_standard() -> None:
    key = sm2.SM2PrivateKey(D_A)
    assert key.public_bytes == P_A
    assert sm2.z_a(P_A) == Z_A
    assert sm3(Z_A + b"message digest") == E


def test_sm2_standard_signature_verifies_and_tampering_fails() -> None:
    assert sm2.verify(P_A, b"message digest", SIG)
    assert not sm2.verify(P_A, b"message digesT", SIG)
    assert not sm2.verify(P_A, b"message digest", SIG[:-1] + bytes([SIG[-1] ^ 1]))


def test_sm2_signature_applies_z_a() -> None:
    # The standard's signature is over e = SM3(Z_A || M); verifying it against the bare
    # message digest (no Z_A) must fail, so the binding really applies Z_A.
    assert gmssl_pyx.sm2_verify_sm3_digest(P_A[1:], E, _der(SIG))
    assert not gmssl_pyx.sm2_verify_sm3_digest(P_A[1:], sm3(b"message digest"), _der(SIG))


@given(st.binary(min_size=1, max_size=200))
def test_sm2_signatures_interoperate_with_gmssl(message: bytes) -> None:
    ours = sm2.SM2PrivateKey(D_A)
    assert gmssl_pyx.sm2_verify(P_A[1:], message, _der(ours.sign(message)))
    theirs = gmssl_pyx.sm2_sign(D_A, P_A[1:], message)

    r_s = _der_to_rs(theirs)
    assert sm2.verify(P_A, message, r_s)


def _der_to_rs(der: bytes) -> bytes:
    body, _ = sm2._der_read(der, 0, 0x30)
    r, pos = sm2._der_read(body, 0, 0x02)
    s, _ = sm2._der_read(body, pos, 0x02)
    return sm2._int32(r) + sm2._int32(s)


def test_sm2_signature_verifies_in_pure_python_gmssl() -> None:
    message = b"cross-implementation"
    sig = sm2.SM2PrivateKey(D_A).sign(message)
    crypt = pure_sm2.CryptSM2(private_key=D_A.hex(), public_key=P_A[1:].hex())
    e = sm3(sm2.z_a(P_A) + message).hex()
    assert crypt.verify(sig.hex(), bytes.fromhex(e))


def test_sm2_decrypts_the_standard_ciphertext() -> None:
    assert sm2.SM2PrivateKey(D_A).decrypt(ENC_CT) == b"encryption standard"


@given(st.binary(min_size=1, max_size=255))
def test_sm2_encryption_round_trip(plaintext: bytes) -> None:
    ct = sm2.encrypt(P_A, plaintext)
    assert len(ct) == 65 + 32 + len(plaintext)
    assert sm2.SM2PrivateKey(D_A).decrypt(ct) == plaintext


def test_sm2_bad_inputs_are_typed() -> None:
    with pytest.raises(InvalidKey):
        sm2.SM2PrivateKey(b"\0" * 32)
    with pytest.raises(InvalidKey):
        sm2.check_public_key(b"\x04" + b"\1" * 64)
    assert not sm2.verify(b"\x04" + b"\1" * 64, b"m", SIG)
    assert not sm2.verify(P_A, b"m", b"\0" * 64)
    with pytest.raises(DecryptionError):
        sm2.SM2PrivateKey(D_A).decrypt(ENC_CT[:-1] + bytes([ENC_CT[-1] ^ 1]))
    with pytest.raises(DecryptionError):
        sm2.SM2PrivateKey(D_A).decrypt(b"\x04short")


SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm4_gbt32907_block_example() -> None:
    # One CBC block with a zero IV is the raw block cipher.
    assert symmetric.sm4_cbc_encrypt(SM4_KEY, bytes(16), SM4_KEY)[:16].hex() == (
        "681edf34d206965e86b3e94f536e4246")


@given(st.binary(max_size=100), st.binary(min_size=16, max_size=16))
def test_sm4_cbc_matches_pure_python(plaintext: bytes, iv: bytes) -> None:
    ours = symmetric.sm4_cbc_encrypt(SM4_KEY, iv, plaintext)
    ref = pure_sm4.CryptSM4()
    ref.set_key(SM4_KEY, pure_sm4.SM4_ENCRYPT)
    assert ours == bytes(ref.crypt_cbc(iv, plaintext))
    assert symmetric.sm4_cbc_decrypt(SM4_KEY, iv, ours) == plaintext


def test_sm4_gcm_rfc8998_vector() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    iv = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    pt = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                       "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
    sealed = symmetric.seal(AlgId.SM4_GCM, key, iv, pt, aad)
    assert sealed.hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC")
    assert symmetric.open_sealed(AlgId.SM4_GCM, key, iv, sealed, aad) == pt
    with pytest.raises(DecryptionError):
        symmetric.open_sealed(AlgId.SM4_GCM, key, iv, sealed, aad + b"x")


@given(st.binary(min_size=1, max_size=200), st.binary(max_size=20),
       st.binary(min_size=12, max_size=12))
def test_sm4_gcm_matches_gmssl(plaintext: bytes, aad: bytes, nonce: bytes) -> None:
    sealed = symmetric.seal(AlgId.SM4_GCM, SM4_KEY, nonce, plaintext, aad)
    ct, tag = gmssl_pyx.sm4_gcm_encrypt(SM4_KEY, nonce, aad, plaintext)
    assert sealed == bytes(ct) + bytes(tag)


def test_sm4_gcm_empty_message_round_trip() -> None:
    sealed = symmetric.seal(AlgId.SM4_GCM, SM4_KEY, bytes(12), b"", b"header")
    assert len(sealed) == 16
    assert symmetric.open_sealed(AlgId.SM4_GCM, SM4_KEY, bytes(12), sealed, b"header") == b""


def test_sm4_cbc_bad_inputs() -> None:
    with pytest.raises(InvalidKey):
        symmetric.sm4_cbc_encrypt(b"short", bytes(16), b"x")
    with pytest.raises(DecryptionError):
        symmetric.sm4_cbc_decrypt(SM4_KEY, bytes(16), b"\0" * 15)


# --- variants for contracts: a chosen signer ID, encryption with a derived ephemeral key ---
ENC_K = int("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21", 16)


def _verify_by_equations(public: bytes, message: bytes, sig: bytes, signer_id: bytes) -> bool:
    """GB/T 32918.2 section 7 on Tongsuo's point arithmetic: independent of GmSSL."""
    from xinlian.crypto.primitives.sm2_exchange import SM2_CURVE

    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    t = (r + s) % sm2.N
    e = int.from_bytes(sm3(sm2.z_a(public, signer_id) + message), "big")
    point = SM2_CURVE.mul_sum(1, SM2_CURVE.base_mul(s), t, SM2_CURVE.decode_point(public))
    return point is not None and (e + point[0]) % sm2.N == r


def test_sm2_encrypt_with_k_reproduces_the_standard_example() -> None:
    assert sm2.encrypt_with_k(P_A, b"encryption standard", ENC_K) == ENC_CT


@given(st.binary(min_size=1, max_size=255), st.binary(max_size=40))
def test_sm2_encrypt_with_seed_is_deterministic_and_gmssl_decrypts_it(
        plaintext: bytes, seed: bytes) -> None:
    ct = sm2.encrypt_with_seed(P_A, plaintext, seed)
    assert ct == sm2.encrypt_with_seed(P_A, plaintext, seed)
    assert ct != sm2.encrypt_with_seed(P_A, plaintext, seed + b"x")
    assert bytes(gmssl_pyx.sm2_decrypt(D_A, sm2._c1c3c2_to_der(ct))) == plaintext
    assert sm2.SM2PrivateKey(D_A).decrypt(ct) == plaintext


def test_sm2_encrypt_with_seed_bad_inputs() -> None:
    with pytest.raises(ValueError):
        sm2.encrypt_with_seed(P_A, b"", b"seed")
    with pytest.raises(ValueError):
        sm2.encrypt_with_seed(P_A, bytes(256), b"seed")
    with pytest.raises(InvalidKey):
        sm2.encrypt_with_seed(P_A[:-1], b"m", b"seed")


@given(st.binary(max_size=64), st.binary(min_size=1, max_size=40))
def test_sm2_signer_id_signatures_cross_check(message: bytes, signer_id: bytes) -> None:
    key = sm2.SM2PrivateKey(D_A)
    sig = key.sign_with_id(message, signer_id)
    assert _verify_by_equations(P_A, message, sig, signer_id)
    assert sm2.verify_with_id(P_A, message, sig, signer_id)
    assert not sm2.verify_with_id(P_A, message, sig, signer_id + b"x")
    assert not sm2.verify_with_id(P_A, message + b"x", sig, signer_id)


def test_sm2_verify_with_default_id_accepts_tongsuo_and_the_standard() -> None:
    assert sm2.verify_with_id(P_A, b"message digest", SIG, sm2.DEFAULT_ID)
    sig = sm2.SM2PrivateKey(D_A).sign(b"hello")
    assert sm2.verify_with_id(P_A, b"hello", sig, sm2.DEFAULT_ID)
    assert not sm2.verify_with_id(P_A, b"hello", sig, b"ALICE123@YAHOO.COM")
    assert not sm2.verify_with_id(P_A, b"hello", sig[:-1], sm2.DEFAULT_ID)
    with pytest.raises(InvalidKey):
        sm2.verify_with_id(b"\x04" + b"\1" * 64, b"hello", sig, sm2.DEFAULT_ID)
