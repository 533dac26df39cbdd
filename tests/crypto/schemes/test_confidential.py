"""Pedersen commitments and aggregated Bulletproofs range proofs on ristretto255 and SM2:
completeness for random values, refusal of false statements, tampering with any byte,
proofs for other commitments, strict decoding, batch verification."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import (
    Element,
    Group,
    IdentityElementError,
    InvalidScalarError,
    NonCanonicalEncodingError,
    NotOnCurveError,
)
from xinlian.crypto.privacy.confidential import (
    GROUPS,
    get_group,
    inner_product,
    pedersen,
    range_proof,
)
from xinlian.crypto.privacy.confidential.errors import (
    ConfidentialError,
    InvalidRangeProofError,
    MalformedProofError,
    RangeProofStatementError,
)
from xinlian.crypto.privacy.confidential.generators import MAX_VECTOR, SEED, generators
from xinlian.crypto.privacy.confidential.range_proof import RangeProof
from xinlian.crypto.privacy.confidential.transcript import Transcript

ALL = list(GROUPS.values())
ids = [g.name for g in ALL]


def rng_of(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def make(group: Group, values: list[int], n: int, seed: int = 1
         ) -> tuple[RangeProof, list[Element]]:
    rng = rng_of(seed)
    blindings = [pedersen.random_blinding(group, rng) for _ in values]
    return range_proof.prove(group, values, blindings, n, rng)


# -- generators and commitments ----------------------------------------------------------

@pytest.mark.parametrize("G", ALL, ids=ids)
def test_generators_follow_the_documented_derivation(G: Group) -> None:
    gens = generators(G)
    assert gens.g == G.hash_to_element(SEED, b"G")
    assert gens.h == G.hash_to_element(SEED, b"H")
    assert gens.gi[7] == G.hash_to_element(SEED, b"Gi" + (7).to_bytes(4, "big"))
    assert gens.hi[MAX_VECTOR - 1] == G.hash_to_element(
        SEED, b"Hi" + (MAX_VECTOR - 1).to_bytes(4, "big"))
    assert all((h + n).is_identity() for h, n in zip(gens.hi, gens.hi_neg, strict=True))
    everything = {gens.g, gens.h, *gens.gi, *gens.hi}
    assert len(everything) == 2 * MAX_VECTOR + 2
    assert gens.g != G.generator() and gens.h != G.generator()


@pytest.mark.parametrize("G", ALL, ids=ids)
@settings(max_examples=20, deadline=None)
@given(a=st.integers(0, 2**64 - 1), b=st.integers(0, 2**64 - 1), seed=st.integers(0, 2**32))
def test_commitments_are_additively_homomorphic(G: Group, a: int, b: int, seed: int) -> None:
    rng = rng_of(seed)
    r1, r2 = pedersen.random_blinding(G, rng), pedersen.random_blinding(G, rng)
    c1, c2 = pedersen.commit(G, a, r1), pedersen.commit(G, b, r2)
    assert c1 + c2 == pedersen.commit(G, a + b, r1 + r2)
    assert pedersen.decode_commitment(G, c1.encode()) == c1
    assert c1 != pedersen.commit(G, a, r2)  # a different blinding hides the same value


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_bad_commitment_bytes_are_malformed(G: Group) -> None:
    good = pedersen.commit(G, 5, G.scalar(7)).encode()
    for bad in (good[:-1], good + b"\x00", b"\xff" * G.element_size):
        with pytest.raises(MalformedProofError):
            pedersen.decode_commitment(G, bad)


def test_unknown_group_is_refused() -> None:
    assert get_group("sm2").name == "sm2"
    with pytest.raises(RangeProofStatementError):
        get_group("ed25519")


# -- completeness ------------------------------------------------------------------------

@pytest.mark.parametrize("G", ALL, ids=ids)
@settings(max_examples=6, deadline=None)
@given(data=st.data(), n=st.sampled_from(range_proof.BIT_SIZES), m=st.sampled_from([1, 2, 4]),
       seed=st.integers(0, 2**32))
def test_proofs_of_true_statements_verify(G: Group, data: st.DataObject, n: int, m: int,
                                          seed: int) -> None:
    values = data.draw(st.lists(st.integers(0, 2**n - 1), min_size=m, max_size=m))
    proof, commitments = make(G, values, n, seed)
    encoded = proof.encode()
    assert len(encoded) == range_proof.proof_size(G, n, m)
    decoded = range_proof.decode(G, encoded, n, m)
    assert decoded == proof
    range_proof.verify(G, commitments, decoded, n, rng_of(seed + 1))


@pytest.mark.parametrize("G", ALL, ids=ids)
@pytest.mark.parametrize("n", range_proof.BIT_SIZES)
def test_range_ends_verify(G: Group, n: int) -> None:
    proof, commitments = make(G, [0, 2**n - 1], n)
    range_proof.verify(G, commitments, proof, n)


def test_sixteen_values_of_64_bits_verify_on_ristretto255() -> None:
    G = get_group("ristretto255")
    values = [random.Random(3).randrange(2**64) for _ in range(16)]
    proof, commitments = make(G, values, 64)
    assert len(proof.encode()) == 32 * (4 + 2 * 10) + 5 * 32
    range_proof.verify(G, commitments, proof, 64)


def test_proofs_are_a_function_of_the_randomness_only() -> None:
    G = get_group("ristretto255")
    a, _ = make(G, [9, 10], 8, seed=4)
    b, _ = make(G, [9, 10], 8, seed=4)
    c, _ = make(G, [9, 10], 8, seed=5)
    assert a.encode() == b.encode() != c.encode()


def test_ristretto255_proof_sizes_are_the_papers() -> None:
    G = get_group("ristretto255")
    assert [range_proof.proof_size(G, 64, m) for m in (1, 2, 8)] == [672, 736, 864]


# -- the prover refuses false or oversized statements -------------------------------------

@pytest.mark.parametrize("G", ALL, ids=ids)
@pytest.mark.parametrize("n", range_proof.BIT_SIZES)
def test_prover_refuses_values_outside_the_range(G: Group, n: int) -> None:
    for bad in (2**n, 2**n + 1, -1, G.order - 1):
        with pytest.raises(RangeProofStatementError):
            make(G, [1, bad], n)


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_bad_statements_are_refused(G: Group) -> None:
    one = [G.scalar(1)]
    for n in (0, 7, 63, 128, 256):
        with pytest.raises(RangeProofStatementError):
            range_proof.prove(G, [1], one, n)
        with pytest.raises(RangeProofStatementError):
            range_proof.proof_size(G, n, 1)
    for m in (0, 3, 32):
        with pytest.raises(RangeProofStatementError):
            range_proof.prove(G, [1] * m, one * m, 8)
    with pytest.raises(RangeProofStatementError):
        range_proof.prove(G, [1, 2], one, 8)


# -- soundness: tampering, other commitments, strict decoding -----------------------------

PROOFS = {g.name: make(g, [200, 7], 8, seed=11) for g in ALL}


@pytest.mark.parametrize("G", ALL, ids=ids)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_tampering_with_any_byte_never_verifies(G: Group, data: st.DataObject) -> None:
    proof, commitments = PROOFS[G.name]
    encoded = bytearray(proof.encode())
    at = data.draw(st.integers(0, len(encoded) - 1))
    encoded[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises((MalformedProofError, InvalidRangeProofError)):
        tampered = range_proof.decode(G, bytes(encoded), 8, 2)
        range_proof.verify(G, commitments, tampered, 8)


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_a_proof_is_bound_to_its_commitments(G: Group) -> None:
    proof, (v1, v2) = PROOFS[G.name]
    range_proof.verify(G, [v1, v2], proof, 8)
    shifted = v1 + generators(G).g  # a commitment to 201 with the same blinding
    for others in ([v2, v1], [shifted, v2], [v1, v1]):
        with pytest.raises(InvalidRangeProofError):
            range_proof.verify(G, others, proof, 8)
    for n in (16, 64):  # the same proof claimed for another bit size
        with pytest.raises(InvalidRangeProofError):
            range_proof.verify(G, [v1, v2], proof, n)
    with pytest.raises(MalformedProofError):
        range_proof.decode(G, proof.encode(), 16, 2)
    other = GROUPS["sm2" if G.name == "ristretto255" else "ristretto255"]
    with pytest.raises(RangeProofStatementError):
        range_proof.verify(other, [v1, v2], proof, 8)


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_strict_decoding(G: Group) -> None:
    proof, _ = PROOFS[G.name]
    good = proof.encode()
    e, k = G.element_size, G.scalar_size
    for bad in (good[:-1], good + b"\x00", b""):
        with pytest.raises(MalformedProofError):
            range_proof.decode(G, bad, 8, 2)
    scalar_at = len(good) - 5 * k  # tau_x
    too_big = G.order.to_bytes(k, G.scalar_byteorder)
    identity = bytes(e) if G.name == "ristretto255" else b"\x00" * e
    not_canonical = (b"\xff" * 31 + b"\x7f" if G.name == "ristretto255"
                     else b"\x02" + b"\xff" * 32)
    cases = [(scalar_at, too_big, InvalidScalarError), (e, not_canonical,
                                                        NonCanonicalEncodingError)]
    if G.name == "ristretto255":
        cases.append((0, identity, IdentityElementError))
        even_non_point = next(bytes([s]) + bytes(31) for s in range(2, 100, 2)
                              if not _is_point(G, bytes([s]) + bytes(31)))
        cases.append((2 * e, even_non_point, NotOnCurveError))
    else:
        x = next(x for x in range(1, 100) if not _is_point(G, b"\x02" + x.to_bytes(32, "big")))
        cases.append((2 * e, b"\x02" + x.to_bytes(32, "big"), NotOnCurveError))
    for at, patch, cause in cases:
        bad = good[:at] + patch + good[at + len(patch):]
        with pytest.raises(MalformedProofError) as info:
            range_proof.decode(G, bad, 8, 2)
        assert isinstance(info.value.__cause__, cause)


def _is_point(G: Group, data: bytes) -> bool:
    try:
        G.decode_element(data)
    except NotOnCurveError:
        return False
    return True


def test_errors_share_the_family_root_and_codes() -> None:
    errors = [ConfidentialError, MalformedProofError, RangeProofStatementError,
              InvalidRangeProofError]
    assert [e.code for e in errors] == [8800, 8801, 8802, 8803]
    assert all(issubclass(e, ConfidentialError) for e in errors)


# -- batch verification -------------------------------------------------------------------

@pytest.mark.parametrize("G", ALL, ids=ids)
def test_batch_verification(G: Group) -> None:
    statements = []
    for i, (values, n) in enumerate([([3], 8), ([1, 2], 16), ([5, 6, 7, 8], 8), ([2**40], 64)]):
        proof, commitments = make(G, values, n, seed=20 + i)
        statements.append((commitments, proof, n))
    range_proof.batch_verify(G, statements, rng_of(1))
    range_proof.batch_verify(G, [], rng_of(1))
    commitments, proof, n = statements[1]
    swapped = [(list(reversed(commitments)), proof, n)]
    with pytest.raises(InvalidRangeProofError):
        range_proof.batch_verify(G, statements[:1] + swapped + statements[2:], rng_of(1))
    # a proof that is valid for another n spoils the batch too
    with pytest.raises(InvalidRangeProofError):
        range_proof.batch_verify(G, [*statements, (commitments, proof, 8)], rng_of(1))


# -- the inner-product argument against the paper's recursive verifier ---------------------

@pytest.mark.parametrize("G", ALL, ids=ids)
@pytest.mark.parametrize("size", [1, 2, 8, 32])
def test_inner_product_argument_matches_the_recursive_verifier(G: Group, size: int) -> None:
    """The prover's output checked the paper's way (Protocol 2, folding generators each
    round), and the verifier's s vector checked against that folding."""
    q, rng = G.order, random.Random(size)
    a = [rng.randrange(q) for _ in range(size)]
    b = [rng.randrange(q) for _ in range(size)]
    factors = [rng.randrange(1, q) for _ in range(size)]
    gens = generators(G)
    g, h = list(gens.gi[:size]), list(gens.hi[:size])
    q_point = gens.g
    proof = inner_product.prove(Transcript(G, b"IPA-TEST"), q_point, g, h, factors, a, b)
    assert len(proof.left) == size.bit_length() - 1

    # the recursion of the paper, over H'_i = factors_i * H_i
    h_prime = [G.scalar(f) * x for f, x in zip(factors, h, strict=True)]
    p = inner_product.msm(G, [*a, *b, inner_product.inner(a, b, q)], [*g, *h_prime, q_point])
    tr = Transcript(G, b"IPA-TEST")
    gs, hs = g, h_prime
    for big_l, big_r in zip(proof.left, proof.right, strict=True):
        tr.append_element(b"L", big_l)
        tr.append_element(b"R", big_r)
        u = G.scalar(tr.challenge(b"u"))
        half = len(gs) // 2
        gs = [u.invert() * lo + u * hi for lo, hi in zip(gs[:half], gs[half:], strict=True)]
        hs = [u * lo + u.invert() * hi for lo, hi in zip(hs[:half], hs[half:], strict=True)]
        p = (u * u) * big_l + p + (u * u).invert() * big_r
    pa, pb = G.scalar(proof.a), G.scalar(proof.b)
    assert p == pa * gs[0] + pb * hs[0] + (pa * pb) * q_point

    _, _, s = inner_product.verification_scalars(Transcript(G, b"IPA-TEST"), proof, size)
    assert gs[0] == inner_product.msm(G, s, g)
    assert hs[0] == inner_product.msm(G, list(reversed(s)), h_prime)


# -- the transcript binds the commitments (the "Frozen Heart" forgery) --------------------

def _forge_after_the_challenges(G: Group, n: int) -> tuple[RangeProof, Element, int]:
    """A prover whose transcript lacks V: it commits to a non-bit vector, takes every
    challenge, then solves the t-equation for a V that opens to an out-of-range value."""
    q, gens, rng = G.order, generators(G), random.Random(99)
    tr = Transcript(G, b"RANGE-PROOF")
    tr.append(b"generators", SEED)
    tr.append_int(b"n", n)
    tr.append_int(b"m", 1)
    a_l = [5] + [0] * (n - 1)  # not bits
    a_r = [(x - 1) % q for x in a_l]
    alpha, rho, tau1, tau2, tau_x = (rng.randrange(1, q) for _ in range(5))
    s_l, s_r = ([rng.randrange(q) for _ in range(n)] for _ in range(2))
    a_point = inner_product.msm(G, [alpha, *a_l, *a_r], [gens.h, *gens.gi[:n], *gens.hi[:n]])
    s_point = inner_product.msm(G, [rho, *s_l, *s_r], [gens.h, *gens.gi[:n], *gens.hi[:n]])
    tr.append_element(b"A", a_point)
    tr.append_element(b"S", s_point)
    y, z = tr.challenge(b"y"), tr.challenge(b"z")
    y_n = [pow(y, i, q) for i in range(n)]
    l0 = [(x - z) % q for x in a_l]
    r0 = [(y_n[i] * (a_r[i] + z) + z * z * 2**i) % q for i in range(n)]
    r1 = [y_n[i] * s_r[i] % q for i in range(n)]
    t1 = (inner_product.inner(l0, r1, q) + inner_product.inner(s_l, r0, q)) % q
    t2 = inner_product.inner(s_l, r1, q)
    t1_point = inner_product.msm(G, [t1, tau1], [gens.g, gens.h])
    t2_point = inner_product.msm(G, [t2, tau2], [gens.g, gens.h])
    tr.append_element(b"T1", t1_point)
    tr.append_element(b"T2", t2_point)
    x = tr.challenge(b"x")
    l_vec = [(u + v * x) % q for u, v in zip(l0, s_l, strict=True)]
    r_vec = [(u + v * x) % q for u, v in zip(r0, r1, strict=True)]
    t_hat, mu = inner_product.inner(l_vec, r_vec, q), (alpha + rho * x) % q
    tr.append_scalar(b"tau_x", tau_x)
    tr.append_scalar(b"mu", mu)
    tr.append_scalar(b"t_hat", t_hat)
    w = tr.challenge(b"w")
    y_inv = [pow(y, -i, q) for i in range(n)]
    ipp = inner_product.prove(tr, G.scalar(w) * gens.g, gens.gi[:n], gens.hi[:n], y_inv,
                              l_vec, r_vec)
    delta = ((z - z * z) * sum(y_n) - z**3 * (2**n - 1)) % q
    z2_inv = pow(z * z, -1, q)
    value = (t_hat - delta - x * t1 - x * x * t2) * z2_inv % q
    blinding = (tau_x - x * tau1 - x * x * tau2) * z2_inv % q
    v_point = pedersen.commit(G, value, G.scalar(blinding))
    proof = RangeProof(a_point, s_point, t1_point, t2_point, tau_x, mu, t_hat, ipp)
    return proof, v_point, value


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_commitments_chosen_after_the_challenges_do_not_verify(
        G: Group, monkeypatch: pytest.MonkeyPatch) -> None:
    proof, v_point, value = _forge_after_the_challenges(G, 8)
    assert value >= 2**8  # the forged commitment opens outside the range
    with pytest.raises(InvalidRangeProofError):
        range_proof.verify(G, [v_point], proof, 8)

    # the same forgery passes a verifier whose transcript omits the commitments
    def unbound(group: Group, n: int, commitments: list[Element]) -> Transcript:
        tr = Transcript(group, b"RANGE-PROOF")
        tr.append(b"generators", SEED)
        tr.append_int(b"n", n)
        tr.append_int(b"m", len(commitments))
        return tr

    monkeypatch.setattr(range_proof, "_statement", unbound)
    range_proof.verify(G, [v_point], proof, 8)


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_malformed_round_counts_are_refused(G: Group) -> None:
    proof, commitments = PROOFS[G.name]
    short = inner_product.InnerProductProof(proof.ipp.left, proof.ipp.right[:-1],
                                            proof.ipp.a, proof.ipp.b)
    bad = RangeProof(proof.a, proof.s, proof.t1, proof.t2, proof.tau_x, proof.mu,
                     proof.t_hat, short)
    with pytest.raises(InvalidRangeProofError):
        range_proof.verify(G, commitments, bad, 8)
