"""The contracts' state layout in the authenticated state tree (docs/contracts.md).

- `ct/<addr 20>` -> `ContractInfo`;
- `code/<code hash>` -> `CodeRecord` (wasm + canonical ABI JSON), shared by every contract
  with that code: the code hash is the chain suite's hash of the record's encoding, so the
  same wasm deployed under another ABI (which decides its entry points) is other code;
- `cver/<addr 20><version u32 big-endian>` -> `VersionRecord`, one per version;
- `cs/<addr 20><storage key>` -> a storage value (the key the compiled code passes to
  `storage_read/write`, lang/storage.py);
- `cupg/<addr 20><version u32 big-endian><code hash>` -> `UpgradeApprovals`: the approvals
  gathered for upgrading the contract, at that version, to that code (authority.py). The
  version in the key makes approvals lapse once any upgrade has taken effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from xinlian import codec
from xinlian.codec import Struct
from xinlian.execution.errors import BadAbi
from xinlian.lang import abi as abi_codec
from xinlian.lang.types import ADDRESS_LEN
from xinlian.lang.upgrade_rule import UpgradeRule

CONTRACT_PREFIX = b"ct/"
CODE_PREFIX = b"code/"
VERSION_PREFIX = b"cver/"
STORAGE_PREFIX = b"cs/"
APPROVAL_PREFIX = b"cupg/"
ADDRESS_DOMAIN = b"xinlian/contract/v1"
MAX_ABI_BYTES = 128 * 1024  # bounds the parsing work (a chain's max_tx_size bounds more)
_ENTRY_KINDS = {"fn", "init", "migrate", "scheduled", "callback", "test"}


class ContractInfo(Struct):
    code_hash: bytes
    admin: bytes  # the deployer until it hands the role on (SET_ADMIN); may upgrade
    # when the code declares `upgrade by admin;` (the default)
    version: int  # 1 at deployment, +1 per upgrade
    frozen: bool  # by governance: a frozen contract refuses calls
    balance: int  # prepaid (FUND) for runs no account signs
    created_height: int


class CodeRecord(Struct):
    wasm: bytes
    abi: bytes  # the ABI as JSON text


class VersionRecord(Struct):
    code_hash: bytes
    height: int
    tx_hash: bytes


class UpgradeApprovals(Struct):
    governance: bool  # an UpgradeContract proposal was enacted for this code
    approvers: list[bytes]  # sorted: the listed addresses that approved so far


def contract_key(address: bytes) -> bytes:
    return CONTRACT_PREFIX + address


def code_key(code_hash: bytes) -> bytes:
    return CODE_PREFIX + code_hash


def version_key(address: bytes, version: int) -> bytes:
    return VERSION_PREFIX + address + version.to_bytes(4, "big")


def storage_key(address: bytes, key: bytes) -> bytes:
    return STORAGE_PREFIX + address + key


def approval_key(address: bytes, version: int, code_hash: bytes) -> bytes:
    return APPROVAL_PREFIX + address + version.to_bytes(4, "big") + code_hash


def canonical_abi(doc: dict[str, Any]) -> bytes:
    """The ABI as stored: JSON with sorted keys and no spaces."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def code_record(hash_bytes: Callable[[bytes], bytes], wasm: bytes,
                doc: dict[str, Any]) -> tuple[bytes, bytes]:
    """The code hash and the encoded `CodeRecord` of `wasm` under ABI `doc`."""
    record = codec.encode(CodeRecord(wasm, canonical_abi(doc)))
    return hash_bytes(record), record


def contract_address(hash_bytes: Callable[[bytes], bytes], sender: bytes, nonce: int) -> bytes:
    """Where a deploying transaction puts its contract: from its sender and nonce."""
    return hash_bytes(ADDRESS_DOMAIN + sender + nonce.to_bytes(8, "big"))[-ADDRESS_LEN:]


def parse_abi(raw: bytes) -> dict[str, Any]:
    """The ABI JSON of a deployment or upgrade, checked for the shape the engine relies
    on (functions with a kind and typed parameters; events, errors, storage as lists)."""
    if len(raw) > MAX_ABI_BYTES:
        raise BadAbi(f"the ABI is {len(raw)} bytes, more than {MAX_ABI_BYTES}")
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("functions"), list):
            raise BadAbi("the ABI must be an object with a `functions` list")
        for f in doc["functions"]:
            if not isinstance(f.get("name"), str) or f.get("kind") not in _ENTRY_KINDS:
                raise BadAbi(f"bad function entry {str(f)[:80]}")
            every = f.get("every")
            if f["kind"] == "scheduled" and (type(every) is not int or every < 1):
                raise BadAbi(f"scheduled function {f['name']!r} needs `every` >= 1 blocks")
            for p in f["params"]:
                abi_codec.type_from_json(p["type"])
            abi_codec.type_from_json(f["returns"])
        for section in ("events", "errors"):
            for entry in doc.get(section, []):
                for p in entry["params"]:
                    abi_codec.type_from_json(p["type"])
        if not isinstance(doc.get("storage", []), list):
            raise BadAbi("the ABI's `storage` must be a list")
        UpgradeRule.from_json(doc.get("upgrade"))
    except BadAbi:
        raise
    except Exception as exc:  # untrusted JSON: any malformation is a bad ABI
        raise BadAbi(f"the ABI does not parse: {type(exc).__name__}: {exc}") from None
    return doc
