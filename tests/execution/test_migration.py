"""Suite migration without a fork: the governed schedule, key bindings and the acceptance rule.

An `intl` chain (Ed25519 accounts) moves to `pq` (ML-DSA-65) or `hybrid-intl`: before H only
Ed25519 keys sign, during [H, H+W) both, from H+W only the new kind; a bound key acts for its
account (same address, balance, nonce); an account that never bound is frozen until
governance binds a key for it. Bad input gets typed errors and leaves state as it was.
"""

from __future__ import annotations

import pytest

from xinlian import codec
from xinlian.crypto import composite
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.execution import payloads as p
from xinlian.execution.errors import (
    BindingNotCosigned,
    InvalidBinding,
    InvalidSchedule,
    Unauthorised,
)
from xinlian.execution.executor import max_spend, tx_fees
from xinlian.execution.migration import (
    binding_message,
    get_bound_count,
    get_bound_key,
    get_schedule,
    key_rule,
)
from xinlian.execution.system import is_permitted
from xinlian.ledger.errors import KeyNotAccepted
from xinlian.ledger.mempool import Mempool, Refused
from xinlian.ledger.migration import Phase, get_phase
from xinlian.ledger.transaction import TxBody, TxKind, sign_body

from .conftest import SUITE, Chain
from .test_validators import _enact

PQ = get_suite("pq")
H, W = 10, 5  # the tests' switch height and window


def _signed(key: SigningKey, nonce: int, kind: int, payload: bytes) -> bytes:
    return sign_body(TxBody("t", key.public_key, nonce, kind, payload, 10, 1000), key)


def _transfer(key: SigningKey, nonce: int, to: bytes, amount: int) -> bytes:
    return _signed(key, nonce, TxKind.TRANSFER, codec.encode(p.Transfer(to, amount)))


def _bind(chain: Chain, account: int, nonce: int, key: SigningKey,
          proof: Signature | None = None) -> bytes:
    if proof is None:
        proof = key.sign(binding_message("t", chain.addr(account), key.public_key))
    return chain.system(account, nonce, p.BindKey(key.public_key, proof))


def _schedule(chain: Chain, to: str = "pq") -> list[int]:
    nonces = [0, 0, 0]
    assert _enact(chain, p.ScheduleMigration(to, H, W), nonces) == 0
    return nonces


def _advance(chain: Chain, height: int) -> None:
    while chain.height < height - 1:
        chain.execute([])


def test_governance_schedules_the_move_and_state_shows_it(chain: Chain) -> None:
    assert get_phase(get_schedule(chain.state.get), 1) is Phase.NONE
    _schedule(chain)
    schedule = get_schedule(chain.state.get)
    assert schedule is not None
    assert (schedule.from_suite, schedule.to_suite, schedule.height, schedule.window) == (
        "intl", "pq", H, W)
    assert (schedule.old, schedule.new) == (AlgId.ED25519, AlgId.ML_DSA_65)
    assert [get_phase(schedule, h) for h in (H - 1, H, H + W - 1, H + W)] == [
        Phase.SCHEDULED, Phase.OVERLAP, Phase.OVERLAP, Phase.DONE]


def test_invalid_schedule_from_a_non_admin_is_unauthorised(chain: Chain) -> None:
    before = dict(chain.state)
    result = chain.execute([chain.system(3, 0, p.Propose(p.ScheduleMigration("pq", H, W)))])
    assert result.receipts[0].status == Unauthorised.code
    changed = {k for k in chain.state if chain.state[k] != before.get(k)}
    assert all(k.startswith(b"acct/") for k in changed)  # only the fee and nonce
    assert get_schedule(chain.state.get) is None


@pytest.mark.parametrize("change", [
    p.ScheduleMigration("intl", H, W),     # the chain's own suite
    p.ScheduleMigration("sm", H, W),       # not post-quantum
    p.ScheduleMigration("nope", H, W),     # no such suite
    p.ScheduleMigration("pq", 1, W),       # a height already reached
    p.ScheduleMigration("pq", H, 0),       # an empty window
])
def test_invalid_schedules_are_refused_when_proposed(chain: Chain, change: p.Change) -> None:
    result = chain.execute([chain.system(0, 0, p.Propose(change))])
    assert result.receipts[0].status == InvalidSchedule.code
    assert not any(k.startswith(b"sys/prop/") for k in chain.state)
    assert get_schedule(chain.state.get) is None


def test_invalid_second_schedule(chain: Chain) -> None:
    nonces = _schedule(chain)
    result = chain.execute([chain.system(0, nonces[0], p.Propose(p.ScheduleMigration(
        "hybrid-intl", H + 1, W)))])
    assert result.receipts[0].status == InvalidSchedule.code


def test_bound_key_signs_for_its_account_in_the_window_and_after(chain: Chain) -> None:
    _schedule(chain)
    new = PQ.generate_signing_key(b"\x33" * 32)
    result = chain.execute([_bind(chain, 3, 0, new)])
    assert result.receipts[0].status == 0, result.receipts[0]
    assert get_bound_key(chain.state.get, chain.addr(3)) == new.public_key
    assert get_bound_count(chain.state.get) == 1
    # before H the bound key does not sign yet
    early = chain.execute([_transfer(new, 1, chain.addr(4), 5)])
    assert [type(e) for _, e in early.excluded] == [KeyNotAccepted]
    _advance(chain, H)
    # in the window: the new key spends account 3's balance with its nonce; the old key too
    start = chain.account(chain.addr(3))
    result = chain.execute([_transfer(new, 1, chain.addr(4), 5),
                            _transfer(chain.keys[3], 2, chain.addr(4), 7)])
    assert [r.status for r in result.receipts] == [0, 0]
    assert result.included[0].sender_address == chain.addr(3)
    assert chain.account(chain.addr(3)).nonce == start.nonce + 2
    fees = 2 * chain.genesis.params.transfer_cost
    assert chain.account(chain.addr(3)).balance == start.balance - 5 - 7 - fees
    _advance(chain, H + W)
    # after the window: the old key signs nothing, the new one goes on
    result = chain.execute([_transfer(chain.keys[3], 3, chain.addr(4), 1)])
    assert [type(e) for _, e in result.excluded] == [KeyNotAccepted]
    result = chain.execute([_transfer(new, 3, chain.addr(4), 1)])
    assert [r.status for r in result.receipts] == [0]


def test_an_account_that_never_binds_is_frozen_until_governance_binds_a_key(
        chain: Chain) -> None:
    nonces = _schedule(chain)
    admin_keys = [PQ.generate_signing_key(bytes([0x50 + i]) * 32) for i in range(3)]
    chain.execute([_bind(chain, i, nonces[i], admin_keys[i]) for i in range(3)])
    _advance(chain, H + W)
    frozen = chain.execute([_transfer(chain.keys[4], 0, chain.addr(3), 1)])
    assert [type(e) for _, e in frozen.excluded] == [KeyNotAccepted]
    recovery = PQ.generate_signing_key(b"\x44" * 32)
    proof = recovery.sign(binding_message("t", chain.addr(4), recovery.public_key))
    change = p.RecoverAccount(chain.addr(4), recovery.public_key, proof)
    # the admins now sign with their bound keys, for their own accounts
    result = chain.execute([_signed(admin_keys[0], nonces[0] + 1, TxKind.SYSTEM,
                                    codec.encode(p.Propose(change)))])
    assert result.receipts[0].status == 0
    pid = result.included[0].hash
    result = chain.execute([_signed(admin_keys[i], nonces[i] + 1, TxKind.SYSTEM,
                                    codec.encode(p.Approve(pid))) for i in (1, 2)])
    assert [r.status for r in result.receipts] == [0, 0]
    assert get_bound_key(chain.state.get, chain.addr(4)) == recovery.public_key
    result = chain.execute([_transfer(recovery, 0, chain.addr(3), 1)])
    assert [r.status for r in result.receipts] == [0]


def _refused(chain: Chain, raw: bytes, error: type[Exception]) -> None:
    before = {k: v for k, v in chain.state.items() if not k.startswith(b"acct/")}
    result = chain.execute([raw])
    assert result.receipts[0].status == error.code  # type: ignore[attr-defined]
    after = {k: v for k, v in chain.state.items() if not k.startswith(b"acct/")}
    assert after == before


def test_invalid_binding_signed_by_one_key_only(chain: Chain) -> None:
    _schedule(chain)
    new, other = PQ.generate_signing_key(b"\x33" * 32), PQ.generate_signing_key(b"\x34" * 32)
    message = binding_message("t", chain.addr(3), new.public_key)
    for nonce, proof in enumerate([
            other.sign(message),                                    # another key's proof
            new.sign(binding_message("t", chain.addr(4), new.public_key)),  # another account
            Signature(AlgId.ML_DSA_65, b""),                        # no proof
            Signature(AlgId.ML_DSA_65, new.sign(message).data[:-1]),  # a byte short
            chain.keys[3].sign(message)]):                          # the old key twice
        _refused(chain, _bind(chain, 3, nonce, new, proof), BindingNotCosigned)
    assert get_bound_count(chain.state.get) == 0


def test_invalid_binding_keys(chain: Chain) -> None:
    new = PQ.generate_signing_key(b"\x33" * 32)
    _refused(chain, _bind(chain, 3, 0, new), InvalidBinding)  # nothing scheduled
    nonces = _schedule(chain)
    ed = SUITE.generate_signing_key(b"\x35" * 32)
    short = PublicKey(AlgId.ML_DSA_65, new.public_key.data[:-1])
    _refused(chain, _bind(chain, 3, 1, ed), InvalidBinding)  # not the target's algorithm
    _refused(chain, chain.system(3, 2, p.BindKey(short, new.sign(b"x"))), InvalidBinding)
    assert chain.execute([_bind(chain, 3, 3, new)]).receipts[0].status == 0
    again = PQ.generate_signing_key(b"\x36" * 32)
    _refused(chain, _bind(chain, 3, 4, again), InvalidBinding)  # bound already
    _refused(chain, _bind(chain, 0, nonces[0], new), InvalidBinding)  # the key is taken


def test_invalid_hybrid_binding_with_one_valid_half(chain: Chain) -> None:
    _schedule(chain, "hybrid-intl")
    hybrid = get_suite("hybrid-intl")
    new, other = (hybrid.generate_signing_key(bytes([b]) * 32) for b in (0x37, 0x38))
    message = binding_message("t", chain.addr(3), new.public_key)
    good, foreign = new.sign(message).data, other.sign(message).data
    cut = composite.MLDSA65_SIGNATURE_SIZE
    for nonce, forged in enumerate([foreign[:cut] + good[cut:], good[:cut] + foreign[cut:]]):
        _refused(chain, _bind(chain, 3, nonce, new, Signature(new.public_key.alg, forged)),
                 BindingNotCosigned)
    assert chain.execute([_bind(chain, 3, 2, new)]).receipts[0].status == 0


def test_pool_admits_a_bound_key_for_its_account_and_refuses_retired_keys(
        chain: Chain) -> None:
    _schedule(chain)
    new = PQ.generate_signing_key(b"\x33" * 32)
    chain.execute([_bind(chain, 3, 0, new)])
    _advance(chain, H + W)
    params = chain.genesis.params
    pool = Mempool("t", params, SUITE.hash_bytes, chain.account,
                   lambda a: is_permitted(chain.state.get, a), spend=max_spend,
                   fees=lambda tx: tx_fees(params, tx), clock=lambda: 0,
                   keys=lambda tx, h: key_rule(chain.state.get, SUITE.hash_bytes,
                                               get_schedule(chain.state.get), tx, h))
    pool.height = chain.height
    old, bound = pool.precheck([_transfer(chain.keys[4], 0, chain.addr(3), 1),
                                _transfer(new, 1, chain.addr(4), 1)])
    assert isinstance(old, Refused) and isinstance(old.error, KeyNotAccepted)
    assert not isinstance(bound, Refused) and bound.sender_address == chain.addr(3)
    assert pool.admit([bound], [True]) == [None]
