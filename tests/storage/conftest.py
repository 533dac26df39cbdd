"""Shared helpers for the storage tests: an independent reference root, committing a tree
block, the crash writer."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from xinlian.storage.jmt import StateTree
from xinlian.storage.kv import Store, WriteBatch

Hasher = Callable[[bytes], bytes]
Commit = Callable[[Store, StateTree, int, dict[bytes, bytes | None]], bytes]
CRASH_WRITER = Path(__file__).with_name("storage_crash_writer.py")


def _reference_root(hasher: Hasher, state: dict[bytes, bytes]) -> bytes:
    """The root by the specification in proof.py, bit by bit, sharing no code with the tree
    (the hash rules are spelled out here again on purpose)."""
    leaves = sorted((hasher(k), v) for k, v in state.items())

    def bit(path: bytes, i: int) -> int:
        return (path[i // 8] >> (7 - i % 8)) & 1

    def subtree(entries: list[tuple[bytes, bytes]], depth: int) -> bytes:
        if not entries:
            return bytes(32)
        if len(entries) == 1 and depth % 4 == 0:
            path, value = entries[0]
            return hasher(b"\x00" + path + hasher(value))
        left = subtree([e for e in entries if bit(e[0], depth) == 0], depth + 1)
        right = subtree([e for e in entries if bit(e[0], depth) == 1], depth + 1)
        if left == right == bytes(32):
            return bytes(32)
        return hasher(b"\x01" + left + right)

    return subtree(leaves, 0)


@pytest.fixture(scope="session")
def reference_root() -> Callable[[Hasher, dict[bytes, bytes]], bytes]:
    return _reference_root


def _commit(store: Store, tree: StateTree, version: int,
            updates: dict[bytes, bytes | None]) -> bytes:
    batch = WriteBatch()
    root = tree.apply(version, updates, batch)
    store.commit(batch)
    return root


@pytest.fixture(scope="session")
def commit_block() -> Commit:
    """Apply one block of updates to a tree and commit it; returns the root."""
    return _commit


@pytest.fixture(scope="session")
def crash_writer() -> ModuleType:
    """The crash writer module (also run as a child process by the crash test)."""
    spec = importlib.util.spec_from_file_location("storage_crash_writer", CRASH_WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
