"""Threshold proxy re-encryption in the style of Umbral (Nuñez 2018), with three changes.

Theory of operation. Data is encrypted to a public key pk = a*G with a key-encapsulation
"capsule" (E = r*G, V = u*G, s = u + r*H(E, V)) whose shared point is (r + u)*pk; the data
part is an AEAD (SM4-GCM in the `sm` suite, AES-256-GCM in `intl`) keyed from that point, with
the capsule as associated data. To delegate to a receiver B, the owner splits a/d (d from a
one-time Diffie-Hellman with B) into N key fragments with a degree M-1 polynomial and gives
one to each proxy. A proxy turns the capsule into a capsule fragment (rk*E, rk*V) with a
Chaum-Pedersen proof over (E, V, U) that it used the rk the owner committed to (U1 = rk*U,
signed by the owner). Any M fragments interpolate to (a/d)*(E + V); B multiplies by d and
recovers the data key. Proxies never see the data key or the plaintext.

Differences from Umbral, each for a property this platform requires:
1. Collusion. In Umbral, M proxies plus B learn a. Here owners encrypt to *policy keys*
   a_L = H(master, label) (hardened derivation): a collusion learns a_L, which opens only
   what B was already given, never the master secret or other policies.
2. Unlinkability. A proxy's output is its fragment encrypted to B under a fresh ephemeral
   key, so re-encryptions are randomised: an observer cannot link one to its capsule, nor
   two re-encryptions of one capsule to each other.
3. Suites. The group, hash and AEAD come from the chain's suite (SM2/SM3/SM4 or
   secp256k1/SHA-256/AES-256-GCM), and kfrags are signed with the suite's signature scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from xinlian import codec
from xinlian.crypto import signing
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.primitives import dleq, symmetric
from xinlian.crypto.primitives.dleq import DleqProof
from xinlian.crypto.primitives.groups import (
    SECP256K1,
    SM2,
    DistributedCryptoError,
    Element,
    Group,
    GroupError,
    Rng,
    Scalar,
    evaluate,
    lagrange_coefficient,
    random_polynomial,
    transcript,
)
from xinlian.crypto.signing import SigningKey

MAX_FRAGMENTS = 256
ID_SIZE = 32


class PreError(DistributedCryptoError):
    """Proxy re-encryption failures (870x)."""

    code = 8700
    name = "pre_error"


class InvalidCapsuleError(PreError):
    """A capsule whose consistency check s*G = V + H(E, V)*E fails."""

    code = 8701
    name = "pre_invalid_capsule"


class InvalidKFragError(PreError):
    """A key fragment not signed by the owner for this owner/receiver pair, or malformed."""

    code = 8702
    name = "pre_invalid_kfrag"


class NotEnoughFragmentsError(PreError):
    """Fewer than M valid capsule fragments; `culprits` lists positions of invalid ones."""

    code = 8703
    name = "pre_not_enough_fragments"

    def __init__(self, message: str, culprits: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.culprits = culprits


class UnknownSuiteError(PreError):
    code = 8704
    name = "pre_unknown_suite"


class InvalidPreKeyError(PreError):
    """A key of another suite's group, or the identity."""

    code = 8705
    name = "pre_invalid_key"


@dataclass(frozen=True)
class PreSuite:
    name: str
    group: Group
    aead: AlgId


SUITES = {
    "sm": PreSuite("sm", SM2, AlgId.SM4_GCM),
    "intl": PreSuite("intl", SECP256K1, AlgId.AES256_GCM),
}


def get_suite(name: str) -> PreSuite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownSuiteError(f"no PRE suite {name!r}; choose one of {sorted(SUITES)}") from None


class Capsule(codec.Struct):
    e: bytes
    v: bytes
    s: bytes


class PreCiphertext(codec.Struct):
    suite: str
    capsule: Capsule
    nonce: bytes
    sealed: bytes


class KFrag(codec.Struct):
    """A proxy's secret re-encryption key share; deliver it over a confidential channel."""

    suite: str
    id: Annotated[bytes, codec.exactly(ID_SIZE)]
    rk: bytes
    precursor: bytes  # X_A = x_A*G, the owner's one-time DH key for this delegation
    commitment: bytes  # U1 = rk*U
    signature: Signature  # owner's signature over the public part


class CFrag(codec.Struct):
    kfrag_id: bytes
    precursor: bytes
    commitment: bytes
    kfrag_signature: Signature
    e1: bytes
    v1: bytes
    proof: DleqProof


class ReEncrypted(codec.Struct):
    """A capsule fragment encrypted to the receiver under a fresh ephemeral key."""

    suite: str
    ephemeral: bytes
    nonce: bytes
    sealed: bytes


_H_CAPSULE = b"xinlian/pre/capsule/v1"
_H_DH = b"xinlian/pre/dh/v1"
_H_ID = b"xinlian/pre/kfrag-id/v1"
_H_POLICY = b"xinlian/pre/policy/v1"
_H_PROOF = b"xinlian/pre/cfrag-proof/v1"
_U_TAG = b"xinlian/pre/U/v1"


# --- keys ------------------------------------------------------------------------------------


def derive_policy_key(master: Scalar, label: bytes) -> Scalar:
    """The secret of policy `label`: hardened, so a policy key never reveals the master."""
    return master.group.hash_to_scalar(_H_POLICY, transcript(master.encode(), label))


def _second_generator(group: Group) -> Element:
    return group.hash_to_element(_U_TAG, group.name.encode())


def _kdf(suite: PreSuite, point: Element, context: bytes) -> bytes:
    size = symmetric.KEY_SIZES[suite.aead]
    return suite.group.digest(transcript(b"xinlian/pre/kdf/v1", point.encode(), context))[:size]


# --- encapsulation ---------------------------------------------------------------------------


def _capsule_hash(group: Group, e: Element, v: Element) -> Scalar:
    return group.hash_to_scalar(_H_CAPSULE, transcript(e.encode(), v.encode()))


def _open_capsule(group: Group, capsule: Capsule) -> tuple[Element, Element, Scalar]:
    """Decode and check the capsule (the check makes it non-malleable, as in Umbral)."""
    e, v = group.decode_element(capsule.e), group.decode_element(capsule.v)
    s = group.decode_scalar(capsule.s)
    if group.base_mul(s) != v + _capsule_hash(group, e, v) * e:
        raise InvalidCapsuleError("capsule check s*G = V + H(E, V)*E failed")
    return e, v, s


def encrypt(
    suite_name: str, public_key: Element, plaintext: bytes, rng: Rng
) -> PreCiphertext:
    suite = get_suite(suite_name)
    group = suite.group
    if public_key.group is not group or public_key.is_identity():
        raise InvalidPreKeyError(f"recipient key is not a {group.name} key")
    r, u = group.random_scalar(rng), group.random_scalar(rng)
    e, v = group.base_mul(r), group.base_mul(u)
    s = u + r * _capsule_hash(group, e, v)
    capsule = Capsule(e=e.encode(), v=v.encode(), s=s.encode())
    key = _kdf(suite, (r + u) * public_key, codec.encode(capsule))
    nonce = rng(symmetric.NONCE_SIZE)
    sealed = symmetric.seal(suite.aead, key, nonce, plaintext, codec.encode(capsule))
    return PreCiphertext(suite=suite.name, capsule=capsule, nonce=nonce, sealed=sealed)


def _open_data(suite: PreSuite, ct: PreCiphertext, shared: Element) -> bytes:
    aad = codec.encode(ct.capsule)
    return symmetric.open_sealed(suite.aead, _kdf(suite, shared, aad), ct.nonce, ct.sealed, aad)


def decrypt(secret: Scalar, ct: PreCiphertext) -> bytes:
    """The owner's own decryption (no proxies involved)."""
    suite = get_suite(ct.suite)
    e, v, _ = _open_capsule(suite.group, ct.capsule)
    return _open_data(suite, ct, secret * (e + v))


# --- delegation ------------------------------------------------------------------------------


def _kfrag_statement(
    suite: str, kid: bytes, owner: Element, receiver: Element, precursor: bytes, commitment: bytes
) -> bytes:
    return transcript(
        b"xinlian/pre/kfrag/v1",
        suite.encode(),
        kid,
        owner.encode(),
        receiver.encode(),
        precursor,
        commitment,
    )


def _dh_scalar(group: Group, precursor: Element, receiver: Element, dh: Element) -> Scalar:
    return group.hash_to_scalar(
        _H_DH, transcript(precursor.encode(), receiver.encode(), dh.encode())
    )


def _share_x(
    group: Group, kid: bytes, owner: Element, receiver: Element, precursor: Element
) -> int:
    x = group.hash_to_scalar(
        _H_ID, transcript(kid, owner.encode(), receiver.encode(), precursor.encode())
    )
    return x.value


def generate_kfrags(
    suite_name: str,
    owner_secret: Scalar,
    receiver: Element,
    signer: SigningKey,
    threshold: int,
    shares: int,
    rng: Rng,
) -> list[KFrag]:
    """N key fragments of which any M re-encrypt for `receiver`; signed by the owner."""
    suite = get_suite(suite_name)
    group = suite.group
    if not 1 <= threshold <= shares <= MAX_FRAGMENTS:
        raise InvalidKFragError(f"need 1 <= M <= N <= {MAX_FRAGMENTS}")
    if receiver.group is not group or owner_secret.group is not group or receiver.is_identity():
        raise InvalidPreKeyError(f"keys must be {group.name} keys")
    owner = group.base_mul(owner_secret)
    x_a = group.random_scalar(rng)
    precursor = group.base_mul(x_a)
    d = _dh_scalar(group, precursor, receiver, x_a * receiver)
    coeffs = random_polynomial(group, threshold - 1, owner_secret * d.invert(), rng)
    u = _second_generator(group)
    kfrags = []
    for _ in range(shares):
        kid = rng(ID_SIZE)
        x = _share_x(group, kid, owner, receiver, precursor)
        rk = evaluate(coeffs, x)
        commitment = (rk * u).encode()
        statement = _kfrag_statement(
            suite.name, kid, owner, receiver, precursor.encode(), commitment
        )
        kfrags.append(
            KFrag(
                suite=suite.name,
                id=kid,
                rk=rk.encode(),
                precursor=precursor.encode(),
                commitment=commitment,
                signature=signer.sign(statement),
            )
        )
    return kfrags


def _check_owner_signature(
    suite: PreSuite,
    kid: bytes,
    owner: Element,
    receiver: Element,
    precursor: bytes,
    commitment: bytes,
    signature: Signature,
    verifying_key: PublicKey,
) -> None:
    statement = _kfrag_statement(suite.name, kid, owner, receiver, precursor, commitment)
    try:
        ok = signing.verify(verifying_key, statement, signature)
    except CryptoError:
        ok = False
    if not ok:
        raise InvalidKFragError("key fragment is not signed by the owner for this receiver")


def _proof_context(capsule: Capsule, kid: bytes) -> bytes:
    return transcript(codec.encode(capsule), kid)


def reencrypt(
    kfrag: KFrag,
    ct: PreCiphertext,
    owner: Element,
    receiver: Element,
    verifying_key: PublicKey,
    rng: Rng,
) -> ReEncrypted:
    """A proxy's work: check the kfrag and capsule, transform, prove, and wrap for B."""
    suite = get_suite(ct.suite)
    group = suite.group
    if kfrag.suite != suite.name:
        raise InvalidKFragError("kfrag and ciphertext belong to different suites")
    _check_owner_signature(
        suite,
        kfrag.id,
        owner,
        receiver,
        kfrag.precursor,
        kfrag.commitment,
        kfrag.signature,
        verifying_key,
    )
    rk = group.decode_scalar(kfrag.rk)
    u = _second_generator(group)
    if rk * u != group.decode_element(kfrag.commitment):
        raise InvalidKFragError("kfrag secret does not match its signed commitment")
    e, v, _ = _open_capsule(group, ct.capsule)
    e1, v1 = rk * e, rk * v
    proof = dleq.prove(
        _H_PROOF,
        rk,
        [e, v, u],
        [e1, v1, group.decode_element(kfrag.commitment)],
        context=_proof_context(ct.capsule, kfrag.id),
        rng=rng,
    )
    cfrag = CFrag(
        kfrag_id=kfrag.id,
        precursor=kfrag.precursor,
        commitment=kfrag.commitment,
        kfrag_signature=kfrag.signature,
        e1=e1.encode(),
        v1=v1.encode(),
        proof=proof,
    )
    z = group.random_scalar(rng)
    ephemeral = group.base_mul(z)
    key = _kdf(suite, z * receiver, ephemeral.encode())
    nonce = rng(symmetric.NONCE_SIZE)
    sealed = symmetric.seal(suite.aead, key, nonce, codec.encode(cfrag), ephemeral.encode())
    return ReEncrypted(suite=suite.name, ephemeral=ephemeral.encode(), nonce=nonce, sealed=sealed)


# --- the receiver ----------------------------------------------------------------------------


def _unwrap(
    suite: PreSuite,
    receiver_secret: Scalar,
    frag: ReEncrypted,
    ct: PreCiphertext,
    owner: Element,
    receiver: Element,
    verifying_key: PublicKey,
) -> tuple[CFrag, Element, Element]:
    """Decrypt one wrapped fragment and check it; raise on anything wrong."""
    group = suite.group
    if frag.suite != suite.name:
        raise InvalidKFragError("fragment from another suite")
    ephemeral = group.decode_element(frag.ephemeral)
    key = _kdf(suite, receiver_secret * ephemeral, frag.ephemeral)
    cfrag = codec.decode(
        symmetric.open_sealed(suite.aead, key, frag.nonce, frag.sealed, frag.ephemeral), CFrag
    )
    _check_owner_signature(
        suite,
        cfrag.kfrag_id,
        owner,
        receiver,
        cfrag.precursor,
        cfrag.commitment,
        cfrag.kfrag_signature,
        verifying_key,
    )
    e, v, _ = _open_capsule(group, ct.capsule)
    e1, v1 = group.decode_element(cfrag.e1), group.decode_element(cfrag.v1)
    commitment = group.decode_element(cfrag.commitment)
    if not dleq.verify(
        group,
        _H_PROOF,
        [e, v, _second_generator(group)],
        [e1, v1, commitment],
        cfrag.proof,
        context=_proof_context(ct.capsule, cfrag.kfrag_id),
    ):
        raise InvalidKFragError("capsule fragment proof does not verify")
    return cfrag, e1, v1


def decrypt_reencrypted(
    receiver_secret: Scalar,
    owner: Element,
    verifying_key: PublicKey,
    ct: PreCiphertext,
    fragments: Sequence[ReEncrypted],
    threshold: int,
) -> bytes:
    """B's decryption from at least M re-encryptions; invalid ones are skipped and named.

    Raises NotEnoughFragmentsError (with the positions of invalid fragments) when fewer than
    M valid fragments from distinct kfrags remain, and DecryptionError if the data fails.
    """
    suite = get_suite(ct.suite)
    group = suite.group
    receiver = group.base_mul(receiver_secret)
    by_delegation: dict[bytes, dict[bytes, tuple[CFrag, Element, Element]]] = {}
    culprits = []
    for position, frag in enumerate(fragments):
        try:
            cfrag, e1, v1 = _unwrap(
                suite, receiver_secret, frag, ct, owner, receiver, verifying_key
            )
        except (PreError, GroupError, CryptoError, codec.CodecError):
            culprits.append(position)
            continue
        by_delegation.setdefault(cfrag.precursor, {}).setdefault(cfrag.kfrag_id, (cfrag, e1, v1))
    good = max(by_delegation.values(), key=len, default={})
    if len(good) < threshold:
        raise NotEnoughFragmentsError(
            f"{len(good)} valid fragments from one delegation, need {threshold}", tuple(culprits)
        )
    chosen = list(good.values())[:threshold]
    precursor = group.decode_element(chosen[0][0].precursor)
    xs = [_share_x(group, c.kfrag_id, owner, receiver, precursor) for c, _, _ in chosen]
    lambdas = [lagrange_coefficient(group, xs, x) for x in xs]
    e_prime = group.msm(lambdas, [e1 for _, e1, _ in chosen])
    v_prime = group.msm(lambdas, [v1 for _, _, v1 in chosen])
    d = _dh_scalar(group, precursor, receiver, receiver_secret * precursor)
    e, v, s = _open_capsule(group, ct.capsule)
    h = _capsule_hash(group, e, v)
    if (s * d.invert()) * owner != v_prime + h * e_prime:
        raise NotEnoughFragmentsError("fragments do not combine to this capsule", tuple(culprits))
    return _open_data(suite, ct, d * (e_prime + v_prime))
