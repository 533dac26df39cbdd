"""Oblivious transfer: the base OT and the IKNP extension deliver the chosen messages, and the
receiver's own values do not open the others (structural checks of what it holds)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import ED25519, SM2
from xinlian.crypto.privacy.garbled import _garble, ot
from xinlian.crypto.privacy.garbled.errors import ProtocolError

from .helpers import seeded

KEY = bytes(range(16))


@pytest.mark.parametrize("group", [ED25519, SM2], ids=["ed25519", "sm2"])
def test_base_ot_gives_the_receiver_its_chosen_key_only(group) -> None:
    choices = [0, 1, 1, 0, 1]
    sender = ot.BaseSender.start(group, seeded(1))
    points, keys = ot.base_choose(group, sender.A.encode(), choices, seeded(2))
    pairs = sender.keys(points)
    for c, key, pair in zip(choices, keys, pairs, strict=True):
        assert key == pair[c] and key != pair[1 - c]


def test_the_receiver_point_is_masked_the_same_way_for_either_choice() -> None:
    """With the same randomness b, B for choice 1 is B for choice 0 plus A: B is uniformly
    distributed whatever c is, so the sender learns nothing of it."""
    sender = ot.BaseSender.start(ED25519, seeded(3))
    (b0,), _ = ot.base_choose(ED25519, sender.A.encode(), [0], seeded(4))
    (b1,), _ = ot.base_choose(ED25519, sender.A.encode(), [1], seeded(4))
    assert ED25519.decode_element(b1) == ED25519.decode_element(b0) + sender.A


@pytest.mark.parametrize("point", [bytes(32), b"\xff" * 32, bytes(31)])
def test_invalid_base_ot_points_are_refused(point: bytes) -> None:
    with pytest.raises(ProtocolError):
        ot.base_choose(ED25519, point, [0])
    sender = ot.BaseSender.start(ED25519, seeded(5))
    with pytest.raises(ProtocolError):
        sender.keys([point])


def extend(choices: list[int], seed: int, x0: bytes, x1: bytes):
    """One extension run: base OTs with roles reversed, then the extension."""
    rng = seeded(seed)
    base = ot.BaseSender.start(ED25519, rng)  # the extension's receiver
    s = [b & 1 for b in rng(ot.KAPPA)]
    points, s_seeds = ot.base_choose(ED25519, base.A.encode(), s, rng)
    r_seeds = base.keys(points)
    u, t_rows = ot.extension_receive(r_seeds, choices)
    y = ot.extension_send(s, s_seeds, u, len(choices), KEY, (x0, x1))
    return ot.extension_output(t_rows, choices, KEY, y), t_rows, y, s


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=300), st.integers(0, 2**32))
def test_the_extension_delivers_each_chosen_message(choices: list[int], seed: int) -> None:
    m = len(choices)
    x0, x1 = seeded(seed + 1)(16 * m), seeded(seed + 2)(16 * m)
    out = extend(choices, seed, x0, x1)[0]
    for j, c in enumerate(choices):
        assert out[16 * j: 16 * j + 16] == (x1 if c else x0)[16 * j: 16 * j + 16]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=200), st.integers(0, 2**32))
def test_the_receivers_pad_does_not_open_the_other_message(choices: list[int],
                                                            seed: int) -> None:
    """The unchosen message is masked by H(t_j ^ s, j); the receiver's pad H(t_j, j) leaves
    it masked, and its output is the same whatever the unchosen messages are."""
    m = len(choices)
    x0, x1 = seeded(seed + 1)(16 * m), seeded(seed + 2)(16 * m)
    out, t_rows, y, s = extend(choices, seed, x0, x1)
    pads = _garble.hash(KEY, t_rows[: 16 * m], 0)
    for j, c in enumerate(choices):
        other = y[32 * j + 16 * (1 - c): 32 * j + 16 * (2 - c)]
        opened = bytes(p ^ q for p, q in zip(other, pads[16 * j: 16 * j + 16], strict=True))
        assert opened != (x0 if c else x1)[16 * j: 16 * j + 16]
    # Replace every unchosen message: the receiver's output stays the same.
    other = seeded(seed + 3)(16 * m)

    def keep(x: bytes, bit: int) -> bytes:
        return b"".join((x if c == bit else other)[16 * j: 16 * j + 16]
                        for j, c in enumerate(choices))

    assert extend(choices, seed, keep(x0, 0), keep(x1, 1))[0] == out
    assert any(s) and not all(s)


def test_a_short_extension_matrix_is_refused() -> None:
    with pytest.raises(ProtocolError):
        ot.extension_send([0] * ot.KAPPA, [bytes(16)] * ot.KAPPA, bytes(10), 8, KEY,
                          (bytes(128), bytes(128)))
    with pytest.raises(ProtocolError):
        ot.extension_output(bytes(16 * 8), [0] * 8, KEY, bytes(10))


def test_transpose_moves_bit_j_of_row_i_to_bit_i_of_row_j() -> None:
    rng = seeded(9)
    rows = rng(128 * 5)  # 128 rows of 40 bits
    cols = _garble.transpose(rows, 128)
    for i in range(128):
        for j in range(40):
            assert (rows[5 * i + j // 8] >> (j % 8)) & 1 == (cols[16 * j + i // 8] >> (i % 8)) & 1
