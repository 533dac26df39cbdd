"""FROST against RFC 9591's test vectors, interoperability with plain Ed25519 verifiers,
and the attacker's side: invalid shares, nonce reuse, forged commitment lists, t - 1 signers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import nacl.exceptions
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.primitives.groups import (
    GroupError,
    IdentityElementError,
    Rng,
    SmallSubgroupError,
    lagrange_coefficient,
)
from xinlian.crypto.threshold import frost
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.frost import (
    FROST_ED25519,
    FROST_SECP256K1,
    Ciphersuite,
    SigningNonces,
    SigningPackage,
)

VECTORS = Path(__file__).parent / "vectors"
SUITES = {"frost-ed25519-sha512.json": FROST_ED25519,
          "frost-secp256k1-sha256.json": FROST_SECP256K1}


def _fixed(data: bytes) -> Rng:
    return lambda n: data[:n]


@pytest.mark.parametrize("name", sorted(SUITES))
def test_rfc9591_vectors(name: str) -> None:
    suite = SUITES[name]
    g = suite.group
    v = json.loads((VECTORS / name).read_text())
    sk = g.decode_scalar(bytes.fromhex(v["group_secret_key"]))
    coeffs = [g.decode_scalar(bytes.fromhex(c)) for c in v["share_polynomial_coefficients"]]
    keys = {k.identifier: k for k in frost.share_polynomial(g, [sk, *coeffs], [1, 2, 3])}
    public = keys[1].public
    assert public.group_public_key.encode().hex() == v["group_public_key"]
    for i, share in v["participant_shares"].items():
        assert keys[int(i)].secret.encode().hex() == share
    msg = bytes.fromhex(v["message"])
    nonces: dict[int, SigningNonces] = {}
    for i, r1 in v["round_one"].items():
        key = keys[int(i)]
        d = frost.nonce_generate(suite, key.secret, _fixed(bytes.fromhex(
            r1["hiding_nonce_randomness"])))
        e = frost.nonce_generate(suite, key.secret, _fixed(bytes.fromhex(
            r1["binding_nonce_randomness"])))
        assert d.encode().hex() == r1["hiding_nonce"]
        assert e.encode().hex() == r1["binding_nonce"]
        c = frost.SigningCommitments(key.identifier, g.base_mul(d), g.base_mul(e))
        assert c.hiding.encode().hex() == r1["hiding_nonce_commitment"]
        assert c.binding.encode().hex() == r1["binding_nonce_commitment"]
        nonces[key.identifier] = SigningNonces(c, d, e)
    package = SigningPackage(suite, public.group_public_key, msg,
                             tuple(nonces[i].commitments for i in sorted(nonces)))
    inputs = frost.binding_factor_inputs(suite, public.group_public_key, msg,
                                         package.commitments)
    for i, r1 in v["round_one"].items():
        assert inputs[int(i)].hex() == r1["binding_factor_input"]
        assert package.binding_factors[int(i)].encode().hex() == r1["binding_factor"]
    shares = {i: frost.sign(keys[i], nonces[i], package) for i in nonces}
    for i, s in shares.items():
        assert s.share.encode().hex() == v["sig_shares"][str(i)]
        assert frost.verify_signature_share(package, public, s)
    sig = frost.aggregate(package, shares, public)
    assert sig.encode().hex() == v["sig"]
    assert frost.verify(suite, public.group_public_key, msg, sig)


def _setup(suite: Ciphersuite, t: int, n: int, seed: int = 1) -> list[KeyShare]:
    rng = random.Random(seed).randbytes
    g = suite.group
    return frost.share_secret(g, g.random_scalar(rng), t, list(range(1, n + 1)), rng)


def _sign(suite: Ciphersuite, keys: list[KeyShare], msg: bytes,
          seed: int = 2) -> tuple[SigningPackage, dict[int, frost.SignatureShare]]:
    rng = random.Random(seed).randbytes
    nonces = {k.identifier: frost.commit(k, rng) for k in keys}
    package = SigningPackage(suite, keys[0].public.group_public_key, msg,
                             tuple(nonces[k.identifier].commitments for k in keys))
    return package, {k.identifier: frost.sign(k, nonces[k.identifier], package) for k in keys}


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32), msg=st.binary(max_size=64),
       t=st.integers(1, 4), extra=st.integers(0, 2))
def test_any_t_signers_produce_ordinary_ed25519_signatures(seed: int, msg: bytes, t: int,
                                                           extra: int) -> None:
    keys = _setup(FROST_ED25519, t, t + extra, seed)
    chosen = random.Random(seed).sample(keys, t)
    chosen.sort(key=lambda k: k.identifier)
    package, shares = _sign(FROST_ED25519, chosen, msg, seed)
    sig = frost.aggregate(package, shares, chosen[0].public)
    pk = chosen[0].public.group_public_key.encode()
    # the plain RFC 8032 verifier of libsodium accepts it
    nacl.signing.VerifyKey(pk).verify(msg, sig.encode())
    assert frost.verify_bytes(FROST_ED25519, pk, msg, sig.encode())
    with pytest.raises(nacl.exceptions.BadSignatureError):
        nacl.signing.VerifyKey(pk).verify(msg + b"x", sig.encode())


def test_secp256k1_signatures_verify_and_bind_message() -> None:
    keys = _setup(FROST_SECP256K1, 3, 5)
    package, shares = _sign(FROST_SECP256K1, keys[1:4], b"checkpoint 42")
    sig = frost.aggregate(package, shares, keys[0].public)
    pk = keys[0].public.group_public_key.encode()
    assert frost.verify_bytes(FROST_SECP256K1, pk, b"checkpoint 42", sig.encode())
    assert not frost.verify_bytes(FROST_SECP256K1, pk, b"checkpoint 43", sig.encode())
    assert not frost.verify_bytes(FROST_SECP256K1, pk, b"checkpoint 42", sig.encode()[:-1])


@pytest.mark.parametrize("suite", [FROST_ED25519, FROST_SECP256K1], ids=["ed25519", "secp256k1"])
def test_invalid_shares_are_identified(suite: Ciphersuite) -> None:
    keys = _setup(suite, 3, 5)
    package, shares = _sign(suite, keys[:4], b"m")
    g = suite.group
    shares[2] = frost.SignatureShare(2, shares[2].share + g.scalar(1))
    shares[4] = frost.SignatureShare(4, g.scalar(12345))
    with pytest.raises(frost.InvalidSignatureShareError) as err:
        frost.aggregate(package, shares, keys[0].public)
    assert err.value.culprits == [2, 4]
    assert err.value.to_dict()["code"] == 8201
    assert frost.verify_signature_share(package, keys[0].public, shares[1])


def test_nonces_are_single_use_and_bound_to_the_signer() -> None:
    keys = _setup(FROST_ED25519, 2, 3)
    rng = random.Random(5).randbytes
    n1, n2 = frost.commit(keys[0], rng), frost.commit(keys[1], rng)
    package = SigningPackage(FROST_ED25519, keys[0].public.group_public_key, b"m",
                             (n1.commitments, n2.commitments))
    frost.sign(keys[0], n1, package)
    with pytest.raises(frost.NonceReuseError):
        frost.sign(keys[0], n1, package)  # replayed signing request
    with pytest.raises(frost.NonceReuseError):
        frost.sign(keys[2], n2, package)  # someone else's nonces
    assert "used=True" in repr(n1)


def test_commitment_list_rules() -> None:
    keys = _setup(FROST_ED25519, 3, 4)
    rng = random.Random(6).randbytes
    ns = [frost.commit(k, rng) for k in keys]
    pk = keys[0].public.group_public_key
    with pytest.raises(frost.InvalidCommitmentListError):  # unsorted
        SigningPackage(FROST_ED25519, pk, b"m", (ns[1].commitments, ns[0].commitments))
    with pytest.raises(frost.InvalidCommitmentListError):  # duplicate
        SigningPackage(FROST_ED25519, pk, b"m", (ns[0].commitments, ns[0].commitments))
    small = SigningPackage(FROST_ED25519, pk, b"m", (ns[0].commitments, ns[1].commitments))
    with pytest.raises(frost.InvalidCommitmentListError):  # below threshold
        frost.sign(keys[0], ns[0], small)
    with pytest.raises(frost.InvalidIdentifierError):
        frost.SigningPackage(FROST_ED25519, pk, b"m",
                             (frost.SigningCommitments(0, pk, pk),))


def test_t_minus_one_signers_cannot_forge() -> None:
    """t - 1 honest-looking shares aggregate to nothing valid: the Lagrange weights over a
    (t-1)-set interpolate a different polynomial value than the group secret."""
    keys = _setup(FROST_ED25519, 3, 5)
    pk = keys[0].public.group_public_key
    g = FROST_ED25519.group
    # (a) signing with only t-1 members is refused by honest signers ...
    rng = random.Random(9).randbytes
    ns = [frost.commit(k, rng) for k in keys[:2]]
    package = SigningPackage(FROST_ED25519, pk, b"m", tuple(n.commitments for n in ns))
    with pytest.raises(frost.InvalidCommitmentListError):
        frost.sign(keys[0], ns[0], package)
    # (b) ... and t-1 colluders computing shares themselves get a signature that fails.
    d_e = [n.take() for n in ns]
    z = g.scalar(0)
    for k, (d, e) in zip(keys[:2], d_e, strict=True):
        z = z + d + e * package.binding_factors[k.identifier] + (
            package.lagrange(k.identifier) * k.secret * package.challenge)
    assert not frost.verify(FROST_ED25519, pk, b"m", frost.Signature(package.group_commitment, z))
    # (c) t-1 shares interpolate to a value that is not the secret key
    lam = [lagrange_coefficient(g, [1, 2], i) for i in (1, 2)]
    guess = lam[0] * keys[0].secret + lam[1] * keys[1].secret
    assert g.base_mul(guess) != pk


def test_wire_round_trip_and_bad_points() -> None:
    keys = _setup(FROST_ED25519, 2, 2)
    package, shares = _sign(FROST_ED25519, keys, b"wire")
    w = codec.decode(codec.encode(frost.package_to_wire(package)), frost.WireSigningPackage)
    again = frost.package_from_wire(FROST_ED25519, keys[0].public.group_public_key, w)
    assert again.challenge == package.challenge
    s = frost.share_from_wire(FROST_ED25519, codec.decode(
        codec.encode(frost.share_to_wire(shares[1])), frost.WireSignatureShare))
    assert s == shares[1]
    bad = frost.WireCommitments(1, bytes(32), w.commitments[0].binding)  # order-4 point
    with pytest.raises(SmallSubgroupError):
        frost.commitments_from_wire(FROST_ED25519, bad)
    bad = frost.WireCommitments(1, b"\x01" + bytes(31), w.commitments[0].binding)
    with pytest.raises(IdentityElementError):
        frost.commitments_from_wire(FROST_ED25519, bad)
    wrong_curve = frost.WireCommitments(1, FROST_SECP256K1.group.generator().encode(),
                                        w.commitments[0].binding)
    with pytest.raises(GroupError):
        frost.commitments_from_wire(FROST_ED25519, wrong_curve)
    with pytest.raises(GroupError):  # share scalar >= order
        frost.share_from_wire(FROST_ED25519, frost.WireSignatureShare(1, b"\xff" * 32))
    with pytest.raises(frost.InvalidIdentifierError):
        frost.share_from_wire(FROST_ED25519, frost.WireSignatureShare(0, bytes(32)))


def test_key_material_round_trip() -> None:
    keys = _setup(FROST_SECP256K1, 2, 3)
    again = KeyShare.decode(keys[1].encode())
    assert again.secret == keys[1].secret and again.public == keys[1].public
    assert PublicKeyPackage.decode(keys[0].public.encode()) == keys[0].public
    assert "hidden" in repr(keys[0])
