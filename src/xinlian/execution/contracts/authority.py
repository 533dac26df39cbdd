"""Who may upgrade a contract: the rule the ABI of its deployed code declares.

The rule in force is the current code's (lang/upgrade_rule.py; absent: `admin`), so a
contract's authors choose it and an upgrade may change it for the next upgrade:

- `admin`: the contract's admin (`ContractInfo.admin`), alone, in one UPGRADE transaction;
- `governance`: an UpgradeContract(contract, code hash) proposal enacted by > 2/3 of the
  organisations records an approval; then one UPGRADE transaction, from any account,
  carrying that code, applies it. The code is not in the proposal: a proposal is rewritten
  with every approval and the system contract runs no Wasm, while the UPGRADE transaction
  pays for its code bytes and its `migrate`'s fuel like any upgrade;
- `approvals(k of [...])`: each listed address sends the same code in an UPGRADE
  transaction; the first k-1 are recorded (event `UpgradeApproved`), the k-th applies it;
- `never`: every upgrade is refused.

Approvals (`cupg/` records) are keyed by the contract's version, so they lapse once any
upgrade takes effect, and the one used is deleted. Every refusal is `UpgradeError`.
"""

from __future__ import annotations

import json
from typing import Any

from xinlian import codec
from xinlian.execution.contracts.records import (
    CodeRecord,
    ContractInfo,
    UpgradeApprovals,
    approval_key,
    code_key,
)
from xinlian.execution.contracts.world import ChainState
from xinlian.execution.errors import InvalidOperation
from xinlian.execution.state import Overlay
from xinlian.lang.errors import UpgradeError
from xinlian.lang.upgrade_rule import UpgradeRule


def rule_of(abi: dict[str, Any]) -> UpgradeRule:
    """The upgrade rule a stored ABI declares (checked when the code was deployed)."""
    try:
        return UpgradeRule.from_json(abi.get("upgrade"))
    except ValueError as exc:
        raise UpgradeError(f"the contract's upgrade rule is not valid: {exc}") from None


def authorise(state: ChainState, contract: bytes, info: ContractInfo, rule: UpgradeRule,
              sender: bytes, code_hash: bytes) -> int | None:
    """May `sender`'s UPGRADE of `contract` to `code_hash` take effect now? None: yes (an
    approval used is deleted); a count: the sender's approval is recorded and that many of
    the rule's threshold are in. Raises UpgradeError when the rule refuses the sender."""
    name = contract.hex()
    if rule.kind == "never":
        raise UpgradeError(f"contract {name} declares `upgrade never;`: it is immutable")
    if rule.kind == "admin":
        if info.admin != sender:
            raise UpgradeError(f"{sender.hex()} is not the admin of {name}")
        return None
    key = approval_key(contract, info.version, code_hash)
    raw = state.read(key)
    approvals = UpgradeApprovals(False, []) if raw is None else codec.decode(
        raw, UpgradeApprovals)
    if rule.kind == "governance":
        if not approvals.governance:
            raise UpgradeError(
                f"contract {name} is upgraded by governance: no enacted UpgradeContract "
                f"proposal for code {code_hash.hex()} at version {info.version}")
        state.write(key, None)
        return None
    if sender not in rule.approvers:
        raise UpgradeError(f"{sender.hex()} is not an upgrade approver of {name}")
    if sender in approvals.approvers:
        raise UpgradeError(f"{sender.hex()} has approved this code for {name} already")
    approvers = sorted([*approvals.approvers, sender])
    if len(approvers) >= rule.threshold:
        state.write(key, None)
        return None
    state.write(key, codec.encode(UpgradeApprovals(False, approvers)))
    return len(approvers)


def approve_by_governance(overlay: Overlay, contract: bytes, code_hash: bytes) -> None:
    """Enact an UpgradeContract proposal: record the approval an UPGRADE transaction then
    uses. InvalidOperation if there is no such contract or its code does not declare
    `upgrade by governance;`."""
    state = ChainState(overlay)
    info = state.info(contract)
    raw = None if info is None else state.read(code_key(info.code_hash))
    if info is None or raw is None:
        raise InvalidOperation(f"no contract at {contract.hex()}")
    rule = rule_of(json.loads(codec.decode(raw, CodeRecord).abi))
    if rule.kind != "governance":
        raise InvalidOperation(f"contract {contract.hex()} is upgraded by {rule.describe()}, "
                               "not by governance")
    key = approval_key(contract, info.version, code_hash)
    state.write(key, codec.encode(UpgradeApprovals(True, [])))
