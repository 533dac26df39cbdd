"""BBS proofs of knowledge of a signature with selective disclosure (draft 3.4.3, 3.4.4, 3.6.3+).

The prover randomises the signature (A, e) into (Abar, Bbar, D) with fresh r1, r2, so that
e(Abar, W) = e(Bbar, BP2) holds exactly when Abar hides a valid signature, and proves with a
Fiat-Shamir Schnorr proof that it knows e, r1, r3 = 1/r2 and the hidden messages such that
  Bbar = D * r1 - Abar * e      and      D * r3 = B
where B commits to the disclosed and hidden messages. Fresh randomness makes two proofs from
one signature unlinkable; the proof is 272 + 32 * (number of hidden messages) bytes.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Sequence

from xinlian.crypto.primitives import bls
from xinlian.crypto.primitives.bls import G1Point
from xinlian.crypto.privacy.bbs.core import calculate_domain, compute_b, h2s_dst, msm
from xinlian.crypto.privacy.bbs.encoding import (
    Proof,
    decode_proof,
    decode_public_key,
    decode_signature,
    encode_proof,
    proof_hidden_count,
    serialize,
)
from xinlian.crypto.privacy.bbs.errors import (
    BbsIndexError,
    InvalidBbsProofError,
    MalformedBbsInputError,
)
from xinlian.crypto.privacy.bbs.signature import BP2, verify
from xinlian.crypto.privacy.bbs.suite import (
    BLS12_381_SHA_256,
    EXPAND_LEN,
    MAX_MESSAGES,
    Ciphersuite,
    R,
)

RandomScalars = Callable[[int], Sequence[int]]


def calculate_random_scalars(count: int) -> list[int]:
    """Draft 4.2.1: each scalar from 48 fresh bytes of the OS CSPRNG, reduced mod r."""
    return [int.from_bytes(secrets.token_bytes(EXPAND_LEN), "big") % R for _ in range(count)]


def check_indexes(indexes: Sequence[int], total: int) -> list[int]:
    """Disclosed indexes must be strictly ascending and in 0..total-1."""
    out = [int(i) for i in indexes]
    if any(i < 0 or i >= total for i in out):
        raise BbsIndexError(f"a disclosed index is outside 0..{total - 1}")
    if any(a >= b for a, b in itertools.pairwise(out)):
        raise BbsIndexError("disclosed indexes are not strictly ascending")
    return out


def _challenge(
    suite: Ciphersuite,
    points: Sequence[G1Point],
    domain: int,
    disclosed: Sequence[tuple[int, int]],
    ph: bytes,
) -> int:
    """Draft 3.6.4: hash (R, i1, msg_i1, ..., Abar, Bbar, D, T1, T2, domain, ph) to a scalar."""
    body = len(disclosed).to_bytes(8, "big") + b"".join(
        i.to_bytes(8, "big") + m.to_bytes(32, "big") for i, m in disclosed
    )
    body += serialize(*points, domain) + len(ph).to_bytes(8, "big") + ph
    return suite.hash_to_scalar(body, h2s_dst(suite))


def proof_gen(
    pk: bytes,
    signature: bytes,
    header: bytes,
    ph: bytes,
    messages: Sequence[bytes],
    disclosed_indexes: Sequence[int],
    suite: Ciphersuite = BLS12_381_SHA_256,
    random_scalars: RandomScalars = calculate_random_scalars,
) -> bytes:
    """Prove knowledge of `signature` over `messages`, disclosing those at `disclosed_indexes`.

    The signature is verified first, so a bad signature raises instead of giving a useless
    proof. `random_scalars` is the draft's calculate_random_scalars; only the draft's test
    vectors replace it.
    """
    verify(pk, signature, header, messages, suite)
    sig = decode_signature(signature)
    scalars = suite.messages_to_scalars(messages)
    total = len(scalars)
    disclosed = check_indexes(disclosed_indexes, total)
    shown = set(disclosed)
    hidden = [j for j in range(total) if j not in shown]
    generators = suite.generators(total + 1)
    rand = list(random_scalars(5 + len(hidden)))
    if len(rand) != 5 + len(hidden):
        raise MalformedBbsInputError("wrong number of random scalars")
    r1, r2, e_t, r1_t, r3_t = rand[:5]
    if r1 % R == 0 or r2 % R == 0:  # Abar would be the identity, or 1/r2 undefined
        raise MalformedBbsInputError("a zero blinding scalar")
    m_t = rand[5:]
    # ProofInit
    domain = calculate_domain(suite, pk, len(generators), header)
    b = compute_b(suite, generators, domain, range(total), scalars)
    d = bls.multiply(b, r2)
    a_bar = bls.multiply(sig.a, r1 * r2)
    b_bar = msm([d, a_bar], [r1, -sig.e])
    t1 = msm([a_bar, d], [e_t, r1_t])
    t2 = msm([d, *(generators[1 + j] for j in hidden)], [r3_t, *m_t])
    c = _challenge(
        suite, [a_bar, b_bar, d, t1, t2], domain, [(i, scalars[i]) for i in disclosed], ph
    )
    # ProofFinalize
    r3 = pow(r2, -1, R)
    proof = Proof(
        a_bar,
        b_bar,
        d,
        (e_t + sig.e * c) % R,
        (r1_t - r1 * c) % R,
        (r3_t - r3 * c) % R,
        tuple((m + scalars[j] * c) % R for m, j in zip(m_t, hidden, strict=True)),
        c,
    )
    return encode_proof(proof)


def proof_verify(
    pk: bytes,
    proof: bytes,
    header: bytes,
    ph: bytes,
    disclosed_messages: Sequence[bytes],
    disclosed_indexes: Sequence[int],
    suite: Ciphersuite = BLS12_381_SHA_256,
) -> None:
    """Accept the proof or raise: malformed input gets MalformedBbsInputError (or a subclass:
    BbsPointError, BbsIndexError), a well-formed proof that does not hold InvalidBbsProofError."""
    total = proof_hidden_count(len(proof)) + len(disclosed_indexes)
    if total > MAX_MESSAGES:  # before decoding: an oversized proof costs nothing
        raise MalformedBbsInputError(f"a proof over {total} messages (at most {MAX_MESSAGES})")
    prf = decode_proof(proof)
    w = decode_public_key(pk)
    if len(disclosed_messages) != len(disclosed_indexes):
        raise BbsIndexError(
            f"{len(disclosed_messages)} disclosed messages for {len(disclosed_indexes)} indexes"
        )
    disclosed = check_indexes(disclosed_indexes, total)
    shown = set(disclosed)
    hidden = [j for j in range(total) if j not in shown]
    scalars = suite.messages_to_scalars(disclosed_messages)
    generators = suite.generators(total + 1)
    # ProofVerifyInit
    domain = calculate_domain(suite, pk, len(generators), header)
    t1 = msm([prf.b_bar, prf.a_bar, prf.d], [prf.challenge, prf.e_hat, prf.r1_hat])
    bv = compute_b(suite, generators, domain, disclosed, scalars)
    t2 = msm(
        [bv, prf.d, *(generators[1 + j] for j in hidden)],
        [prf.challenge, prf.r3_hat, *prf.m_hats],
    )
    shown_pairs = list(zip(disclosed, scalars, strict=True))
    c = _challenge(suite, [prf.a_bar, prf.b_bar, prf.d, t1, t2], domain, shown_pairs, ph)
    if c != prf.challenge:
        raise InvalidBbsProofError("the proof's challenge does not match")
    # e(Abar, W) * e(Bbar, -BP2) == 1
    if not bls.pairing_check([prf.a_bar, prf.b_bar], [w, -BP2]):
        raise InvalidBbsProofError("the randomised signature does not pair")
