"""Validator batches: Submits joined in one batch come apart again; forged copies are ignored."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from xinlian import codec
from xinlian.cli.cluster import free_ports, prepare
from xinlian.cli.node_cmd import CONSENSUS_KEY_FILE, GENESIS_FILE, node_config
from xinlian.crypto.batch import verify_batch
from xinlian.crypto.keys import Signature
from xinlian.crypto.suites import get_suite
from xinlian.ledger.genesis import load_genesis
from xinlian.ledger.transaction import SignedTransaction
from xinlian.node.bft import BatchPayload, batch_payloads, frame_payload
from xinlian.node.keyfile import read_consensus_secret, read_key
from xinlian.node.service import Node
from xinlian.node.validator import BftOrdering
from xinlian.sdk.wallet import Wallet

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


def test_a_copy_with_a_bad_signature_cannot_shadow_the_good_one(tmp_path: Path) -> None:
    """A Byzantine validator puts a transaction's body with a forged signature into its
    batch ahead of the real one: the block still executes the valid copy."""
    suite = get_suite("intl")
    data = prepare(tmp_path, 4, suite, 0, 0, 1, ports=free_ports(4))[0]
    genesis = load_genesis(tmp_path / GENESIS_FILE)
    node = Node(data, genesis, read_key(data / str(node_config(data)["key"]))[1],
                read_consensus_secret(data / CONSENSUS_KEY_FILE))
    try:
        wallet = Wallet(read_key(tmp_path / "keys" / "account0.json")[1], genesis.chain_id,
                        suite)
        good = wallet.transfer(wallet.address, 1).raw
        signed = codec.decode(good, SignedTransaction)
        bad_signature = Signature(signed.signature.alg, bytes(len(signed.signature.data)))
        forged = codec.encode(SignedTransaction(signed.body, bad_signature))
        assert isinstance(node.ordering, BftOrdering)
        bft = node.ordering.bft

        def valid(raws: list[bytes]) -> list[bytes]:
            candidates = bft.candidates(raws)
            return [tx.raw for tx in candidates.valid(verify_batch(candidates.items))]

        assert valid([forged, b"junk", good, good]) == [good]
        assert valid([forged]) == []
    finally:
        asyncio.run(node.stop())
