"""The two-party protocol: both parties learn f(x, y) through the state machines, in process
and over a socket pair; messages out of turn, of the wrong size or for another circuit are
refused with typed errors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import SM2
from xinlian.crypto.privacy.garbled.builder import adder, comparator
from xinlian.crypto.privacy.garbled.errors import InputMismatch, ProtocolError
from xinlian.crypto.privacy.garbled.protocol import Evaluator, Garbler
from xinlian.crypto.privacy.garbled.runner import compute, run_in_process, run_over_socketpair

from . import helpers as h
from .helpers import block, seeded


def test_aes_over_a_socket_pair_gives_the_fips197_ciphertext() -> None:
    """The garbler holds the key, the evaluator the plaintext (its 128 bits by OT)."""
    g = Garbler(h.aes(), [block(h.FIPS197_KEY)], rng=seeded(1))
    e = Evaluator(h.aes(), [block(h.FIPS197_PLAIN)], rng=seeded(2))
    assert run_over_socketpair(g, e) == [block(h.FIPS197_CIPHER)]
    assert g.outputs == e.outputs == [block(h.FIPS197_CIPHER)]


def test_sha256_between_the_parties() -> None:
    """The garbler holds a padded message block, the evaluator the chaining value."""
    g = Garbler(h.sha256(), [block(h.padded(b"xinlian"))], rng=seeded(7))
    e = Evaluator(h.sha256(), [block(h.SHA256_IV)], rng=seeded(8))
    assert run_in_process(g, e) == [block(hashlib.sha256(b"xinlian").digest())]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**32))
def test_millionaires_in_process(x: int, y: int, seed: int) -> None:
    g = Garbler(comparator(64), [x], rng=seeded(seed))
    e = Evaluator(comparator(64), [y], rng=seeded(seed + 1))
    assert run_in_process(g, e) == [int(x < y)]


def test_inputs_split_any_way_between_the_parties() -> None:
    c = adder(16)
    assert compute(c, [], [1000, 2000], garbler_inputs=()) == [3000]  # the evaluator's alone
    assert compute(c, [1000, 2000], [], garbler_inputs=(0, 1)) == [3000]  # no OT at all
    assert compute(c, [65535], [1], garbler_inputs=(1,)) == [65536]


def test_base_ot_on_the_sm2_curve() -> None:
    g = Garbler(adder(8), [200], group=SM2, rng=seeded(3))
    e = Evaluator(adder(8), [100], group=SM2, rng=seeded(4))
    assert run_in_process(g, e) == [300]


def test_inputs_that_do_not_fit_are_refused() -> None:
    with pytest.raises(InputMismatch):
        Garbler(adder(8), [256])
    with pytest.raises(InputMismatch):
        Evaluator(adder(8), [1, 2])
    with pytest.raises(InputMismatch):
        Garbler(adder(8), [1], garbler_inputs=(2,))


def test_another_circuit_is_refused() -> None:
    e = Evaluator(adder(8), [1])
    g = Garbler(comparator(8), [1])
    with pytest.raises(ProtocolError, match="another circuit"):
        g.receive(e.start())
    assert g.failed
    with pytest.raises(ProtocolError):
        g.receive(e.start())


def _parties():
    return Garbler(adder(8), [3], rng=seeded(5)), Evaluator(adder(8), [4], rng=seeded(6))


@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_truncated_or_retagged_messages_are_refused(step: int) -> None:
    """Messages 1..4 in turn: cut one byte, or change its tag."""
    for alter in (lambda m: m[:-1], lambda m: bytes([m[0] ^ 7]) + m[1:], lambda m: b""):
        g, e = _parties()
        message = e.start()
        parties = [g, e, g, e]
        for i in range(step):
            message = parties[i].receive(message)
        with pytest.raises(ProtocolError):
            parties[step].receive(alter(message))
        assert parties[step].failed


def test_messages_out_of_turn_are_refused_and_end_the_party() -> None:
    g, e = _parties()
    hello = e.start()
    with pytest.raises(ProtocolError):
        e.start()
    with pytest.raises(ProtocolError):
        e.receive(hello)  # its own message back
    assert e.failed
    g, e = _parties()
    hello = e.start()
    choose = g.receive(hello)
    with pytest.raises(ProtocolError):
        g.receive(hello)  # a replayed hello
    assert g.failed and choose is not None


def test_a_finished_party_takes_no_more_messages() -> None:
    g, e = _parties()
    message: bytes | None = e.start()
    parties = [g, e, g, e, g]
    for party in parties:
        assert message is not None
        last, message = message, party.receive(message)
    assert message is None and g.outputs == e.outputs == [7]
    with pytest.raises(ProtocolError, match="no message"):
        g.receive(last)


def test_an_invalid_point_in_the_hello_is_refused() -> None:
    g, e = _parties()
    hello = e.start()
    with pytest.raises(ProtocolError):
        g.receive(hello[:33] + b"\xff" * 32)
    assert g.failed


def test_a_failed_garbler_over_a_socket_raises_in_the_caller() -> None:
    g = Garbler(comparator(8), [1])
    e = Evaluator(adder(8), [1])
    with pytest.raises(ProtocolError):
        run_over_socketpair(g, e)
