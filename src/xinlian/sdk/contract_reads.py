"""A contract's record, versions and code, proven or as the node says.

With `verify`, nothing is taken from the node's contract methods: each record is read by
`xl_getStateProof` from the chain's state layout (execution.contracts.records: `ct/` the
contract, `code/` its code and ABI, `cver/` each version) and checked against a header
signed by the trusted node key, then decoded here. The results have the same types as
the node's own answers (`xl_getContract`, `xl_getContractVersions`, `xl_getContractCode`),
which are what `verify=False` returns.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from xinlian import codec
from xinlian.execution.contracts.records import (
    CodeRecord,
    ContractInfo,
    VersionRecord,
    code_key,
    contract_key,
    version_key,
)
from xinlian.node.interface import CodeView, ContractView, StateProof, VersionView
from xinlian.sdk import calls
from xinlian.sdk.errors import NoContract, ProofError
from xinlian.sdk.ops import Op, Ops

R = TypeVar("R")


def _decode(proof: StateProof, type_: type[R], what: str) -> R:
    assert proof.value is not None
    try:
        return codec.decode(proof.value, type_)
    except codec.CodecError as exc:
        raise ProofError(f"the proven {what} does not decode: {exc.message}") from None


def _abi(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProofError(f"the proven ABI is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ProofError("the proven ABI is not a JSON object")
    return doc


def info(ops: Ops, address: bytes, height: int | None, verify: bool) -> Op[ContractView]:
    """The contract's record and its current code's ABI (NoContract if there is none)."""
    if not verify:
        view: ContractView | None = yield calls.contract_info(address, height)
        if view is None:
            raise NoContract(f"no contract at 0x{address.hex()}")
        return view
    proof = yield from ops.state_proof(contract_key(address), height, True)
    if proof.value is None:
        raise NoContract(f"no contract at 0x{address.hex()} (proven absent at block "
                         f"{proof.header.height})")
    record = _decode(proof, ContractInfo, "contract record")
    at = proof.header.height
    code = yield from code_at(ops, record.code_hash, at)
    return ContractView(address, at, record.code_hash, record.admin, record.version,
                        record.frozen, record.balance, record.created_height, code.abi)


def code_at(ops: Ops, code_hash: bytes, height: int | None) -> Op[CodeView]:
    """The proven code record: the wasm (whose hash is the key's) and its ABI."""
    proof = yield from ops.state_proof(code_key(code_hash), height, True)
    if proof.value is None:
        raise NoContract(f"no code with hash 0x{code_hash.hex()}")
    record = _decode(proof, CodeRecord, "code record")
    verifier = yield from ops.trusted()
    if verifier.suite.hash_bytes(record.wasm) != code_hash:
        raise ProofError("the proven code does not hash to its code hash")
    return CodeView(code_hash, record.wasm, _abi(record.abi))


def code(ops: Ops, code_hash: bytes, verify: bool) -> Op[CodeView]:
    if verify:
        return (yield from code_at(ops, code_hash, None))
    view: CodeView | None = yield calls.contract_code(code_hash)
    if view is None:
        raise NoContract(f"no code with hash 0x{code_hash.hex()}")
    return view


def versions(ops: Ops, address: bytes, verify: bool) -> Op[list[VersionView]]:
    """Every version of the contract, oldest first; proven: the contract's record gives
    the count, and each version's record is proven at the same block (one batch)."""
    if not verify:
        views: list[VersionView] = yield calls.contract_versions(address)
        if not views:
            raise NoContract(f"no contract at 0x{address.hex()}")
        return views
    head = yield from ops.state_proof(contract_key(address), None, True)
    if head.value is None:
        raise NoContract(f"no contract at 0x{address.hex()} (proven absent at block "
                         f"{head.header.height})")
    count = _decode(head, ContractInfo, "contract record").version
    proofs: list[StateProof] = yield [calls.state_proof(version_key(address, v),
                                                        head.header.height)
                                      for v in range(1, count + 1)]
    verifier = yield from ops.trusted()
    out = []
    for version, proof in enumerate(proofs, start=1):
        if proof.key != version_key(address, version):
            raise ProofError(f"the proof of version {version} is for another key")
        verifier.state(proof)
        if proof.value is None:
            raise ProofError(f"version {version} of 0x{address.hex()} is proven absent")
        rec = _decode(proof, VersionRecord, "version record")
        out.append(VersionView(version, rec.code_hash, rec.height, rec.tx_hash))
    return out
