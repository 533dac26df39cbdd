"""Key exchange recipes: RFC 7748 X25519 vectors, ML-KEM-768 against kyber-py, agreement on
both sides for every algorithm, and typed errors for bad shares."""

from __future__ import annotations

import random

import pytest
from kyber_py.ml_kem import ML_KEM_768

from xinlian.crypto.errors import KeyExchangeError, MalformedShare, UnknownAlgorithm
from xinlian.crypto.key_exchange import (
    KeyExchange,
    MlKemExchange,
    Parties,
    X25519Exchange,
    new_key_exchange,
)
from xinlian.crypto.keys import AlgId
from xinlian.crypto.signing import SigningKey, generate_signing_key

ALGS = [AlgId.X25519, AlgId.ML_KEM_768, AlgId.X25519_ML_KEM_768, AlgId.SM2_KEY_EXCHANGE]

# RFC 7748 §6.1: Alice's and Bob's private keys, public keys and their shared secret.
ALICE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
BOB = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"


def _fixed(hex_key: str) -> X25519Exchange:
    return X25519Exchange(lambda n: bytes.fromhex(hex_key))


def _parties(alg: AlgId) -> tuple[Parties, Parties]:
    """(initiator's view, responder's view), with SM2 static keys for the SM2 exchange."""
    sig = AlgId.SM2 if alg == AlgId.SM2_KEY_EXCHANGE else AlgId.ED25519
    a: SigningKey = generate_signing_key(sig, b"\x01" * 32)
    b: SigningKey = generate_signing_key(sig, b"\x02" * 32)
    return (Parties(a, a.public_key, b.public_key), Parties(b, a.public_key, b.public_key))


def _run(alg: AlgId, seed: int) -> tuple[KeyExchange, KeyExchange, bytes, bytes, bytes]:
    rng = random.Random(seed).randbytes
    ini, res = new_key_exchange(alg, rng), new_key_exchange(alg, rng)
    ini_parties, res_parties = _parties(alg)
    accepted = res.accept(ini.offer(), res_parties)
    completed = ini.complete(accepted.share, accepted.confirm, ini_parties)
    res.check_finish(completed.confirm)
    return ini, res, accepted.secret, completed.secret, completed.confirm


def test_x25519_rfc7748_vectors() -> None:
    alice, bob = _fixed(ALICE), _fixed(BOB)
    assert alice.offer().hex() == ALICE_PUBLIC
    assert bob.offer().hex() == BOB_PUBLIC
    parties = _parties(AlgId.X25519)[0]
    accepted = bob.accept(alice.offer(), parties)
    assert accepted.secret.hex() == SHARED and accepted.share.hex() == BOB_PUBLIC
    assert alice.complete(accepted.share, b"", parties).secret.hex() == SHARED


def test_x25519_low_order_point_is_refused() -> None:
    with pytest.raises(KeyExchangeError):
        _fixed(ALICE).accept(bytes(32), _parties(AlgId.X25519)[1])


def test_mlkem_responder_interoperates_with_kyber_py() -> None:
    ek, dk = ML_KEM_768.keygen()
    accepted = MlKemExchange(random.Random(1).randbytes).accept(ek, _parties(AlgId.ML_KEM_768)[1])
    assert ML_KEM_768.decaps(dk, accepted.share) == accepted.secret


def test_mlkem_initiator_interoperates_with_kyber_py() -> None:
    ini = MlKemExchange(random.Random(2).randbytes)
    shared, ciphertext = ML_KEM_768.encaps(ini.offer())
    assert ini.complete(ciphertext, b"", _parties(AlgId.ML_KEM_768)[0]).secret == shared


@pytest.mark.parametrize("alg", ALGS)
def test_both_sides_agree_and_fresh_exchanges_differ(alg: AlgId) -> None:
    ini, res, responder_secret, initiator_secret, _ = _run(alg, 1)
    assert ini.alg == res.alg == alg
    assert responder_secret == initiator_secret and len(initiator_secret) >= 32
    assert _run(alg, 2)[2] != responder_secret


def test_hybrid_secret_is_both_secrets() -> None:
    secret = _run(AlgId.X25519_ML_KEM_768, 3)[2]
    assert len(secret) == 64  # 32 from X25519, 32 from ML-KEM-768


def test_sm2_exchange_tags_are_checked_both_ways() -> None:
    rng = random.Random(4).randbytes
    ini, res = new_key_exchange(AlgId.SM2_KEY_EXCHANGE, rng), new_key_exchange(
        AlgId.SM2_KEY_EXCHANGE, rng)
    ini_parties, res_parties = _parties(AlgId.SM2_KEY_EXCHANGE)
    accepted = res.accept(ini.offer(), res_parties)
    bad = bytes([accepted.confirm[0] ^ 1]) + accepted.confirm[1:]
    with pytest.raises(KeyExchangeError):
        ini.complete(accepted.share, bad, ini_parties)
    completed = ini.complete(accepted.share, accepted.confirm, ini_parties)
    with pytest.raises(KeyExchangeError):
        res.check_finish(completed.confirm[:-1] + bytes([completed.confirm[-1] ^ 1]))


def test_invalid_sm2_exchange_with_keys_of_another_algorithm() -> None:
    ex = new_key_exchange(AlgId.SM2_KEY_EXCHANGE, random.Random(5).randbytes)
    with pytest.raises(KeyExchangeError):
        ex.accept(ex.offer(), _parties(AlgId.X25519)[1])


@pytest.mark.parametrize("alg", [AlgId.ML_KEM_768, AlgId.X25519_ML_KEM_768])
def test_invalid_share_sizes_are_malformed(alg: AlgId) -> None:
    ini_parties, res_parties = _parties(alg)
    ini = new_key_exchange(alg, random.Random(6).randbytes)
    offer = ini.offer()
    with pytest.raises(MalformedShare):
        new_key_exchange(alg, random.Random(7).randbytes).accept(offer[:-1], res_parties)
    with pytest.raises(MalformedShare):
        ini.complete(b"\x00" * 10, b"", ini_parties)


@pytest.mark.parametrize("alg", [AlgId.X25519, AlgId.ML_KEM_768, AlgId.X25519_ML_KEM_768])
def test_invalid_confirmation_tag_where_the_scheme_has_none(alg: AlgId) -> None:
    rng = random.Random(8).randbytes
    ini, res = new_key_exchange(alg, rng), new_key_exchange(alg, rng)
    ini_parties, res_parties = _parties(alg)
    accepted = res.accept(ini.offer(), res_parties)
    with pytest.raises(MalformedShare):
        ini.complete(accepted.share, b"tag", ini_parties)
    with pytest.raises(MalformedShare):
        res.check_finish(b"tag")


def test_invalid_algorithm_is_unknown() -> None:
    with pytest.raises(UnknownAlgorithm):
        new_key_exchange(AlgId.SM2, random.Random(9).randbytes)
