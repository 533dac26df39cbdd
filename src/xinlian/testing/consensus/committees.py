"""Local committees with keys derived from a seed, for tests, simulations and benchmarks.

Never use these keys for a real chain: anyone who knows the seed knows every secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from xinlian.consensus.certificates import VoteKey
from xinlian.consensus.committee import Committee, EpochRoot, Member
from xinlian.crypto.primitives.bls import BlsKey
from xinlian.crypto.suites import get_suite


def node_name(i: int) -> bytes:
    return b"node-%04d" % i


def _seed(seed: bytes, label: bytes) -> bytes:
    return hashlib.sha256(b"xinlian/testing/consensus/committees/" + seed + b"/" + label).digest()


def member_keys(node: bytes, suite: str, aggregate: bool, seed: bytes = b""
                ) -> tuple[Member, VoteKey]:
    """One member's record (power 1) and its signing key."""
    if aggregate:
        bls = BlsKey.generate(_seed(seed, node))
        return Member(node, 1, bls.public, bls.pop), VoteKey(bls_secret=bls.secret)
    key = get_suite(suite).generate_signing_key(_seed(seed, node))
    return Member(node, 1, key.public_key.data, b""), VoteKey(suite_key=key)


def local_committee(n: int, *, suite: str = "intl", aggregate: bool | None = None,
                    epoch: int = 0, seed: bytes = b"", nodes: Sequence[bytes] | None = None
                    ) -> tuple[Committee, dict[bytes, VoteKey]]:
    """`n` members with seeded keys; certificates aggregate as the suite's `vote` says
    unless `aggregate` says otherwise (a list-certificate committee on `intl`, say)."""
    if aggregate is None:
        aggregate = get_suite(suite).aggregate_votes
    names = list(nodes) if nodes is not None else [node_name(i) for i in range(n)]
    pairs = [member_keys(name, suite, aggregate, seed) for name in names]
    committee = Committee(epoch, suite, aggregate, [m for m, _ in pairs])
    committee.validate()
    return committee, {bytes(m.node): k for m, k in pairs}


def genesis(committee: Committee) -> EpochRoot:
    """The root of a new chain: height 0, an id bound to the first committee."""
    return EpochRoot(committee, 0, committee.hash(b"xinlian/genesis" + committee.digest))
