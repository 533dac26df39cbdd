"""Encrypted attributes of data collections through the SDK: the attribute's aggregate key
read with its state proof, a value encrypted and proven for the record it goes to, and the
sum of records' contributions, whose proofs are checked again on the client (one batch).

The sum is a ciphertext: `xinlian.crypto.privacy.homomorphic.threshold` (or
`xinlian private agg share|open`) opens it with t of the key's members' decryption shares.
The records it adds are those the caller read, each with its proof (`query_all`, `select_all`
...), so a node cannot add, drop or change a contribution without failing those proofs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from xinlian import codec
from xinlian.crypto.primitives.groups import SM2, Rng
from xinlian.crypto.privacy.homomorphic import contribution, elgamal
from xinlian.crypto.privacy.homomorphic.elgamal import Ciphertext
from xinlian.execution.data.model import (
    AggregateKey,
    Collection,
    Kind,
    aggregate_key_key,
    collection_key,
    contribution_context,
)
from xinlian.execution.data.query import DataRecord
from xinlian.node.interface import StateProof
from xinlian.sdk import calls
from xinlian.sdk.errors import DataQueryFailed, ProofError
from xinlian.sdk.ops import Op, Ops


@dataclass(frozen=True)
class EncryptedSum:
    """The sum of `count` contributions to `attribute`, under `key` (its `bits` give each
    value's range), and the largest total those proofs allow: the bound of its opening."""

    attribute: str
    ciphertext: Ciphertext
    count: int
    bound: int
    key: AggregateKey


def position_of(collection: Collection, attribute: str) -> int:
    found = collection.attribute(attribute)
    if found is None:
        raise DataQueryFailed(f"collection {collection.name!r} has no attribute {attribute!r}")
    if found[1].kind != Kind.ENCRYPTED:
        raise DataQueryFailed(f"attribute {attribute!r} is {found[1].kind}, not encrypted")
    return found[0]


def read_key(ops: Ops, view: StateProof, collection: Collection, attribute: str,
             verify: bool) -> Op[AggregateKey]:
    """The aggregate key of `attribute`, proven at the block of the collection's `view`."""
    cid = view.key[len(collection_key(b"")):]
    key = aggregate_key_key(cid, position_of(collection, attribute))
    state: StateProof = yield calls.state_proof(key, view.header.height)
    if state.key != key:
        raise ProofError("the aggregate key is proven for another key")
    if verify:
        if state.header != view.header:
            raise ProofError("the aggregate key is proven at another block")
        (yield from ops.trusted()).state(state)
    if state.value is None:
        raise DataQueryFailed(f"attribute {attribute!r} has no aggregate key yet")
    try:
        return codec.decode(state.value, AggregateKey)
    except codec.CodecError as exc:
        raise ProofError(f"the proven aggregate key does not decode: {exc.message}") from None


def encrypt(key: AggregateKey, collection: str, rid: bytes, value: int,
            rng: Rng = os.urandom) -> bytes:
    """`value` as an encrypted value of record `rid` (its proof bound to the record)."""
    return contribution.contribute(SM2.decode_element(key.key), value, key.bits,
                                   contribution_context(collection, key.attribute, rid),
                                   rng).encode()


def total(key: AggregateKey, collection: str, records: Iterable[DataRecord],
          verify: bool = True) -> EncryptedSum:
    """The sum of the records' values of the key's attribute (records without one add
    nothing), each proof checked again when `verify` (InvalidContributionError)."""
    items = [(contribution.decode(SM2, r.values[key.attribute]),
              contribution_context(collection, key.attribute, r.id))
             for r in records if r.values.get(key.attribute) is not None]
    public = SM2.decode_element(key.key)
    if verify:
        contribution.verify_batch(public, items)
    return EncryptedSum(key.attribute, elgamal.total((c.ciphertext for c, _ in items), SM2),
                        len(items), sum(c.max_value for c, _ in items), key)
