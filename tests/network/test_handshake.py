"""The handshake as a sans-I/O exchange: success per suite and every refusal."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.keys import Signature
from xinlian.crypto.suites import Suite, get_suite
from xinlian.network import handshake as hs
from xinlian.network.channel import Channel
from xinlian.network.errors import (
    HandshakeError,
    MalformedFrame,
    NetworkError,
    Unauthenticated,
)
from xinlian.network.membership import node_id_of

from .conftest import membership, node_keys

Rng = Callable[[int], bytes]


def run(suite: Suite, rng: Rng, *, dial_key_index: int = 1, initiator_index: int = 0,
        known: int = 3) -> tuple[hs.Session, hs.Session]:
    keys = node_keys(suite, 4)
    members = membership(suite, keys[:known])
    target = keys[dial_key_index].public_key
    ini = hs.Initiator(suite, keys[initiator_index], node_id_of(suite, target), target, rng)
    res = hs.Responder(suite, keys[1], members, rng)
    hello = ini.hello()
    assert len(hello) <= hs.MAX_HANDSHAKE_FRAME
    reply = res.reply(hello)
    assert len(reply) <= hs.MAX_HANDSHAKE_FRAME
    finish, a = ini.finish(reply)
    b = res.finish(finish)
    return a, b


def test_handshake_gives_matching_directional_keys(suite: Suite, rng: Rng) -> None:
    a, b = run(suite, rng)
    keys = node_keys(suite, 4)
    assert a.peer_id == node_id_of(suite, keys[1].public_key)
    assert b.peer_id == node_id_of(suite, keys[0].public_key)
    assert a.send_key == b.recv_key and a.recv_key == b.send_key
    assert a.send_key != a.recv_key
    assert a.aead == suite.aead
    ca = Channel(a.aead, a.send_key, a.recv_key)
    cb = Channel(b.aead, b.send_key, b.recv_key)
    assert cb.open(ca.seal(b"ping")) == b"ping"
    assert ca.open(cb.seal(b"pong")) == b"pong"


def test_fresh_sessions_differ(rng: Rng) -> None:
    suite = get_suite("intl")
    a1, _ = run(suite, rng)
    a2, _ = run(suite, rng)
    assert a1.send_key != a2.send_key


def test_unknown_initiator_key_refused(suite: Suite, rng: Rng) -> None:
    with pytest.raises(Unauthenticated):
        run(suite, rng, initiator_index=3, known=3)


def test_wrong_responder_key_refused(suite: Suite, rng: Rng) -> None:
    # The initiator dials node 2 but node 1 answers: its (valid) signature is not enough.
    with pytest.raises(Unauthenticated):
        run(suite, rng, dial_key_index=2)


def _pair(suite: Suite, rng: Rng) -> tuple[hs.Initiator, hs.Responder, list]:
    keys = node_keys(suite, 3)
    target = keys[1].public_key
    return (hs.Initiator(suite, keys[0], node_id_of(suite, target), target, rng),
            hs.Responder(suite, keys[1], membership(suite, keys), rng), keys)


def test_bad_responder_signature_refused(suite: Suite, rng: Rng) -> None:
    ini, res, keys = _pair(suite, rng)
    reply = codec.decode(res.reply(ini.hello()), hs.Reply)
    forged = hs.Reply(reply.body, keys[2].sign(b"something else"))
    with pytest.raises(Unauthenticated):
        ini.finish(codec.encode(forged))
    flipped = bytearray(reply.signature.data)
    flipped[5] ^= 1
    with pytest.raises(Unauthenticated):
        ini.finish(codec.encode(hs.Reply(reply.body, Signature(reply.signature.alg,
                                                               bytes(flipped)))))


def test_bad_initiator_signature_refused(suite: Suite, rng: Rng) -> None:
    ini, res, keys = _pair(suite, rng)
    finish = codec.decode(ini.finish(res.reply(ini.hello()))[0], hs.Finish)
    # Signed by another member over the right transcript: still not the initiator's key.
    with pytest.raises(Unauthenticated):
        res.finish(codec.encode(hs.Finish(finish.confirm, keys[2].sign(b"x"))))


def test_recorded_finish_does_not_replay(suite: Suite, rng: Rng) -> None:
    ini, res, _ = _pair(suite, rng)
    finish, _ = ini.finish(res.reply(ini.hello()))
    ini2, res2, _ = _pair(suite, rng)
    res2.reply(ini2.hello())  # a new responder nonce and share
    with pytest.raises((Unauthenticated, HandshakeError)):
        res2.finish(finish)


def test_garbage_and_version_mismatch(suite: Suite, rng: Rng) -> None:
    ini, res, _ = _pair(suite, rng)
    with pytest.raises(MalformedFrame):
        res.reply(b"\x93\x01")
    hello = codec.decode(ini.hello(), hs.Hello)
    bumped = hs.Hello(hello.version + 1, hello.suite, hello.key, hello.share, hello.nonce)
    with pytest.raises(HandshakeError):
        res.reply(codec.encode(bumped))
    with pytest.raises(MalformedFrame):
        ini.finish(b"\xc1")


def test_sm_tag_tampering_refused(rng: Rng) -> None:
    suite = get_suite("sm")
    ini, res, _ = _pair(suite, rng)
    finish = codec.decode(ini.finish(res.reply(ini.hello()))[0], hs.Finish)
    bad = bytes([finish.confirm[0] ^ 1]) + finish.confirm[1:]
    with pytest.raises((Unauthenticated, HandshakeError)):
        res.finish(codec.encode(hs.Finish(bad, finish.signature)))


def test_key_of_another_suite_refused(rng: Rng) -> None:
    sm, intl = get_suite("sm"), get_suite("intl")
    keys = node_keys(intl, 2)
    with pytest.raises(HandshakeError):
        hs.Initiator(sm, keys[0], b"x", keys[1].public_key, rng)


@settings(max_examples=40)
@given(st.sampled_from(["intl", "sm", "pq", "hybrid-sm", "hybrid-intl"]),
       st.sampled_from(["hello", "reply", "finish"]),
       st.integers(0, 2**16), st.integers(1, 255))
def test_any_flipped_byte_fails_the_handshake_with_a_typed_error(
        suite_name: str, message: str, position: int, flip: int) -> None:
    suite = get_suite(suite_name)
    rng = random.Random(position).randbytes
    ini, res, _ = _pair(suite, rng)

    def corrupt(data: bytes, which: str) -> bytes:
        if which != message:
            return data
        i = position % len(data)
        return data[:i] + bytes([data[i] ^ flip]) + data[i + 1:]

    with pytest.raises(NetworkError):
        reply = res.reply(corrupt(ini.hello(), "hello"))
        finish, _ = ini.finish(corrupt(reply, "reply"))
        res.finish(corrupt(finish, "finish"))
