"""Validators rotate to a migration's target suite: the governed registration and the rule.

An `intl` chain with four validators (org0 runs two) schedules its move to `pq`; an admin of
each validator's organisation registers the validator's ML-DSA-65 vote and node keys, both
signing the rotation message, approved by more than 2/3 of the organisations. The committee
switches at H once all registered, or at H+W without the rest if those that did hold more
than 2/3 of the power. Bad input gets typed errors and leaves no trace.
"""

from __future__ import annotations

from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.execution import payloads as p
from xinlian.execution.errors import BindingNotCosigned, InvalidBinding, Unauthorised
from xinlian.execution.rotation import get_rotated, next_committee_members, rotation_message
from xinlian.execution.system import validators
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import Validator
from xinlian.node.certify import committee_of

from .conftest import SUITE, Chain
from .test_validators import _enact, _validator

PQ = get_suite("pq")
ORGS = ["org0", "org1", "org2", "org0"]
H, W = 100, 20  # the switch height and window (after the setup's blocks)


def _new_keys(i: int) -> tuple[SigningKey, SigningKey]:
    return (PQ.generate_signing_key(bytes([0x80 + i]) * 32),
            PQ.generate_signing_key(bytes([0xA0 + i]) * 32))


def _node(v: Validator) -> bytes:
    return address_of(v.node_key, SUITE.hash_bytes)


def _rotation(v: Validator, vote: SigningKey, node: SigningKey, *,
              vote_proof: Signature | None = None,
              node_proof: Signature | None = None) -> p.RotateValidatorKeys:
    message = rotation_message("t", _node(v), v, vote.public_key, node.public_key)
    return p.RotateValidatorKeys(_node(v), vote.public_key, node.public_key,
                                 vote_proof or vote.sign(message),
                                 node_proof or node.sign(message))


def _setup(chain: Chain, schedule: bool = True) -> tuple[list[Validator], list[int]]:
    nonces = [0, 0, 0]
    vs = [_validator(i, org) for i, org in enumerate(ORGS)]
    for v in vs:
        assert _enact(chain, p.AddValidator(v), nonces) == 0
    if schedule:
        assert _enact(chain, p.ScheduleMigration("pq", H, W), nonces) == 0
    return vs, nonces


def _propose(chain: Chain, change: p.RotateValidatorKeys, nonces: list[int]) -> int:
    """An admin of the validator's organisation proposes, the other two approve; the
    last status."""
    org = ORGS[[_node(v) for v in validators(chain.state.get)].index(bytes(change.node))]
    proposer = int(org[-1])
    result = chain.execute([chain.system(proposer, nonces[proposer], p.Propose(change))])
    nonces[proposer] += 1
    status = result.receipts[0].status
    if status != 0:
        return status
    pid = result.included[0].hash
    for admin in {0, 1, 2} - {proposer}:
        result = chain.execute([chain.system(admin, nonces[admin], p.Approve(pid))])
        nonces[admin] += 1
        status = result.receipts[0].status
    return status


def _rotate(chain: Chain, v: Validator, nonces: list[int], i: int) -> int:
    vote, node = _new_keys(i)
    return _propose(chain, _rotation(v, vote, node), nonces)


def test_rotation_registers_both_keys_and_the_committee_switches_at_h(chain: Chain) -> None:
    vs, nonces = _setup(chain)
    for i, v in enumerate(vs[:3]):
        assert _rotate(chain, v, nonces, i) == 0
    vote, node = _new_keys(0)
    keys = get_rotated(chain.state.get, _node(vs[0]))
    assert keys is not None
    assert (keys.consensus_key, keys.node_key) == (vote.public_key, node.public_key)
    current = validators(chain.state.get)

    def rule(height: int, switched: bool = False) -> tuple[str, list[bytes]]:
        suite, members = next_committee_members(chain.state.get, SUITE, current, height,
                                                switched)
        return suite.name, [m.consensus_key for m in members]

    assert rule(H - 1) == ("intl", [v.consensus_key for v in vs])
    assert rule(H) == ("intl", [v.consensus_key for v in vs])  # one has not registered
    # from H+W, those that registered hold 3/4 > 2/3 of the power: the fourth leaves
    pq_keys = [_new_keys(i)[0].public_key.data for i in range(3)]
    assert rule(H + W) == ("pq", pq_keys)
    assert rule(H, switched=True) == ("pq", pq_keys)  # once switched, it stays
    assert _rotate(chain, vs[3], nonces, 3) == 0  # the late one registers and comes back
    assert rule(H + W)[1] == [_new_keys(i)[0].public_key.data for i in range(4)]
    # members keep their ids (the node keys they joined with)
    _, members = next_committee_members(chain.state.get, SUITE, current, H, False)
    assert [m.node_key for m in members] == [v.node_key for v in vs]


def test_all_registered_switch_at_h_and_too_few_wait_after_h_plus_w(chain: Chain) -> None:
    vs, nonces = _setup(chain)
    for i, v in enumerate(vs[:2]):
        assert _rotate(chain, v, nonces, i) == 0
    current = validators(chain.state.get)
    # half the power registered: not more than 2/3, so the switch waits, even long after
    suite, members = next_committee_members(chain.state.get, SUITE, current, H + W + 50, False)
    assert (suite.name, members) == ("intl", current)
    for i, v in enumerate(vs[2:], start=2):
        assert _rotate(chain, v, nonces, i) == 0
    suite, members = next_committee_members(chain.state.get, SUITE, current, H, False)
    assert suite.name == "pq" and len(members) == 4


def _no_trace(chain: Chain) -> None:
    assert not any(k.startswith((b"sys/prop/", b"sys/pq/rotation/")) for k in chain.state)


def test_invalid_rotation_from_a_non_admin_or_another_organisation(chain: Chain) -> None:
    vs, nonces = _setup(chain)
    vote, node = _new_keys(0)
    change = p.Propose(_rotation(vs[1], vote, node))  # org1's validator
    for sender, nonce in ((3, 0), (0, nonces[0])):  # not an admin; org0's admin
        result = chain.execute([chain.system(sender, nonce, change)])
        assert result.receipts[0].status == Unauthorised.code
    _no_trace(chain)


def test_invalid_rotation_of_a_non_validator_or_without_a_schedule(chain: Chain) -> None:
    vs, nonces = _setup(chain, schedule=False)
    vote, node = _new_keys(0)
    assert _propose(chain, _rotation(vs[0], vote, node), nonces) == InvalidBinding.code
    assert _enact(chain, p.ScheduleMigration("pq", H, W), nonces) == 0
    stranger = _validator(9)
    result = chain.execute([chain.system(0, nonces[0], p.Propose(
        _rotation(stranger, vote, node)))])
    assert result.receipts[0].status == InvalidBinding.code
    _no_trace(chain)


def test_invalid_rotation_signed_by_one_key_only(chain: Chain) -> None:
    vs, nonces = _setup(chain)
    v = vs[0]
    vote, node = _new_keys(0)
    other_vote, _ = _new_keys(1)
    message = rotation_message("t", _node(v), v, vote.public_key, node.public_key)
    elsewhere = rotation_message("t", _node(vs[1]), vs[1], vote.public_key, node.public_key)
    bad = [
        _rotation(v, vote, node, vote_proof=node.sign(message)),        # node key twice
        _rotation(v, vote, node, node_proof=vote.sign(message)),        # vote key twice
        _rotation(v, vote, node, vote_proof=other_vote.sign(message)),  # another key
        _rotation(v, vote, node, node_proof=node.sign(elsewhere)),      # another validator
        _rotation(v, vote, node, vote_proof=Signature(AlgId.ML_DSA_65, b"\x00" * 10)),
    ]
    for change in bad:
        assert _propose(chain, change, nonces) == BindingNotCosigned.code
    _no_trace(chain)


def test_invalid_rotation_keys(chain: Chain) -> None:
    vs, nonces = _setup(chain)
    v = vs[0]
    vote, node = _new_keys(0)
    classical = SUITE.generate_signing_key(b"\x55" * 32)
    bad = [
        _rotation(v, classical, node),  # an Ed25519 vote key on a move to pq
        _rotation(v, vote, classical),  # an Ed25519 node key
    ]
    malformed = PublicKey(AlgId.ML_DSA_65, vote.public_key.data[:-1])
    message = rotation_message("t", _node(v), v, malformed, node.public_key)
    bad.append(p.RotateValidatorKeys(_node(v), malformed, node.public_key,
                                     vote.sign(message), node.sign(message)))
    short_node = PublicKey(AlgId.ML_DSA_65, node.public_key.data[:-1])  # a malformed node key
    message = rotation_message("t", _node(v), v, vote.public_key, short_node)
    bad.append(p.RotateValidatorKeys(_node(v), vote.public_key, short_node,
                                     vote.sign(message), node.sign(message)))
    for change in bad:
        assert _propose(chain, change, nonces) == InvalidBinding.code
    _no_trace(chain)
    assert _propose(chain, _rotation(v, vote, node), nonces) == 0
    again = _new_keys(5)
    assert _propose(chain, _rotation(v, *again), nonces) == InvalidBinding.code


def test_rotation_message_binds_chain_validator_and_old_keys() -> None:
    v = _validator(0)
    vote, node = _new_keys(0)
    base = rotation_message("t", _node(v), v, vote.public_key, node.public_key)
    assert base != rotation_message("u", _node(v), v, vote.public_key, node.public_key)
    assert base != rotation_message("t", _node(v), _validator(1), vote.public_key,
                                    node.public_key)
    assert base != rotation_message("t", _node(v), v, node.public_key, vote.public_key)


def test_rotation_to_a_hybrid_suite_takes_composite_keys(chain: Chain) -> None:
    nonces = [0, 0, 0]
    vs = [_validator(i, org) for i, org in enumerate(ORGS)]
    for v in vs:
        assert _enact(chain, p.AddValidator(v), nonces) == 0
    assert _enact(chain, p.ScheduleMigration("hybrid-intl", H, W), nonces) == 0
    hybrid = get_suite("hybrid-intl")
    pq_vote, pq_node = _new_keys(0)
    assert _propose(chain, _rotation(vs[0], pq_vote, pq_node), nonces) == InvalidBinding.code
    for i, v in enumerate(vs):
        vote = hybrid.generate_signing_key(bytes([0x10 + i]) * 32)
        node = hybrid.generate_signing_key(bytes([0x20 + i]) * 32)
        assert _propose(chain, _rotation(v, vote, node), nonces) == 0
    suite, members = next_committee_members(chain.state.get, SUITE, validators(chain.state.get),
                                            H, False)
    assert suite.name == "hybrid-intl" and len(members) == 4
    committee = committee_of(SUITE, members, 1, suite)
    committee.validate()  # composite Ed25519 + ML-DSA-65 vote keys, one signature each
    assert not committee.aggregate
