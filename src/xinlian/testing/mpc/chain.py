"""Signing runs whose keys come from a DKG among the members (no trusted dealer)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from xinlian.crypto.primitives.groups import Group, Rng
from xinlian.crypto.threshold.after_dkg import AfterDkg
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc import dkg
from xinlian.testing.mpc.keys import Keys, OwnKeys
from xinlian.testing.mpc.setup import Params, two_thirds


def keygen_factory(params: Params, group: Group, label: str
                   ) -> Callable[[int, Mapping[int, NodeId], Keys], dkg.DkgCore]:
    """Members 1..n's keygen cores for a signing run (its own session and seed label)."""
    n = params.parties
    t = params.threshold_or(two_thirds(n))
    members = tuple(range(1, n + 1))
    plan = [dkg.Phase("keygen", b"%s-keygen/%d" % (label.encode(), params.seed), members,
                      members, members, t)]
    return dkg.core_factory(params, group, plan)


Member = Callable[[int, Mapping[int, NodeId], PublicKeyPackage, KeyShare, Keys], Core]
Leader = Callable[[Mapping[int, NodeId], PublicKeyPackage], Core]


def dkg_cores(params: Params, group: Group, protocol: str, member: Member, leader: Leader,
              leader_id: int = 0) -> Callable[[int, Mapping[int, NodeId], Keys], Core]:
    """Honest cores of a signing run whose keys come from a DKG among members 1..n: each
    member runs keygen, then `member(...)`; party `leader_id` waits for the package, then
    runs `leader(...)`."""
    keygen = keygen_factory(params, group, protocol)
    members = tuple(range(1, params.parties + 1))

    def make(me: int, roster: Mapping[int, NodeId], keys: Keys) -> Core:
        if me == leader_id:
            return AfterDkg(me, roster, members, group, None, protocol,
                            lambda public, _share: leader(roster, public))

        def then(public: PublicKeyPackage, share: KeyShare | None) -> Core:
            assert share is not None  # every keygen member receives a share
            return member(me, roster, public, share, keys)
        return AfterDkg(me, roster, members, group, keygen(me, roster, keys), protocol, then,
                        recipients=(leader_id,))
    return make


def dkg_keys(group: Group, leader_id: int = 0) -> Callable[[int, Rng], OwnKeys]:
    """What each party of such a run generates: a DKG member's keys; the leader nothing."""
    member = dkg.member_keys(group)

    def generate(me: int, rng: Rng) -> OwnKeys:
        return OwnKeys() if me == leader_id else member(me, rng)
    return generate
