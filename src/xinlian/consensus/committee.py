"""The committee of one epoch: members, their consensus keys and voting power.

A committee names its crypto suite (for hashing and, without BLS, for vote signatures) and
whether certificates aggregate BLS12-381 signatures (`aggregate=True`, as the suite's `vote`
field says for `intl`: each member's key is a 48-byte G1 point with a proof of possession,
which rules out rogue-key attacks on same-message aggregation) or carry one suite signature
per signer (`aggregate=False`: SM2 on `sm`, ML-DSA-65 on `pq`). Quorums are by voting
power: a quorum has more than 2/3 of the total, a validity set (at least one honest member)
more than 1/3.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Annotated

from xinlian import codec
from xinlian.consensus.errors import InvalidCertificate, InvalidCommittee
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.primitives import bls
from xinlian.crypto.signing import check_public_key
from xinlian.crypto.suites import Suite, get_suite

MAX_MEMBERS = 1024


class Member(codec.Struct):
    node: Annotated[bytes, codec.at_most(64)]
    power: int
    key: Annotated[bytes, codec.at_most(4096)]
    pop: Annotated[bytes, codec.at_most(bls.SIGNATURE_SIZE)]  # BLS only, else empty


class Committee(codec.Struct, dict=True):
    epoch: int
    suite: str
    aggregate: bool
    members: list[Member]

    # -- derived data (computed once per decoded committee) ----------------------------

    @cached_property
    def crypto_suite(self) -> Suite:
        return get_suite(self.suite)

    @cached_property
    def digest(self) -> bytes:
        return self.hash(codec.encode(self))

    @cached_property
    def n(self) -> int:
        return len(self.members)

    @cached_property
    def total_power(self) -> int:
        return sum(m.power for m in self.members)

    @cached_property
    def quorum(self) -> int:
        """Smallest power that is more than 2/3 of the total (2f+1 for equal powers)."""
        return self.total_power * 2 // 3 + 1

    @cached_property
    def validity(self) -> int:
        """Smallest power that is more than 1/3 of the total (f+1: one honest member)."""
        return self.total_power // 3 + 1

    @cached_property
    def _index(self) -> dict[bytes, int]:
        return {bytes(m.node): i for i, m in enumerate(self.members)}

    @cached_property
    def nodes(self) -> tuple[bytes, ...]:
        return tuple(bytes(m.node) for m in self.members)

    @cached_property
    def bls_keys(self) -> list[bls.PublicPoint]:
        """The members' decoded G1 keys (admitted by `validate`), decoded once."""
        return [bls.decode_public_key(bytes(m.key)) for m in self.members]

    def index(self, node: bytes) -> int | None:
        return self._index.get(node)

    def leader(self, round_: int) -> bytes:
        """Round-robin leader rotation (power weighs quorums, not turns)."""
        return self.nodes[(round_ + self.epoch) % self.n]

    def power(self, indices: Iterable[int]) -> int:
        return sum(self.members[i].power for i in indices)

    def hash(self, data: bytes) -> bytes:
        return self.crypto_suite.hash_bytes(data)

    def validate(self) -> None:
        """Raise InvalidCommittee unless this committee can run consensus."""
        if not 1 <= self.n <= MAX_MEMBERS:
            raise InvalidCommittee(f"a committee has 1..{MAX_MEMBERS} members, not {self.n}")
        if len(self._index) != self.n:
            raise InvalidCommittee("duplicate member")
        if any(m.power <= 0 or m.power >= 2**32 for m in self.members):
            raise InvalidCommittee("voting power must be in 1..2^32-1")
        if self.epoch < 0:
            raise InvalidCommittee("negative epoch")
        try:
            suite = self.crypto_suite
        except CryptoError as exc:
            raise InvalidCommittee(str(exc)) from None
        for m in self.members:
            if self.aggregate:
                _check_bls_member(m)
            else:
                try:
                    check_public_key(PublicKey(suite.signature, bytes(m.key)))
                except CryptoError as exc:
                    raise InvalidCommittee(f"member {m.node.hex()}: {exc}") from None


def _check_bls_member(m: Member) -> None:
    try:
        bls.check_public_key(bytes(m.key), bytes(m.pop))
    except CryptoError as exc:
        raise InvalidCommittee(f"member {m.node.hex()}: {exc.message}") from None


class EpochRoot(codec.Struct):
    """Where an epoch starts: its committee and the committed block it builds on."""

    committee: Committee
    height: int
    block_id: Annotated[bytes, codec.at_most(64)]


# -- signer bitmaps ------------------------------------------------------------------------

def bitmap(indices: Iterable[int], n: int) -> bytes:
    bits = bytearray((n + 7) // 8)
    for i in indices:
        bits[i >> 3] |= 0x80 >> (i & 7)
    return bytes(bits)


def signers(bits: bytes, n: int) -> list[int]:
    """Indices set in a bitmap, checking its length and that no bit is set past n."""
    if len(bits) != (n + 7) // 8:
        raise InvalidCertificate(f"signer bitmap is {len(bits)} bytes for {n} members")
    out = [i for i in range(n) if bits[i >> 3] & (0x80 >> (i & 7))]
    if n % 8 and bits[-1] & (0xFF >> (n % 8)):
        raise InvalidCertificate("signer bitmap has bits past the last member")
    return out
