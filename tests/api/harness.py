"""Test harness shared by tests/api and tests/sdk: keys, a genesis, and a real node served
by a real RpcServer on 127.0.0.1 (an ephemeral port), in this thread's event loop or in a
background thread for the blocking client. tests/sdk loads this file by path.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from xinlian import codec
from xinlian.api.limits import Limits
from xinlian.api.server import RpcServer
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import Transfer
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import ChainParams, Genesis, GenesisAccount, Organisation
from xinlian.ledger.transaction import SignedTransaction, TxBody, TxKind, sign_body
from xinlian.node.service import Node

T = TypeVar("T")
CHAIN_ID = "test-chain"
NAMES = ("admin", "alice", "bob", "carol")


class Keys:
    """Deterministic keys of one suite: the node's and four accounts'."""

    def __init__(self, suite: str) -> None:
        self.suite = get_suite(suite)
        self.node = self.suite.generate_signing_key(bytes(32))
        self.by_name = {name: self.suite.generate_signing_key(bytes([i + 1]) * 32)
                        for i, name in enumerate(NAMES)}
        self.address = {name: address_of(key.public_key, self.suite.hash_bytes)
                        for name, key in self.by_name.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["by_name"][name]
        except KeyError:
            raise AttributeError(name) from None


def make_genesis(keys: Keys, *, block_interval_ms: int = 10) -> Genesis:
    """Admin, alice and bob are funded and permitted; carol is not on the chain."""
    params = ChainParams(block_interval_ms=block_interval_ms)
    return Genesis(CHAIN_ID, keys.suite.name, 0, params,
                   [Organisation("org1", [keys.admin.public_key])],
                   [GenesisAccount(keys.address["admin"], 1_000_000),
                    GenesisAccount(keys.address["alice"], 1000),
                    GenesisAccount(keys.address["bob"], 0)])


def transfer(keys: Keys, sender: str = "alice", to: str = "bob", amount: int = 1,
             nonce: int = 0, chain: str = CHAIN_ID, memo: bytes = b"") -> bytes:
    key = keys.by_name[sender]
    body = TxBody(chain, key.public_key, nonce, TxKind.TRANSFER,
                  codec.encode(Transfer(keys.address[to], amount, memo)), 1, 1000)
    return sign_body(body, key)


def tx_hash(keys: Keys, raw: bytes) -> bytes:
    return keys.suite.hash_bytes(codec.decode(raw, SignedTransaction).body)


def hx(data: bytes) -> str:
    return "0x" + data.hex()


@asynccontextmanager
async def serving(path: Path, keys: Keys, *, produce: bool = True,
                  limits: Limits | None = None) -> AsyncIterator[tuple[Node, RpcServer]]:
    """A real node (producing blocks on its own when `produce`) behind a real server."""
    node = Node(path, make_genesis(keys), keys.node)
    server = RpcServer(node, limits=limits)
    if produce:
        await node.start()
    await server.start()
    try:
        yield node, server
    finally:
        await server.stop()
        await node.stop()


class Background:
    """`serving` in a thread of its own, so that blocking clients can call it."""

    def __init__(self, path: Path, keys: Keys) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._context = serving(path, keys)
        self.node, self.server = self.run(self._context.__aenter__())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the node's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def close(self) -> None:
        self.run(self.server.stop())  # the current server, should a test have replaced it
        self.run(self._context.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
