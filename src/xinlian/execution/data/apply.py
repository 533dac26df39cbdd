"""Executing data transactions: declarations and record writes on the block's overlay.

Both return the transaction's events and its index updates (per index kind: key -> value,
None removing an entry), which the executor keeps only if the transaction succeeds. Updates
come from the records as the overlay holds them before and after each put or delete, so they
are a pure function of the block and the state before it: every node derives the same ones.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian import codec
from xinlian.crypto.primitives.groups import SM2, GroupError
from xinlian.crypto.privacy.homomorphic import contribution
from xinlian.execution.data import values
from xinlian.execution.data.indexes import (
    KINDS,
    Entry,
    RangeIndex,
    attribute_prefix,
    resolve,
)
from xinlian.execution.data.model import (
    MAX_ENCRYPTED,
    MAX_NAME,
    MAX_RECORD_ID,
    AggregateKey,
    Collection,
    DataWrite,
    DeclareCollection,
    IndexChoice,
    Kind,
    Put,
    Queries,
    StoredRecord,
    aggregate_key_key,
    collection_id,
    collection_key,
    contribution_context,
    record_key,
)
from xinlian.execution.data.plan import (
    PRESENCE_POSITION,
    AttributePlan,
    Plan,
    candidates,
    counted,
    plan_key,
    read_plan,
    report,
)
from xinlian.execution.errors import (
    BadDeclaration,
    BadPayload,
    NotWriter,
    Unauthorised,
    UnknownAttribute,
    UnknownCollection,
    ValueTooLarge,
    WrongKind,
)
from xinlian.execution.state import Overlay
from xinlian.execution.system import ADMIN_PREFIX
from xinlian.ledger.block import Event
from xinlian.storage.tokenize import terms

Hasher = Callable[[bytes], bytes]
# index kind -> key -> (value, measure) (None: gone)
IndexUpdates = dict[str, dict[bytes, Entry | None]]
SOURCE = "data"
MAX_ADAPT_EVERY = 10_000_000  # blocks between an adaptive collection's reviews
_decode_collection = codec.trusted_decoder(Collection)  # state written by execution only
_decode_record = codec.trusted_decoder(StoredRecord)
_decode_key = codec.trusted_decoder(AggregateKey)
# (attribute position, attribute name, record id, value) of a put's encrypted value
Encrypted = tuple[int, str, bytes, bytes]


def read_collection(read: Callable[[bytes], bytes | None], cid: bytes) -> Collection | None:
    raw = read(collection_key(cid))
    return None if raw is None else _decode_collection(raw)


def declare(state: Overlay, hasher: Hasher, sender: bytes, height: int,
            op: DeclareCollection) -> list[Event]:
    """Declare collection `op.name` owned by `sender`, or alter it (its owner only)."""
    _check_name(op.name, "collection")
    names = [a.name for a in op.attributes]
    for name in names:
        _check_name(name, "attribute")
    if len(set(names)) != len(names):
        raise BadDeclaration("attribute names must be unique")
    attributes = [resolve(a) for a in op.attributes]
    cid = collection_id(hasher, op.name)
    old = read_collection(state.get, cid)
    if old is None:
        owner, created, version = sender, height, 1
    else:
        if old.owner != sender:
            raise Unauthorised(f"only the owner of collection {op.name!r} may alter it")
        kept = attributes[:len(old.attributes)]
        if [(a.name, a.kind) for a in kept] != [(a.name, a.kind) for a in old.attributes]:
            raise BadDeclaration("an alteration keeps every attribute, in order, and appends")
        # an attribute keeps its index: its entries exist already (or never did)
        attributes[:len(old.attributes)] = old.attributes
        owner, created, version = old.owner, old.created, old.version + 1
    collection = Collection(op.name, owner, attributes, sorted(set(op.writers)),
                            sorted(set(op.writer_orgs)), sorted(set(op.readers)),
                            sorted(set(op.reader_orgs)), created, version)
    state.set(collection_key(cid), codec.encode(collection))
    found = _planned(read_plan(state.get, cid), op,
                     0 if old is None else len(old.attributes), old is not None, height)
    if found is not None:
        state.set(plan_key(cid), codec.encode(found))
    return [Event(SOURCE, "CollectionDeclared", codec.encode([op.name, version]))]


def write(state: Overlay, hasher: Hasher, sender: bytes, height: int, tx_hash: bytes,
          op: DataWrite) -> tuple[list[Event], IndexUpdates]:
    """Apply the puts and deletes of `op`, in order, for a writer of the collection."""
    cid = collection_id(hasher, op.collection)
    collection = read_collection(state.get, cid)
    if collection is None:
        raise UnknownCollection(f"no collection {op.collection!r}")
    if not is_writer(state, collection, sender):
        raise NotWriter(f"the sender may not write to collection {op.collection!r}")
    updates: IndexUpdates = {}
    plan = read_plan(state.get, cid)
    puts = deletes = 0
    encrypted: list[Encrypted] = []
    for item in op.ops:
        if isinstance(item, Queries):
            plan = _reported(plan, collection, item)
            continue
        if isinstance(item, AggregateKey):
            _set_aggregate_key(state, collection, cid, sender, item)
            continue
        if not 0 < len(item.id) <= MAX_RECORD_ID:
            raise ValueTooLarge(f"a record id is 1..{MAX_RECORD_ID} bytes, not {len(item.id)}")
        key = record_key(cid, item.id)
        old = state.get(key)
        before = None if old is None else _decode_record(old)
        if before is not None and old is not None:
            _index(updates, collection, cid, item.id, before, old, None)
        after = None
        if isinstance(item, Put):
            after = StoredRecord(_values(collection, item), height, tx_hash)
            encrypted += [(i, collection.attributes[i].name, item.id, v)
                          for i, v in enumerate(after.values)
                          if v is not None and collection.attributes[i].kind == Kind.ENCRYPTED]
            raw = codec.encode(after)
            _index(updates, collection, cid, item.id, after, raw, raw)
            state.set(key, raw)
            puts += 1
        else:
            state.set(key, None)
            deletes += 1
        if plan is not None:
            plan = _counted(plan, updates, collection, cid, item.id, before, after)
    if encrypted:
        _check_encrypted(state, collection, cid, encrypted)
    if plan is not None:
        state.set(plan_key(cid), codec.encode(plan))
    event = Event(SOURCE, "RecordsWritten", codec.encode([op.collection, puts, deletes]))
    return [event], updates


def read_aggregate_key(read: Callable[[bytes], bytes | None], cid: bytes,
                       position: int) -> AggregateKey | None:
    raw = read(aggregate_key_key(cid, position))
    return None if raw is None else _decode_key(raw)


def _set_aggregate_key(state: Overlay, collection: Collection, cid: bytes, sender: bytes,
                       op: AggregateKey) -> None:
    """The owner sets an encrypted attribute's key and bits, once (its aggregates would
    otherwise mix keys)."""
    if sender != collection.owner:
        raise Unauthorised(f"only the owner of collection {collection.name!r} sets keys")
    found = collection.attribute(op.attribute)
    if found is None:
        raise UnknownAttribute(f"collection {collection.name!r} has no attribute "
                               f"{op.attribute!r}")
    position, attr = found
    if attr.kind != Kind.ENCRYPTED:
        raise WrongKind(f"attribute {op.attribute!r} is {attr.kind}, not encrypted")
    if read_aggregate_key(state.get, cid, position) is not None:
        raise BadPayload(f"attribute {op.attribute!r} has its aggregate key already")
    try:
        key = SM2.decode_element(op.key)
    except GroupError as exc:
        raise BadPayload(f"an aggregate key is an SM2 point: {exc.message}") from None
    contribution.check_statement(key, op.bits)
    state.set(aggregate_key_key(cid, position), codec.encode(op))


def _check_encrypted(state: Overlay, collection: Collection, cid: bytes,
                     values: list[Encrypted]) -> None:
    """Verify a transaction's encrypted values, one batch per attribute, with weights
    derived from the values (every node draws the same ones). InvalidContributionError
    (8953) when a proof does not hold for its attribute's key and its record."""
    if len(values) > MAX_ENCRYPTED:
        raise ValueTooLarge(f"{len(values)} encrypted values in one transaction; the limit "
                            f"is {MAX_ENCRYPTED}")
    batches: dict[int, list[tuple[contribution.Contribution, bytes]]] = {}
    for position, name, rid, raw in values:
        key = read_aggregate_key(state.get, cid, position)
        if key is None:
            raise BadPayload(f"attribute {name!r} has no aggregate key yet")
        c = contribution.decode(SM2, raw)
        if c.bits != key.bits:
            raise WrongKind(f"attribute {name!r} takes {key.bits}-bit contributions, "
                            f"not {c.bits}-bit")
        batches.setdefault(position, []).append(
            (c, contribution_context(collection.name, name, rid)))
    for position, items in batches.items():
        key = read_aggregate_key(state.get, cid, position)
        assert key is not None
        contribution.verify_batch(SM2.decode_element(key.key), items,
                                  contribution.derived_rng(items))


def is_writer(state: Overlay, collection: Collection, sender: bytes) -> bool:
    if sender == collection.owner or sender in collection.writers:
        return True
    org = state.get(ADMIN_PREFIX + sender)
    return org is not None and org.decode() in collection.writer_orgs


def _values(collection: Collection, put: Put) -> list[bytes | None]:
    out: list[bytes | None] = [None] * len(collection.attributes)
    for field in put.fields:
        found = collection.attribute(field.attribute)
        if found is None:
            raise UnknownAttribute(f"collection {collection.name!r} has no attribute "
                                   f"{field.attribute!r}")
        position, attr = found
        if out[position] is not None:
            raise BadPayload(f"attribute {field.attribute!r} given twice")
        values.check(attr.kind, field.value)
        out[position] = field.value
    return out


def _index(updates: IndexUpdates, collection: Collection, cid: bytes, record_id: bytes,
           record: StoredRecord, raw: bytes, value: bytes | None) -> None:
    """Set (`value`: the record's encoding) or remove (None) the entries of `record`."""
    for position, (attr, current) in enumerate(zip(collection.attributes, record.values,
                                                   strict=False)):
        kind = KINDS.get(attr.index)
        if kind is None or current is None:
            continue
        entries = kind.entries(attribute_prefix(cid, position), attr.kind, current,
                               record_id, raw)
        target = updates.setdefault(kind.name, {})
        for key in entries:
            target[key] = None if value is None else entries[key]


def _planned(old: Plan | None, op: DeclareCollection, first_new: int, altered: bool,
             height: int) -> Plan | None:
    """The plan of a collection declared (or altered: its attributes from `first_new` on
    are new) by `op`: its `auto` attributes that some index kind takes are adaptive when
    it adapts (execution/data/plan.py)."""
    if not 0 <= op.adapt_every <= MAX_ADAPT_EVERY:
        raise BadDeclaration(f"a collection adapts every 1..{MAX_ADAPT_EVERY} blocks (or 0: "
                             f"never), not {op.adapt_every}")
    if altered and (old is None) != (op.adapt_every == 0):
        raise BadDeclaration("a collection adapts its indexes from its first declaration on, "
                             "or never")
    if op.adapt_every == 0:
        return None
    known = [] if old is None else old.attributes
    fresh = [AttributePlan(i, changed=height) for i, decl in enumerate(op.attributes)
             if i >= first_new and decl.index == IndexChoice.AUTO
             and len(candidates(decl.kind)) > 1]
    if old is None:
        return Plan(op.adapt_every, height + op.adapt_every, 0, fresh)
    return Plan(op.adapt_every, old.next_review, old.records, [*known, *fresh])


def _reported(plan: Plan | None, collection: Collection, item: Queries) -> Plan:
    found = collection.attribute(item.attribute)
    if found is None:
        raise UnknownAttribute(f"collection {collection.name!r} has no attribute "
                               f"{item.attribute!r}")
    if plan is None:
        raise BadPayload(f"collection {collection.name!r} does not adapt its indexes")
    return report(plan, found[0], item.kind, item.count)


def _counted(plan: Plan, updates: IndexUpdates, collection: Collection, cid: bytes,
             record_id: bytes, before: StoredRecord | None, after: StoredRecord | None
             ) -> Plan:
    """An adaptive collection's counts after one put or delete, and its record's presence
    entry (which lets a review build an index over every record: node/data_plan.py). A
    new value must fit every index the attribute may come to keep (ValueTooLarge)."""
    presence = attribute_prefix(cid, PRESENCE_POSITION) + record_id
    updates.setdefault(RangeIndex.name, {})[presence] = None if after is None else (b"", 0)
    records = plan.records + (after is not None) - (before is not None)
    plan = Plan(plan.every, plan.next_review, records, plan.attributes)
    for stats in list(plan.attributes):
        attr = collection.attributes[stats.position]
        writes = words = held = 0
        for record, sign in ((before, -1), (after, 1)):
            raw = _value_at(record, stats.position)
            if raw is None:
                continue
            writes += 1
            held += sign
            if sign > 0:
                prefix = attribute_prefix(cid, stats.position)
                for name in candidates(attr.kind)[:-1]:  # ValueTooLarge if one cannot
                    KINDS[name].entries(prefix, attr.kind, raw, record_id, b"")
            if attr.kind == Kind.TEXT:
                words += len(terms(raw.decode()))
        if writes:
            plan = counted(plan, stats.position, writes, words, held)
    return plan


def _value_at(record: StoredRecord | None, position: int) -> bytes | None:
    if record is None or position >= len(record.values):
        return None
    return record.values[position]


def _check_name(name: str, what: str) -> None:
    raw = name.encode()
    if not 0 < len(raw) <= MAX_NAME or not name.isprintable():
        raise BadDeclaration(f"a {what} name is 1..{MAX_NAME} printable bytes: {name!r}")
