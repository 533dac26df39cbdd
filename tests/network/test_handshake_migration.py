"""The handshake across a suite migration (execution/rotation.py `transport_keys`, the
handshake's two admitted suites): which node keys a validator may authenticate with before,
during and after the switch, under which suite, and the typed refusals."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.keys import AlgId, PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite, get_suite
from xinlian.execution.migration import SCHEDULE_KEY
from xinlian.execution.rotation import ROTATION_PREFIX, RotatedKeys, transport_keys
from xinlian.ledger.genesis import Validator
from xinlian.ledger.migration import MigrationSchedule
from xinlian.network import handshake as hs
from xinlian.network.errors import (
    ClassicalIdentity,
    HandshakeError,
    NetworkError,
    Unauthenticated,
)
from xinlian.network.membership import Membership, node_id_of
from xinlian.node.validator import membership_of

INTL, PQ = get_suite("intl"), get_suite("pq")
H, W = 100, 50
OLD = [INTL.generate_signing_key(bytes([1, i]) * 16) for i in range(4)]
NEW = [PQ.generate_signing_key(bytes([2, i]) * 16) for i in range(4)]
VALIDATORS = [Validator(f"org{i}", k.public_key, b"", b"", 1, f"127.0.0.1:{9000 + i}")
              for i, k in enumerate(OLD)]
IDS = [node_id_of(INTL, k.public_key) for k in OLD]
Read = Callable[[bytes], bytes | None]


def state(scheduled: bool = True, registered: Sequence[int] = (0, 1, 2)) -> Read:
    """Ledger state with the move to `pq` scheduled at H (window W) and the rotated keys
    of `registered` validators (validator 3 never registers)."""
    values: dict[bytes, bytes] = {}
    if scheduled:
        values[SCHEDULE_KEY] = codec.encode(MigrationSchedule("intl", "pq", H, W,
                                                              AlgId.ED25519, AlgId.ML_DSA_65))
        for i in registered:
            values[ROTATION_PREFIX + IDS[i]] = codec.encode(RotatedKeys(NEW[i].public_key,
                                                                        NEW[i].public_key))
    return values.get


def view(read: Read, height: int, switched: bool) -> Membership:
    sessions, keys = transport_keys(read, INTL, VALIDATORS, height, switched)
    return membership_of(INTL, VALIDATORS, sessions, keys)


def handshake(key: SigningKey, suite: Suite, responder: Membership,
              initiator: Membership | None = None, to: int = 1,
              ) -> tuple[hs.Session, hs.Session]:
    """`key` (of validator 0) dials validator `to`, which holds its old and new keys."""
    rng = random.Random(7).randbytes
    initiator = initiator or responder
    target = initiator.peer(IDS[to])
    assert target is not None
    ini = hs.Initiator(suite, key, IDS[to], target.accepted, rng,
                       post_quantum_only=initiator.post_quantum_only)
    res = hs.Responder(INTL, OLD[to], responder, rng, keys=(NEW[to], OLD[to]))
    finish, a = ini.finish(res.reply(ini.hello()))
    return a, res.finish(finish)


def test_without_a_schedule_only_genesis_keys_authenticate() -> None:
    members = view(state(scheduled=False), H + W, False)
    a, b = handshake(OLD[0], INTL, members)
    assert (a.suite, a.peer_key, b.peer_id) == ("intl", OLD[1].public_key, IDS[0])
    with pytest.raises(HandshakeError):  # the pq handshake is not admitted
        handshake(NEW[0], PQ, members)


def test_invalid_new_key_refused_before_its_registration() -> None:
    members = view(state(registered=(1, 2)), H - 10, False)
    with pytest.raises(Unauthenticated):
        handshake(NEW[0], PQ, members)
    a, _ = handshake(OLD[0], INTL, members)
    assert a.peer_key == OLD[1].public_key


@pytest.mark.parametrize(("height", "switched"), [
    (H - 10, False),      # scheduled, registered, before the switch
    (H + 1, True),        # switched, inside the window
    (H + W - 1, True),    # the window's last block
    (H + W + 5, False),   # past H+W but the switch waits: the old keys still serve
])
def test_old_and_new_keys_of_a_registered_validator_both_authenticate(
        height: int, switched: bool) -> None:
    members = view(state(), height, switched)
    old, old_r = handshake(OLD[0], INTL, members)
    new, new_r = handshake(NEW[0], PQ, members)
    # the node id stays the genesis key's, whichever key authenticated
    assert old_r.peer_id == new_r.peer_id == IDS[0]
    assert old.peer_id == new.peer_id == IDS[1]
    # the responder answers in the suite of the Hello, with its key of that suite
    assert (old.suite, old.peer_key, old_r.peer_key) == ("intl", OLD[1].public_key,
                                                         OLD[0].public_key)
    assert (new.suite, new.peer_key, new_r.peer_key) == ("pq", NEW[1].public_key,
                                                         NEW[0].public_key)
    assert new.aead == PQ.aead and new.send_key == new_r.recv_key
    # the key the node uses first: the rotated one once the committee has switched
    peer = members.peer(IDS[0])
    assert peer is not None and peer.accepted[0] == (NEW if switched else OLD)[0].public_key


def test_after_the_window_only_rotated_keys_under_the_pq_handshake() -> None:
    members = view(state(), H + W, True)
    assert members.post_quantum_only
    assert [s.name for s in members.sessions] == ["pq"]
    new, _ = handshake(NEW[0], PQ, members)
    assert new.peer_key == NEW[1].public_key
    with pytest.raises(HandshakeError):  # an intl Hello is not admitted any more
        handshake(OLD[0], INTL, members)
    # a classical key under the pq handshake: refused before anything else, whether a
    # registered validator's old key or one that never registered
    for old in (OLD[0], OLD[3]):
        rng = random.Random(3).randbytes
        hello = codec.encode(hs.Hello(hs.VERSION, "pq", old.public_key,
                                      PQ.new_key_exchange(rng).offer(), rng(hs.NONCE_SIZE)))
        with pytest.raises(ClassicalIdentity):
            hs.Responder(INTL, OLD[1], members, rng, keys=(NEW[1],)).reply(hello)


def test_a_peer_that_has_not_learnt_a_rotated_key_falls_back_to_the_old_pair() -> None:
    current = view(state(), H + 1, True)
    lagging = view(state(registered=(0, 2)), H - 1, False)  # has not applied 1's registration
    with pytest.raises(Unauthenticated):  # validator 1 answers with a key 0 does not know
        handshake(NEW[0], PQ, current, initiator=lagging)
    a, _ = handshake(OLD[0], INTL, current, initiator=lagging)
    assert a.peer_key == OLD[1].public_key
    # the other way round: a responder that has not learnt the initiator's new key
    behind = view(state(registered=(1, 2)), H - 1, False)
    with pytest.raises(Unauthenticated):
        handshake(NEW[0], PQ, behind, initiator=current)
    a, _ = handshake(OLD[0], INTL, behind, initiator=current)
    assert a.suite == "intl"


@pytest.mark.parametrize("key", [
    PublicKey(AlgId.ML_DSA_65, NEW[0].public_key.data[:-1]),   # one byte short
    PublicKey(AlgId.ML_DSA_65, NEW[0].public_key.data + b"\x00"),
    PublicKey(AlgId.ML_DSA_65, b""),
])
def test_invalid_malformed_pq_key_in_hello_is_a_typed_error(key: PublicKey) -> None:
    members = view(state(), H + 1, True)
    rng = random.Random(5).randbytes
    hello = codec.encode(hs.Hello(hs.VERSION, "pq", key, PQ.new_key_exchange(rng).offer(),
                                  rng(hs.NONCE_SIZE)))
    with pytest.raises(NetworkError) as caught:
        hs.Responder(INTL, OLD[1], members, rng, keys=(NEW[1], OLD[1])).reply(hello)
    assert isinstance(caught.value, Unauthenticated)


@given(height=st.integers(0, 3 * (H + W)), switched=st.booleans(),
       registered=st.sets(st.integers(0, 3)), scheduled=st.booleans())
def test_the_key_rule_keeps_ids_and_a_key_for_everyone(
        height: int, switched: bool, registered: set[int], scheduled: bool) -> None:
    members = view(state(scheduled, sorted(registered)), height, switched)
    retired = scheduled and switched and height >= H + W
    assert members.ids() == tuple(IDS)  # ids are the genesis keys', whatever the phase
    assert members.post_quantum_only == retired
    for i in range(4):
        peer = members.peer(IDS[i])
        assert peer is not None
        rotated = scheduled and i in registered
        # the old key until retired, the new one from its registration, never neither
        assert (OLD[i].public_key in peer.accepted) == (not (rotated and retired))
        assert (NEW[i].public_key in peer.accepted) == rotated
        assert all(members.node_id(k) == IDS[i] for k in peer.accepted)


@pytest.mark.parametrize(("old_name", "new_name"), [
    ("sm", "hybrid-sm"), ("sm", "pq"), ("intl", "hybrid-intl")])
def test_every_move_mixes_old_and_new_keys_in_the_window(old_name: str, new_name: str) -> None:
    """Each way a chain may move: a rotated key dials under the target suite's handshake
    (SM2 + ML-KEM-768 or X25519 + ML-KEM-768) both a member that registered and one still
    on its old key (which answers with it), and an old key still reaches a rotated member."""
    old, new = get_suite(old_name), get_suite(new_name)
    olds = [old.generate_signing_key(bytes([3, i]) * 16) for i in range(3)]
    news = [new.generate_signing_key(bytes([4, i]) * 16) for i in range(3)]
    ids = [node_id_of(old, k.public_key) for k in olds]
    validators = [Validator(f"org{i}", k.public_key, b"", b"", 1, f"127.0.0.1:{9100 + i}")
                  for i, k in enumerate(olds)]
    values = {SCHEDULE_KEY: codec.encode(MigrationSchedule(old_name, new_name, H, W,
                                                           old.signature, new.signature))}
    for i in (0, 1):  # validator 2 has not registered
        values[ROTATION_PREFIX + ids[i]] = codec.encode(RotatedKeys(news[i].public_key,
                                                                    news[i].public_key))
    sessions, keys = transport_keys(values.get, old, validators, H + 1, True)
    members = membership_of(old, validators, sessions, keys)
    rng = random.Random(11).randbytes
    for key, suite, to, answer in ((news[0], new, 1, news[1]), (news[0], new, 2, olds[2]),
                                   (olds[0], old, 1, olds[1])):
        target = members.peer(ids[to])
        assert target is not None
        ini = hs.Initiator(suite, key, ids[to], target.accepted, rng,
                           post_quantum_only=members.post_quantum_only)
        own = (news[to], olds[to]) if to < 2 else (olds[to],)
        res = hs.Responder(old, olds[to], members, rng, keys=own)
        finish, a = ini.finish(res.reply(ini.hello()))
        b = res.finish(finish)
        assert (a.suite, a.peer_key, b.peer_id) == (suite.name, answer.public_key, ids[0])
        assert a.send_key == b.recv_key and a.aead == suite.aead
