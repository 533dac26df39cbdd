"""Encrypted attributes of data collections through the executor: the owner sets the
aggregate key once; validators check each put's contribution (one batch per attribute and
transaction) against the key and the record it is written to; refused values fail the
transaction with a typed error and change nothing; the records' ciphertexts add up to
what t of the key's members open."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from xinlian import codec
from xinlian.crypto.primitives.groups import SM2, Element
from xinlian.crypto.privacy.homomorphic import contribution, elgamal, threshold
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.crypto.threshold.dkg import KeyShare
from xinlian.execution.data.apply import read_aggregate_key
from xinlian.execution.data.model import (
    MAX_ENCRYPTED,
    RECORD_PREFIX,
    AggregateKey,
    AttributeDecl,
    DataWrite,
    DeclareCollection,
    Field,
    Put,
    StoredRecord,
    collection_id,
    contribution_context,
)
from xinlian.ledger.transaction import TxKind
from xinlian.testing.contracts import SUITE, ContractChain

H = SUITE.hash_bytes
NAME = "loans"


def rng_of(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


@pytest.fixture(scope="module")
def shares() -> list[KeyShare]:
    return local_keygen(SM2, 4, 3, b"test-data-encrypted", rng_of(3))


@pytest.fixture(scope="module")
def key(shares: list[KeyShare]) -> Element:
    return shares[0].public.group_public_key


@pytest.fixture
def chain(key: Element) -> ContractChain:
    chain = ContractChain()
    declared = chain.one(0, TxKind.DATA_COLLECTION, DeclareCollection(NAME, [
        AttributeDecl("bank", "text", "range"), AttributeDecl("amount", "encrypted"),
        AttributeDecl("votes", "encrypted")], writers=[chain.addr(1), chain.addr(2)]))
    assert declared.status == 0, declared
    keyed = chain.one(0, TxKind.DATA_WRITE, DataWrite(NAME, [
        AggregateKey("amount", key.encode(), 16), AggregateKey("votes", key.encode(), 0)]))
    assert keyed.status == 0, keyed
    return chain


def value(key: Element, v: int, bits: int, rid: str, attribute: str = "amount",
          seed: int = 1) -> bytes:
    ctx = contribution_context(NAME, attribute, rid.encode())
    return contribution.contribute(key, v, bits, ctx, rng_of(seed)).encode()


def put(rid: str, **fields: bytes) -> Put:
    return Put(rid.encode(), [Field(k, v) for k, v in fields.items()])


def test_the_owner_sets_each_key_once(chain: ContractChain, key: Element) -> None:
    cid = collection_id(H, NAME)
    found = read_aggregate_key(chain.state.get, cid, 1)
    assert found == AggregateKey("amount", key.encode(), 16)
    again = chain.one(0, TxKind.DATA_WRITE, DataWrite(NAME, [
        AggregateKey("amount", key.encode(), 8)]))
    assert again.error == "bad_payload"


@pytest.mark.parametrize(("sender", "op", "error"), [
    (1, AggregateKey("amount", b"", 16), "unauthorised"),
    (0, AggregateKey("bank", b"", 16), "wrong_kind"),
    (0, AggregateKey("nope", b"", 16), "unknown_attribute"),
])
def test_invalid_key_settings(chain: ContractChain, sender: int, op: AggregateKey,
                              error: str) -> None:
    assert chain.one(sender, TxKind.DATA_WRITE, DataWrite(NAME, [op])).error == error


def test_invalid_keys_and_bits_on_a_fresh_attribute(key: Element) -> None:
    chain = ContractChain()
    chain.one(0, TxKind.DATA_COLLECTION, DeclareCollection(NAME, [
        AttributeDecl("amount", "encrypted")]))
    for op, error in ((AggregateKey("amount", b"\x02" + b"\xff" * 32, 16), "bad_payload"),
                      (AggregateKey("amount", key.encode(), 64), "homomorphic_bad_statement"),
                      (AggregateKey("amount", key.encode()[:10], 16), "bad_payload")):
        assert chain.one(0, TxKind.DATA_WRITE, DataWrite(NAME, [op])).error == error
    early = chain.one(0, TxKind.DATA_WRITE, DataWrite(NAME, [
        put("a", amount=value(key, 5, 16, "a"))]))
    assert early.error == "bad_payload"  # no key yet


def test_invalid_an_encrypted_attribute_takes_no_index() -> None:
    chain = ContractChain()
    receipt = chain.one(0, TxKind.DATA_COLLECTION, DeclareCollection(NAME, [
        AttributeDecl("amount", "encrypted", "range")]))
    assert receipt.error == "bad_declaration"


def test_contributions_are_checked_and_add_up_to_what_members_open(
        chain: ContractChain, key: Element, shares: list[KeyShare]) -> None:
    amounts = {"bank-a": 1200, "bank-b": 35000, "bank-c": 65535}
    votes = {"bank-a": 1, "bank-b": 0, "bank-c": 1}
    for i, rid in enumerate(amounts):
        receipt = chain.one(1 + i % 2, TxKind.DATA_WRITE, DataWrite(NAME, [put(
            rid, bank=rid.encode(), amount=value(key, amounts[rid], 16, rid, seed=i),
            votes=value(key, votes[rid], 0, rid, "votes", seed=10 + i))]))
        assert receipt.status == 0, receipt
    cid = collection_id(H, NAME)
    stored = [codec.decode(chain.state[RECORD_PREFIX + cid + rid.encode()], StoredRecord)
              for rid in amounts]
    for position, expected, bound in ((1, sum(amounts.values()), 3 * 65535),
                                       (2, sum(votes.values()), 3)):
        total = elgamal.total((contribution.decode(SM2, r.values[position] or b"").ciphertext
                               for r in stored), SM2)
        made = [threshold.make_share(s, total, rng_of(s.identifier)) for s in shares[1:]]
        assert threshold.decrypt(shares[0].public, total, made, bound) == expected


def test_invalid_values_fail_the_transaction_and_change_nothing(
        chain: ContractChain, key: Element) -> None:
    cid = collection_id(H, NAME)
    good, ok = value(key, 7, 16, "r1"), value(key, 9, 16, "ok")
    assert chain.one(1, TxKind.DATA_WRITE, DataWrite(NAME, [put("r1", amount=good)])).status == 0
    copied_from_r1 = put("r2", amount=good)
    wrong_bits = put("r1", amount=value(key, 7, 8, "r1"))
    raw = bytearray(good)
    raw[-1] ^= 1
    flipped = put("r1", amount=bytes(raw))
    not_a_vote = put("r1", votes=value(key, 7, 16, "r1", "votes"))
    for op, error in ((copied_from_r1, "homomorphic_invalid_contribution"),
                      (wrong_bits, "wrong_kind"),
                      (flipped, "homomorphic_invalid_contribution"),
                      (not_a_vote, "wrong_kind"),
                      (put("r1", amount=b"\x00" * 40), "wrong_kind")):
        receipt = chain.one(1, TxKind.DATA_WRITE, DataWrite(NAME, [put("ok", amount=ok), op]))
        assert receipt.error == error, (op, receipt)
        assert RECORD_PREFIX + cid + b"ok" not in chain.state


def test_invalid_more_encrypted_values_than_a_transaction_may_check(
        chain: ContractChain, key: Element) -> None:
    one = value(key, 1, 0, "x", "votes")
    ops = [put(f"r{i}", votes=one) for i in range(MAX_ENCRYPTED + 1)]
    receipt = chain.one(1, TxKind.DATA_WRITE, DataWrite(NAME, list(ops)))
    assert receipt.error == "value_too_large"
