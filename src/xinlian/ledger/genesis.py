"""Genesis: the chain id, its crypto suite, chain parameters, organisations and accounts.

`xinlian init` reads a TOML file into `Genesis`; its canonical encoding's hash becomes the
parent hash of block 0, so every node of a chain agrees on it byte for byte.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import check_public_key
from xinlian.crypto.suites import Suite, get_suite
from xinlian.ledger.account import ADDRESS_SIZE, address_of
from xinlian.ledger.errors import InvalidGenesis

# Fees are burned and nothing mints, so no balance can exceed the genesis supply, which
# keeps every balance inside the codec's 64-bit integers.
MAX_SUPPLY = 2**63 - 1
MIN_EPOCH_BLOCKS = 8  # an epoch change costs a round trip and a proof: not every block


class ChainParams(Struct):
    block_interval_ms: int = 200      # a block every interval, or sooner when full
    max_block_txs: int = 5000
    max_tx_size: int = 32 * 1024
    nonce_window: int = 64            # how far ahead of the account nonce the mempool admits
    transfer_cost: int = 1            # resource units charged for a transfer
    system_cost: int = 10             # ... and for a system-contract call
    mempool_capacity: int = 200_000   # transactions held at most
    permissioned: bool = True         # only permitted accounts may submit
    fuel_price: int = 1               # resource units charged per million fuel a contract burns
    code_byte_cost: int = 1           # ... and per byte of contract code deployed or upgraded
    data_byte_cost: int = 1           # ... and per payload byte of a data transaction
    # a BFT chain starts a new epoch (the same committee) every this many ledger blocks, so
    # validators can prune consensus data and ledger below it (0: only when governance
    # changes the committee; docs/consensus.md "Periodic epochs")
    epoch_blocks: int = 0


class Organisation(Struct):
    name: str
    admins: list[PublicKey]


class Validator(Struct):
    """A consensus member, owned by an organisation.

    `node_key` (the chain suite's signature algorithm) authenticates the node to its peers;
    `consensus_key` signs its votes with the suite's `vote` algorithm: a BLS12-381 key with
    its proof of possession `pop` where certificates aggregate (`intl`), otherwise a key of
    the suite's signature algorithm (SM2 for `sm`, ML-DSA-65 for `pq`, which stays
    post-quantum) and an empty pop.
    """

    organisation: str
    node_key: PublicKey
    consensus_key: bytes
    pop: bytes
    power: int = 1
    endpoint: str = ""  # host:port where its peers reach it


def check_validator(suite: Suite, validator: Validator, organisations: set[str]) -> None:
    """Raise InvalidKey or ValueError unless the validator can join a committee."""
    if validator.organisation not in organisations:
        raise ValueError(f"no organisation {validator.organisation!r}")
    if not 0 < validator.power < 2**32:
        raise ValueError("voting power must be in 1..2^32-1")
    check_public_key(validator.node_key)
    if validator.node_key.alg != suite.signature:
        raise ValueError("the node key must use the chain suite's signature algorithm")
    suite.check_vote_key(validator.consensus_key, validator.pop)


class GenesisAccount(Struct):
    address: bytes
    balance: int


class Genesis(Struct):
    chain_id: str
    suite: str
    timestamp_ms: int
    params: ChainParams
    organisations: list[Organisation]
    accounts: list[GenesisAccount]
    # None: the chain orders with one node (solo).
    validators: list[Validator] = msgspec.field(default_factory=list)

    def crypto_suite(self) -> Suite:
        return get_suite(self.suite)

    def hash(self) -> bytes:
        return self.crypto_suite().hash_bytes(codec.encode(self))


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidGenesis(f"{what} must be a hex string")
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise InvalidGenesis(f"{what} is not valid hex: {value!r}") from None


def _public_key(suite: Suite, value: Any, what: str) -> PublicKey:
    key = PublicKey(suite.signature, _hex(value, what))
    try:
        check_public_key(key)
    except CryptoError as exc:
        raise InvalidGenesis(f"{what}: {exc.message}") from exc
    return key


def _params(values: Any) -> ChainParams:
    if not isinstance(values, dict):
        raise InvalidGenesis("params must be a table")
    unknown = set(values) - set(ChainParams.__struct_fields__)
    if unknown:
        raise InvalidGenesis(f"unknown params: {sorted(unknown)}")
    try:
        # The round trip through the canonical codec checks every field's type.
        params = codec.decode(codec.encode(ChainParams(**values)), ChainParams)
    except codec.CodecError as exc:
        raise InvalidGenesis(f"params: {exc.message}") from exc
    check_epoch_blocks(params.epoch_blocks)
    return params


def check_epoch_blocks(epoch_blocks: int) -> None:
    if epoch_blocks != 0 and epoch_blocks < MIN_EPOCH_BLOCKS:
        raise InvalidGenesis(f"params: epoch_blocks must be 0 (epochs change with the "
                             f"committee only) or at least {MIN_EPOCH_BLOCKS}")


def genesis_from_dict(doc: dict[str, Any]) -> Genesis:
    """Build and validate a Genesis from a parsed config (see docs/node.md for the format)."""
    try:
        chain_id = doc["chain_id"]
        suite = get_suite(doc.get("suite", "sm"))
    except KeyError as exc:
        raise InvalidGenesis(f"missing field {exc.args[0]!r}") from None
    except CryptoError as exc:
        raise InvalidGenesis(exc.message) from exc
    if not isinstance(chain_id, str) or not 0 < len(chain_id) <= 64:
        raise InvalidGenesis("chain_id must be a string of 1 to 64 characters")
    params = _params(doc.get("params", {}))
    orgs = []
    for i, org in enumerate(doc.get("organisations", [])):
        admins = [_public_key(suite, k, f"organisations[{i}].admins")
                  for k in org.get("admins", [])]
        if not admins:
            raise InvalidGenesis(f"organisation {org.get('name')!r} needs at least one admin")
        orgs.append(Organisation(str(org["name"]), admins))
    if not orgs:
        raise InvalidGenesis("a consortium chain needs at least one organisation")
    accounts = []
    for i, acct in enumerate(doc.get("accounts", [])):
        if "key" in acct:
            address = address_of(_public_key(suite, acct["key"], f"accounts[{i}].key"),
                                 suite.hash_bytes)
        else:
            address = _hex(acct.get("address"), f"accounts[{i}].address")
        balance = acct.get("balance", 0)
        if len(address) != ADDRESS_SIZE or not isinstance(balance, int) or balance < 0:
            raise InvalidGenesis(f"accounts[{i}] needs a 20-byte address and a balance >= 0")
        accounts.append(GenesisAccount(address, balance))
    if len({a.address for a in accounts}) != len(accounts):
        raise InvalidGenesis("an address appears twice in accounts")
    if sum(a.balance for a in accounts) > MAX_SUPPLY:
        raise InvalidGenesis(f"total supply exceeds {MAX_SUPPLY}")
    validators = [_validator(suite, v, i, {o.name for o in orgs})
                  for i, v in enumerate(doc.get("validators", []))]
    if len({v.node_key for v in validators}) != len(validators):
        raise InvalidGenesis("a node key appears twice in validators")
    return Genesis(chain_id, suite.name, int(doc.get("timestamp_ms", 0)), params, orgs,
                   accounts, validators)


def _validator(suite: Suite, doc: Any, i: int, organisations: set[str]) -> Validator:
    where = f"validators[{i}]"
    if not isinstance(doc, dict):
        raise InvalidGenesis(f"{where} must be a table")
    power = doc.get("power", 1)
    node_key = PublicKey(suite.signature, _hex(doc.get("node_key"), where + ".node_key"))
    validator = Validator(
        str(doc.get("organisation", "")), node_key,
        _hex(doc.get("consensus_key"), where + ".consensus_key"),
        _hex(doc["pop"], where + ".pop") if doc.get("pop") else b"",
        power if isinstance(power, int) else -1, str(doc.get("endpoint", "")))
    try:
        check_validator(suite, validator, organisations)
    except (CryptoError, ValueError) as exc:
        raise InvalidGenesis(f"{where}: {exc}") from exc
    return validator


def load_genesis(path: str | Path) -> Genesis:
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidGenesis(f"cannot read {path}: {exc}") from exc
    return genesis_from_dict(doc)
