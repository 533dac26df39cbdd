"""Signing runs whose keys come from a DKG among the members (no trusted dealer)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from xinlian.crypto.primitives.groups import Group, Rng
from xinlian.crypto.threshold.after_dkg import AfterDkg
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.dkg_core import DkgCore, Phase
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc import dkg
from xinlian.testing.mpc.keys import Keys, OwnKeys
from xinlian.testing.mpc.setup import Params, two_thirds


def keygen_factory(params: Params, group: Group, label: str, members: Sequence[int],
                   threshold: int) -> Callable[[int, Mapping[int, NodeId], Keys], DkgCore]:
    """`members`' keygen cores for a run that needs a shared key (its own session)."""
    ids = tuple(members)
    plan = [Phase("keygen", b"%s-keygen/%d" % (label.encode(), params.seed), ids, ids,
                      ids, threshold)]
    return dkg.core_factory(params, group, plan)


Member = Callable[[int, Mapping[int, NodeId], PublicKeyPackage, KeyShare, Keys], Core]
Leader = Callable[[Mapping[int, NodeId], PublicKeyPackage], Core]
Other = Callable[[int, Mapping[int, NodeId], PublicKeyPackage, Keys], Core]


def keyed_by_dkg(params: Params, group: Group, protocol: str, members: Sequence[int],
                 threshold: int, member: Member, other: Other
                 ) -> Callable[[int, Mapping[int, NodeId], Keys], Core]:
    """Cores of a run whose shared key comes from a DKG among `members`: each member runs
    keygen, then `member(...)` with its share; every other party waits for the public key
    package a majority of the members send it, then runs `other(...)`."""
    keygen = keygen_factory(params, group, protocol, members, threshold)
    ids = tuple(members)

    def make(me: int, roster: Mapping[int, NodeId], keys: Keys) -> Core:
        if me not in ids:
            return AfterDkg(me, roster, ids, group, None, protocol,
                            lambda public, _share: other(me, roster, public, keys))

        def then(public: PublicKeyPackage, share: KeyShare | None) -> Core:
            assert share is not None  # every keygen member receives a share
            return member(me, roster, public, share, keys)
        return AfterDkg(me, roster, ids, group, keygen(me, roster, keys), protocol, then,
                        recipients=[i for i in roster if i not in ids])
    return make


def dkg_cores(params: Params, group: Group, protocol: str, member: Member, leader: Leader
              ) -> Callable[[int, Mapping[int, NodeId], Keys], Core]:
    """Honest cores of a signing run whose keys come from a DKG among members 1..n, with
    party 0 (the coordinator or combiner) running `leader(...)` once it has the package."""
    members = tuple(range(1, params.parties + 1))
    return keyed_by_dkg(params, group, protocol, members,
                        params.threshold_or(two_thirds(params.parties)), member,
                        lambda _me, roster, public, _keys: leader(roster, public))


def dkg_keys(group: Group, members: Iterable[int]) -> Callable[[int, Rng], OwnKeys]:
    """What each party of such a run generates: a DKG member its keys, the others nothing."""
    member = dkg.member_keys(group)
    ids = set(members)

    def generate(me: int, rng: Rng) -> OwnKeys:
        return member(me, rng) if me in ids else OwnKeys()
    return generate
