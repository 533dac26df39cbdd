"""Who may upgrade a contract on the chain: the rule its code declares (admin, governance,
k-of-n approvals, never), each with its refusals, and the admin handing its role on."""

from __future__ import annotations

import pytest

from xinlian import codec
from xinlian.execution.contracts.records import (
    UpgradeApprovals,
    approval_key,
    code_record,
)
from xinlian.execution.payloads import (
    Approve,
    Deploy,
    FreezeContract,
    Propose,
    SetAdmin,
    UpgradeContract,
)
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import FrozenError, RevertError, UpgradeError
from xinlian.ledger.block import Receipt
from xinlian.ledger.transaction import TxKind
from xinlian.testing.contracts import SUITE, ContractChain, abi_bytes


def counter(clause: str, name: str = "C") -> Artifact:
    return compile_source(f"contract {name} {{ {clause} state n: u64; "
                          "pub fn bump() { n += 1; } "
                          "pub view fn get() -> u64 { return n; } }", f"{name}.qi")


def counter_v2(clause: str = "", step: int = 7) -> Artifact:
    """Keeps `n`, adds `m`, which `migrate` sets to `step`."""
    return compile_source(f"contract C2 {{ {clause} state n: u64; state m: u64; "
                          f"fn migrate() {{ m = {step}; }} "
                          "pub view fn get() -> u64 { return n; } "
                          "pub view fn get_m() -> u64 { return m; } }", "c2.qi")


def code_hash(art: Artifact) -> bytes:
    return code_record(SUITE.hash_bytes, art.wasm, art.abi)[0]


def refused(r: Receipt, words: str) -> bool:
    return (r.status, r.error) == (UpgradeError.code, UpgradeError.name) and words in r.message


@pytest.fixture
def chain() -> ContractChain:
    return ContractChain()


def version(chain: ContractChain, contract: bytes) -> int:
    info = chain.info(contract)
    assert info is not None
    return info.version


def test_the_default_rule_is_the_admin_and_the_abi_says_so(chain: ContractChain) -> None:
    art = counter("")
    assert art.abi["upgrade"] == {"rule": "admin"}
    assert counter("upgrade by admin;").abi["upgrade"] == {"rule": "admin"}
    c, _ = chain.deploy(art)
    assert refused(chain.upgrade(counter_v2(), c, sender=1), "not the admin")
    assert chain.upgrade(counter_v2(), c).status == 0
    assert version(chain, c) == 2


def test_the_admin_hands_its_role_on(chain: ContractChain) -> None:
    c, _ = chain.deploy(counter(""))
    r = chain.one(1, TxKind.SET_ADMIN, SetAdmin(c, chain.addr(1)))  # not the admin
    assert (r.status, r.error) == (5002, "unauthorised")
    r = chain.one(0, TxKind.SET_ADMIN, SetAdmin(c, chain.addr(1)))
    assert r.status == 0
    assert [(e.source, e.name) for e in r.events] == [(c.hex(), "AdminChanged")]
    assert codec.decode(r.events[0].data, list[bytes]) == [chain.addr(0), chain.addr(1)]
    info = chain.info(c)
    assert info is not None and info.admin == chain.addr(1)
    assert refused(chain.upgrade(counter_v2(), c, sender=0), "not the admin")
    assert chain.upgrade(counter_v2(), c, sender=1).status == 0
    r = chain.one(0, TxKind.SET_ADMIN, SetAdmin(bytes(20), chain.addr(0)))
    assert r.error == "invalid_operation"


def test_a_frozen_contracts_admin_cannot_hand_the_role_on(chain: ContractChain) -> None:
    c, _ = chain.deploy(counter(""))
    p = chain.system(0, Propose(FreezeContract(c)))
    for org in (1, 2):
        chain.system(org, Approve(p.tx_hash))
    r = chain.one(0, TxKind.SET_ADMIN, SetAdmin(c, chain.addr(1)))
    assert (r.status, r.error) == (FrozenError.code, FrozenError.name)
    info = chain.info(c)
    assert info is not None and info.admin == chain.addr(0)


def test_upgrade_never_is_immutable(chain: ContractChain) -> None:
    art = counter("upgrade never;")
    assert art.abi["upgrade"] == {"rule": "never"}
    c, _ = chain.deploy(art)
    before = chain.info(c)
    assert refused(chain.upgrade(counter_v2(), c), "immutable")
    assert chain.info(c) == before


def governance_upgrade(chain: ContractChain, contract: bytes, art: Artifact) -> Receipt:
    """Propose UpgradeContract(contract, hash of art) and have two more organisations
    approve it; the last approval's receipt."""
    p = chain.system(0, Propose(UpgradeContract(contract, code_hash(art))))
    assert p.status == 0 and [e.name for e in p.events] == ["ProposalOpen"]
    assert chain.system(1, Approve(p.tx_hash)).status == 0
    return chain.system(2, Approve(p.tx_hash))


def test_upgrade_by_governance(chain: ContractChain) -> None:
    c, _ = chain.deploy(counter("upgrade by governance;"))
    chain.call(counter(""), c, "bump")
    v2 = counter_v2("upgrade by governance;")
    assert refused(chain.upgrade(v2, c), "no enacted UpgradeContract")  # not the admin's
    p = chain.system(0, Propose(UpgradeContract(c, code_hash(v2))))
    chain.system(1, Approve(p.tx_hash))  # 2 of 3 organisations: not more than 2/3
    assert refused(chain.upgrade(v2, c), "no enacted UpgradeContract")
    r = chain.system(2, Approve(p.tx_hash))
    assert r.status == 0 and [e.name for e in r.events] == ["ContractUpgradeApproved"]
    # the approval is for that code only
    assert refused(chain.upgrade(counter_v2("upgrade by governance;", step=8), c),
                   "no enacted")
    # any account may bring the approved code; it pays the code bytes and migrate's fuel
    r = chain.upgrade(v2, c, sender=4)
    assert r.status == 0
    assert version(chain, c) == 2
    assert chain.query(v2, c, "get").value == 1 and chain.query(v2, c, "get_m").value == 7
    info = chain.info(c)
    assert info is not None and info.code_hash == code_hash(v2)
    # the approval was used up: the same code cannot be applied again without a proposal
    assert refused(chain.upgrade(v2, c, sender=4), "no enacted")


def test_governance_cannot_approve_an_upgrade_the_contract_does_not_leave_to_it(
        chain: ContractChain) -> None:
    c, _ = chain.deploy(counter(""))  # by its admin
    r = governance_upgrade(chain, c, counter_v2())
    assert r.error == "invalid_operation"  # system receipts carry the code, not the text
    assert approval_key(c, 1, code_hash(counter_v2())) not in chain.state
    r = governance_upgrade(chain, bytes(20), counter_v2())
    assert r.error == "invalid_operation"


def test_a_governance_approval_lapses_when_the_version_changes(chain: ContractChain) -> None:
    c, _ = chain.deploy(counter("upgrade by governance;"))
    v2 = counter_v2("upgrade by governance;")
    v3 = counter_v2("upgrade by governance;", step=9)
    assert governance_upgrade(chain, c, v2).status == 0
    assert governance_upgrade(chain, c, v3).status == 0
    assert chain.upgrade(v3, c).status == 0  # version 2
    # v2's approval was for version 1
    assert refused(chain.upgrade(v2, c), "at version 2")


APPROVERS = "upgrade by approvals(2 of [{}]);"


def approvals_counter(chain: ContractChain) -> Artifact:
    listed = ", ".join(f'hex"{chain.addr(i).hex()}"' for i in (1, 2, 3))
    return counter(APPROVERS.format(listed))


def test_upgrade_by_k_of_n_approvals(chain: ContractChain) -> None:
    v1 = approvals_counter(chain)
    assert v1.abi["upgrade"] == {"rule": "approvals", "threshold": 2, "approvers": [
        chain.addr(i).hex() for i in (1, 2, 3)]}
    c, _ = chain.deploy(v1)
    chain.call(v1, c, "bump")
    v2 = counter_v2("upgrade never;")
    assert refused(chain.upgrade(v2, c, sender=0), "not an upgrade approver")  # the admin
    storage = chain.storage(c)
    r = chain.upgrade(v2, c, sender=1)
    assert r.status == 0
    assert [(e.source, e.name) for e in r.events] == [(c.hex(), "UpgradeApproved")]
    assert codec.decode(r.events[0].data, list[bytes | int]) == \
        [chain.addr(1), code_hash(v2), 1, 2]
    assert version(chain, c) == 1 and chain.storage(c) == storage  # nothing else changed
    assert refused(chain.upgrade(v2, c, sender=1), "approved this code")
    # another code's approvals are counted apart
    other = counter_v2("upgrade never;", step=3)
    assert chain.upgrade(other, c, sender=2).status == 0
    assert version(chain, c) == 1
    r = chain.upgrade(v2, c, sender=3)  # the second approval of v2: applied
    assert r.status == 0 and version(chain, c) == 2
    assert chain.query(v2, c, "get").value == 1 and chain.query(v2, c, "get_m").value == 7
    key = approval_key(c, 1, code_hash(v2))
    assert key not in chain.state  # used up
    assert codec.decode(chain.state[approval_key(c, 1, code_hash(other))],
                        UpgradeApprovals).approvers == [chain.addr(2)]  # lapsed: version 1
    # the new code's rule holds now: `never`
    assert refused(chain.upgrade(other, c, sender=2), "immutable")


def test_an_approval_of_an_incompatible_layout_is_refused(chain: ContractChain) -> None:
    c, _ = chain.deploy(approvals_counter(chain))
    bad = compile_source("contract B { state m: bool; pub fn f() {} }", "b.qi")
    assert refused(chain.upgrade(bad, c, sender=1), "layout")
    assert approval_key(c, 1, code_hash(bad)) not in chain.state


def test_the_approval_that_completes_a_failing_migrate_keeps_the_others(
        chain: ContractChain) -> None:
    c, _ = chain.deploy(approvals_counter(chain))
    failing = compile_source("contract F { state n: u64; fn migrate() { "
                             'require(false, "not yet"); } pub fn f() {} }', "f.qi")
    assert chain.upgrade(failing, c, sender=1).status == 0
    assert chain.upgrade(failing, c, sender=2).error == RevertError.name
    assert version(chain, c) == 1
    approvals = codec.decode(chain.state[approval_key(c, 1, code_hash(failing))],
                             UpgradeApprovals)
    assert approvals.approvers == [chain.addr(1)]


def test_a_deployed_abi_with_a_bad_upgrade_rule_is_refused(chain: ContractChain) -> None:
    art = counter("")
    doc = dict(art.abi, upgrade={"rule": "approvals", "threshold": 3,
                                 "approvers": [chain.addr(1).hex()]})
    r = chain.one(0, TxKind.DEPLOY, Deploy(art.wasm, abi_bytes(doc), b"", 10**6))
    assert r.error == "bad_abi" and "threshold" in r.message
