"""The data model: collections of typed records, their transaction payloads and state layout.

A collection declares its attributes, each with a kind and an index choice, and who may write
to it. A record is an id and a value per attribute (absent values allowed). State (proven
like any account, so a point read is a state proof):

    dc/<collection id>              the collection (`Collection`)
    dr/<collection id><record id>   a record (`StoredRecord`)
    dx/<index kind>                 the root of that kind's authenticated index (node/data.py)
    dp/<collection id>              an adaptive collection's index plan (execution/data/plan.py)
    dk/<collection id><position>    an encrypted attribute's aggregate key (`AggregateKey`)

The collection id is the first 16 bytes of the chain hash of its name (fixed width, so every
index key starts with it and a collection's entries are one key range).

Values travel and are stored in their key encoding (storage/keys.py), per kind:
- number: a signed 64-bit integer, 8 bytes (decimals: scale them to integers);
- time: milliseconds since the Unix epoch, unsigned 64-bit, 8 bytes;
- text: UTF-8 in Unicode NFC;
- bytes: the bytes;
- sequence: a time series, points of (time ms, number) with strictly increasing times,
  16 bytes each;
- blob: the commitment of an off-chain payload (storage/blob_proof.py `BlobCommitment`:
  Merkle root of its chunks, size, chunk size, media type), codec-encoded;
- encrypted: a contribution to an encrypted aggregate (crypto/privacy/homomorphic/
  contribution.py: an SM2 EC-ElGamal ciphertext under the attribute's aggregate key with
  its bit or range proof, bound to `contribution_context`), checked by the validators.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import msgspec

from xinlian.codec import Struct, at_most
from xinlian.execution.payloads import Address

COLLECTION_PREFIX = b"dc/"
RECORD_PREFIX = b"dr/"
INDEX_ROOT_PREFIX = b"dx/"
AGGREGATE_KEY_PREFIX = b"dk/"
COLLECTION_ID_SIZE = 16
_ID_DOMAIN = b"xinlian/data/collection\x00"

MAX_NAME = 64            # bytes of a collection or attribute name
MAX_ATTRIBUTES = 64
MAX_MEMBERS = 256        # writers or readers, addresses and organisations each
MAX_RECORD_ID = 128
MAX_VALUE = 16 * 1024    # bytes of one value
MAX_INDEXED_VALUE = 1024  # bytes of one value under a range or keyword index
MAX_OPS = 1000           # puts and deletes of one DATA_WRITE
MAX_ENCRYPTED = 32       # encrypted values of one DATA_WRITE (each costs its proof's check)
_CONTEXT_DOMAIN = b"xinlian/data/encrypted\x00"


class Kind(StrEnum):
    NUMBER = "number"
    TIME = "time"
    TEXT = "text"
    SEQUENCE = "sequence"
    BLOB = "blob"
    BYTES = "bytes"
    ENCRYPTED = "encrypted"


class IndexChoice(StrEnum):
    """What a declaration asks for; `auto` is resolved when the collection is declared
    (execution/data/indexes.py) and the resolved kind is what the collection records."""

    AUTO = "auto"
    RANGE = "range"
    KEYWORD = "keyword"
    NONE = "none"


Name = Annotated[str, at_most(MAX_NAME)]


class AttributeDecl(Struct):
    name: Name
    kind: str   # a Kind
    index: str = IndexChoice.AUTO


class DeclareCollection(Struct):
    """The DATA_COLLECTION payload: declare a collection, or (its owner) alter it: the
    attributes must start with the existing ones, unchanged; new ones are appended; writers
    and readers are replaced. Writers and readers are addresses, or organisations (whose
    admin accounts count). No writer listed: only the owner writes. Readers govern access
    to off-chain payloads; on-chain records are visible to every chain member."""

    name: Name
    attributes: Annotated[list[AttributeDecl], at_most(MAX_ATTRIBUTES)]
    writers: Annotated[list[Address], at_most(MAX_MEMBERS)] = msgspec.field(default_factory=list)
    writer_orgs: Annotated[list[str], at_most(MAX_MEMBERS)] = msgspec.field(default_factory=list)
    readers: Annotated[list[Address], at_most(MAX_MEMBERS)] = msgspec.field(default_factory=list)
    reader_orgs: Annotated[list[str], at_most(MAX_MEMBERS)] = msgspec.field(default_factory=list)
    # > 0: the collection adapts the indexes of its `auto` attributes, reviewing them every
    # this many blocks (execution/data/plan.py); 0: each is resolved once, when declared
    adapt_every: int = 0


class Field(Struct):
    attribute: Name
    value: bytes  # in its kind's encoding (module docstring); at most MAX_VALUE bytes


class Put(Struct, tag="put"):
    """Write record `id` whole: the attributes not given have no value."""

    id: bytes  # 1..MAX_RECORD_ID bytes
    fields: list[Field]


class Delete(Struct, tag="delete"):
    id: bytes


class Queries(Struct, tag="queries"):
    """A report of `count` queries of `kind` ("range" or "keyword") over adaptive
    attribute `attribute`, served off chain: what an adaptive collection's review weighs
    against the upkeep of its indexes (execution/data/plan.py)."""

    attribute: Name
    kind: str
    count: int


class AggregateKey(Struct, tag="aggregate_key"):
    """Set, once, the aggregate key of encrypted attribute `attribute` (its owner only): the
    group public key of a DKG among the members who may open its aggregates (SM2, SEC1
    compressed), and the contributions' `bits` (0: counts, each 0 or 1; 8, 16, 32: sums of
    values below 2^bits). Puts to the attribute wait for it."""

    attribute: Name
    key: bytes
    bits: int


DataOp = Put | Delete | Queries | AggregateKey


class DataWrite(Struct):
    """The DATA_WRITE payload: puts, deletes, query reports and aggregate keys into one
    collection, applied in order."""

    collection: Name
    ops: Annotated[list[DataOp], at_most(MAX_OPS)]


class Attribute(Struct):
    name: str
    kind: str   # a Kind
    index: str  # the resolved index kind: "range", "keyword" or "none"


class Collection(Struct):
    """A declared collection, as the state holds it at `dc/<id>`."""

    name: str
    owner: Address
    attributes: list[Attribute]
    writers: list[Address]
    writer_orgs: list[str]
    readers: list[Address]
    reader_orgs: list[str]
    created: int   # height of its declaration
    version: int   # 1, then one more per alteration

    def attribute(self, name: str) -> tuple[int, Attribute] | None:
        for i, attr in enumerate(self.attributes):
            if attr.name == name:
                return i, attr
        return None


class StoredRecord(Struct):
    """A record at `dr/<collection id><record id>`: one value (or None) per attribute, in
    the collection's attribute order, and where it was last written."""

    values: list[bytes | None]
    height: int
    tx_hash: bytes



def collection_id(hasher: Callable[[bytes], bytes], name: str) -> bytes:
    """The fixed-width id of collection `name` under the chain's hash."""
    return hasher(_ID_DOMAIN + name.encode())[:COLLECTION_ID_SIZE]


def collection_key(cid: bytes) -> bytes:
    return COLLECTION_PREFIX + cid


def record_key(cid: bytes, record_id: bytes) -> bytes:
    return RECORD_PREFIX + cid + record_id


def aggregate_key_key(cid: bytes, position: int) -> bytes:
    """The state key of the aggregate key of the attribute at `position`."""
    return AGGREGATE_KEY_PREFIX + cid + position.to_bytes(2, "big")


def contribution_context(collection: str, attribute: str, record_id: bytes) -> bytes:
    """What an encrypted value's proof is bound to: its collection, attribute and record, so
    that a value copied into another record, attribute or collection does not verify."""
    parts = (collection.encode(), attribute.encode(), record_id)
    return _CONTEXT_DOMAIN + b"".join(len(p).to_bytes(2, "big") + p for p in parts)


def index_root_key(kind: str) -> bytes:
    """The state key holding the root of index kind `kind`."""
    return INDEX_ROOT_PREFIX + kind.encode()
