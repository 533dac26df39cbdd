"""Encrypted aggregates: exponential EC-ElGamal on SM2 under a DKG key, contributions with
bit and range proofs, threshold decryption with proven shares, the bounded discrete log.
Homomorphism for random values, tampering that never verifies, non-member and bad shares
refused, the GB/T 32918 curve and example key."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import SM2, Element, Group
from xinlian.crypto.primitives.groups.ristretto255 import RISTRETTO255
from xinlian.crypto.privacy.homomorphic import contribution as co
from xinlian.crypto.privacy.homomorphic import dlog, elgamal, threshold
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.crypto.privacy.homomorphic.contribution import COUNT, Contribution
from xinlian.crypto.privacy.homomorphic.elgamal import Ciphertext
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    DiscreteLogBoundError,
    HomomorphicError,
    InvalidContributionError,
    InvalidDecryptionShareError,
    MalformedAggregateInputError,
    NotAMemberError,
    TooFewSharesError,
)
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage, share_secret

# GB/T 32918.1/.5 recommended curve and the example key pair of GB/T 32918.2 Annex A
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
D_A = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
P_A_X = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
P_A_Y = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13


def rng_of(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def compressed(x: int, y: int) -> bytes:
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


@pytest.fixture(scope="module")
def shares() -> list[KeyShare]:
    """A 3-of-5 key from the real DKG keygen (five parties in this process)."""
    return local_keygen(SM2, 5, 3, b"test-aggregate-key", rng_of(7))


@pytest.fixture(scope="module")
def public(shares: list[KeyShare]) -> PublicKeyPackage:
    return shares[0].public


@pytest.fixture(scope="module")
def key(public: PublicKeyPackage) -> Element:
    return public.group_public_key


# -- the curve and the example key of GB/T 32918 ----------------------------------------------

def test_the_elgamal_base_is_the_gbt_32918_generator() -> None:
    assert SM2.order == N
    assert elgamal.base(SM2).encode() == compressed(GX, GY)


def test_encryption_under_the_gbt_32918_example_key_decrypts_with_its_secret() -> None:
    y = SM2.decode_element(compressed(P_A_X, P_A_Y))
    assert SM2.base_mul(SM2.scalar(D_A)) == y
    ct, _ = elgamal.encrypt(y, 1234, rng_of(1))
    assert dlog.solve(elgamal.decrypt_point(SM2.scalar(D_A), ct), 5000) == 1234


# -- homomorphism ---------------------------------------------------------------------------

@given(st.lists(st.integers(0, 2**16 - 1), min_size=1, max_size=6), st.integers(0, 2**32))
@settings(max_examples=25)
def test_sums_of_ciphertexts_decrypt_to_the_sum(values: list[int], seed: int) -> None:
    rng = rng_of(seed)
    x = SM2.random_scalar(rng)
    y = SM2.base_mul(x)
    cts = [elgamal.encrypt(y, v, rng)[0] for v in values]
    total = elgamal.total(cts, SM2)
    assert elgamal.decrypt_point(x, total) == SM2.base_mul(SM2.scalar(sum(values)))
    assert dlog.solve(elgamal.decrypt_point(x, total), len(values) * 2**16) == sum(values)


@given(st.integers(0, 2**31), st.integers(0, 2**31), st.integers(0, 2**32))
@settings(max_examples=25)
def test_addition_is_the_encryption_of_the_sum_under_summed_randomness(
        a: int, b: int, seed: int) -> None:
    rng = rng_of(seed)
    y = SM2.base_mul(SM2.random_scalar(rng))
    r, s = SM2.random_scalar(rng), SM2.random_scalar(rng)
    assert (elgamal.encrypt_with(y, a, r) + elgamal.encrypt_with(y, b, s)
            == elgamal.encrypt_with(y, a + b, r + s))


def test_ciphertext_encoding_round_trips_and_marks_the_identity() -> None:
    y = SM2.base_mul(SM2.random_scalar(rng_of(2)))
    ct, _ = elgamal.encrypt(y, 5, rng_of(3))
    assert elgamal.decode(SM2, ct.encode()) == ct
    zero = ct - ct
    assert zero.encode() == b"\x00\x00"
    assert elgamal.decode(SM2, zero.encode()) == zero
    for bad in (b"", b"\x02", ct.encode() + b"\x00", b"\x01" + b"\x05" * 33 + b"\x00",
                ct.encode()[:40]):
        with pytest.raises(MalformedAggregateInputError):
            elgamal.decode(SM2, bad)


# -- contributions ----------------------------------------------------------------------------

@pytest.mark.parametrize("bits", co.BIT_SIZES)
def test_a_contribution_verifies_and_round_trips(key: Element, bits: int) -> None:
    value = 1 if bits == COUNT else (1 << bits) - 1
    c = co.contribute(key, value, bits, b"poll-1|bank-a", rng_of(bits))
    data = c.encode()
    assert len(data) == co.encoded_size(SM2, bits)
    back = co.decode(SM2, data)
    assert back == c
    co.verify(key, back, b"poll-1|bank-a", rng_of(9))


@pytest.mark.parametrize(("bits", "value"), [(COUNT, 2), (COUNT, -1), (8, 256), (8, -1),
                                             (16, 2**16), (32, 2**32)])
def test_invalid_values_outside_the_statement_are_refused(key: Element, bits: int,
                                                          value: int) -> None:
    with pytest.raises(AggregateStatementError):
        co.contribute(key, value, bits, b"ctx", rng_of(1))


@pytest.mark.parametrize("bits", [1, 7, 64, 255])
def test_invalid_bit_sizes_are_refused(key: Element, bits: int) -> None:
    with pytest.raises(AggregateStatementError):
        co.contribute(key, 0, bits, b"ctx", rng_of(1))


def test_invalid_key_of_a_group_without_range_generators_is_refused() -> None:
    from xinlian.crypto.primitives.groups import SECP256K1

    y = SECP256K1.base_mul(SECP256K1.random_scalar(rng_of(1)))
    with pytest.raises(AggregateStatementError):
        co.contribute(y, 1, COUNT, b"ctx", rng_of(1))


def _forged_bit(key: Element, value: int, context: bytes, seed: int) -> Contribution:
    """A cheater's count contribution: encrypts `value` (not a bit) and proves with the bit
    prover as if it were 1; the proof's true branch is then false."""
    from xinlian.crypto.privacy.homomorphic import sigma

    rng = rng_of(seed)
    ct, r = elgamal.encrypt(key, value, rng)
    return Contribution(COUNT, ct, bit_proof=sigma.prove_bit(key, ct, 1, r, context, rng))


@pytest.mark.parametrize("value", [2, 5, 100, SM2.order - 1])
def test_invalid_a_count_of_more_than_one_never_verifies(key: Element, value: int) -> None:
    with pytest.raises(InvalidContributionError):
        co.verify(key, _forged_bit(key, value, b"ctx", value % 1000), b"ctx", rng_of(4))


def test_invalid_a_sum_whose_commitment_holds_another_value_never_verifies(key: Element) -> None:
    """The range proof covers a small value, the ciphertext a huge one: the link fails."""
    from xinlian.crypto.privacy.confidential import pedersen, range_proof
    from xinlian.crypto.privacy.homomorphic import sigma

    rng = rng_of(5)
    ct, r = elgamal.encrypt(key, 10**9, rng)
    s = pedersen.random_blinding(SM2, rng)
    proof, (v,) = range_proof.prove(SM2, [7], [s], 8, rng)
    link = sigma.prove_link(key, ct, v, 7, r, s, b"ctx", rng)
    forged = Contribution(8, ct, commitment=v, link=link, range=proof)
    with pytest.raises(InvalidContributionError):
        co.verify(key, forged, b"ctx", rng_of(6))


def test_invalid_a_contribution_for_another_context_or_key_is_refused(
        key: Element, shares: list[KeyShare]) -> None:
    for bits in (COUNT, 8):
        c = co.contribute(key, 1, bits, b"poll-1|bank-a", rng_of(11))
        with pytest.raises(InvalidContributionError):
            co.verify(key, c, b"poll-1|bank-b", rng_of(1))
        other = SM2.base_mul(SM2.random_scalar(rng_of(12)))
        with pytest.raises(InvalidContributionError):
            co.verify(other, c, b"poll-1|bank-a", rng_of(1))


@pytest.fixture(scope="module")
def samples(key: Element) -> dict[int, bytes]:
    return {bits: co.contribute(key, 1, bits, b"ctx", rng_of(20 + bits)).encode()
            for bits in (COUNT, 8)}


@given(st.sampled_from((COUNT, 8)), st.data())
@settings(max_examples=60)
def test_invalid_tampering_with_any_byte_never_verifies(
        key: Element, samples: dict[int, bytes], bits: int, data: st.DataObject) -> None:
    raw = bytearray(samples[bits])
    at = data.draw(st.integers(1, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(HomomorphicError) as caught:
        co.verify(key, co.decode(SM2, bytes(raw)), b"ctx", rng_of(at))
    assert isinstance(caught.value, MalformedAggregateInputError | InvalidContributionError)


def test_invalid_decoding_names_each_cause(samples: dict[int, bytes]) -> None:
    raw = samples[COUNT]
    for bad in (b"", bytes([3]) + raw[1:], raw[:-1], raw + b"\x00",
                raw[:1] + b"\x05" + raw[2:], raw[:-32] + (SM2.order).to_bytes(32, "big")):
        with pytest.raises(MalformedAggregateInputError):
            co.decode(SM2, bad)


def test_a_batch_verifies_mixed_contributions_and_fails_on_one_bad(key: Element) -> None:
    items = [(co.contribute(key, v, bits, b"m%d" % i, rng_of(30 + i)), b"m%d" % i)
             for i, (v, bits) in enumerate([(1, COUNT), (0, COUNT), (200, 8), (9, 16)])]
    co.verify_batch(key, items, rng_of(1))
    bad = [*items[:3], (items[3][0], b"elsewhere")]
    with pytest.raises(InvalidContributionError):
        co.verify_batch(key, bad, rng_of(1))
    forged = [*items, (_forged_bit(key, 3, b"f", 1), b"f")]
    with pytest.raises(InvalidContributionError):
        co.verify_batch(key, forged, rng_of(1))


# -- threshold decryption ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def poll(key: Element) -> tuple[Ciphertext, int]:
    votes = [1, 1, 0, 1, 0, 1, 1]
    items = [(co.contribute(key, v, COUNT, b"vote|%d" % i, rng_of(40 + i)), b"vote|%d" % i)
             for i, v in enumerate(votes)]
    return co.aggregate(key, items, rng_of(2))


def test_any_t_members_decrypt_the_aggregate(shares: list[KeyShare], public: PublicKeyPackage,
                                             poll: tuple[Ciphertext, int]) -> None:
    ct, bound = poll
    assert bound == 7
    all_shares = [threshold.make_share(s, ct, rng_of(s.identifier)) for s in shares]
    for subset in ([0, 1, 2], [2, 3, 4], [0, 2, 4], [0, 1, 2, 3, 4]):
        assert threshold.decrypt(public, ct, [all_shares[i] for i in subset], bound) == 5
    share = all_shares[0]
    assert threshold.decode_share(public, share.encode()) == share


def test_invalid_too_few_shares(shares: list[KeyShare], public: PublicKeyPackage,
                                poll: tuple[Ciphertext, int]) -> None:
    ct, bound = poll
    two = [threshold.make_share(s, ct, rng_of(1)) for s in shares[:2]]
    with pytest.raises(TooFewSharesError):
        threshold.decrypt(public, ct, two, bound)


def test_invalid_share_from_a_non_member_is_refused(public: PublicKeyPackage,
                                                    poll: tuple[Ciphertext, int]) -> None:
    """An outsider with its own key (its own 'share' for id 6) is refused by id; one that
    claims a member's id fails that member's proof."""
    ct, _ = poll
    outsider = share_secret(SM2, SM2.random_scalar(rng_of(3)), 3, [1, 2, 3, 4, 5, 6],
                            rng_of(4))
    with pytest.raises(NotAMemberError):
        threshold.verify_share(public, ct, threshold.make_share(outsider[5], ct, rng_of(5)))
    with pytest.raises(InvalidDecryptionShareError):
        threshold.verify_share(public, ct, threshold.make_share(outsider[0], ct, rng_of(5)))


def test_invalid_shares_for_another_aggregate_or_duplicated_are_refused(
        shares: list[KeyShare], public: PublicKeyPackage, key: Element,
        poll: tuple[Ciphertext, int]) -> None:
    ct, _ = poll
    other, _ = elgamal.encrypt(key, 3, rng_of(6))
    elsewhere = threshold.make_share(shares[0], other, rng_of(7))
    with pytest.raises(InvalidDecryptionShareError):
        threshold.verify_share(public, ct, elsewhere)
    one = threshold.make_share(shares[0], ct, rng_of(8))
    with pytest.raises(InvalidDecryptionShareError):
        threshold.combine(public, ct, [one, one, threshold.make_share(shares[1], ct, rng_of(9))])


@given(st.integers(0, 100), st.integers(1, 255))
@settings(max_examples=40)
def test_invalid_tampered_shares_never_verify(shares: list[KeyShare], public: PublicKeyPackage,
                                              poll: tuple[Ciphertext, int], at: int,
                                              flip: int) -> None:
    ct, _ = poll
    raw = bytearray(threshold.make_share(shares[1], ct, rng_of(10)).encode())
    raw[at % len(raw)] ^= flip
    with pytest.raises(HomomorphicError):
        threshold.verify_share(public, ct, threshold.decode_share(public, bytes(raw)))


def test_invalid_aggregate_of_nothing_or_of_another_group(shares: list[KeyShare]) -> None:
    with pytest.raises(AggregateStatementError):
        threshold.make_share(shares[0], elgamal.total([], SM2), rng_of(1))
    y = RISTRETTO255.base_mul(RISTRETTO255.random_scalar(rng_of(1)))
    with pytest.raises(AggregateStatementError):
        threshold.make_share(shares[0], elgamal.encrypt(y, 1, rng_of(2))[0], rng_of(1))


# -- the bounded discrete log -----------------------------------------------------------------

@pytest.mark.parametrize("group", [SM2, RISTRETTO255], ids=["sm2", "ristretto255"])
@pytest.mark.parametrize("m", [0, 1, 255, 256, 257, 4095, 70_000])
def test_dlog_finds_every_value_in_the_bound(group: Group, m: int) -> None:
    point = elgamal.base(group) * group.scalar(m)
    assert dlog.solve(point, 70_000, table_size=256) == m


@pytest.mark.parametrize("m", [4097, 10**6, SM2.order - 1])
def test_invalid_dlog_out_of_the_bound(m: int) -> None:
    with pytest.raises(DiscreteLogBoundError):
        dlog.solve(elgamal.base(SM2) * SM2.scalar(m), 4096, table_size=256)


@pytest.mark.parametrize(("bound", "table"), [(-1, 16), (dlog.MAX_BOUND + 1, 16),
                                              (100, 0), (10**9, dlog.MAX_TABLE + 1)])
def test_invalid_dlog_bounds_and_tables(bound: int, table: int) -> None:
    with pytest.raises(DiscreteLogBoundError):
        dlog.solve(elgamal.base(SM2), bound, table_size=table)


def test_the_library_runs_on_ristretto255_too() -> None:
    """Counts and sums under a ristretto255 DKG key (the library's groups; the command line
    and the chain use SM2, the one group of both the DKG's key files and the range proofs)."""
    rng = rng_of(50)
    shares = local_keygen(RISTRETTO255, 4, 3, b"test-ristretto", rng)
    public = shares[0].public
    key = public.group_public_key
    items = [(co.contribute(key, v, bits, b"r%d" % i, rng), b"r%d" % i)
             for i, (v, bits) in enumerate([(1, COUNT), (200, 8), (3, 16)])]
    assert co.decode(RISTRETTO255, items[1][0].encode()) == items[1][0]
    total, bound = co.aggregate(key, items, rng)
    made = [threshold.make_share(s, total, rng) for s in shares[1:]]
    assert threshold.decrypt(public, total, made, bound) == 204
    with pytest.raises(InvalidContributionError):
        co.verify(key, items[0][0], b"r9", rng)


def test_members_running_their_own_parties_over_exchanged_messages_agree() -> None:
    """member_step: each member alone, its party rebuilt from its seed and replayed over the
    messages so far; all end with one key. A message that is not the member's replay (a
    replaced file, another seed) is refused."""
    from xinlian.crypto.privacy.homomorphic.ceremony import member_step
    from xinlian.crypto.threshold.dkg import DkgConfig, DkgError

    ids = [1, 2, 3, 4]
    rng = rng_of(60)
    secrets = {i: SM2.random_scalar(rng) for i in ids}
    seeds = {i: rng(32) for i in ids}
    config = DkgConfig.keygen(SM2, b"test-steps", ids, 3,
                              {i: SM2.base_mul(s) for i, s in secrets.items()})
    messages: dict[tuple[int, int], bytes] = {}
    found: dict[int, KeyShare] = {}
    for _ in range(3):
        for i in ids:
            step = member_step(config, i, secrets[i], seeds[i], messages)
            messages.update({(r, i): m for r, m in step.posted.items()})
            if step.share is not None:
                found[i] = step.share
    assert set(found) == set(ids)
    assert len({s.public for s in found.values()}) == 1
    with pytest.raises(DkgError):
        member_step(config, 1, secrets[1], rng(32), messages)
