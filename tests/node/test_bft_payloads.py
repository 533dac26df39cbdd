"""Validator batch payloads: Submits joined end to end in one batch come apart again."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from xinlian import codec
from xinlian.node.bft import BatchPayload, batch_payloads, frame_payload

payloads = st.builds(BatchPayload, st.integers(0, 2**63 - 1),
                     st.lists(st.binary(max_size=64), max_size=8))


@given(st.lists(payloads, max_size=6))
def test_joined_submits_split_into_the_same_payloads(parts: list[BatchPayload]) -> None:
    assert batch_payloads(b"".join(frame_payload(p) for p in parts)) == parts


def test_two_submits_in_one_batch_both_arrive() -> None:
    """Regression: two forwards within one batch timer made one undecodable batch, skipped by
    every validator, and its transactions were never executed or sent again."""
    first, second = BatchPayload(1, [b"a"]), BatchPayload(2, [b"b", b"c"])
    assert batch_payloads(frame_payload(first) + frame_payload(second)) == [first, second]


@given(st.binary(max_size=200))
def test_junk_never_raises_and_junk_frames_are_skipped(junk: bytes) -> None:
    good = BatchPayload(7, [b"tx"])
    framed = len(junk).to_bytes(4, "big") + junk
    got = batch_payloads(framed + frame_payload(good))
    assert got[-1] == good and len(got) <= 2
    batch_payloads(junk)  # any bytes at all: payloads or nothing, never an exception


def test_a_length_past_the_end_ends_the_batch() -> None:
    good = frame_payload(BatchPayload(1, []))
    assert batch_payloads(good + (1000).to_bytes(4, "big") + codec.encode(1)) == \
        [BatchPayload(1, [])]
