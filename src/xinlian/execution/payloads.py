"""Payloads of the native transaction kinds: transfers, system-contract and contract operations.

System operations form a tagged union (the tag is the first array element), so one payload
type decodes any of them and an unknown operation is a typed decoding error.

Who may do what (enforced in execution.system):
- GrantSubmit / RevokeSubmit: any organisation admin.
- AddAdmin / RemoveAdmin: an admin of that organisation (an organisation keeps >= 1 admin).
- Propose(AddOrganisation | RemoveOrganisation | AddValidator | RemoveValidator): any admin;
  it takes effect once admins of more than two thirds of the organisations have approved
  (the proposer's counts), as consortium membership changes do in Fabric and FISCO BCOS.
  A validator change takes effect in consensus at the next epoch boundary.
- Propose(FreezeContract | UnfreezeContract): governance over contracts, approved the same
  way; a frozen contract refuses calls (as FISCO BCOS and ChainMaker allow).
- Propose(UpgradeContract(contract, code_hash)): approved the same way, it lets one UPGRADE
  transaction (from any account) install the code with that code hash on a contract whose
  code declares `upgrade by governance;`, at the version the contract has at enactment.
- Propose(ScheduleMigration | RecoverAccount): a suite migration, and a frozen account's
  key binding, approved the same way (execution/migration.py, docs/pq.md).
- Propose(RotateValidatorKeys): an admin of the validator's organisation registers its vote
  and node keys of a scheduled migration's target suite, approved the same way; the
  committee switches to them at an epoch boundary (execution/rotation.py, docs/pq.md).
- Propose(SetRegulator): the regulator key of confidential accounts and its members'
  accounts, approved the same way (execution/confidential.py, docs/privacy.md).
- BindKey: any account, during a scheduled migration, signed by its key and the new one.

Contract operations (kinds DEPLOY, CALL, UPGRADE, FUND, SET_ADMIN; enforced in
execution.contracts; who may upgrade: execution/contracts/authority.py):
`code` is a Wasm module and `abi` its ABI as JSON (what `xinlian qi compile --abi` writes);
`args` are ABI-encoded (lang.abi); `fuel_limit` bounds the run and, times the chain's
`fuel_price`, is reserved from the sender's balance at admission.
"""

from __future__ import annotations

from typing import Annotated

from xinlian.codec import Struct, at_most, exactly
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.execution.confidential_payloads import SetRegulator
from xinlian.ledger.genesis import Validator

Address = Annotated[bytes, exactly(20)]
Name = Annotated[bytes, at_most(64)]


class Transfer(Struct):
    to: Address
    amount: int
    memo: Annotated[bytes, at_most(256)] = b""


class GrantSubmit(Struct, tag="grant_submit"):
    address: Address


class RevokeSubmit(Struct, tag="revoke_submit"):
    address: Address


class AddAdmin(Struct, tag="add_admin"):
    organisation: str
    admin: PublicKey


class RemoveAdmin(Struct, tag="remove_admin"):
    organisation: str
    admin: PublicKey


class AddOrganisation(Struct, tag="add_org"):
    name: str
    admins: list[PublicKey]


class RemoveOrganisation(Struct, tag="remove_org"):
    name: str


class AddValidator(Struct, tag="add_validator"):
    validator: Validator


class RemoveValidator(Struct, tag="remove_validator"):
    node_key: PublicKey


class FreezeContract(Struct, tag="freeze_contract"):
    contract: Address


class UnfreezeContract(Struct, tag="unfreeze_contract"):
    contract: Address


class UpgradeContract(Struct, tag="upgrade_contract"):
    contract: Address
    code_hash: Annotated[bytes, exactly(32)]  # of the code record: wasm + ABI (records.py)


class ScheduleMigration(Struct, tag="schedule_migration"):
    """Move the chain's accounts from its suite's signature algorithm to `to_suite`'s from
    block `height`, both accepted for `window` blocks (execution/migration.py)."""

    to_suite: str
    height: int
    window: int


class RecoverAccount(Struct, tag="recover_account"):
    """Bind `key` to a frozen account whose owner never bound one (its old key no longer
    signs); `proof` is `key`'s signature of the binding message."""

    account: Address
    key: PublicKey
    proof: Signature


class RotateValidatorKeys(Struct, tag="rotate_validator_keys"):
    """Register validator `node`'s keys of a scheduled migration's target suite: its vote
    key `consensus_key` and its transport key `node_key`, each with its signature of the
    rotation message (execution/rotation.py), so neither new key is registered unproven."""

    node: Address
    consensus_key: PublicKey
    node_key: PublicKey
    consensus_proof: Signature
    node_proof: Signature


Change = (AddOrganisation | RemoveOrganisation | AddValidator | RemoveValidator
          | FreezeContract | UnfreezeContract | UpgradeContract | ScheduleMigration
          | RecoverAccount | RotateValidatorKeys | SetRegulator)


class Propose(Struct, tag="propose"):
    change: Change


class Approve(Struct, tag="approve"):
    proposal: Annotated[bytes, exactly(32)]  # the proposing transaction's hash


class BindKey(Struct, tag="bind_key"):
    """The sender's account binds `key` (of the migration's target suite); `proof` is
    `key`'s signature of the binding message, so both keys sign the binding."""

    key: PublicKey
    proof: Signature


SystemOp = GrantSubmit | RevokeSubmit | AddAdmin | RemoveAdmin | Propose | Approve | BindKey


class Deploy(Struct):
    code: bytes
    abi: bytes
    args: bytes
    fuel_limit: int


class Call(Struct):
    contract: Address
    method: str
    args: bytes
    fuel_limit: int


class Upgrade(Struct):
    contract: Address
    code: bytes
    abi: bytes
    fuel_limit: int  # for the new code's `migrate`


class Fund(Struct):
    contract: Address
    amount: int


class SetAdmin(Struct):
    contract: Address
    admin: Address  # the new admin; only the current admin may hand the role on
