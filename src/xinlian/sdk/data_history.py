"""A record's provenance and the block window through the SDK, every answer verified.

A history page is checked against one header: the record's history peaks by their state
proof (`dh/<collection id><record id>`), then the page of versions by its MMR run proof
against those peaks (storage/provenance_proof.py), so a node can neither change, drop, add
nor reorder a version; a block window likewise by the filters' peaks (`dx/bloom`) and
their run proof (storage/bloom_proof.py). A failed check raises AnswerTampered,
AnswerIncomplete or AnswerReordered (all ProofError).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from xinlian import codec
from xinlian.execution.data.changes import (
    attribute_term,
    collection_term,
    history_key,
    record_term,
)
from xinlian.execution.data.model import Collection, collection_key
from xinlian.node.interface import DataBlocksAnswer, DataHistoryAnswer, StateProof
from xinlian.sdk import calls
from xinlian.sdk.errors import (
    AnswerIncomplete,
    AnswerReordered,
    AnswerTampered,
    DataQueryFailed,
    ProofError,
)
from xinlian.sdk.ops import Op, Ops
from xinlian.storage import errors as proof_errors
from xinlian.storage import mmr
from xinlian.storage.bloom import BLOOM_ROOT_KEY
from xinlian.storage.bloom_proof import WindowPage, WindowQuery, verify_window
from xinlian.storage.errors import StorageError
from xinlian.storage.proof import Hasher
from xinlian.storage.provenance_proof import (
    HistoryPage,
    HistoryQuery,
    Version,
    verify_as_of,
    verify_history,
)

T = TypeVar("T")
_EMPTY_PEAKS = codec.encode(mmr.EMPTY)

__all__ = ["BlockWindow", "History", "Version"]


@dataclass(frozen=True)
class History:
    """Verified versions `first..` of a record's history of `size` versions at block
    `height`, oldest first; `next` continues it (None: the last page)."""

    versions: list[Version]
    first: int
    size: int
    height: int
    next: int | None


@dataclass(frozen=True)
class BlockWindow:
    """Of blocks [first, stop), `blocks` may hold the term (every other one cannot),
    verified at block `height`; `next` continues the window (None: done)."""

    blocks: list[int]
    first: int
    stop: int
    height: int
    next: int | None


class Proven(Protocol):
    def __call__(self, state: StateProof, verify: bool) -> Op[Collection | None]: ...


def _proof_checked(make: Callable[[], T], what: str) -> T:
    """`make()`, a storage proof failure raised as the SDK's typed ProofError."""
    try:
        return make()
    except proof_errors.IncompleteAnswerError as exc:
        raise AnswerIncomplete(f"{what}: {exc.message}") from None
    except proof_errors.ReorderedAnswerError as exc:
        raise AnswerReordered(f"{what}: {exc.message}") from None
    except proof_errors.QueryError as exc:
        raise DataQueryFailed(f"{what}: {exc.message}", exc) from None
    except (StorageError, codec.CodecError) as exc:
        raise AnswerTampered(f"{what}: {exc.message}") from None


def _page(ops: Ops, proven: Proven, name: str, rid: bytes, first: int, limit: int,
          as_of: int | None, height: int | None, verify: bool
          ) -> Generator[Any, Any, tuple[HistoryPage, bytes, int, Hasher]]:
    """The node's history page for the record, its peaks proven in the state at the
    collection's block: (page, peaks, that height, the chain's hash)."""
    answer: DataHistoryAnswer = yield calls.data_history(name, rid, first, limit, as_of,
                                                         height)
    collection = yield from proven(answer.collection, verify)
    if collection is None:
        raise DataQueryFailed(f"no collection {name!r}")
    cid = answer.collection.key[len(collection_key(b"")):]
    value, hasher = yield from _peaks(ops, answer.peaks, history_key(cid + rid),
                                      answer.collection, "the record's history", verify)
    page = _proof_checked(lambda: codec.decode(answer.page, HistoryPage), "history page")
    return page, value, answer.peaks.header.height, hasher


def _peaks(ops: Ops, proof: StateProof, key: bytes, collection: StateProof, what: str,
           verify: bool) -> Generator[Any, Any, tuple[bytes, Hasher]]:
    """The MMR peaks `proof` proves at `key`, at the collection's block (empty when the
    key holds none), and the chain's hash."""
    if proof.key != key:
        raise ProofError(f"{what} is proven for another key")
    if proof.header != collection.header:
        raise ProofError(f"{what} is not proven at the collection's block")
    verifier = yield from ops.trusted()
    if verify:
        verifier.state(proof)
    return (_EMPTY_PEAKS if proof.value is None else proof.value), verifier.suite.hash_bytes


def history(ops: Ops, proven: Proven, name: str, rid: bytes, first: int, limit: int,
            height: int | None, verify: bool) -> Generator[Any, Any, History]:
    """A verified page of the record's versions, from version `first`."""
    query = _proof_checked(lambda: HistoryQuery(first, None, limit), "history query")
    page, peaks, at, hasher = yield from _page(ops, proven, name, rid, first, limit, None,
                                               height, verify)
    versions = list(_proof_checked(lambda: verify_history(peaks, query, page, hasher),
                                   "history page"))
    end = first + len(versions)
    return History(versions, first, page.size, at, end if end < page.size else None)


def as_of(ops: Ops, proven: Proven, name: str, rid: bytes, block: int, height: int | None,
          verify: bool) -> Generator[Any, Any, Version | None]:
    """The record's verified version in force at the end of block `block` (None: none
    yet, or `kind` DELETE: deleted then)."""
    page, peaks, _, hasher = yield from _page(ops, proven, name, rid, 0, 1, block, height,
                                              verify)
    return _proof_checked(lambda: verify_as_of(peaks, block, page, hasher),
                          f"history as of block {block}")


def blocks(ops: Ops, proven: Proven, name: str, first: int, stop: int, rid: bytes | None,
           attribute: str | None, match: Literal["any", "all"], limit: int,
           height: int | None, verify: bool) -> Generator[Any, Any, BlockWindow]:
    """The blocks of [first, stop) whose filters may hold the term: a change of record
    `rid`, a put of `attribute`, or (neither) any change of the collection."""
    view = yield calls.data_collection(name, height)
    collection = yield from proven(view.state, verify)
    if collection is None:
        raise DataQueryFailed(f"no collection {name!r}")
    cid = view.state.key[len(collection_key(b"")):]
    terms = [collection_term(cid)] if rid is None else [record_term(cid + rid)]
    if attribute is not None:
        found = collection.attribute(attribute)
        if found is None:
            raise DataQueryFailed(f"collection {name!r} has no attribute {attribute!r}")
        terms.append(attribute_term(cid, found[0]))
    query = _proof_checked(lambda: WindowQuery(first, stop, tuple(terms), match, limit),
                           "block window")
    answer: DataBlocksAnswer = yield calls.data_blocks(terms, first, stop, match, limit,
                                                       view.state.header.height)
    return (yield from _window(ops, query, answer, view.state, verify))


def terms_window(ops: Ops, terms: list[bytes], first: int, stop: int,
                 match: Literal["any", "all"], limit: int, height: int | None, verify: bool
                 ) -> Generator[Any, Any, BlockWindow]:
    """`blocks` for filter terms as the caller made them (execution/data/changes.py), of
    any collections, at `height` (default: the node's head)."""
    query = _proof_checked(lambda: WindowQuery(first, stop, tuple(terms), match, limit),
                           "block window")
    answer: DataBlocksAnswer = yield calls.data_blocks(terms, first, stop, match, limit,
                                                       height)
    if verify:
        yield from ops.accepted(answer.root.header)
    return (yield from _window(ops, query, answer, answer.root, verify))


def _window(ops: Ops, query: WindowQuery, answer: DataBlocksAnswer, anchor: StateProof,
            verify: bool) -> Generator[Any, Any, BlockWindow]:
    """The node's window page checked against the filters' peaks, proven in the state at
    the block of `anchor` (a proof the caller has checked)."""
    value, hasher = yield from _peaks(ops, answer.root, BLOOM_ROOT_KEY, anchor,
                                      "the block filters", verify)
    page = _proof_checked(lambda: codec.decode(answer.page, WindowPage), "block window")
    window = _proof_checked(lambda: verify_window(value, query, page, hasher),
                            "block window")
    more = window.stop < min(query.stop, page.size)
    return BlockWindow(window.candidates, window.first, window.stop,
                       anchor.header.height, window.stop if more else None)
