"""Cryptography and transaction context from Qi: SM4 (GCM, CBC), SM2 encryption and
verification with a signer ID, the suite's `verify`, and tx hash / index / origin /
recent block hashes, checked against the standards' vectors and GmSSL; the confidential
accounts' reads and `conf_pay`'s refusal outside a signed transaction (its chain runs:
tests/execution/test_confidential_qi.py)."""

from __future__ import annotations

import gmssl_pyx
import pytest

from xinlian import codec
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import sm2, symmetric
from xinlian.crypto.signing import generate_signing_key
from xinlian.execution.confidential import ACCOUNT_PREFIX, REGULATOR_KEY, ConfidentialAccount
from xinlian.execution.vm.local import DEFAULT_SENDER, LocalChain
from xinlian.execution.vm.services import BLOCK_HASH_WINDOW, SERVICE_FUEL
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CryptoInputError

SRC = """
interface Peer { fn who() -> list<address>; }

contract Crypto {
    state last: bytes;
    pub fn gcm_enc(k: bytes, n: bytes, p: bytes, aad: bytes) -> bytes {
        last = sm4_gcm_encrypt(k, n, p, aad);
        return last;
    }
    pub fn gcm_dec(k: bytes, n: bytes, c: bytes, aad: bytes) -> bytes {
        last = b"touched";
        return sm4_gcm_decrypt(k, n, c, aad);
    }
    pub view fn cbc_enc(k: bytes, iv: bytes, p: bytes) -> bytes {
        return sm4_cbc_encrypt(k, iv, p);
    }
    pub view fn cbc_dec(k: bytes, iv: bytes, c: bytes) -> bytes {
        return sm4_cbc_decrypt(k, iv, c);
    }
    pub view fn enc(pk: bytes, m: bytes) -> list<bytes> {
        return [sm2_encrypt(pk, m), sm2_encrypt(pk, m)];
    }
    pub view fn dec(sk: bytes, c: bytes) -> bytes { return sm2_decrypt(sk, c); }
    pub view fn check_id(pk: bytes, m: bytes, s: bytes, id: bytes) -> bool {
        return sm2_verify_id(pk, m, s, id);
    }
    pub view fn check(pk: bytes, m: bytes, s: bytes) -> bool { return verify(pk, m, s); }
}

contract Ctx {
    pub view fn tx() -> bytes { return tx_hash(); }
    pub view fn index() -> u32 { return tx_index(); }
    pub view fn who() -> list<address> { return [origin(), caller()]; }
    pub view fn via(peer: address) -> list<address> { return Peer(peer).who(); }
    pub view fn recent(n: u64) -> bytes? { return block_hash(n); }
}
"""
KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
# RFC 8998 appendix A.1 (SM4-GCM)
IV = bytes.fromhex("00001234567800000000ABCD")
AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
PT = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                   "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
SEALED = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    "83DE3541E4C2B58177E065A9BF7B62EC")
# GB/T 32918 recommended-curve example key (as in tests/crypto/test_sm.py)
D_A = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")


@pytest.fixture(scope="module")
def crypto() -> tuple[LocalChain, bytes]:
    ch = LocalChain()
    return ch, ch.deploy(compile_source(SRC, "svc.qi", contract="Crypto"))


def test_sm4_gcm_matches_rfc8998_and_round_trips(crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    assert ch.call(c, "gcm_enc", KEY, IV, PT, AAD).value == SEALED
    assert ch.call(c, "gcm_dec", KEY, IV, SEALED, AAD).value == PT


def test_invalid_sm4_gcm_inputs_are_typed_errors_and_roll_back(
        crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    ch.call(c, "gcm_enc", KEY, IV, b"kept", b"")
    before = dict(ch.state)
    for args in ([KEY, IV, SEALED[:-1] + bytes([SEALED[-1] ^ 1]), AAD],  # bad tag
                 [KEY, IV, SEALED, AAD + b"x"],  # other associated data
                 [KEY[:15], IV, SEALED, AAD],  # short key
                 [KEY, IV[:8], SEALED, AAD],  # short nonce
                 [KEY, IV, b"short", AAD]):  # shorter than a tag
        res = ch.call(c, "gcm_dec", *args)
        assert isinstance(res.error, CryptoInputError)
        assert res.error.code == 7511 and "sm4_gcm_decrypt" in res.error.message
        assert res.error.trace and res.error.trace[0].startswith("gcm_dec (")
    assert ch.state == before


def test_sm4_cbc_matches_gbt32907_and_gmssl(crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    # GB/T 32907 example: one block under a zero IV is the block cipher itself
    one = ch.call(c, "cbc_enc", KEY, bytes(16), KEY).value
    assert one[:16].hex() == "681edf34d206965e86b3e94f536e4246" and len(one) == 32
    iv = bytes(range(16))
    for msg in (b"x", PT):  # GmSSL refuses empty messages
        ct = ch.call(c, "cbc_enc", KEY, iv, msg).value
        assert ct == bytes(gmssl_pyx.sm4_cbc_padding_encrypt(KEY, iv, msg))
        assert ch.call(c, "cbc_dec", KEY, iv, ct).value == msg
    empty = ch.call(c, "cbc_enc", KEY, iv, b"").value
    assert len(empty) == 16 and ch.call(c, "cbc_dec", KEY, iv, empty).value == b""


def test_invalid_sm4_cbc_inputs_are_typed_errors(crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    ct = symmetric.sm4_cbc_encrypt(KEY, bytes(16), b"padded")
    for args in ([KEY, bytes(16), ct[:-1]], [KEY, bytes(16), b""], [KEY, bytes(15), ct],
                 [KEY[:8], bytes(16), ct], [KEY, bytes(16), ct[:-1] + bytes([ct[-1] ^ 1])]):
        assert isinstance(ch.call(c, "cbc_dec", *args).error, CryptoInputError)
    assert isinstance(ch.call(c, "cbc_enc", KEY[:15], bytes(16), b"m").error, CryptoInputError)


def test_sm2_encryption_interoperates_with_gmssl(crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    pk = sm2.SM2PrivateKey(D_A).public_bytes
    first, second = ch.call(c, "enc", pk, b"to the holder of D_A").value
    assert first != second  # each encryption in a transaction gets its own k
    for ct in (first, second):  # GmSSL decrypts ours
        assert bytes(gmssl_pyx.sm2_decrypt(D_A, sm2._c1c3c2_to_der(ct))) == \
            b"to the holder of D_A"
    again = ch.call(c, "enc", pk, b"to the holder of D_A").value
    assert again[0] != first  # another transaction, another k
    theirs = sm2.encrypt(pk, b"from GmSSL")  # we decrypt GmSSL's
    assert ch.call(c, "dec", D_A, theirs).value == b"from GmSSL"


def test_sm2_encryption_is_the_same_on_every_node() -> None:
    pk = sm2.SM2PrivateKey(D_A).public_bytes
    art = compile_source(SRC, "svc.qi", contract="Crypto")
    outs = []
    for _ in range(2):
        ch = LocalChain()
        outs.append(ch.call(ch.deploy(art), "enc", pk, b"replayed").value)
    assert outs[0] == outs[1]


def test_invalid_sm2_inputs_are_typed_errors(crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    pk = sm2.SM2PrivateKey(D_A).public_bytes
    ct = sm2.encrypt(pk, b"m")
    for method, args in (("dec", [D_A, ct[:-1] + bytes([ct[-1] ^ 1])]),
                         ("dec", [D_A, b"\x04short"]), ("dec", [D_A[:31], ct]),
                         ("dec", [bytes(32), ct]), ("enc", [pk[:64], b"m"]),
                         ("enc", [pk, b""]), ("enc", [pk, bytes(256)])):
        res = ch.call(c, method, *args)
        assert isinstance(res.error, CryptoInputError), (method, res.error)


def test_sm2_verify_with_a_signer_id_cross_checks_gmssl(crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    key = sm2.SM2PrivateKey(D_A)
    sig = key.sign_with_id(b"order 42", b"alice@bank.example")
    assert ch.call(c, "check_id", key.public_bytes, b"order 42", sig,
                   b"alice@bank.example").value is True
    assert ch.call(c, "check_id", key.public_bytes, b"order 42", sig,
                   sm2.DEFAULT_ID).value is False
    assert ch.call(c, "check_id", key.public_bytes, b"order 43", sig,
                   b"alice@bank.example").value is False
    assert ch.call(c, "check_id", key.public_bytes[:64], b"order 42", sig,
                   b"alice@bank.example").value is False
    default = key.sign(b"order 42")  # Tongsuo, default ID
    assert ch.call(c, "check_id", key.public_bytes, b"order 42", default,
                   sm2.DEFAULT_ID).value is True


def test_verify_follows_the_chain_suite(crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    sm = generate_signing_key(AlgId.SM2, seed=bytes(32))
    ed = generate_signing_key(AlgId.ED25519, seed=bytes(32))
    sm_args = [sm.public_key.data, b"m", sm.sign(b"m").data]
    ed_args = [ed.public_key.data, b"m", ed.sign(b"m").data]
    assert ch.world.suite == "sm"
    assert ch.call(c, "check", *sm_args).value is True
    assert ch.call(c, "check", *ed_args).value is False
    ch.world.suite = "intl"
    try:
        assert ch.call(c, "check", *ed_args).value is True
        assert ch.call(c, "check", *sm_args).value is False
    finally:
        ch.world.suite = "sm"


def test_crypto_builtins_charge_their_schedule(crypto: tuple[LocalChain, bytes]) -> None:
    ch, c = crypto
    pk = sm2.SM2PrivateKey(D_A).public_bytes
    assert ch.call(c, "enc", pk, b"m").fuel_used > 2 * SERVICE_FUEL["sm2_encrypt"][0]
    small = ch.call(c, "cbc_enc", KEY, bytes(16), b"m").fuel_used
    big = ch.call(c, "cbc_enc", KEY, bytes(16), bytes(4096)).fuel_used
    assert big - small >= SERVICE_FUEL["sm4_cbc_encrypt"][1] * 4000


# --- transaction context -----------------------------------------------------------------
@pytest.fixture()
def ctx() -> tuple[LocalChain, bytes, bytes]:
    ch = LocalChain()
    art = compile_source(SRC, "svc.qi", contract="Ctx")
    return ch, ch.deploy(art), ch.deploy(art)


def test_tx_hash_and_index_follow_the_block(ctx: tuple[LocalChain, bytes, bytes]) -> None:
    ch, a, _ = ctx
    ch.advance_block()
    first, second = ch.call(a, "tx"), ch.call(a, "tx")
    assert len(first.value) == 32 and first.value != second.value
    assert second.value == ch.world.tx.hash == ch.block_txs[-1]
    assert [ch.call(a, "index").value for _ in range(3)] == [2, 3, 4]
    ch.advance_block()
    assert ch.call(a, "index").value == 0


def test_origin_is_the_signer_and_caller_the_last_hop(
        ctx: tuple[LocalChain, bytes, bytes]) -> None:
    ch, a, b = ctx
    user = bytes(19) + b"\x42"
    assert ch.call(a, "who", sender=user).value == [user, user]
    assert ch.call(a, "via", b, sender=user).value == [user, a]
    assert ch.call(a, "who").value == [DEFAULT_SENDER, DEFAULT_SENDER]


def test_block_hash_sees_a_window_of_closed_blocks(
        ctx: tuple[LocalChain, bytes, bytes]) -> None:
    ch, a, _ = ctx
    assert ch.call(a, "recent", 0).value is None  # block 0 is still open
    closed: list[bytes] = []
    for _ in range(BLOCK_HASH_WINDOW + 2):
        ch.advance_block()
        closed.append(ch.world.block_hashes[ch.world.block_number - 1])
    now = ch.world.block_number
    assert ch.call(a, "recent", now - 1).value == closed[-1]
    assert ch.call(a, "recent", now - BLOCK_HASH_WINDOW).value == \
        closed[-BLOCK_HASH_WINDOW]
    assert ch.call(a, "recent", now - BLOCK_HASH_WINDOW - 1).value is None  # too old
    assert ch.call(a, "recent", now).value is None  # the current block
    assert ch.call(a, "recent", now + 5).value is None
    assert len(set(closed)) == len(closed)
    assert len(ch.world.block_hashes) == BLOCK_HASH_WINDOW


CONF_SRC = """
contract Conf {
    pub fn pay(to: address, floor: u64, payment: bytes) -> bytes {
        return conf_pay(to, floor, payment);
    }
    pub view fn key(a: address) -> bytes? { return conf_key(a); }
    pub view fn balance(a: address) -> bytes? { return conf_balance(a); }
    pub view fn regulated() -> bool { return conf_regulated(); }
}
"""


def test_confidential_reads_serve_the_accounts_records() -> None:
    ch = LocalChain()
    c = ch.deploy(compile_source(CONF_SRC, "conf.qi"))
    who = bytes(19) + b"\x07"
    assert ch.call(c, "key", who).value is None
    assert ch.call(c, "balance", who).value is None
    assert ch.call(c, "regulated").value is False
    ch.state[ACCOUNT_PREFIX + who] = codec.encode(ConfidentialAccount(b"K" * 32, b"B" * 64))
    ch.state[REGULATOR_KEY] = b"\x90"
    assert ch.call(c, "key", who).value == b"K" * 32
    assert ch.call(c, "balance", who).value == b"B" * 64
    assert ch.call(c, "regulated").value is True


def test_invalid_conf_pay_outside_a_signed_transaction() -> None:
    """A local run (like an async delivery or a scheduled run) has no nonce to bind a
    payment's proof to: refused, with the error named."""
    ch = LocalChain()
    c = ch.deploy(compile_source(CONF_SRC, "conf.qi"))
    res = ch.call(c, "pay", bytes(20), 0, b"")
    assert res.error is not None and res.error.name == "confidential_refused"
    assert "signed" in res.error.message
