"""Validators: genesis validation per suite, and governed addition and removal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from xinlian.crypto.primitives.bls import BlsKey
from xinlian.crypto.suites import get_suite
from xinlian.execution import payloads as p
from xinlian.execution.errors import InvalidOperation
from xinlian.execution.system import validators
from xinlian.ledger.errors import InvalidGenesis
from xinlian.ledger.genesis import Validator, genesis_from_dict

from .conftest import SUITE, Chain


def _validator(i: int, org: str = "org0") -> Validator:
    node = SUITE.generate_signing_key(bytes([0x40 + i]) * 32)
    bls = BlsKey.generate(bytes([0x60 + i]) * 32)
    return Validator(org, node.public_key, bls.public, bls.pop, 1, f"127.0.0.1:{7000 + i}")


def _doc(suite_name: str, validators_: Sequence[Mapping[str, object]]) -> dict[str, object]:
    admin = get_suite(suite_name).generate_signing_key(b"\x01" * 32)
    return {"chain_id": "v", "suite": suite_name,
            "organisations": [{"name": "org0", "admins": [admin.public_key.data.hex()]}],
            "validators": validators_}


def test_intl_genesis_takes_bls_keys_with_proofs_of_possession() -> None:
    v = _validator(0)
    entry = {"organisation": "org0", "node_key": v.node_key.data.hex(),
             "consensus_key": v.consensus_key.hex(), "pop": v.pop.hex(),
             "endpoint": v.endpoint}
    assert genesis_from_dict(_doc("intl", [entry])).validators == [v]
    other = _validator(1)
    for bad in ({**entry, "pop": other.pop.hex()},            # someone else's proof
                {**entry, "organisation": "nobody"},
                {**entry, "power": 0},
                {**entry, "consensus_key": "00" * 48}):
        with pytest.raises(InvalidGenesis):
            genesis_from_dict(_doc("intl", [bad]))
    with pytest.raises(InvalidGenesis):
        genesis_from_dict(_doc("intl", [entry, entry]))      # the same node twice


def test_sm_genesis_takes_sm2_consensus_keys_without_proofs() -> None:
    sm = get_suite("sm")
    node, vote = sm.generate_signing_key(b"\x02" * 32), sm.generate_signing_key(b"\x03" * 32)
    entry = {"organisation": "org0", "node_key": node.public_key.data.hex(),
             "consensus_key": vote.public_key.data.hex()}
    [v] = genesis_from_dict(_doc("sm", [entry])).validators
    assert v.consensus_key == vote.public_key.data and v.pop == b""
    with pytest.raises(InvalidGenesis):
        genesis_from_dict(_doc("sm", [{**entry, "pop": "00" * 96}]))


def _enact(chain: Chain, change: p.Change, nonces: list[int]) -> int:
    """Propose with org0's admin and approve with org1's and org2's; the last status."""
    result = chain.execute([chain.system(0, nonces[0], p.Propose(change))])
    nonces[0] += 1
    pid = result.included[0].hash
    status = result.receipts[0].status
    for admin in (1, 2):
        if result.receipts[0].events and result.receipts[0].events[0].name != "ProposalOpen":
            break
        result = chain.execute([chain.system(admin, nonces[admin], p.Approve(pid))])
        nonces[admin] += 1
        status = result.receipts[0].status
    return status


def test_validators_are_added_and_removed_by_governance(chain: Chain) -> None:
    nonces = [0, 0, 0]
    a, b = _validator(0), _validator(1, "org1")
    assert validators(chain.state.get) == []
    assert _enact(chain, p.AddValidator(a), nonces) == 0
    assert _enact(chain, p.AddValidator(b), nonces) == 0
    assert validators(chain.state.get) == [a, b]
    assert _enact(chain, p.AddValidator(a), nonces) == InvalidOperation.code  # no duplicates
    assert _enact(chain, p.RemoveValidator(a.node_key), nonces) == 0
    assert validators(chain.state.get) == [b]
    # The last validator stays, and an organisation with a validator cannot be removed.
    assert _enact(chain, p.RemoveValidator(b.node_key), nonces) == InvalidOperation.code
    assert _enact(chain, p.RemoveOrganisation("org1"), nonces) == InvalidOperation.code


def test_an_invalid_validator_is_refused_at_enactment(chain: Chain) -> None:
    v = _validator(0)
    rogue = Validator(v.organisation, v.node_key, v.consensus_key, _validator(1).pop)
    assert _enact(chain, p.AddValidator(rogue), [0, 0, 0]) == InvalidOperation.code
    assert validators(chain.state.get) == []
