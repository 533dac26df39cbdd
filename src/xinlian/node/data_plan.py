"""Reviews of adaptive collections at the end of a block: build, drop or switch an index.

`prepare_block` (node/chain.py) calls `review` with the block's state writes and index
updates before the index roots and the state root are computed. A collection whose plan
(execution/data/plan.py) the block wrote and whose review height has come is reviewed: each
adaptive attribute keeps or changes its index by `plan.decide`, from committed counts only,
so every node takes the same decision at the same height. A change rewrites the collection
(its attribute's index) and, in the same block, removes every entry of the old index kind
and writes every entry of the new one, for the records as the block leaves them: they are
found by their presence entries in the range index (`cid || 0xFFFF || record id`), which
every write of an adaptive collection maintains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from msgspec.structs import replace

from xinlian import codec
from xinlian.execution.data.apply import IndexUpdates, read_collection
from xinlian.execution.data.indexes import KINDS, RangeIndex, attribute_prefix
from xinlian.execution.data.model import (
    Attribute,
    Collection,
    IndexChoice,
    StoredRecord,
    collection_key,
    record_key,
)
from xinlian.execution.data.plan import PLAN_PREFIX, PRESENCE_POSITION, Plan, reviewed
from xinlian.node.data import DataIndexes
from xinlian.storage.keys import prefix_end
from xinlian.storage.mbtree_proof import MAX_PAGE, RangeQuery

Read = Callable[[bytes], bytes | None]
_decode_plan = codec.trusted_decoder(Plan)  # written by execution only
_decode_record = codec.trusted_decoder(StoredRecord)


def review(data: DataIndexes, read: Read, height: int, writes: Mapping[bytes, bytes | None],
           updates: IndexUpdates) -> tuple[dict[bytes, bytes | None], IndexUpdates]:
    """The state writes of the reviews due at the end of block `height` (plans, and the
    collections whose indexes change) and the block's index updates with those of the
    builds and drops. `read`: the state before the block; `writes`: the block's."""
    def state(key: bytes) -> bytes | None:
        return writes[key] if key in writes else read(key)

    out: dict[bytes, bytes | None] = {}
    merged = dict(updates)
    for key in sorted(k for k in writes if k.startswith(PLAN_PREFIX)):
        raw = writes[key]
        plan = None if raw is None else _decode_plan(raw)
        if plan is None or height < plan.next_review:
            continue
        cid = key[len(PLAN_PREFIX):]
        collection = read_collection(state, cid)
        assert collection is not None  # a plan is its collection's
        plan, changes = reviewed(plan, collection.attributes, height)
        out[key] = codec.encode(plan)
        if changes:
            attributes = [Attribute(a.name, a.kind, changes[i][1]) if i in changes else a
                          for i, a in enumerate(collection.attributes)]
            out[collection_key(cid)] = codec.encode(replace(collection, attributes=attributes))
            _rebuild(data, state, cid, collection, changes, merged)
    return out, merged


def _rebuild(data: DataIndexes, state: Read, cid: bytes, collection: Collection,
             changes: dict[int, tuple[str, str]], updates: IndexUpdates) -> None:
    """Into `updates`: every entry of each changed attribute's old index removed and of its
    new one added, for the records the block leaves."""
    extra: IndexUpdates = {}
    for rid in sorted(_record_ids(data, cid, updates.get(RangeIndex.name, {}))):
        raw = state(record_key(cid, rid))
        if raw is None:
            continue
        values = _decode_record(raw).values
        for position, (old, new) in changes.items():
            value = values[position] if position < len(values) else None
            if value is None:
                continue
            kind = collection.attributes[position].kind
            prefix = attribute_prefix(cid, position)
            if old != IndexChoice.NONE:
                extra.setdefault(old, {}).update(dict.fromkeys(
                    KINDS[old].entries(prefix, kind, value, rid, raw)))
            if new != IndexChoice.NONE:
                extra.setdefault(new, {}).update(
                    KINDS[new].entries(prefix, kind, value, rid, raw))
    for kind, entries in extra.items():
        updates[kind] = {**updates.get(kind, {}), **entries}


def _record_ids(data: DataIndexes, cid: bytes, block: Mapping[bytes, object]) -> set[bytes]:
    """The ids of the collection's records at the end of the block: its presence entries
    as committed, with the block's own (`block`: its range-index updates)."""
    prefix = attribute_prefix(cid, PRESENCE_POSITION)
    stop = prefix_end(prefix)
    ids: set[bytes] = set()
    lo = prefix
    while True:
        page, _ = data.range.range(RangeQuery(lo, stop, MAX_PAGE))
        keys = [k for k, _, _ in page.records()]
        ids.update(k[len(prefix):] for k in keys)
        if len(keys) < MAX_PAGE:
            break
        lo = keys[-1] + b"\x00"
    for key, entry in block.items():
        if key.startswith(prefix):
            (ids.add if entry is not None else ids.discard)(key[len(prefix):])
    return ids
