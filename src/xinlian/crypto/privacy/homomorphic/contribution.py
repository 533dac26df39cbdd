"""A member's contribution to an encrypted aggregate: a ciphertext and the proof that it
holds a value the aggregate allows, so that no member can skew a sum or a count.

- A count's contribution (`bits = 0`) encrypts 0 or 1, with a `BitProof` (sigma.py).
- A sum's contribution (`bits` 8, 16 or 32) encrypts a value in [0, 2^bits): a Pedersen
  commitment V to the same value, a `LinkProof` that V and the ciphertext hold one value,
  and a Bulletproofs range proof on V (crypto/privacy/confidential/range_proof.py).

Each proof is bound to the aggregate key and to a caller's `context`: name in it what the
contribution is for and who makes it (a poll and the member's address, a collection, an
attribute and a record id), so that a ciphertext copied from another member or another
aggregate does not verify. 64-bit values are not offered: their sums are beyond any
discrete-log table (dlog.py).

Encoding: bits (1 byte) || R || C || the proof parts, each at a length fixed by the group
and bits (bit proof; or V || link proof || range proof).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng
from xinlian.crypto.privacy.confidential import GROUPS as PROOF_GROUPS
from xinlian.crypto.privacy.confidential import pedersen, range_proof
from xinlian.crypto.privacy.confidential.errors import ConfidentialError
from xinlian.crypto.privacy.confidential.range_proof import RangeProof
from xinlian.crypto.privacy.homomorphic import elgamal, sigma
from xinlian.crypto.privacy.homomorphic.counter_rng import counter_rng
from xinlian.crypto.privacy.homomorphic.elgamal import Ciphertext
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    InvalidContributionError,
    MalformedAggregateInputError,
)
from xinlian.crypto.privacy.homomorphic.sigma import BitProof, Equations, LinkProof

#: `bits` of a count's contribution (0 or 1), then the range sizes a sum's may have.
COUNT = 0
BIT_SIZES = (COUNT, 8, 16, 32)


@dataclass(frozen=True)
class Contribution:
    """A ciphertext with the proof its `bits` call for (the other fields are None)."""

    bits: int
    ciphertext: Ciphertext
    bit_proof: BitProof | None = None
    commitment: Element | None = None
    link: LinkProof | None = None
    range: RangeProof | None = None

    @property
    def group(self) -> Group:
        return self.ciphertext.group

    @property
    def max_value(self) -> int:
        """The largest value the proof allows: 1 for a count, 2^bits - 1 for a sum."""
        return 1 if self.bits == COUNT else (1 << self.bits) - 1

    def encode(self) -> bytes:
        head = bytes([self.bits]) + self.ciphertext.r.encode() + self.ciphertext.c.encode()
        if self.bit_proof is not None:
            return head + self.bit_proof.encode()
        assert self.commitment is not None and self.link is not None and self.range is not None
        return head + self.commitment.encode() + self.link.encode() + self.range.encode()


def check_statement(key: Element, bits: int) -> None:
    """Refuse a key or bit size no contribution may have."""
    if bits not in BIT_SIZES:
        raise AggregateStatementError(f"bits must be one of {BIT_SIZES} (0: a count), got {bits}")
    if key.group.name not in PROOF_GROUPS or PROOF_GROUPS[key.group.name] is not key.group:
        raise AggregateStatementError(
            f"aggregates run on {sorted(PROOF_GROUPS)}, not {key.group.name}")
    if key.is_identity():
        raise AggregateStatementError("the identity is not an aggregate key")


def contribute(key: Element, value: int, bits: int, context: bytes,
               rng: Rng = os.urandom) -> Contribution:
    """Encrypt `value` under the aggregate `key` and prove it allowed; refuses
    (AggregateStatementError) a value the proof would not cover."""
    check_statement(key, bits)
    top = 1 if bits == COUNT else (1 << bits) - 1
    if type(value) is not int or not 0 <= value <= top:
        raise AggregateStatementError(f"a {'count' if bits == COUNT else f'{bits}-bit'} "
                                      f"contribution is in [0, {top}], got {value!r}")
    ct, r = elgamal.encrypt(key, value, rng)
    if bits == COUNT:
        return Contribution(bits, ct, bit_proof=sigma.prove_bit(key, ct, value, r, context, rng))
    group = key.group
    s = pedersen.random_blinding(group, rng)
    proof, (v,) = range_proof.prove(group, [value], [s], bits, rng)
    link = sigma.prove_link(key, ct, v, value, r, s, context, rng)
    return Contribution(bits, ct, commitment=v, link=link, range=proof)


def encoded_size(group: Group, bits: int) -> int:
    """The bytes of a contribution of `bits` on `group`."""
    head = 1 + 2 * group.element_size
    if bits == COUNT:
        return head + sigma.bit_proof_size(group)
    return (head + group.element_size + sigma.link_proof_size(group)
            + range_proof.proof_size(group, bits, 1))


def decode(group: Group, data: bytes) -> Contribution:
    """Strictly decode a contribution (exact length, canonical non-identity points)."""
    if not data or data[0] not in BIT_SIZES:
        raise MalformedAggregateInputError(f"a contribution starts with its bits {BIT_SIZES}")
    bits = data[0]
    if len(data) != encoded_size(group, bits):
        raise MalformedAggregateInputError(
            f"a {bits}-bit contribution is {encoded_size(group, bits)} bytes, got {len(data)}")
    e = group.element_size
    try:
        ct = Ciphertext(group.decode_element(data[1:1 + e]),
                        group.decode_element(data[1 + e:1 + 2 * e]))
    except GroupError as exc:
        raise MalformedAggregateInputError(f"contribution ciphertext: {exc}") from exc
    rest = data[1 + 2 * e:]
    if bits == COUNT:
        return Contribution(bits, ct, bit_proof=sigma.decode_bit_proof(group, rest))
    link_end = e + sigma.link_proof_size(group)
    try:
        v = group.decode_element(rest[:e])
        proof = range_proof.decode(group, rest[link_end:], bits, 1)
    except (GroupError, ConfidentialError) as exc:
        raise MalformedAggregateInputError(f"contribution proof: {exc}") from exc
    link = sigma.decode_link_proof(group, rest[e:link_end])
    return Contribution(bits, ct, commitment=v, link=link, range=proof)


def verify(key: Element, contribution: Contribution, context: bytes,
           rng: Rng = os.urandom) -> None:
    """Raise InvalidContributionError unless the proof holds for this key and context."""
    verify_batch(key, [(contribution, context)], rng)


def verify_batch(key: Element, items: Sequence[tuple[Contribution, bytes]],
                 rng: Rng = os.urandom) -> None:
    """Verify many (contribution, context) pairs under one key: the sigma proofs in one
    multi-scalar multiplication, the range proofs in one Bulletproofs batch. On failure it
    does not say which is bad: verify them one by one to find out."""
    if not items:
        return
    group = key.group
    eq = Equations(group, rng)
    ranges: list[tuple[Sequence[Element], RangeProof, int]] = []
    for c, context in items:
        check_statement(key, c.bits)
        if c.group is not group:
            raise AggregateStatementError(f"a {c.group.name} contribution under a "
                                          f"{group.name} key")
        if c.bits == COUNT:
            assert c.bit_proof is not None
            sigma.add_bit_proof(eq, key, c.ciphertext, c.bit_proof, context)
        else:
            assert c.commitment is not None and c.link is not None and c.range is not None
            sigma.add_link_proof(eq, key, c.ciphertext, c.commitment, c.link, context)
            ranges.append(([c.commitment], c.range, c.bits))
    if not eq.holds():
        raise InvalidContributionError("a contribution's proof does not verify")
    try:
        range_proof.batch_verify(group, ranges, rng)
    except ConfidentialError as exc:
        raise InvalidContributionError(f"a contribution's range proof: {exc}") from exc


def derived_rng(items: Sequence[tuple[Contribution, bytes]]) -> Rng:
    """Batch weights derived from the batch itself (SHA-256 of every contribution and
    context, in counter mode), for verifiers that must agree bit for bit (a chain's
    validators). A false proof would need weights it cannot see before fixing its bytes:
    sound in the random-oracle model, as Fiat-Shamir is."""
    seed = hashlib.sha256(b"xinlian/homomorphic/batch-weights\x00")
    for c, context in items:
        data = c.encode()
        seed.update(len(data).to_bytes(4, "big") + data + len(context).to_bytes(4, "big")
                    + context)
    return counter_rng(seed.digest())


def aggregate(key: Element, items: Sequence[tuple[Contribution, bytes]],
              rng: Rng = os.urandom) -> tuple[Ciphertext, int]:
    """Verify every contribution, then sum them: the aggregate ciphertext and the largest
    total the proofs allow (the bound a decryption's discrete log searches up to)."""
    verify_batch(key, items, rng)
    return (elgamal.total((c.ciphertext for c, _ in items), key.group),
            sum(c.max_value for c, _ in items))
