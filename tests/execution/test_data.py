"""Data transactions through the executor (no node): declarations, writes and their typed
failures, fees by the byte, and the range index's updates, which must equal the index
rebuilt from the records the state holds after any sequence of blocks (seeded randomness)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from xinlian import codec
from xinlian.execution.data import values
from xinlian.execution.data.indexes import KINDS, Entry, attribute_prefix, resolve
from xinlian.execution.data.model import (
    RECORD_PREFIX,
    AttributeDecl,
    Collection,
    DataOp,
    DataWrite,
    DeclareCollection,
    Delete,
    Field,
    Put,
    StoredRecord,
    collection_id,
    collection_key,
)
from xinlian.execution.data.query import read_entry
from xinlian.execution.errors import BadDeclaration, DataQueryError, UnknownAttribute
from xinlian.ledger.account import account_key
from xinlian.ledger.transaction import TxKind
from xinlian.storage import mbtree
from xinlian.storage.inverted_proof import posting_entry
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mbtree_proof import EMPTY_ROOT
from xinlian.testing.contracts import SUITE, ContractChain

H = SUITE.hash_bytes
ATTRS = [AttributeDecl("name", "text", "range"), AttributeDecl("qty", "number"),
         AttributeDecl("at", "time"), AttributeDecl("tags", "text"),
         AttributeDecl("blob", "blob")]


def _put(rid: str, **fields: Any) -> Put:
    kinds = {a.name: a.kind for a in ATTRS}
    return Put(rid.encode(), [Field(k, values.encode(kinds[k], v)) for k, v in fields.items()])


@pytest.fixture
def chain() -> ContractChain:
    chain = ContractChain()
    receipt = chain.one(0, TxKind.DATA_COLLECTION,
                        DeclareCollection("stock", ATTRS, writers=[chain.addr(3)],
                                          writer_orgs=["org1"]))
    assert receipt.status == 0, receipt
    return chain


def _collection(chain: ContractChain) -> Collection:
    return codec.decode(chain.state[collection_key(collection_id(H, "stock"))], Collection)


def test_declaration_resolves_indexes_and_records_the_owner(chain: ContractChain) -> None:
    found = _collection(chain)
    assert found.owner == chain.addr(0) and found.version == 1 and found.created == 1
    assert [a.index for a in found.attributes] == ["range", "range", "range", "keyword",
                                                   "none"]
    assert found.writers == [chain.addr(3)] and found.writer_orgs == ["org1"]


def test_writes_are_charged_by_the_byte_and_indexed(chain: ContractChain) -> None:
    op = DataWrite("stock", [_put("a", name="apple", qty=-5, at=7)])
    raw = codec.encode(op)
    before = chain.account(0).balance
    result = chain.block([chain.raw(0, TxKind.DATA_WRITE, op)])
    [receipt] = result.receipts
    cost = chain.genesis.params.system_cost + chain.genesis.params.data_byte_cost * len(raw)
    assert receipt.status == 0 and receipt.fee_paid == cost
    assert chain.account(0).balance == before - cost
    cid = collection_id(H, "stock")
    record = chain.state[RECORD_PREFIX + cid + b"a"]
    assert codec.decode(record, StoredRecord).height == chain.height
    updates = result.data_index["range"]
    assert updates == {
        attribute_prefix(cid, 0) + b"apple\x00\x00a": (record, 0),
        attribute_prefix(cid, 1) + values.encode("number", -5) + b"a": (record, -5),
        attribute_prefix(cid, 2) + values.encode("time", 7) + b"a": (record, 7)}


def test_text_is_indexed_by_its_words_and_rewrites_remove_the_old_ones(
        chain: ContractChain) -> None:
    cid = collection_id(H, "stock")
    scope = attribute_prefix(cid, 3)
    first = chain.block([chain.raw(0, TxKind.DATA_WRITE, DataWrite("stock", [
        _put("a", tags="Fresh fruit, fresh 区块链")]))])
    assert first.data_index["keyword"] == {
        posting_entry(scope, w, b"a"): (b"", 0) for w in ("fresh", "fruit", "区块", "块链")}
    second = chain.block([chain.raw(0, TxKind.DATA_WRITE, DataWrite("stock", [
        _put("a", tags="fruit salad")]))])
    assert second.data_index["keyword"] == {
        **{posting_entry(scope, w, b"a"): None for w in ("fresh", "区块", "块链")},
        posting_entry(scope, "fruit", b"a"): (b"", 0),
        posting_entry(scope, "salad", b"a"): (b"", 0)}


def test_writers_are_the_owner_listed_addresses_and_organisation_admins(
        chain: ContractChain) -> None:
    for sender, status in ((3, 0), (1, 0), (4, "not_writer"), (2, "not_writer")):
        receipt = chain.one(sender, TxKind.DATA_WRITE,
                            DataWrite("stock", [_put(f"r{sender}", qty=1)]))
        assert (receipt.status if status == 0 else receipt.error) == status


@pytest.mark.parametrize(("op", "error"), [
    (DataWrite("nope", [_put("a", qty=1)]), "unknown_collection"),
    (DataWrite("stock", [Put(b"a", [Field("colour", b"red")])]), "unknown_attribute"),
    (DataWrite("stock", [Put(b"a", [Field("qty", b"\x01")])]), "wrong_kind"),
    (DataWrite("stock", [Put(b"a", [Field("at", b"\x01" * 9)])]), "wrong_kind"),
    (DataWrite("stock", [Put(b"a", [Field("tags", b"\xff")])]), "wrong_kind"),
    (DataWrite("stock", [Put(b"a", [Field("tags", "e\u0301".encode())])]), "wrong_kind"),
    (DataWrite("stock", [Put(b"a", [Field("blob", b"\x01")])]), "wrong_kind"),
    (DataWrite("stock", [Put(b"a", [Field("name", b"x" * 2000)])]), "value_too_large"),
    (DataWrite("stock", [Put(b"a", [Field("tags", b"x" * 17_000)])]), "value_too_large"),
    (DataWrite("stock", [Put(b"", [])]), "value_too_large"),
    (DataWrite("stock", [Delete(b"x" * 129)]), "value_too_large"),
    (DataWrite("stock", [Put(b"a", [Field("qty", bytes(8)), Field("qty", bytes(8))])]),
     "bad_payload"),
])
def test_invalid_writes_fail_with_typed_errors_and_leave_nothing(
        chain: ContractChain, op: DataWrite, error: str) -> None:
    before = dict(chain.state)
    result = chain.block([chain.raw(0, TxKind.DATA_WRITE, op)])
    [receipt] = result.receipts
    assert receipt.error == error and result.data_index == {}
    changed = {k for k in chain.state if chain.state[k] != before.get(k)}
    assert changed == {account_key(chain.addr(0))}  # the fee and nonce alone


def test_a_payload_that_does_not_decode_is_bad_payload(chain: ContractChain) -> None:
    receipt = chain.one(0, TxKind.DATA_WRITE, [1, 2, 3])
    assert receipt.error == "bad_payload"


@pytest.mark.parametrize("attrs", [
    [AttributeDecl("a", "text"), AttributeDecl("a", "number")],  # a name twice
    [AttributeDecl("", "text")], [AttributeDecl("a\n", "text")],  # bad names
    *([d] for d in (AttributeDecl("a", "colour"), AttributeDecl("a", "number", "keyword"),
                    AttributeDecl("a", "blob", "range"), AttributeDecl("a", "text", "b+"))),
])
def test_invalid_declarations(attrs: list[AttributeDecl]) -> None:
    chain = ContractChain()
    receipt = chain.one(0, TxKind.DATA_COLLECTION, DeclareCollection("c", attrs))
    assert receipt.error == "bad_declaration"
    if len(attrs) == 1 and attrs[0].name == "a":  # refused by the index registry itself
        with pytest.raises(BadDeclaration):
            resolve(attrs[0])


def test_alterations_append_attributes_and_only_the_owner_alters(
        chain: ContractChain) -> None:
    more = [*ATTRS, AttributeDecl("note", "text", "none")]
    assert chain.one(1, TxKind.DATA_COLLECTION,
                     DeclareCollection("stock", more)).error == "unauthorised"
    changed = [AttributeDecl("name", "number"), *ATTRS[1:]]
    assert chain.one(0, TxKind.DATA_COLLECTION,
                     DeclareCollection("stock", changed)).error == "bad_declaration"
    assert chain.one(0, TxKind.DATA_COLLECTION,
                     DeclareCollection("stock", ATTRS[:2])).error == "bad_declaration"
    assert chain.one(0, TxKind.DATA_COLLECTION, DeclareCollection("stock", more)).status == 0
    found = _collection(chain)
    assert found.version == 2 and found.attributes[-1].name == "note"
    assert found.writers == [] and found.created == 1  # writers replaced by the new list


def _rebuilt(chain: ContractChain) -> dict[bytes, Entry]:
    """The range index as the records in the state make it."""
    collection = _collection(chain)
    cid = collection_id(H, "stock")
    out: dict[bytes, Entry] = {}
    start = RECORD_PREFIX + cid
    for key, raw in chain.state.items():
        if not key.startswith(start):
            continue
        stored = codec.decode(raw, StoredRecord)
        for position, (attr, value) in enumerate(zip(collection.attributes, stored.values,
                                                     strict=False)):
            kind = KINDS.get(attr.index)
            if kind is not None and value is not None:
                out.update(kind.entries(attribute_prefix(cid, position), attr.kind, value,
                                        key[len(start):], raw))
    return out


def test_block_updates_keep_the_index_equal_to_the_records(chain: ContractChain,
                                                           tmp_path: Path) -> None:
    rng = random.Random(13)  # seeded: the same blocks every run
    index: dict[bytes, Entry] = {}
    store = Store(tmp_path / "db", sub_dbs=mbtree.SUB_DBS, durable=False)
    tree = mbtree.MerkleBTree(store, H)  # the node's range structure, block by block
    for version in range(12):
        raws = []
        for sender in (0, 1, 3):
            ops: list[DataOp] = []
            for _ in range(rng.randint(1, 6)):
                rid = f"r{rng.randint(0, 9)}"
                if rng.random() < 0.25:
                    ops.append(Delete(rid.encode()))
                else:
                    fields = {"qty": rng.randint(-3, 3), "name": rng.choice(["a", "b", "ab"])}
                    if rng.random() < 0.5:
                        fields["at"] = rng.randint(0, 5)
                    ops.append(_put(rid, **fields))
            if rng.random() < 0.2:  # a failing write in the middle: no updates of its own
                ops.append(Put(b"x", [Field("colour", b"")]))
            raws.append(chain.raw(sender, TxKind.DATA_WRITE, DataWrite("stock", ops)))
        result = chain.block(raws)
        updates = result.data_index.get("range", {})
        for key, value in updates.items():
            if value is None:
                index.pop(key, None)
            else:
                index[key] = value
        assert index == _rebuilt(chain)
        batch = WriteBatch()
        tree.apply(version, updates, batch)
        store.commit(batch)
    # the tree grown block by block is the tree of the records, built at once
    assert list(tree.entries()) == [(k, v, m) for k, (v, m) in sorted(index.items())]
    batch = WriteBatch()
    assert tree.apply(99, {k: None for k in index}, batch) == EMPTY_ROOT  # all deletable
    fresh = Store(tmp_path / "fresh", sub_dbs=mbtree.SUB_DBS, durable=False)
    assert mbtree.MerkleBTree(fresh, H).apply(0, _rebuilt(chain), WriteBatch()) == tree.root()
    store.close()
    fresh.close()


def test_entries_are_read_only_when_their_record_holds_the_key_value(
        chain: ContractChain) -> None:
    result = chain.block([chain.raw(0, TxKind.DATA_WRITE, DataWrite("stock", [
        _put("a", qty=5), _put("b", qty=6)]))])
    collection = _collection(chain)
    (ka, a), (_, b) = sorted(result.data_index["range"].items())
    assert a is not None and b is not None
    (ra, measure_a), (rb, _) = a, b
    assert measure_a == 5  # a number's entry aggregates its value
    assert read_entry(collection, "qty", ka, ra).values == {"qty": 5}
    for key, raw in ((ka, rb), (ka[:-1], ra), (ka[:20], ra), (ka, b"\x01")):
        with pytest.raises(DataQueryError):
            read_entry(collection, "qty", key, raw)
    with pytest.raises(UnknownAttribute):
        read_entry(collection, "colour", ka, ra)
