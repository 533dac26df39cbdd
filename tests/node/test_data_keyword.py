"""The node's keyword index (node/data.py): a block's keyword entries go into the
authenticated inverted index, its root to `dx/keyword`; state sync carries it beside the
contract index (both search trees in one node sub-database) and the range index, so a
joining node answers keyword queries with the same proofs."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.crypto.hashes import sha256
from xinlian.execution.data.indexes import KeywordIndex, attribute_prefix
from xinlian.node import data
from xinlian.storage import mst
from xinlian.storage.errors import BadChunkError
from xinlian.storage.inverted_proof import TextQuery, verify_text
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import INDEX_ROOT_KEY

SCOPE = attribute_prefix(bytes(16), 2)
TEXTS = {f"r{i:03}".encode(): f"{('red', 'green', 'blue')[i % 3]} item {i % 7}"
         for i in range(300)}


def _open(path: Path) -> tuple[Store, mst.OrderedIndex, data.DataIndexes]:
    store = Store(path, sub_dbs=(*mst.SUB_DBS, *data.SUB_DBS), durable=False)
    return store, mst.OrderedIndex(store, sha256), data.DataIndexes(store, sha256)


def _entries(texts: dict[bytes, str], value: bool = True) -> dict[bytes, tuple[bytes, int]
                                                                   | None]:
    kind = KeywordIndex()
    out: dict[bytes, tuple[bytes, int] | None] = {}
    for rid, text in texts.items():
        for key, entry in kind.entries(SCOPE, "text", text.encode(), rid, b"").items():
            out[key] = entry if value else None
    return out


def _grown(path: Path) -> tuple[Store, mst.OrderedIndex, data.DataIndexes, dict[bytes, bytes]]:
    """Contract index entries and keyword entries over two blocks; the state's roots."""
    store, ordered, indexes = _open(path)
    batch = WriteBatch()
    contract_root = ordered.apply(1, {f"k{i}".encode(): b"v" for i in range(200)}, batch)
    roots = indexes.apply(1, {"keyword": _entries(TEXTS), "range": {b"x" * 20: (b"r", 1)}},
                          batch)
    store.commit(batch)
    batch = WriteBatch()  # block 2: ten records lose their text
    roots.update(indexes.apply(2, {"keyword": _entries(dict(list(TEXTS.items())[:10]), False)},
                               batch))
    store.commit(batch)
    leaves = {sha256(INDEX_ROOT_KEY): contract_root,
              **{sha256(k): v for k, v in roots.items()}}
    return store, ordered, indexes, leaves


def test_keyword_entries_go_to_the_inverted_index_under_dx_keyword(tmp_path: Path) -> None:
    store, _, indexes, leaves = _grown(tmp_path)
    root = leaves[sha256(data.KEYWORD_ROOT_KEY)]
    assert root == indexes.text.root(2) != indexes.text.root(1)
    query = TextQuery(SCOPE, ("red", "item"), ("3",), limit=1000)
    page, proof = indexes.text.query(query, 2)
    expected = sorted(r for r, t in list(TEXTS.items())[10:]
                      if t.startswith("red") and not t.endswith(" 3"))
    assert page.ids == expected
    assert verify_text(root, query, page, proof, sha256).ids == expected
    store.close()


def test_state_sync_carries_the_keyword_index(tmp_path: Path) -> None:
    store, ordered, indexes, leaves = _grown(tmp_path / "a")
    imported = data.SyncImport(leaves, sha256)
    rounds = 0
    while not imported.done:
        refs = sorted(imported.wanted)[:64]
        for raw in data.read_index_nodes(ordered, indexes.range, refs, max_bytes=8192):
            imported.add(raw)
        rounds += 1
    assert rounds > 1
    fresh, fresh_ordered, fresh_indexes = _open(tmp_path / "b")
    batch = WriteBatch()
    imported.write(fresh_ordered, fresh_indexes, 2, batch)
    fresh.commit(batch)
    assert fresh_indexes.text.root(2) == indexes.text.root(2)
    assert fresh_ordered.root(2) == ordered.root(1)
    query = TextQuery(SCOPE, ("blue", "green"), any_of=True, limit=50)
    assert fresh_indexes.text.query(query, 2) == indexes.text.query(query, 2)
    # the joiner grows the index on from there like every other node
    for target in (fresh_indexes, indexes):
        batch = WriteBatch()
        target.apply(3, {"keyword": _entries({b"new": "red and blue"})}, batch)
        (fresh if target is fresh_indexes else store).commit(batch)
    assert fresh_indexes.text.root(3) == indexes.text.root(3)
    store.close()
    fresh.close()


def test_invalid_nodes_and_missing_ones_are_refused(tmp_path: Path) -> None:
    store, _, _, leaves = _grown(tmp_path / "a")
    imported = data.SyncImport(leaves, sha256)
    with pytest.raises(BadChunkError):
        imported.add(b"\x93\x01\x02\x03")  # no node anyone asked for
    fresh, fresh_ordered, fresh_indexes = _open(tmp_path / "b")
    only_text = data.SyncImport({k: v for k, v in leaves.items()
                                 if k == sha256(data.KEYWORD_ROOT_KEY)}, sha256)
    assert only_text.index.done and only_text.range.done and not only_text.done
    with pytest.raises(BadChunkError, match="keyword index nodes are missing"):
        only_text.write(fresh_ordered, fresh_indexes, 2, WriteBatch())
    store.close()
    fresh.close()
