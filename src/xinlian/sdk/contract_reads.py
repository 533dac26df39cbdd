"""A contract's record, versions and code, proven or as the node says.

With `verify`, nothing is taken from the node's contract methods: each record is read by
`xl_getStateProof` from the chain's state layout (execution.contracts.records: `ct/` the
contract, `code/` its code and ABI under the hash of that record, `cver/` each version),
checked against a header signed by the trusted node key, then decoded here. The results
have the same types as the node's own answers (`xl_getContract`, `xl_getContractVersions`,
`xl_getContractCode`), which are what `verify=False` returns.
"""

from __future__ import annotations

from typing import TypeVar

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
from xinlian.node.interface import CodeView, ContractView, StateProof, VersionView
from xinlian.sdk import calls
from xinlian.sdk.contract_abi import ContractAbi
from xinlian.sdk.errors import NoContract, ProofError
from xinlian.sdk.ops import Op, Ops

R = TypeVar("R")


def _decode(proof: StateProof, type_: type[R], what: str) -> R:
    assert proof.value is not None
    try:
        return codec.decode(proof.value, type_)
    except codec.CodecError as exc:
        raise ProofError(f"the proven {what} does not decode: {exc.message}") from None


def record(ops: Ops, address: bytes, height: int | None) -> Op[tuple[ContractInfo, int]]:
    """The contract's proven record and the block it is proven at."""
    proof = yield from ops.state_proof(contract_key(address), height, True)
    if proof.value is None:
        raise NoContract(f"no contract at 0x{address.hex()} (proven absent at block "
                         f"{proof.header.height})")
    return _decode(proof, ContractInfo, "contract record"), proof.header.height


def info(ops: Ops, address: bytes, height: int | None, verify: bool) -> Op[ContractView]:
    """The contract's record and its current code's ABI (NoContract if there is none)."""
    if not verify:
        view: ContractView | None = yield calls.contract_info(address, height)
        if view is None:
            raise NoContract(f"no contract at 0x{address.hex()}")
        return view
    rec, at = yield from record(ops, address, height)
    code = yield from code_at(ops, rec.code_hash, at)
    return ContractView(address, at, rec.code_hash, rec.admin, rec.version, rec.frozen,
                        rec.balance, rec.created_height, code.abi, rule_of(code.abi).to_json())


def code_at(ops: Ops, code_hash: bytes, height: int | None) -> Op[CodeView]:
    """The proven code record: the wasm (whose hash is the key's) and its ABI."""
    proof = yield from ops.state_proof(code_key(code_hash), height, True)
    if proof.value is None:
        raise NoContract(f"no code with hash 0x{code_hash.hex()}")
    code = _decode(proof, CodeRecord, "code record")
    verifier = yield from ops.trusted()
    assert proof.value is not None
    if verifier.suite.hash_bytes(proof.value) != code_hash:  # the record is its hash's
        raise ProofError("the proven code record does not hash to its code hash")
    return CodeView(code_hash, code.wasm, ContractAbi.of(code.abi).doc)


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
    rec, at = yield from record(ops, address, None)
    proofs: list[StateProof] = yield [calls.state_proof(version_key(address, v), at)
                                      for v in range(1, rec.version + 1)]
    verifier = yield from ops.trusted()
    out = []
    for version, proof in enumerate(proofs, start=1):
        if proof.key != version_key(address, version):
            raise ProofError(f"the proof of version {version} is for another key")
        verifier.state(proof)
        if proof.value is None:
            raise ProofError(f"version {version} of 0x{address.hex()} is proven absent")
        ver = _decode(proof, VersionRecord, "version record")
        out.append(VersionView(version, ver.code_hash, ver.height, ver.tx_hash))
    return out
