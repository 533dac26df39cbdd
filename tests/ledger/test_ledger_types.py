"""Ledger records: Merkle audit paths, transaction decoding and checks, genesis validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.hashes import sha256
from xinlian.crypto.keys import AlgId, Signature
from xinlian.crypto.suites import get_suite
from xinlian.ledger import merkle
from xinlian.ledger.account import address_of
from xinlian.ledger.errors import (
    InvalidGenesis,
    InvalidTransaction,
    TxTooLarge,
    UnknownKind,
    WrongChain,
)
from xinlian.ledger.genesis import genesis_from_dict
from xinlian.ledger.transaction import (
    SignedTransaction,
    TxBody,
    TxKind,
    decode_transaction,
    sign_body,
)


@given(st.lists(st.binary(max_size=16), max_size=40), st.data())
def test_merkle_audit_paths_prove_membership(leaves: list[bytes], data: st.DataObject) -> None:
    root = merkle.root(leaves, sha256)
    if not leaves:
        assert root == sha256(b"")
        return
    i = data.draw(st.integers(0, len(leaves) - 1))
    path = merkle.audit_path(leaves, i, sha256)
    assert merkle.verify_path(root, leaves[i], path, sha256)
    assert not merkle.verify_path(root, leaves[i] + b"x", path, sha256)
    if len(leaves) > 1:
        moved = merkle.AuditPath((i + 1) % len(leaves), path.size, path.siblings)
        assert not merkle.verify_path(root, leaves[i], moved, sha256) or \
            leaves[i] == leaves[(i + 1) % len(leaves)]
    assert not merkle.verify_path(root, leaves[i], merkle.AuditPath(i, path.size,
                                                                    [*path.siblings, root]),
                                  sha256)


def test_merkle_leaf_cannot_pass_as_inner_node() -> None:
    a, b = b"a", b"b"
    root = merkle.root([a, b], sha256)
    fake_leaf = sha256(b"\x00" + a) + sha256(b"\x00" + b)
    assert merkle.root([fake_leaf], sha256) != root


SUITE = get_suite("intl")
KEY = SUITE.generate_signing_key(b"\x01" * 32)


def _body(**over: object) -> TxBody:
    fields: dict[str, object] = dict(chain_id="test", sender=KEY.public_key, nonce=0,
                                     kind=TxKind.TRANSFER, payload=b"", fee_limit=10, expiry=100)
    fields.update(over)
    return TxBody(**fields)  # type: ignore[arg-type]


def test_transaction_round_trip_and_hash_excludes_signature() -> None:
    raw = sign_body(_body(), KEY)
    tx = decode_transaction(raw, "test", SUITE.hash_bytes)
    assert tx.hash == SUITE.hash_bytes(codec.encode(_body()))
    assert tx.sender_address == address_of(KEY.public_key, SUITE.hash_bytes)
    alg, pub, msg, sig = tx.verify_item()
    from xinlian.crypto.signing import verify_raw
    assert verify_raw(alg, pub, msg, sig)


@pytest.mark.parametrize(("raw", "error"), [
    (b"\xc1", codec.MalformedError),
    (codec.encode([1, 2, 3]), codec.WrongTypeError),
    (sign_body(_body(chain_id="other"), KEY), WrongChain),
    (sign_body(_body(kind=77), KEY), UnknownKind),
    (sign_body(_body(nonce=-1), KEY), InvalidTransaction),
    (sign_body(_body(payload=b"\0" * 40_000), KEY), TxTooLarge),
    (codec.encode(SignedTransaction(codec.encode(_body()), Signature(AlgId.SM2, b"x" * 64))),
     InvalidTransaction),
])
def test_bad_transactions_are_typed(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_transaction(raw, "test", SUITE.hash_bytes)


def _genesis_doc() -> dict[str, object]:
    return {
        "chain_id": "test", "suite": "intl",
        "organisations": [{"name": "org1", "admins": [KEY.public_key.data.hex()]}],
        "accounts": [{"key": KEY.public_key.data.hex(), "balance": 1000},
                     {"address": "11" * 20, "balance": 5}],
        "params": {"block_interval_ms": 100},
    }


def test_genesis_from_config() -> None:
    g = genesis_from_dict(_genesis_doc())
    assert g.params.block_interval_ms == 100 and g.params.max_block_txs == 5000
    assert g.accounts[0].address == address_of(KEY.public_key, SUITE.hash_bytes)
    assert g.hash() == genesis_from_dict(_genesis_doc()).hash()
    assert g.params.epoch_blocks == 0  # a genesis without it: epochs follow the committee
    assert genesis_from_dict({**_genesis_doc(), "params": {"epoch_blocks": 8}}
                             ).params.epoch_blocks == 8


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("chain_id"),
    lambda d: d.update(suite="rot13"),
    lambda d: d.update(organisations=[]),
    lambda d: d["organisations"][0].update(admins=["zz"]),
    lambda d: d["organisations"][0].update(admins=["00" * 31]),
    lambda d: d["accounts"].append({"address": "11" * 20, "balance": 1}),
    lambda d: d["accounts"].append({"address": "11" * 19, "balance": 1}),
    lambda d: d["accounts"].append({"address": "22" * 20, "balance": -1}),
    lambda d: d.update(params={"block_interval_ms": "fast"}),
    lambda d: d.update(params={"epoch_blocks": -1}),
    lambda d: d.update(params={"epoch_blocks": 7}),  # below MIN_EPOCH_BLOCKS
])
def test_bad_genesis_is_typed(mutate: object) -> None:
    doc = _genesis_doc()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(InvalidGenesis):
        genesis_from_dict(doc)
