"""DKG, refresh and reshare: honest runs on all three groups, and the attacker's side
(bad shares, false accusations, silence, bad points, replay, equivocation, collusion)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives import dleq
from xinlian.crypto.primitives.groups import (
    ED25519,
    GROUPS,
    SECP256K1,
    SM2,
    Group,
    GroupError,
    SmallSubgroupError,
    lagrange_coefficient,
)
from xinlian.crypto.threshold import dkg, frost
from xinlian.crypto.threshold.dkg import (
    Complaints,
    Deal,
    DkgConfig,
    DkgParty,
    KeyShare,
    PublicKeyPackage,
)
from xinlian.testing.mpc import roast_run
from xinlian.testing.mpc.dkg_session import SessionRun, run_parties

from .dkg_helpers import bad_share_to, enc_keys, keygen_parties, run_keygen, tamper

ALL = list(GROUPS.values())


def _secret(shares: list[KeyShare]) -> int:
    g = shares[0].group
    ids = [s.identifier for s in shares]
    return sum(lagrange_coefficient(g, ids, s.identifier).value * s.secret.value
               for s in shares) % g.order


def _check_sharing(shares: dict[int, KeyShare], t: int) -> None:
    """All share one public package; every t-subset interpolates the key; t-1 do not."""
    publics = {s.public for s in shares.values()}
    assert len(publics) == 1
    public = publics.pop()
    g = public.group
    ids = sorted(shares)
    rnd = random.Random(len(ids))
    for _ in range(3):
        subset = sorted(rnd.sample(ids, t))
        x = _secret([shares[i] for i in subset])
        assert g.base_mul(g.scalar(x)) == public.group_public_key
        if t > 1:
            y = _secret([shares[i] for i in subset[:-1]])
            assert g.base_mul(g.scalar(y)) != public.group_public_key


@pytest.mark.parametrize("g", ALL, ids=[g.name for g in ALL])
def test_honest_keygen(g: Group) -> None:
    run = run_parties(keygen_parties(g, 5, 3, seed=1))
    assert not run.aborted and not run.faults and len(run.results) == 5
    shares = {i: r.key_share for i, r in run.results.items() if r.key_share}
    _check_sharing(shares, 3)
    assert all(r.qualified == (1, 2, 3, 4, 5) for r in run.results.values())
    # the bytes each party broadcast: one deal + one (empty) complaint message
    assert all(b > 0 for b in run.bytes_sent.values())


def test_dkg_key_signs_with_frost_as_ed25519() -> None:
    import nacl.signing
    shares = run_keygen(ED25519, 4, 3, seed=2)
    chosen = [shares[1], shares[3], shares[4]]
    rng = random.Random(3).randbytes
    nonces = {k.identifier: frost.commit(k, rng) for k in chosen}
    pkg = frost.SigningPackage(frost.FROST_ED25519, chosen[0].public.group_public_key, b"m",
                               tuple(nonces[k.identifier].commitments for k in chosen))
    sig = frost.aggregate(pkg, {k.identifier: frost.sign(k, nonces[k.identifier], pkg)
                                for k in chosen}, chosen[0].public)
    nacl.signing.VerifyKey(chosen[0].public.group_public_key.encode()).verify(b"m",
                                                                              sig.encode())


def test_cheating_dealer_is_identified_and_excluded() -> None:
    parties = keygen_parties(SECP256K1, 5, 3, seed=4, classes={2: bad_share_to(4)})
    run = run_parties(parties)
    assert not run.aborted
    for r in run.results.values():
        assert r.qualified == (1, 3, 4, 5)
        assert "complaint by 4" in r.disqualified[2]
        assert r.false_accusers == ()
    _check_sharing({i: r.key_share for i, r in run.results.items() if r.key_share}, 3)


def test_false_accuser_is_flagged_and_ignored() -> None:
    class FalseAccuser(DkgParty):
        def _my_complaints(self) -> list[dkg.Complaint]:
            if self.round != 2:
                return []
            d = self.deals[1]
            assert self.e is not None
            k = self.e * d.ephemeral
            proof = dleq.prove(dkg._DLEQ_DST, self.e, [self.group.generator(), d.ephemeral],
                                   [self.config.encryption_keys[self.me], k],
                                   context=self.config.session, rng=self.rng)
            return [dkg.Complaint(1, k.encode(), proof)]

    run = run_parties(keygen_parties(ED25519, 4, 2, seed=5, classes={3: FalseAccuser}))
    for r in run.results.values():
        assert r.qualified == (1, 2, 3, 4)
        assert r.false_accusers == (3,)
    assert any(isinstance(f.error, dkg.InvalidComplaintError) and f.party == 3
               for _, f in run.faults)


def test_forged_complaint_proof_is_rejected() -> None:
    class Forger(DkgParty):
        def _my_complaints(self) -> list[dkg.Complaint]:
            if self.round != 2:
                return []
            # claims dealer 1's share was bad but cannot prove the ECDH point
            k = self.group.base_mul(self.group.scalar(12345))
            proof = dleq.prove(dkg._DLEQ_DST, self.group.scalar(12345),
                                   [self.group.generator()], [k], rng=self.rng)
            return [dkg.Complaint(1, k.encode(), proof)]

    run = run_parties(keygen_parties(SM2, 4, 2, seed=6, classes={2: Forger}))
    assert all(r.qualified == (1, 2, 3, 4) and r.false_accusers == (2,)
               for r in run.results.values())


def test_silent_dealer_is_excluded_after_timeout() -> None:
    parties = keygen_parties(ED25519, 5, 3, seed=7)
    run = run_parties(parties, silent=[5])
    assert not run.aborted
    assert set(run.results) == {1, 2, 3, 4}
    assert all(r.qualified == (1, 2, 3, 4) for r in run.results.values())
    # party 5 is still a member and could be given its share later by resharing
    assert run.results[1].public.members == (1, 2, 3, 4, 5)


def test_too_many_cheaters_abort() -> None:
    classes = {i: bad_share_to(1, 2) for i in (3, 4, 5)}
    run = run_parties(keygen_parties(ED25519, 5, 3, seed=8, classes=classes))
    assert run.aborted and not run.results
    assert all(isinstance(e, dkg.DkgAbortedError) and e.code == 8108
               for e in run.aborted.values())


def _bad_deal_class(kind: str) -> type[DkgParty]:
    class BadDeal(DkgParty):
        def _make_deal(self) -> Deal:
            d = super()._make_deal()
            g = self.group
            if kind == "pok":
                return tamper(d, proof=d.proof[:-32] + g.scalar(7).encode())
            if kind == "count":
                return tamper(d, coefficients=d.coefficients[:-1])
            if kind == "small_subgroup":
                return tamper(d, coefficients=[bytes(32), *d.coefficients[1:]])
            if kind == "wrong_curve":
                return tamper(d, ephemeral=SECP256K1.generator().encode()[:32])
            if kind == "identity":
                return tamper(d, constant=b"\x01" + bytes(31))
            raise AssertionError(kind)

    return BadDeal


@pytest.mark.parametrize("kind,error", [
    ("pok", dkg.InvalidDealError), ("count", dkg.InvalidDealError),
    ("small_subgroup", SmallSubgroupError), ("wrong_curve", GroupError),
    ("identity", GroupError)])
def test_publicly_invalid_deals(kind: str, error: type[Exception]) -> None:
    run = run_parties(keygen_parties(ED25519, 4, 2, seed=9,
                                       classes={2: _bad_deal_class(kind)}))
    assert {r.qualified for r in run.results.values()} == {(1, 3, 4)}
    faults = [f for _, f in run.faults if f.party == 2]
    assert faults and all(isinstance(f.error, error) for f in faults)


def test_replay_equivocation_wrong_session_and_garbage() -> None:
    parties = keygen_parties(ED25519, 3, 2, seed=10)
    old = keygen_parties(ED25519, 3, 2, seed=10, session=b"old-session")
    (deal1,) = parties[1].start()
    p2 = parties[2]
    p2.start()

    def fault_of(sender: int, data: bytes) -> dkg.Fault:
        """The one fault `p2` records for `data` from `sender`."""
        seen = len(p2.faults)
        p2.receive(sender, data)
        (fault,) = p2.faults[seen:]
        assert fault.party == sender
        return fault

    p2.receive(1, deal1)
    assert not p2.faults
    assert isinstance(fault_of(1, deal1).error, dkg.ReplayedMessageError)
    (old_deal,) = old[1].start()
    f = fault_of(1, old_deal)
    assert isinstance(f.error, dkg.WrongSessionError) and f.error.code == 8102
    other = codec.decode(deal1, Deal)
    equivocal = codec.encode(tamper(other, shares=list(reversed(other.shares))))
    assert isinstance(fault_of(1, equivocal).error, dkg.EquivocationError)
    assert 1 in p2.disqualified
    f = fault_of(9, codec.encode(Complaints(b"test-session", 9, 2, [])))
    assert isinstance(f.error, dkg.UnexpectedSenderError)
    f = fault_of(3, codec.encode(Complaints(b"test-session", 3, 10**6, [])))
    assert isinstance(f.error, dkg.InvalidComplaintError)
    c = dkg.Complaint(1, bytes(32), dleq.DleqProof(bytes(32), bytes(32)))
    f = fault_of(3, codec.encode(Complaints(b"test-session", 3, 2, [c, c])))
    assert isinstance(f.error, dkg.InvalidComplaintError)
    assert isinstance(fault_of(3, b"\xc1garbage").error, CodecError)
    assert 3 in p2.disqualified  # a dealer that sends garbage instead of a deal is out


def test_offsetting_shares_cannot_hide_behind_a_disqualified_colluder() -> None:
    """Dealers 1 and 2 give party 5 shares off by +d and -d (the batch sum still checks
    out), and dealer 1 also cheats party 4, who gets it disqualified. Party 5's re-check
    over the smaller qualified set then fails, it complains about 2 in a further round,
    and every honest party ends with a consistent sharing."""
    classes = {1: bad_share_to(5, 4, delta=1), 2: bad_share_to(5, delta=-1)}
    run = run_parties(keygen_parties(SECP256K1, 6, 3, seed=11, classes=classes))
    assert not run.aborted
    for r in run.results.values():
        assert r.qualified == (3, 4, 5, 6)
    shares = {i: r.key_share for i, r in run.results.items() if r.key_share}
    _check_sharing({i: s for i, s in shares.items() if i > 2}, 3)


def _refresh(shares: dict[int, KeyShare], seed: int,
             classes: dict[int, type[DkgParty]] | None = None) -> SessionRun:
    public = next(iter(shares.values())).public
    g = public.group
    secrets, pubs = enc_keys(g, public.members, seed)
    cfg = DkgConfig.refresh(public, b"refresh-1", pubs)
    classes = classes or {}
    parties = {i: classes.get(i, DkgParty)(cfg, i, secrets[i], shares[i],
                                           rng=random.Random(seed + i).randbytes)
               for i in public.members}
    return run_parties(parties)


@pytest.mark.parametrize("g", [ED25519, SM2], ids=["ed25519", "sm2"])
def test_refresh_changes_every_share_but_not_the_key(g: Group) -> None:
    old = run_keygen(g, 5, 3, seed=12)
    run = _refresh(old, seed=13)
    new = {i: r.key_share for i, r in run.results.items() if r.key_share}
    assert len(new) == 5
    pk = old[1].public.group_public_key
    assert new[1].public.group_public_key == pk
    assert all(new[i].secret != old[i].secret for i in new)
    _check_sharing(new, 3)
    # old and new shares do not combine: an attacker holding t-1 old shares and one new
    mixed = [old[1], old[2], new[3]]
    assert g.base_mul(g.scalar(_secret(mixed))) != pk


def test_refresh_with_a_cheating_dealer() -> None:
    old = run_keygen(ED25519, 4, 2, seed=14)
    run = _refresh(old, seed=15, classes={3: bad_share_to(1)})
    assert all(r.qualified == (1, 2, 4) for r in run.results.values())
    new = {i: r.key_share for i, r in run.results.items() if r.key_share}
    assert new[1].public.group_public_key == old[1].public.group_public_key
    _check_sharing(new, 2)


def test_reshare_to_new_members_and_threshold() -> None:
    g = SECP256K1
    old = run_keygen(g, 5, 3, seed=16)
    public = old[1].public
    new_members = [3, 4, 5, 6, 7, 8]
    secrets, pubs = enc_keys(g, new_members, 17)
    dealers = [1, 2, 3, 4]  # member 5 is away; 4 >= old threshold 3
    cfg = DkgConfig.reshare(public, b"reshare-1", dealers, new_members, 4, pubs)

    class WrongConstant(DkgParty):  # dealer 2 reshares a secret other than its share
        def _make_deal(self) -> Deal:
            assert self.key_share is not None
            real = self.key_share
            self.key_share = dkg.KeyShare.__new__(dkg.KeyShare)
            object.__setattr__(self.key_share, "secret", real.secret + g.scalar(1))
            try:
                return super()._make_deal()
            finally:
                self.key_share = real

    parties = {}
    for i in sorted(set(dealers) | set(new_members)):
        cls = WrongConstant if i == 2 else DkgParty
        parties[i] = cls(cfg, i, secrets.get(i), old.get(i) if i in dealers else None,
                         rng=random.Random(100 + i).randbytes)
    run = run_parties(parties)
    assert not run.aborted
    for r in run.results.values():
        assert r.qualified == (1, 3, 4)
        assert r.public.group_public_key == public.group_public_key
        assert r.public.threshold == 4 and r.public.members == tuple(new_members)
    assert run.results[1].key_share is None  # 1 and 2 left the group
    new = {i: r.key_share for i, r in run.results.items() if r.key_share}
    assert sorted(new) == new_members
    _check_sharing(new, 4)


def test_config_errors() -> None:
    _, pubs = enc_keys(ED25519, [1, 2, 3], 0)
    with pytest.raises(dkg.DkgConfigError):
        DkgConfig.keygen(ED25519, b"s", [1, 2, 3], 4, pubs)
    with pytest.raises(dkg.DkgConfigError):
        DkgConfig.keygen(ED25519, b"s", [0, 1, 2], 2, pubs)
    cfg = DkgConfig.keygen(ED25519, b"s", [1, 2, 3], 2, pubs)
    with pytest.raises(dkg.DkgConfigError):
        # not the secret of its encryption key
        DkgParty(cfg, 1, ED25519.scalar(5), rng=random.Random(1).randbytes)
    with pytest.raises(dkg.DkgConfigError):
        DkgParty(cfg, 7, None, rng=random.Random(1).randbytes)


def test_key_material_encoding() -> None:
    shares = run_keygen(SM2, 3, 2, seed=18)
    s = shares[2]
    assert KeyShare.decode(s.encode()).secret == s.secret
    assert PublicKeyPackage.decode(s.public.encode()) == s.public
    with pytest.raises(dkg.InvalidKeyMaterialError):
        KeyShare(2, s.secret + SM2.scalar(1), s.public)
    with pytest.raises(GroupError):
        PublicKeyPackage.decode(codec.encode(dkg._WirePublic("sm2", [1, 2], [b"\x02" * 33,
                                                                             b"\x05" * 33])))


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_any_t_honest_parties_complete(data: st.DataObject) -> None:
    n = data.draw(st.integers(3, 6))
    t = data.draw(st.integers(2, n))
    cheaters = data.draw(st.lists(st.integers(1, n), unique=True, max_size=n - t))
    victims = {c: data.draw(st.lists(st.integers(1, n), min_size=1, max_size=2, unique=True))
               for c in cheaters}
    classes = {c: bad_share_to(*v) for c, v in victims.items()}
    run = run_parties(keygen_parties(ED25519, n, t, seed=n * 31 + t, classes=classes))
    assert not run.aborted
    honest = [i for i in range(1, n + 1) if i not in cheaters]
    quals = {run.results[i].qualified for i in honest}
    assert len(quals) == 1
    qual = quals.pop()
    assert qual == tuple(honest)  # every victim complains (cheaters' own code is honest)
    _check_sharing({i: run.results[i].key_share for i in honest}, t)  # type: ignore[misc]


@pytest.mark.slow
@pytest.mark.parametrize("n", [100, 200])
def test_large_keygen_with_cheaters(n: int) -> None:
    t = 2 * n // 3 + 1
    classes = {c: bad_share_to(c % n + 1) for c in (5, 17, 42)}
    run = run_parties(keygen_parties(SECP256K1, n, t, seed=n, classes=classes))
    assert not run.aborted
    honest = [i for i in range(1, n + 1) if i not in classes]
    assert {run.results[i].qualified for i in honest} == {tuple(honest)}
    _check_sharing({i: run.results[i].key_share for i in honest}, t)  # type: ignore[misc]


class _FalseAccuser(DkgParty):
    """Complains, with a valid proof, about the lowest-numbered other dealer's correct share."""

    def _my_complaints(self) -> list[dkg.Complaint]:
        target = min(j for j in self.deals if j != self.me)
        if self.round != 2 or target in self.accused:
            return []
        self.accused.add(target)
        d = self.deals[target]
        assert self.e is not None
        k = self.e * d.ephemeral
        proof = dleq.prove(dkg._DLEQ_DST, self.e, [self.group.generator(), d.ephemeral],
                               [self.config.encryption_keys[self.me], k],
                               context=self.config.session, rng=self.rng)
        return [dkg.Complaint(target, k.encode(), proof)]


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_mixed_adversaries_then_refresh_and_sign(data: st.DataObject) -> None:
    """Up to n - t members misbehave in assorted ways during keygen; the honest members
    agree, refresh the key among themselves and the result signs as plain Ed25519."""
    import nacl.signing
    n = data.draw(st.integers(3, 6))
    t = data.draw(st.integers(2, n))
    bad = data.draw(st.lists(st.integers(1, n), unique=True, max_size=n - t))
    kinds = {b: data.draw(st.sampled_from(["bad_share", "silent", "false_accuser", "pok"]))
             for b in bad}
    classes: dict[int, type[DkgParty]] = {}
    for b, kind in kinds.items():
        if kind == "bad_share":
            classes[b] = bad_share_to(b % n + 1)
        elif kind == "false_accuser":
            classes[b] = _FalseAccuser
        elif kind == "pok":
            classes[b] = _bad_deal_class("pok")
    silent = [b for b, kind in kinds.items() if kind == "silent"]
    run = run_parties(keygen_parties(ED25519, n, t, seed=7 * n + t, classes=classes),
                        silent=silent)
    assert not run.aborted
    honest = [i for i in range(1, n + 1) if i not in bad]
    (qual,) = {run.results[i].qualified for i in honest}
    kept = {b for b, kind in kinds.items() if kind == "false_accuser"}
    assert set(qual) == set(honest) | kept
    shares = {i: run.results[i].key_share for i in run.results if run.results[i].key_share}
    _check_sharing({i: shares[i] for i in honest}, t)  # type: ignore[misc]
    # refresh among everyone who got a share, then sign with any t honest refreshed shares
    live = {i: s for i, s in shares.items() if s is not None}
    if len(live) == n:
        refreshed = _refresh(live, seed=n + 100)
        live = {i: r.key_share for i, r in refreshed.results.items()
                if r.key_share is not None}
    signers = [live[i] for i in honest[:t]]
    res = roast_run.simulate(signers, b"after refresh", seed=1,
                             measured=False)
    assert res.signature is not None
    pk = signers[0].public.group_public_key
    assert pk == run.results[honest[0]].public.group_public_key
    nacl.signing.VerifyKey(pk.encode()).verify(b"after refresh", res.signature.encode())
