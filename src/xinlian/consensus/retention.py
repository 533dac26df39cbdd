"""Which epoch each stored block and batch belongs to, so an ended epoch can be dropped.

Every block, batch and ordered-digest mark a core persists is listed in a per-epoch
manifest written with it (`held`: one empty key `HELD + epoch + key`, in the same store and
the same write as the value), so dropping an epoch lists its keys by a prefix scan of that
epoch alone — uncommitted forks and batches never ordered included — instead of walking the
whole store. `drop` deletes a bounded number of them per call, each value together with its
manifest entry, so a drop interrupted by a crash resumes from what is left.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from xinlian.protocol import Persist, Scannable

HELD = b"consensus/held/"  # + epoch (8 bytes, big-endian) + the key of a value of that epoch
BULK = b"b"  # a manifest entry's value: the value lives in the bulk store (Persist.sync False)


def scan(stored: Mapping[bytes, bytes], prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """What a core persisted under `prefix`: by a prefix scan where the view offers one,
    else by walking its keys (a plain dict: tests, the simulator)."""
    if isinstance(stored, Scannable):
        yield from stored.scan_prefix(prefix)
        return
    for key in list(stored):
        if key.startswith(prefix):
            yield key, stored[key]


def _epoch_prefix(epoch: int) -> bytes:
    return HELD + epoch.to_bytes(8, "big")


def held(epoch: int, key: bytes, sync: bool = True) -> Persist:
    """The manifest entry of `key`, a value of `epoch` persisted with the same `sync`."""
    return Persist(_epoch_prefix(epoch) + key, b"" if sync else BULK, sync)


def drop(stored: Mapping[bytes, bytes], epoch: int, limit: int) -> tuple[list[Persist], bool]:
    """Deletes of up to `limit` values of `epoch` with their manifest entries, and whether
    that was all of the epoch. The synced store's values (blocks, ordered marks) go first,
    the bulk store's (batches) only once the view shows none of those left: a runtime may
    commit its bulk store first, and an ordered mark must never outlive its batch (a
    restarted core fetches the batch of every mark it holds)."""
    prefix = _epoch_prefix(epoch)
    entries = list(scan(stored, prefix))
    synced = [(entry, where) for entry, where in entries if where != BULK]
    chosen = (synced or entries)[:limit]
    actions: list[Persist] = []
    for entry, where in chosen:
        sync = where != BULK
        actions += [Persist(entry[len(prefix):], None, sync), Persist(entry, None, sync)]
    return actions, len(chosen) == len(entries)
