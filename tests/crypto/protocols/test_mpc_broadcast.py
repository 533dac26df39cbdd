"""The consistent-broadcast layer on its own: n parties' layers exchanging messages in
memory, with a Byzantine sender that signs a different message for each member, forged
proofs, bad signatures and lost posts."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.suites import get_suite
from xinlian.crypto.threshold import broadcast as cb
from xinlian.testing.mpc.keys import seeded_signing_keys

SUITE = get_suite(cb.SUITE)
X = b"x" * 32
PROTOCOL, SESSION = "test", b"session-1"
Drop = Callable[[int, int, bytes], bool]


class Net:
    """Honest layers for parties 1..n except those in `byzantine`, which only send what a
    test makes them send; messages go in an order drawn from `seed`; when none is in
    flight, the earliest pending timer fires."""

    def __init__(self, n: int, byzantine: tuple[int, ...] = (), *, seed: int = 0,
                 echo: bool = True, drop: Drop | None = None) -> None:
        self.members = list(range(1, n + 1))
        self.keys = seeded_signing_keys(1, "test", self.members)
        public = {i: k.public_key for i, k in self.keys.items()}
        self.honest = [i for i in self.members if i not in byzantine]
        self.layers = {i: cb.ConsistentBroadcast(PROTOCOL, SESSION, i, self.members, public,
                                                 self.keys[i], 100, "cb/", echo=echo)
                       for i in self.honest}
        self.rng = random.Random(seed)
        self.drop = drop or (lambda _frm, _to, _data: False)
        self.flight: list[tuple[int, int, bytes]] = []
        self.timers: dict[tuple[int, str], int] = {}
        self.now = 0
        self.delivered: dict[int, dict[int, cb.Delivered]] = {i: {} for i in self.honest}
        self.delivered_at: dict[tuple[int, int], int] = {}
        self.convicted: dict[int, dict[int, bool]] = {i: {} for i in self.honest}
        self.blamed: dict[int, Counter[int]] = {i: Counter() for i in self.honest}
        self.sent: Counter[str] = Counter()

    def take(self, i: int, outputs: list[cb.Output]) -> None:
        for o in outputs:
            if isinstance(o, cb.Out):
                kind = type(codec.decode(o.data, cb.Wire)).__name__
                for to in o.to:
                    self.sent[kind] += 1
                    if not self.drop(i, to, o.data):
                        self.flight.append((i, to, o.data))
            elif isinstance(o, cb.Timer):
                self.timers[(i, o.name)] = o.at_ms
            elif isinstance(o, cb.Delivered):
                assert o.slot not in self.delivered[i], "a slot is delivered once"
                self.delivered[i][o.slot] = o
                self.delivered_at[(i, o.slot)] = self.now
            elif isinstance(o, cb.Equivocated):
                self.convicted[i][o.party] = o.late
            else:
                self.blamed[i][o.party] += 1

    def post(self, frm: int, to: int, payload: bytes, slot: int = 1) -> None:
        """What a Byzantine member sends: its own validly signed post, to one member."""
        signed = cb.sign(self.keys[frm], SUITE, PROTOCOL, SESSION, slot, frm, payload)
        self.flight.append((frm, to, codec.encode(cb.Post(signed, b""))))

    def start(self, slot: int = 1) -> None:
        for i in self.honest:
            self.take(i, self.layers[i].send(slot, b"message of %d" % i, self.now))
        for i in self.honest:
            self.take(i, self.layers[i].open(slot, self.members, self.now))

    def run(self) -> None:
        while self.flight or self.timers:
            if self.flight:
                frm, to, data = self.flight.pop(self.rng.randrange(len(self.flight)))
                if to in self.layers:
                    self.take(to, self.layers[to].receive(frm, data, self.now))
                continue
            (i, name), at = min(self.timers.items(), key=lambda kv: (kv[1], kv[0]))
            del self.timers[(i, name)]
            self.now = max(self.now, at)
            self.take(i, self.layers[i].timeout(name, self.now))

    def views(self, slot: int = 1) -> list[dict[int, bytes]]:
        return [self.delivered[i][slot].messages for i in self.honest]


def test_an_honest_round_costs_one_echo_per_pair_and_nothing_else() -> None:
    net = Net(5)
    net.start()
    net.run()
    views = net.views()
    assert all(v == views[0] for v in views)
    assert views[0] == {i: b"message of %d" % i for i in range(1, 6)}
    assert net.sent == {"Post": 20, "Echo": 20}  # n(n-1) posts, n(n-1) compact echoes
    assert not any(net.blamed.values()) and not any(net.convicted.values())
    assert set(net.delivered_at.values()) == {0}  # no deadline was waited for


def test_an_equivocating_sender_is_proven_and_left_out_by_every_honest_member() -> None:
    net = Net(5, byzantine=(5,))
    for to in range(1, 5):
        net.post(5, to, b"version %d" % to)
    net.start()
    net.run()
    views = net.views()
    assert all(v == views[0] for v in views) and 5 not in views[0]
    assert set(views[0]) == {1, 2, 3, 4}
    assert all(net.convicted[i] == {5: False} for i in net.honest)
    assert net.sent["Proof"] > 0  # the proof is forwarded
    assert set(net.delivered_at.values()) == {0}  # nobody waited: the proofs settle it


def test_without_the_echo_an_equivocation_goes_unnoticed() -> None:
    net = Net(4, byzantine=(4,), echo=False)
    for to in range(1, 4):
        net.post(4, to, b"version %d" % to)
    net.start()
    net.run()
    assert {v[4] for v in net.views()} == {b"version 1", b"version 2", b"version 3"}


@settings(max_examples=80, deadline=None)
@given(st.integers(3, 7), st.data(), st.integers(0, 2**32))
def test_honest_members_always_deliver_the_same_messages(n: int, data: st.DataObject,
                                                         seed: int) -> None:
    """Whatever versions (or nothing) the Byzantine sender posts to each honest member, and
    whatever second post it slips to one of them, in whatever order messages arrive, the
    honest members deliver identical rounds: every honest message, and the Byzantine one
    only if it told everyone who heard it in time the same."""
    bad = n
    told = {to: data.draw(st.sampled_from([None, 0, 1, 2])) for to in range(1, n)}
    extra = data.draw(st.sampled_from([None, *range(1, n)]))
    net = Net(n, byzantine=(bad,), seed=seed)
    for to, version in told.items():
        if version is not None:
            net.post(bad, to, b"version %d" % version)
    if extra is not None:
        net.post(bad, extra, b"a second story")
    net.start()
    net.run()
    views = net.views()
    assert all(v == views[0] for v in views)
    assert {i: views[0][i] for i in net.honest} == {i: b"message of %d" % i for i in net.honest}
    versions = {b"version %d" % v for v in told.values() if v is not None}
    if len(versions) > 1:
        assert bad not in views[0]
        assert all(set(net.convicted[i]) == {bad} for i in net.honest)
    if extra is None and len(versions) < 2:
        assert not any(net.convicted.values())
        assert views[0].get(bad) == (versions.pop() if versions else None)
    elif bad in views[0]:  # it told everyone the same in time: the second story came late
        assert views[0][bad] in versions | {b"a second story"}
    assert all(set(net.blamed[i]) <= {bad} for i in net.honest)


def test_a_post_that_missed_a_member_is_fetched_from_those_that_echoed_it() -> None:
    def lost(frm: int, to: int, data: bytes) -> bool:
        return frm == 1 and to == 2 and isinstance(codec.decode(data, cb.Wire), cb.Post)
    net = Net(4, drop=lost)
    net.start()
    net.run()
    views = net.views()
    assert all(v == views[0] for v in views) and views[0][1] == b"message of 1"
    assert net.delivered[2][1].direct[1] == b""  # a fetched copy has no private part
    assert net.sent["Fetch"] == 3 and net.sent["Copy"] == 3  # asked of every echoer


def test_a_post_with_a_bad_signature_is_blamed_and_replaced_by_the_signed_copy() -> None:
    def flip(frm: int, to: int, data: bytes) -> bool:
        msg = codec.decode(data, cb.Wire)
        if frm == 1 and to == 3 and isinstance(msg, cb.Post):
            m = msg.message
            forged = cb.Signed(m.slot, m.sender, m.payload, bytes(64))
            net.flight.append((frm, to, codec.encode(cb.Post(forged, b""))))
            return True
        return False
    net = Net(4, drop=flip)
    net.start()
    net.run()
    assert net.blamed[3] == {1: 1} and not net.convicted[3]
    assert all(v == net.views()[0] for v in net.views()) and 1 in net.views()[0]


def _proofs(net: Net) -> dict[str, cb.Proof]:
    """Proofs a member could forward against honest member 2, none of them valid."""
    key = net.keys[2]

    def signed(payload: bytes, slot: int = 1, sender: int = 2) -> cb.Signed:
        return cb.sign(key, SUITE, PROTOCOL, SESSION, slot, sender, payload)
    real = signed(b"message of 2")
    bad_sig = cb.Signed(1, 2, b"something else", real.signature)
    other_key = cb.sign(net.keys[4], SUITE, PROTOCOL, SESSION, 1, 2, b"something else")
    return {
        "bad signature": cb.Proof(real, bad_sig),
        "same message twice": cb.Proof(real, real),
        "signed by another member": cb.Proof(real, other_key),
        "different slots": cb.Proof(real, signed(b"message of 2 in slot 2", slot=2)),
        "other session": cb.Proof(real, cb.sign(key, SUITE, PROTOCOL, b"session-0", 1, 2,
                                                b"an old run's message")),
    }


@pytest.mark.parametrize("kind", ["bad signature", "same message twice",
                                  "signed by another member", "different slots",
                                  "other session"])
def test_a_forged_proof_is_rejected_and_blames_its_sender_not_the_accused(kind: str) -> None:
    net = Net(4, byzantine=(4,))
    forged = codec.encode(_proofs(net)[kind])
    for to in (1, 2, 3):
        net.post(4, to, b"the same to everyone")
        net.flight.append((4, to, forged))
    net.start()
    net.run()
    assert all(net.blamed[i] == {4: 1} for i in (1, 3)) and net.blamed[2] == {4: 1}
    assert not any(net.convicted.values())
    assert all(v == net.views()[0] for v in net.views()) and set(net.views()[0]) == {1, 2, 3, 4}


def test_a_proof_after_the_round_excludes_the_sender_from_the_next_slot_everywhere() -> None:
    """A proof that arrives unasked, after the slot it concerns, cannot change that slot
    (others may have delivered it); every member acts on it from its next slot on, and
    says so in that slot's echo, so that all of them exclude the sender from the same slot."""
    net = Net(4, byzantine=(4,))
    for to in (1, 2, 3):
        net.post(4, to, b"consistent in slot 1")
    net.start()
    net.run()
    assert all(4 in v for v in net.views())
    a = cb.sign(net.keys[4], SUITE, PROTOCOL, SESSION, 1, 4, b"consistent in slot 1")
    b = cb.sign(net.keys[4], SUITE, PROTOCOL, SESSION, 1, 4, b"a second story")
    net.flight.append((4, 1, codec.encode(cb.Proof(a, b))))
    net.run()
    assert all(net.layers[i].equivocators == [4] for i in net.honest)  # 1 forwarded it
    assert not any(net.convicted.values())  # not in effect yet
    for to in (1, 2, 3):
        net.post(4, to, b"slot 2", slot=2)
    net.start(slot=2)
    net.run()
    assert all(net.convicted[i] == {4: True} for i in net.honest)
    assert all(set(v) == {1, 2, 3} for v in net.views(2))


@pytest.mark.parametrize("seed", range(6))
def test_a_proof_shown_to_one_member_before_its_echo_reaches_every_member_in_time(
        seed: int) -> None:
    """Member 4 equivocates only towards member 1, with a second post that nobody else
    sees: member 1 sends the proof to all and its echo names 4 as convicted (whoever has
    not got the proof yet asks for it), so every member excludes 4 from this slot."""
    net = Net(4, byzantine=(4,), seed=seed)
    for to in (1, 2, 3):
        net.post(4, to, b"the public story")
    net.post(4, 1, b"a private second story")
    net.start()
    net.run()
    assert all(v == net.views()[0] for v in net.views()) and 4 not in net.views()[0]
    assert all(net.convicted[i] == {4: False} for i in (2, 3))


@pytest.mark.parametrize("data", [
    b"", b"\xc1", codec.encode(cb.Echo(1, [2, 1], X, [X] * 2, [])),
    codec.encode(cb.Echo(1, [1, 2], X, [X], [])), codec.encode(cb.Echo(-1, [], X, [], [])),
    codec.encode(cb.Echo(1, [9], X, [X], [])), codec.encode(cb.Echo(1, [1], X, [X], [])),
    codec.encode(cb.Echo(1, [1], X, [], [3, 2])),
    codec.encode(cb.Copy(cb.Signed(1, 3, b"", b"")))])
def test_malformed_layer_messages_are_blamed_never_raised(data: bytes) -> None:
    layer = Net(3).layers[1]
    out = layer.receive(2, data, 0)
    assert len(out) == 1 and isinstance(out[0], cb.Blame) and out[0].party == 2
    assert layer.receive(7, b"", 0) == [cb.Blame(7, "not a member of this session")]


def test_a_proof_about_a_slot_this_member_never_saw_takes_effect_at_its_next_slot() -> None:
    net = Net(3, byzantine=(3,))
    a = cb.sign(net.keys[3], SUITE, PROTOCOL, SESSION, 7, 3, b"one")
    b = cb.sign(net.keys[3], SUITE, PROTOCOL, SESSION, 7, 3, b"two")
    assert net.layers[1].receive(3, codec.encode(cb.Proof(a, b)), 0)  # forwarded to 2
    net.start()
    net.run()
    assert net.layers[1].equivocators == [3] and net.convicted[1] == {3: False}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["post", "echo", "fetch", "copy", "proof", "why", "detail"]),
       st.integers(-2, 2000), st.integers(-2, 5), st.binary(max_size=40),
       st.binary(max_size=70), st.booleans())
def test_any_well_formed_layer_message_is_handled_without_raising(
        kind: str, slot: int, sender: int, payload: bytes, signature: bytes,
        signed_by_sender: bool) -> None:
    net = Net(3)
    layer = net.layers[1]
    if signed_by_sender and 1 <= sender <= 3 and slot >= 0:  # not for the slot run below
        m = cb.sign(net.keys[sender], SUITE, PROTOCOL, SESSION, slot + 2, sender, payload)
    else:
        m = cb.Signed(slot, sender, payload, signature)
    other = cb.Signed(slot, sender, payload + b"!", signature)
    msg = {"post": cb.Post(m, payload), "copy": cb.Copy(m), "proof": cb.Proof(m, other),
           "echo": cb.Echo(slot, [sender], bytes(32), [bytes(32)] * (slot % 2), [sender]),
           "detail": cb.Detail(slot),
           "fetch": cb.Fetch(slot, sender, bytes(32)), "why": cb.Why(sender)}[kind]
    out = layer.receive(2, codec.encode(msg), 0)
    assert isinstance(out, list)
    net.take(1, out)
    net.start()
    net.run()
    views = net.views()  # nothing stops an honest round
    assert all(v == views[0] for v in views) and set(views[0]) == {1, 2, 3}
