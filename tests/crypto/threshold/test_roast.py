"""ROAST: completion whenever t honest signers respond, whatever the other n - t do; the
worst case of n - t + 1 sessions under a coordinated attack; the signer's own defences."""

from __future__ import annotations

import random

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.primitives.groups import ED25519, SECP256K1, Group
from xinlian.crypto.threshold import frost, roast
from xinlian.crypto.threshold.dkg import KeyShare
from xinlian.crypto.threshold.roast import Request, Response, RoastCoordinator, RoastSigner
from xinlian.testing.mpc import roast_run


def _keys(g: Group, n: int, t: int, seed: int = 1) -> list[KeyShare]:
    rng = random.Random(seed).randbytes
    return frost.share_secret(g, g.random_scalar(rng), t, list(range(1, n + 1)), rng)


def _valid(keys: list[KeyShare], msg: bytes, res: roast_run.SimResult) -> bool:
    assert res.signature is not None, res.error
    return frost.verify(frost.suite_for(keys[0].group), keys[0].public.group_public_key, msg,
                        res.signature)


def test_honest_run_gives_an_ordinary_ed25519_signature() -> None:
    keys = _keys(ED25519, 5, 3)
    res = roast_run.simulate(keys, b"block 7", seed=1, measured=False)
    assert res.signature is not None and not res.faults
    nacl.signing.VerifyKey(keys[0].public.group_public_key.encode()).verify(
        b"block 7", res.signature.encode())


@pytest.mark.parametrize("behaviour", ["silent", "absent", "invalid", "bad_point", "replay"])
@pytest.mark.parametrize("coordinated", [False, True], ids=["fifo", "coordinated"])
def test_completes_with_n_minus_t_misbehaving(behaviour: roast_run.Behaviour,
                                              coordinated: bool) -> None:
    n, t = 7, 4
    keys = _keys(SECP256K1, n, t)
    bad = {i: behaviour for i in (1, 3, 6)}
    res = roast_run.simulate(keys, b"m", behaviours=bad, coordinated=coordinated, seed=2,
                             measured=False)
    assert _valid(keys, b"m", res)
    assert res.sessions_started <= n - t + 1
    if coordinated and behaviour in ("silent", "invalid"):
        assert res.sessions_started == n - t + 1  # the paper's worst case, reached
    if behaviour in ("invalid", "bad_point"):
        assert res.malicious_identified == (1, 3, 6)
    else:
        assert res.malicious_identified == ()  # silence is not provable misbehaviour


def test_typed_faults_for_each_attack() -> None:
    keys = _keys(ED25519, 6, 3)
    bad: dict[int, roast_run.Behaviour] = {1: "invalid", 2: "bad_point", 4: "replay"}
    res = roast_run.simulate(keys, b"m", behaviours=bad, coordinated=True, seed=3,
                             measured=False)
    assert _valid(keys, b"m", res)
    codes = {p: {type(f.error).__name__ for q, f in res.faults if f.party == p}
             for p in (1, 2, 4)}
    assert codes[1] == {"InvalidSignatureShareError"}
    assert codes[2] == {"SmallSubgroupError"}
    assert codes[4] == {"UnexpectedMessageError"}


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_any_t_honest_signers_suffice(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 8))
    t = data.draw(st.integers(1, n))
    kinds: st.SearchStrategy[roast_run.Behaviour] = st.sampled_from(
        ["silent", "absent", "invalid", "bad_point", "replay"])
    bad_ids = data.draw(st.lists(st.integers(1, n), unique=True, max_size=n - t))
    bad = {i: data.draw(kinds) for i in bad_ids}
    keys = _keys(ED25519, n, t, seed=n + t)
    res = roast_run.simulate(keys, b"m", behaviours=bad,
                             coordinated=data.draw(st.booleans()), seed=4, measured=False)
    assert _valid(keys, b"m", res)
    assert res.sessions_started <= n - t + 1
    assert set(res.malicious_identified) <= set(bad_ids)


def test_t_minus_one_responsive_signers_never_sign() -> None:
    keys = _keys(ED25519, 5, 3)
    bad = {i: "absent" for i in (1, 2, 3)}  # only 2 < t signers ever speak
    res = roast_run.simulate(keys, b"m", behaviours=bad, seed=5,  # type: ignore[arg-type]
                             measured=False)
    assert res.signature is None and isinstance(res.error, roast.RoastError)


def test_coordinator_gives_up_when_too_many_are_malicious() -> None:
    keys = _keys(SECP256K1, 5, 3)
    bad = {i: "invalid" for i in (1, 2, 3)}
    res = roast_run.simulate(keys, b"m", behaviours=bad, seed=6,  # type: ignore[arg-type]
                             measured=False)
    assert res.signature is None and isinstance(res.error, roast.RoastFailedError)
    assert res.error.code == 8304


def _first_request(keys: list[KeyShare], msg: bytes) -> tuple[RoastCoordinator,
                                                              dict[int, RoastSigner], bytes]:
    signers = {k.identifier: RoastSigner(k, b"run", msg, rng=random.Random(k.identifier)
                                         .randbytes) for k in keys}
    coord = RoastCoordinator(keys[0].public, b"run", msg)
    request = b""
    for i, s in signers.items():
        ((_, announce),) = s.start()
        for _, data in coord.receive(i, announce):
            request = data
    return coord, signers, request


def _fault(party: RoastSigner | RoastCoordinator, sender: int, data: bytes) -> roast.Fault:
    """The first fault `party` records for `data` from `sender` (and it sends nothing)."""
    seen = len(party.faults)
    assert party.receive(sender, data) == []
    return party.faults[seen]


def test_signer_refuses_other_messages_replays_and_other_runs() -> None:
    keys = _keys(ED25519, 3, 2)
    _, signers, request = _first_request(keys, b"agreed")
    s1 = signers[1]
    req = codec.decode(request, Request)
    f = _fault(s1, 0, codec.encode(Request(req.run, req.session, b"other", req.commitments)))
    assert isinstance(f.error, roast.StaleRequestError)
    f = _fault(s1, 0, codec.encode(Request(b"old-run", 1, b"agreed", req.commitments)))
    assert isinstance(f.error, roast.WrongRunError)
    padded = Request(req.run, req.session, req.message, req.commitments * 3)
    f = _fault(s1, 0, codec.encode(padded))
    assert isinstance(f.error, frost.InvalidCommitmentListError)
    ((to, _),) = s1.receive(0, request)
    assert to == roast.COORDINATOR
    f = _fault(s1, 0, request)  # the same request again: its nonces are gone
    assert isinstance(f.error, roast.StaleRequestError)
    f = _fault(s1, 2, request)
    assert isinstance(f.error, roast.UnexpectedMessageError)


def test_coordinator_drops_replays_and_equivocation() -> None:
    keys = _keys(SECP256K1, 3, 2)
    coord, signers, request = _first_request(keys, b"m")
    ((_, answer),) = signers[1].receive(0, request)
    coord.receive(1, answer)
    assert not coord.faults
    f = _fault(coord, 1, answer)  # replayed answer
    assert isinstance(f.error, roast.UnexpectedMessageError)
    msg = codec.decode(answer, Response)
    other_run = codec.encode(Response(b"elsewhere", 1, msg.session, msg.share,
                                      msg.next_commitment))
    f = _fault(coord, 1, other_run)
    assert isinstance(f.error, (roast.WrongRunError, roast.UnexpectedMessageError))
    assert 1 not in coord.malicious  # replays are dropped, not punished
    _fault(coord, 3, b"\xc1")
    assert 3 in coord.malicious  # garbage from a signer


@pytest.mark.slow
@pytest.mark.parametrize("n", [100, 200])
def test_large_groups_under_coordinated_attack(n: int) -> None:
    t = 2 * n // 3 + 1
    keys = _keys(SECP256K1, n, t)
    bad = {i: "silent" for i in range(1, n - t + 1)}
    res = roast_run.simulate(keys, b"checkpoint", behaviours=bad,  # type: ignore[arg-type]
                             coordinated=True, seed=7, measured=False)
    assert _valid(keys, b"checkpoint", res)
    assert res.sessions_started == n - t + 1
