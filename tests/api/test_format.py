"""The JSON form of records: round trips, one shape per record, and typed rejections."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.api.errors import FormatError
from xinlian.api.format import bytes_of, from_json, to_json
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.execution.payloads import (
    AddOrganisation,
    Approve,
    GrantSubmit,
    Propose,
    RemoveOrganisation,
    SystemOp,
    Transfer,
)
from xinlian.ledger.block import Block, BlockHeader
from xinlian.storage.proof import Proof, ProofLeaf

b32 = st.binary(min_size=32, max_size=32)
uints = st.integers(0, 2**64 - 1)
keys = st.builds(PublicKey, st.sampled_from(list(AlgId)), st.binary(max_size=64))
headers = st.builds(BlockHeader, st.text(max_size=20), uints, b32, uints, uints, b32, b32,
                    b32, keys)
blocks = st.builds(Block, headers, st.builds(Signature, st.sampled_from(list(AlgId)),
                                             st.binary(max_size=80)),
                   st.lists(st.binary(max_size=40), max_size=4))
proofs = st.builds(Proof, st.lists(st.one_of(st.just(b""), b32), max_size=8),
                   st.one_of(st.none(), st.builds(ProofLeaf, b32, b32)))
ops = st.one_of(
    st.builds(GrantSubmit, st.binary(min_size=20, max_size=20)),
    st.builds(Approve, b32),
    st.builds(Propose, st.one_of(st.builds(RemoveOrganisation, st.text(max_size=10)),
                                 st.builds(AddOrganisation, st.text(max_size=10),
                                           st.lists(keys, max_size=2)))))


@given(st.one_of(blocks.map(lambda b: (b, Block)), proofs.map(lambda p: (p, Proof)),
                 ops.map(lambda o: (o, SystemOp))))
def test_round_trip(pair: tuple[Any, Any]) -> None:
    value, type_ = pair
    assert from_json(to_json(value), type_) == value


def test_shapes() -> None:
    assert to_json(Transfer(b"\x01" * 20, 5)) == {"to": "0x" + "01" * 20, "amount": 5,
                                                 "memo": "0x"}
    assert to_json(GrantSubmit(b"\xaa" * 20)) == {"type": "grant_submit",
                                                 "address": "0x" + "aa" * 20}
    assert to_json(PublicKey(AlgId.SM2, b"\x04")) == {"alg": 1, "data": "0x04"}


@pytest.mark.parametrize(("value", "type_"), [
    ({"to": "0x" + "01" * 20, "amount": 5, "extra": 1}, Transfer),   # unknown field
    ({"to": "0x" + "01" * 20}, Transfer),                            # missing field
    ({"to": "0x" + "01" * 19, "amount": 5}, Transfer),               # wrong length
    ({"to": "0x" + "01" * 20, "amount": True}, Transfer),            # bool is no integer
    ({"to": "0x" + "01" * 20, "amount": 1.5}, Transfer),
    ({"to": "01" * 20, "amount": 1}, Transfer),                      # no 0x
    ({"to": "0x" + "0" * 39, "amount": 1}, Transfer),                # odd hex
    ({"to": "0x" + "01" * 20, "amount": 1, "memo": "0x" + "00" * 257}, Transfer),
    ([1, 2], Transfer),                                              # array, not object
    ({"type": "grant_all", "address": "0x" + "aa" * 20}, SystemOp),  # unknown tag
    ({"type": ["grant_submit"], "address": "0x" + "aa" * 20}, SystemOp),
    ({"address": "0x" + "aa" * 20}, SystemOp),                       # no tag
    ({"type": "approve", "address": "0x" + "aa" * 20}, GrantSubmit),  # wrong tag
    ({"alg": 99, "data": "0x"}, PublicKey),                          # unknown algorithm
])
def test_rejections_are_typed(value: Any, type_: Any) -> None:
    with pytest.raises(FormatError):
        from_json(value, type_)


def test_hex_length_is_checked_before_decoding() -> None:
    with pytest.raises(FormatError, match="exceeds"):
        bytes_of("0x" + "zz" * 100, "tx", max_size=10)
    with pytest.raises(FormatError, match="32 bytes"):
        bytes_of("0x00", "hash", size=32)
    assert bytes_of("0XAbCd", "x") == b"\xab\xcd"
