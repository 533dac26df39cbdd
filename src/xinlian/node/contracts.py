"""Contract reads for the RPC: read-only queries, records, versions and code, at a height.

Everything reads the state tree at the chosen block's version (`jmt.StateTree.get(key,
version)`), so a query sees exactly the state that block's header commits to. A query runs
on a throw-away overlay with QUERY_FUEL (no transaction, nothing written, nothing charged)
through the same `ContractRunner` as the block's transactions.
"""

from __future__ import annotations

import json
from typing import Any

from xinlian import codec
from xinlian.execution.contracts.authority import rule_of
from xinlian.execution.contracts.records import (
    CodeRecord,
    ContractInfo,
    VersionRecord,
    code_key,
    contract_key,
    version_key,
)
from xinlian.execution.contracts.runner import BlockContext, ContractRunner
from xinlian.execution.contracts.world import BlockHashes
from xinlian.execution.state import Overlay
from xinlian.lang.types import ADDRESS_LEN
from xinlian.node.chain import ChainStore
from xinlian.node.errors import NotFound
from xinlian.node.interface import CodeView, ContractView, QueryResult, VersionView

QUERY_FUEL = 200_000_000  # about 10 ms of work: a query runs on the node's event loop
_INT64 = 1 << 63


def value_json(value: Any) -> Any:
    """A decoded ABI value as JSON: bytes and addresses as 0x hex, integers beyond 64 bits
    as decimal strings, structs as objects, lists as arrays, none as null."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, list | tuple):
        return [value_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): value_json(v) for k, v in value.items()}
    return value


class ContractReader:
    def __init__(self, chain: ChainStore, runner: ContractRunner) -> None:
        self.chain = chain
        self.runner = runner

    def _height(self, height: int | None) -> int:
        height = self.chain.height if height is None else height
        if not 0 <= height <= self.chain.height:
            raise NotFound(f"no block at height {height}")
        return height

    def _reader(self, height: int) -> Overlay:
        tree = self.chain.tree
        return Overlay(lambda key: tree.get(key, height))

    def query(self, address: bytes, method: str, args: bytes, height: int | None = None,
              caller: bytes = bytes(ADDRESS_LEN)) -> QueryResult:
        """Run public method `method` read-only against the state of block `height`."""
        height = self._height(height)
        header = self.chain.header(height)
        assert header is not None
        block = BlockContext(height, header.header.timestamp_ms,
                             BlockHashes(self.chain.header_hash))
        out = self.runner.query(self._reader(height), block, address, method, args, caller,
                                QUERY_FUEL)
        err = out.error
        return QueryResult(height, "ok" if err is None else "error",
                           None if err is None else err.to_dict(),
                           "" if err is None else err.message.split("\n")[0], out.trace,
                           out.output, value_json(out.value), out.fuel_used)

    def info(self, address: bytes, height: int | None = None) -> ContractView | None:
        height = self._height(height)
        read = self._reader(height).get
        raw = read(contract_key(address))
        if raw is None:
            return None
        info = codec.decode(raw, ContractInfo)
        code = read(code_key(info.code_hash))
        abi = {} if code is None else json.loads(codec.decode(code, CodeRecord).abi)
        return ContractView(address, height, info.code_hash, info.admin, info.version,
                            info.frozen, info.balance, info.created_height, abi,
                            rule_of(abi).to_json())

    def versions(self, address: bytes) -> list[VersionView]:
        """Every version of the contract, oldest first (empty: no contract)."""
        info = self.info(address)
        if info is None:
            return []
        out = []
        for version in range(1, info.version + 1):
            raw = self.chain.read(version_key(address, version))
            if raw is not None:
                rec = codec.decode(raw, VersionRecord)
                out.append(VersionView(version, rec.code_hash, rec.height, rec.tx_hash))
        return out

    def code(self, code_hash: bytes) -> CodeView | None:
        raw = self.chain.read(code_key(code_hash))
        if raw is None:
            return None
        record = codec.decode(raw, CodeRecord)
        return CodeView(code_hash, record.wasm, json.loads(record.abi))
