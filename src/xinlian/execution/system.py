"""The membership and permissions system contract.

State it keeps (keys in the world state, so they are proven like any account):
  sys/orgs            the organisations and their admin keys (list[Organisation])
  sys/admin/<addr>    the organisation an admin address belongs to
  sys/perm/<addr>     present when the address may submit transactions
  sys/validators      the consensus members (list[Validator]); empty on a solo chain
  sys/prop/<hash>     an open proposal (organisation or validator change) with approvals
  sys/pq/...          a suite migration's schedule and key bindings (execution/migration.py)
                      and validators' rotated keys (execution/rotation.py)
Admins may always submit. The rules for each operation are in execution.payloads.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.suites import Suite
from xinlian.execution.confidential import check_regulator, set_regulator
from xinlian.execution.confidential_payloads import SetRegulator
from xinlian.execution.contracts.authority import approve_by_governance
from xinlian.execution.contracts.world import set_frozen
from xinlian.execution.errors import InvalidOperation, Unauthorised
from xinlian.execution.migration import bind_key, check_schedule, enact_schedule
from xinlian.execution.payloads import (
    AddAdmin,
    AddOrganisation,
    AddValidator,
    Approve,
    BindKey,
    Change,
    FreezeContract,
    GrantSubmit,
    Propose,
    RecoverAccount,
    RemoveAdmin,
    RemoveValidator,
    RevokeSubmit,
    RotateValidatorKeys,
    ScheduleMigration,
    SystemOp,
    UnfreezeContract,
    UpgradeContract,
)
from xinlian.execution.rotation import check_rotation, enact_rotation
from xinlian.execution.state import Overlay
from xinlian.ledger.account import address_of
from xinlian.ledger.block import Event
from xinlian.ledger.genesis import Genesis, Organisation, Validator, check_validator
from xinlian.ledger.transaction import Transaction

ORGS_KEY = b"sys/orgs"
VALIDATORS_KEY = b"sys/validators"
ADMIN_PREFIX = b"sys/admin/"
PERM_PREFIX = b"sys/perm/"
PROPOSAL_PREFIX = b"sys/prop/"
PERMITTED = b"\x01"

Hasher = Callable[[bytes], bytes]


class Proposal(Struct):
    change: Change
    approvals: list[str]  # organisation names, sorted


def genesis_writes(genesis: Genesis) -> dict[bytes, bytes]:
    """The system contract's initial state: organisations, admins and permitted accounts."""
    h = genesis.crypto_suite().hash_bytes
    writes = {ORGS_KEY: codec.encode(genesis.organisations),
              VALIDATORS_KEY: codec.encode(genesis.validators)}
    for org in genesis.organisations:
        for admin in org.admins:
            writes[ADMIN_PREFIX + address_of(admin, h)] = org.name.encode()
    for acct in genesis.accounts:
        writes[PERM_PREFIX + acct.address] = PERMITTED
    return writes


def organisations(read: Callable[[bytes], bytes | None]) -> list[Organisation]:
    """The organisations and their admins as the state holds them (genesis, then
    governance: AddOrganisation, RemoveOrganisation, AddAdmin, RemoveAdmin)."""
    raw = read(ORGS_KEY)
    return [] if raw is None else codec.decode(raw, list[Organisation])


def validators(read: Callable[[bytes], bytes | None]) -> list[Validator]:
    raw = read(VALIDATORS_KEY)
    return [] if raw is None else codec.decode(raw, list[Validator])


def is_permitted(read: Callable[[bytes], bytes | None], address: bytes) -> bool:
    return read(PERM_PREFIX + address) is not None or read(ADMIN_PREFIX + address) is not None


class SystemContract:
    def __init__(self, suite: Suite) -> None:
        self._suite = suite
        self._hash = suite.hash_bytes

    def _orgs(self, state: Overlay) -> list[Organisation]:
        return organisations(state.get)

    def _admin_org(self, state: Overlay, address: bytes) -> str:
        org = state.get(ADMIN_PREFIX + address)
        if org is None:
            raise Unauthorised("only an organisation admin may do this")
        return org.decode()

    def execute(self, state: Overlay, tx: Transaction, height: int, op: SystemOp
                ) -> list[Event]:
        """Run `op`, sent by `tx` in block `height`."""
        sender, tx_hash = tx.sender_address, tx.hash
        if isinstance(op, BindKey):  # any account binds its own key
            return bind_key(state, self._hash, tx.body.chain_id, sender, op.key, op.proof,
                            tx.body.sender.alg)
        org = self._admin_org(state, sender)
        if isinstance(op, GrantSubmit):
            state.set(PERM_PREFIX + op.address, PERMITTED)
            return [Event("system", "SubmitGranted", op.address)]
        if isinstance(op, RevokeSubmit):
            state.set(PERM_PREFIX + op.address, None)
            return [Event("system", "SubmitRevoked", op.address)]
        if isinstance(op, AddAdmin | RemoveAdmin):
            if op.organisation != org:
                raise Unauthorised("admins manage only their own organisation")
            return self._change_admin(state, op)
        if isinstance(op, Propose):
            if isinstance(op.change, ScheduleMigration):  # refused before it is proposed
                check_schedule(state.get, self._suite, op.change, height)
            if isinstance(op.change, RotateValidatorKeys):
                rotated = check_rotation(state.get, self._hash, tx.body.chain_id,
                                         validators(state.get), op.change)
                if rotated.organisation != org:
                    raise Unauthorised("only an admin of the validator's organisation "
                                       "rotates its keys")
            if isinstance(op.change, SetRegulator):  # refused before it is proposed
                check_regulator(state.get, op.change)
            proposal = Proposal(op.change, [org])
            return self._maybe_enact(state, tx_hash, proposal, tx.body.chain_id, height)
        return self._approve(state, org, op, tx.body.chain_id, height)

    def _change_admin(self, state: Overlay, op: AddAdmin | RemoveAdmin) -> list[Event]:
        orgs = self._orgs(state)
        target = next(o for o in orgs if o.name == op.organisation)
        address = address_of(op.admin, self._hash)
        if isinstance(op, AddAdmin):
            if state.get(ADMIN_PREFIX + address) is not None:
                raise InvalidOperation("that key is already an admin")
            admins = [*target.admins, op.admin]
            state.set(ADMIN_PREFIX + address, op.organisation.encode())
        else:
            if op.admin not in target.admins:
                raise InvalidOperation("that key is not an admin of the organisation")
            if len(target.admins) == 1:
                raise InvalidOperation("an organisation keeps at least one admin")
            admins = [a for a in target.admins if a != op.admin]
            state.set(ADMIN_PREFIX + address, None)
        updated = [Organisation(o.name, admins) if o is target else o for o in orgs]
        state.set(ORGS_KEY, codec.encode(updated))
        name = "AdminAdded" if isinstance(op, AddAdmin) else "AdminRemoved"
        return [Event("system", name, codec.encode(op.admin))]

    def _approve(self, state: Overlay, org: str, op: Approve, chain_id: str,
                 height: int) -> list[Event]:
        raw = state.get(PROPOSAL_PREFIX + op.proposal)
        if raw is None:
            raise InvalidOperation("no open proposal with that id")
        proposal = codec.decode(raw, Proposal)
        if org in proposal.approvals:
            raise InvalidOperation("this organisation has already approved")
        return self._maybe_enact(state, op.proposal,
                                 Proposal(proposal.change, sorted([*proposal.approvals, org])),
                                 chain_id, height)

    def _maybe_enact(self, state: Overlay, pid: bytes, proposal: Proposal, chain_id: str,
                     height: int) -> list[Event]:
        """Record `proposal`'s approvals, or enact it in block `height` of chain `chain_id`
        once more than two thirds of the organisations approve."""
        orgs = self._orgs(state)
        if 3 * len(proposal.approvals) <= 2 * len(orgs):
            state.set(PROPOSAL_PREFIX + pid, codec.encode(proposal))
            return [Event("system", "ProposalOpen", pid)]
        state.set(PROPOSAL_PREFIX + pid, None)
        change = proposal.change
        if isinstance(change, AddValidator | RemoveValidator):
            return self._change_validators(state, orgs, change)
        if isinstance(change, FreezeContract | UnfreezeContract):
            frozen = isinstance(change, FreezeContract)
            set_frozen(state, change.contract, frozen)
            return [Event("system", "ContractFrozen" if frozen else "ContractUnfrozen",
                          change.contract)]
        if isinstance(change, ScheduleMigration):
            return enact_schedule(state, check_schedule(state.get, self._suite, change, height))
        if isinstance(change, RecoverAccount):
            return bind_key(state, self._hash, chain_id, change.account, change.key,
                            change.proof, None)
        if isinstance(change, RotateValidatorKeys):
            check_rotation(state.get, self._hash, chain_id, validators(state.get), change)
            return enact_rotation(state, change)
        if isinstance(change, SetRegulator):
            return set_regulator(state, change)
        if isinstance(change, UpgradeContract):
            approve_by_governance(state, change.contract, change.code_hash)
            return [Event("system", "ContractUpgradeApproved",
                          codec.encode([change.contract, change.code_hash]))]
        if isinstance(change, AddOrganisation):
            if any(o.name == change.name for o in orgs) or not change.admins:
                raise InvalidOperation("organisation exists already, or has no admin")
            for admin in change.admins:
                key = ADMIN_PREFIX + address_of(admin, self._hash)
                if state.get(key) is not None:
                    raise InvalidOperation("an admin of the new organisation is one already")
                state.set(key, change.name.encode())
            orgs = [*orgs, Organisation(change.name, list(change.admins))]
        else:
            gone = next((o for o in orgs if o.name == change.name), None)
            if gone is None or len(orgs) == 1:
                raise InvalidOperation("no such organisation, or it is the last one")
            if any(v.organisation == gone.name for v in validators(state.get)):
                raise InvalidOperation("remove the organisation's validators first")
            for admin in gone.admins:
                state.set(ADMIN_PREFIX + address_of(admin, self._hash), None)
            orgs = [o for o in orgs if o is not gone]
        state.set(ORGS_KEY, codec.encode(orgs))
        return [Event("system", "OrganisationAdded" if isinstance(change, AddOrganisation)
                      else "OrganisationRemoved", change.name.encode())]

    def _change_validators(self, state: Overlay, orgs: list[Organisation],
                           change: AddValidator | RemoveValidator) -> list[Event]:
        current = validators(state.get)
        if isinstance(change, AddValidator):
            new = change.validator
            if any(v.node_key == new.node_key for v in current):
                raise InvalidOperation("that node is a validator already")
            try:
                check_validator(self._suite, new, {o.name for o in orgs})
            except (CryptoError, ValueError) as exc:
                raise InvalidOperation(f"invalid validator: {exc}") from exc
            updated, name, key = [*current, new], "ValidatorAdded", new.node_key
        else:
            updated = [v for v in current if v.node_key != change.node_key]
            if len(updated) == len(current):
                raise InvalidOperation("that node is not a validator")
            if not updated:
                raise InvalidOperation("a BFT chain keeps at least one validator")
            name, key = "ValidatorRemoved", change.node_key
        state.set(VALIDATORS_KEY, codec.encode(updated))
        return [Event("system", name, codec.encode(key))]
