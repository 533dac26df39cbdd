"""Provenance proofs: a key's version records, their encoding and the pure verifier.

Like `proof.py`, this module imports neither LMDB nor the store, so client SDKs and light
nodes check history answers with nothing but the codec and a hash function.

Every write of a key appends one version record to that key's Merkle Mountain Range
(storage/mmr.py); the MMR's peaks (its size and peak hashes, encoded `mmr.Peaks`) are the
state value the chain commits for the key, so a state proof under a certified header gives
the client the peaks it trusts. A version record is 77 bytes, fixed:

    height u64 | tx index u32 | kind u8 (1 put, 0 delete) | value hash 32 | tx hash 32

(big-endian, so records sort as their (height, tx index) do). The peaks' size says how many
versions exist. A page of versions [first, stop) is one contiguous run of leaves, proven by
one run proof (`mmr.run_peaks`): the client hashes the k records, about k interior nodes and
O(log n) given siblings, and compares the peaks it gets with the committed ones. The page's
length is fixed by the query and the size, so a missing, extra, reordered or changed version
is caught; "the value as of height h" is the run [i, i + 2) where record i is the last at or
before h and record i + 1 (if any) is after it.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

from xinlian import codec
from xinlian.storage import mmr
from xinlian.storage.errors import (
    IncompleteAnswerError,
    QueryError,
    ReorderedAnswerError,
    TamperedAnswerError,
)
from xinlian.storage.proof import HASH_SIZE, Hasher

RECORD = struct.Struct(">QIB32s32s")
RECORD_SIZE = RECORD.size
ORDER_BYTES = 12  # height and tx index: the prefix records are ordered by
MAX_PAGE = 100_000
PUT, DELETE = 1, 0
NO_VALUE = bytes(HASH_SIZE)


class Version(NamedTuple):
    """One write of a key: the block height and the transaction's index and hash that set
    it, and the hash of the value it set (`kind` DELETE: the key was deleted)."""

    height: int
    tx_index: int
    kind: int
    value_hash: bytes
    tx_hash: bytes

    @property
    def deleted(self) -> bool:
        return self.kind == DELETE


def encode_version(version: Version) -> bytes:
    return RECORD.pack(*version)


class Versions(Sequence[Version]):
    """A run of version records, decoded one at a time when read: a page of 100,000
    versions is checked without making 100,000 objects first."""

    __slots__ = ("records",)

    def __init__(self, records: bytes) -> None:
        if len(records) % RECORD_SIZE:
            raise TamperedAnswerError("the answer holds a partial version record")
        self.records = records

    def __len__(self) -> int:
        return len(self.records) // RECORD_SIZE

    @overload
    def __getitem__(self, index: int) -> Version: ...
    @overload
    def __getitem__(self, index: slice) -> list[Version]: ...

    def __getitem__(self, index: int | slice) -> Version | list[Version]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return Version._make(RECORD.unpack_from(self.records, index * RECORD_SIZE))

    def __iter__(self) -> Iterator[Version]:
        return map(Version._make, RECORD.iter_unpack(self.records))


@dataclass(frozen=True)
class HistoryQuery:
    """Versions `first <= i < stop` of one key (stop None: to the latest), at most `limit`."""

    first: int = 0
    stop: int | None = None
    limit: int = MAX_PAGE

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise QueryError(f"a history page holds 1..{MAX_PAGE} versions, not {self.limit}")
        if self.first < 0 or (self.stop is not None and self.stop <= self.first):
            raise QueryError(f"versions [{self.first}, {self.stop}) are an empty range")

    def end(self, size: int) -> int:
        """Where the page ends in a history of `size` versions."""
        stop = size if self.stop is None else min(self.stop, size)
        return max(self.first, min(stop, self.first + self.limit))


class HistoryPage(codec.Struct):
    """Versions [first, first + len(records) // RECORD_SIZE) of a key's history of `size`
    versions, and the run proof's siblings (concatenated 32-byte hashes)."""

    size: int
    first: int
    records: bytes
    siblings: bytes


def _checked_records(peaks: mmr.Peaks, page: HistoryPage, count: int, hasher: Hasher
                     ) -> Versions:
    """The page's versions once its run of `count` records proves against `peaks`."""
    if page.size != peaks.size:
        raise TamperedAnswerError(f"the answer is for {page.size} versions, the committed "
                                  f"history has {peaks.size}")
    records = page.records
    versions = Versions(records)
    got = len(versions)
    if got < count:
        raise IncompleteAnswerError(f"{count - got} of {count} versions are missing")
    if got > count:
        raise TamperedAnswerError(f"{got - count} versions more than the history holds")
    if not count:
        return versions
    try:
        mmr.check_leaves(hasher, peaks, page.first,
                         mmr.packed_leaf_hashes(hasher, records, RECORD_SIZE), page.siblings)
    except TamperedAnswerError:
        # a committed history is in order by construction: only a failed answer is
        # looked at again, to say how it failed
        order = [records[i:i + ORDER_BYTES] for i in range(0, len(records), RECORD_SIZE)]
        if not all(map(operator.le, order, order[1:])):
            raise ReorderedAnswerError("versions are not in (height, transaction) "
                                       "order") from None
        raise
    return versions


def verify_history(peaks_value: bytes, query: HistoryQuery, page: HistoryPage,
                   hasher: Hasher) -> Versions:
    """The versions the query asks for, proven complete against the committed peaks (the
    encoded `mmr.Peaks` a state proof gave the caller); raises a ProofError."""
    peaks = mmr.decode_peaks(peaks_value)
    if page.first != query.first:
        raise TamperedAnswerError(f"the answer starts at version {page.first}, not "
                                  f"{query.first}")
    return _checked_records(peaks, page, query.end(peaks.size) - query.first, hasher)


def as_of_run(index: int | None, size: int) -> tuple[int, int]:
    """The run that proves "the value as of h": [i, i + 2) capped by the size, where i is
    the last version at or before h (`index`; None: there is none, and the run starts at
    the first version, which is after h)."""
    first = 0 if index is None else index
    return first, min(first + 2, size)


def verify_as_of(peaks_value: bytes, height: int, page: HistoryPage, hasher: Hasher
                 ) -> Version | None:
    """The key's version in force at the end of block `height` (None: it had none yet),
    proven against the committed peaks; raises a ProofError."""
    peaks = mmr.decode_peaks(peaks_value)
    if peaks.size == 0 and page.first == 0:
        _checked_records(peaks, page, 0, hasher)
        return None
    if not 0 <= page.first < peaks.size:
        raise TamperedAnswerError(f"version {page.first} is not in a history of "
                                  f"{peaks.size}")
    first, stop = as_of_run(page.first, peaks.size)
    versions = _checked_records(peaks, page, stop - first, hasher)
    if versions[0].height > height:
        if first:
            raise IncompleteAnswerError(f"version {first} is after block {height}: an "
                                        "earlier one was left out")
        return None
    if len(versions) > 1 and versions[1].height <= height:
        raise IncompleteAnswerError(f"version {first + 1} is at or before block {height}: "
                                    "the answer is not the latest")
    return versions[0]
