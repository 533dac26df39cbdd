"""Committees: quorum arithmetic, validation of members and keys, signer bitmaps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.consensus.committee import Committee, Member, bitmap, signers
from xinlian.consensus.errors import InvalidCertificate, InvalidCommittee
from xinlian.consensus.leader import round_robin
from xinlian.testing.consensus.committees import genesis, local_committee


@pytest.mark.parametrize(("n", "quorum", "validity"), [(1, 1, 1), (4, 3, 2), (7, 5, 3),
                                                       (10, 7, 4), (100, 67, 34)])
def test_quorum_is_2f_plus_1_and_validity_f_plus_1(n: int, quorum: int, validity: int) -> None:
    members = [Member(b"n%d" % i, 1, b"", b"") for i in range(n)]
    committee = Committee(0, "intl", False, members)
    assert (committee.quorum, committee.validity) == (quorum, validity)


def test_voting_power_weighs_quorums() -> None:
    members = [Member(b"a", 5, b"", b""), Member(b"b", 1, b"", b""), Member(b"c", 1, b"", b"")]
    committee = Committee(0, "intl", False, members)
    assert committee.quorum == 5 and committee.power([0]) >= committee.quorum
    assert committee.power([1, 2]) < committee.validity + 1


def test_leader_rotates_through_every_member_and_depends_on_epoch() -> None:
    committee, _ = local_committee(4)
    assert {round_robin(committee, r) for r in range(4)} == set(committee.nodes)
    later, _ = local_committee(4, epoch=1)
    assert round_robin(committee, 1) != round_robin(later, 1)


def test_local_committees_validate_for_every_scheme() -> None:
    for suite, aggregate in [("intl", True), ("sm", False), ("intl", False), ("sm", True)]:
        committee, keys = local_committee(4, suite=suite, aggregate=aggregate)
        committee.validate()
        assert set(keys) == set(committee.nodes)
    assert genesis(committee).height == 0


def _replace(committee: Committee, i: int, **fields: object) -> Committee:
    members = list(committee.members)
    m = members[i]
    members[i] = Member(fields.get("node", m.node), fields.get("power", m.power),  # type: ignore[arg-type]
                        fields.get("key", m.key), fields.get("pop", m.pop))  # type: ignore[arg-type]
    return Committee(committee.epoch, committee.suite, committee.aggregate, members)


def test_invalid_committees_are_refused() -> None:
    bls, _ = local_committee(4)
    sm, _ = local_committee(4, suite="sm", aggregate=False)
    bad = [
        Committee(0, "intl", True, []),
        _replace(bls, 1, node=bls.members[0].node),
        _replace(bls, 1, power=0),
        _replace(bls, 1, key=b"\x00" * 48),
        _replace(bls, 1, pop=bls.members[2].pop),  # someone else's proof of possession
        _replace(bls, 1, key=bls.members[2].key),  # a copied key fails its own proof
        _replace(sm, 1, key=b"\x04" + b"\x01" * 64),  # not on the SM2 curve
        Committee(0, "nonsense", False, sm.members),
        Committee(-1, "sm", False, sm.members),
    ]
    for committee in bad:
        with pytest.raises(InvalidCommittee):
            committee.validate()


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_bitmap_round_trips(case: tuple[int, set[int]]) -> None:
    n, chosen = case
    assert signers(bitmap(chosen, n), n) == sorted(chosen)


def test_bad_bitmaps_are_refused() -> None:
    with pytest.raises(InvalidCertificate):
        signers(b"\xff", 12)  # wrong length
    with pytest.raises(InvalidCertificate):
        signers(b"\x01", 7)  # a bit past the last member
