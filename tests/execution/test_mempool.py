"""Mempool admission, replay protection, eviction and block selection."""

from __future__ import annotations

import pytest

from xinlian import codec
from xinlian.ledger import errors as e
from xinlian.ledger.mempool import PoolLimits, Refused

from .conftest import Chain


def _admit(pool, raws):
    checked = pool.precheck(raws)
    txs = [c for c in checked if not isinstance(c, Refused)]
    from xinlian.crypto.batch import verify_batch
    verdicts = iter(pool.admit(txs, verify_batch([t.verify_item() for t in txs],
                                                 parallel=False)))
    return [c.error if isinstance(c, Refused) else next(verdicts) for c in checked]


@pytest.mark.parametrize(("make", "error"), [
    (lambda c: b"\xc1\x00", codec.MalformedError),
    (lambda c: c.transfer(0, 0, c.addr(1), 1, chain_id="other"), e.WrongChain),
    (lambda c: c.transfer(0, 0, c.addr(1), 1, expiry=0), e.Expired),
    (lambda c: c.transfer(0, 8, c.addr(1), 1), e.NonceTooHigh),
    (lambda c: c.transfer(5, 0, c.addr(1), 1), e.NotPermitted),
    (lambda c: c.transfer(0, 0, c.addr(1), 1, fee=0), e.FeeTooLow),
    (lambda c: c.transfer(0, 0, c.addr(1), 1, fee=5000), e.InsufficientFunds),
])
def test_admission_rejects_with_typed_errors(chain: Chain, make, error) -> None:
    pool = chain.mempool()
    [result] = _admit(pool, [make(chain)])
    assert isinstance(result, error)
    assert len(pool) == 0


def test_bad_signature_rejected(chain: Chain) -> None:
    raw = bytearray(chain.transfer(0, 0, chain.addr(1), 1))
    raw[-1] ^= 1
    [result] = _admit(chain.mempool(), [bytes(raw)])
    assert isinstance(result, e.BadSignature)


def test_duplicates_and_replays_rejected(chain: Chain) -> None:
    pool = chain.mempool()
    raw = chain.transfer(0, 0, chain.addr(1), 1)
    first, second = _admit(pool, [raw, raw])
    assert first is None and isinstance(second, e.DuplicateTransaction)
    [again] = _admit(pool, [raw])
    assert isinstance(again, e.DuplicateTransaction)
    # Once committed, the same bytes are a replay of a spent nonce.
    result = chain.execute([raw])
    pool.on_commit(chain.height, result.included)
    assert len(pool) == 0
    [replay] = _admit(pool, [raw])
    assert isinstance(replay, e.NonceTooLow)


def test_fee_budget_counts_pending_transactions(chain: Chain) -> None:
    pool = chain.mempool()
    ok = [chain.transfer(0, n, chain.addr(1), 1, fee=300) for n in range(3)]
    assert _admit(pool, ok) == [None, None, None]
    [over] = _admit(pool, [chain.transfer(0, 3, chain.addr(1), 1, fee=300)])
    assert isinstance(over, e.InsufficientFunds)


def test_selection_takes_consecutive_nonces_round_robin(chain: Chain) -> None:
    pool = chain.mempool()
    raws = [chain.transfer(0, n, chain.addr(2), 1) for n in (0, 1, 3)]  # 3 waits for 2
    raws += [chain.transfer(1, n, chain.addr(2), 1) for n in (0, 1)]
    assert all(r is None for r in _admit(pool, raws))
    picked = pool.select(10)
    assert [(t.sender_address, t.body.nonce) for t in picked] == [
        (chain.addr(0), 0), (chain.addr(1), 0), (chain.addr(0), 1), (chain.addr(1), 1)]
    assert len(pool.select(3)) == 3


def test_full_pool_evicts_from_the_biggest_sender(chain: Chain) -> None:
    pool = chain.mempool(mempool_capacity=4)
    assert all(r is None for r in _admit(pool, [chain.transfer(0, n, chain.addr(1), 1)
                                                for n in range(4)]))
    # The biggest sender cannot push out others, but another sender evicts its last tx.
    [full] = _admit(pool, [chain.transfer(0, 4, chain.addr(1), 1)])
    assert isinstance(full, e.MempoolFull)
    assert _admit(pool, [chain.transfer(1, 0, chain.addr(2), 1)]) == [None]
    assert len(pool) == 4
    assert {t.body.nonce for t in pool.select(10) if t.sender_address == chain.addr(0)} == \
        {0, 1, 2}


def test_expired_transactions_leave_on_commit(chain: Chain) -> None:
    pool = chain.mempool()
    assert _admit(pool, [chain.transfer(0, 0, chain.addr(1), 1, expiry=2)]) == [None]
    pool.on_commit(2, [])
    assert len(pool) == 0


def test_concurrent_admissions_cannot_both_take_a_nonce(chain: Chain) -> None:
    # Two batches prechecked before either is admitted (as concurrent RPC requests are):
    # the fast admit path still refuses the second transaction with the same nonce.
    pool = chain.mempool()
    at = pool.commits
    a = pool.precheck([chain.transfer(0, 0, chain.addr(1), 1)])
    b = pool.precheck([chain.transfer(0, 0, chain.addr(2), 1)])
    assert pool.admit(a, [True], prechecked_at=at) == [None]  # type: ignore[arg-type]
    [second] = pool.admit(b, [True], prechecked_at=at)  # type: ignore[arg-type]
    assert isinstance(second, e.DuplicateTransaction)


def test_admit_rechecks_everything_after_a_commit(chain: Chain) -> None:
    pool = chain.mempool()
    at = pool.commits
    raw = chain.transfer(0, 0, chain.addr(1), 1)
    checked = pool.precheck([raw])
    chain.execute([raw])  # the same transaction commits from elsewhere meanwhile
    pool.on_commit(chain.height, [])
    [late] = pool.admit(checked, [True], prechecked_at=at)  # type: ignore[arg-type]
    assert isinstance(late, e.NonceTooLow)


def test_admission_counts_what_pending_transactions_move(chain: Chain) -> None:
    """Regression: only fees were counted, so a sender could queue transfers its balance
    could never pay for once the first had moved the funds."""
    pool = chain.mempool()
    assert _admit(pool, [chain.transfer(0, 0, chain.addr(1), 980, fee=10)]) == [None]
    [over] = _admit(pool, [chain.transfer(0, 1, chain.addr(1), 0, fee=11)])
    assert isinstance(over, e.InsufficientFunds)
    assert _admit(pool, [chain.transfer(0, 1, chain.addr(1), 0, fee=10)]) == [None]


def test_unpayable_transactions_leave_the_pool_once_excluded(chain: Chain) -> None:
    """Regression: a transaction a block left out as unpayable stayed pending and was picked
    for every following block. Here the sender is drained from outside this pool."""
    pool = chain.mempool()
    mine = [chain.transfer(0, n, chain.addr(1), 1) for n in range(3)]
    assert _admit(pool, mine) == [None, None, None]
    drain = chain.transfer(0, 0, chain.addr(2), 999)  # nonce 0 committed via another pool
    drained = chain.execute([drain])
    assert chain.account(chain.addr(0)).balance == 0
    pool.on_commit(chain.height, drained.included)
    picked = pool.select(10)
    assert [t.body.nonce for t in picked] == [1, 2]
    result = chain.execute([t.raw for t in picked])
    assert [type(error) for _, error in result.excluded] == [e.InsufficientFunds,
                                                            e.NonceTooHigh]
    assert pool.drop_excluded(result.excluded) == 2
    assert len(pool) == 0 and pool.select(10) == []


def test_a_transaction_waiting_for_its_predecessor_stays(chain: Chain) -> None:
    pool = chain.mempool()
    assert _admit(pool, [chain.transfer(0, n, chain.addr(1), 1) for n in (0, 1)]) == \
        [None, None]
    later = chain.decode(chain.transfer(0, 1, chain.addr(1), 1))
    assert pool.drop_excluded([(later, e.NonceTooHigh("waits for nonce 0"))]) == 0
    assert len(pool) == 2


def test_a_revoked_senders_transactions_leave_the_pool(chain: Chain) -> None:
    from xinlian.execution import payloads as p
    pool = chain.mempool()
    assert all(r is None for r in _admit(pool, [chain.transfer(3, n, chain.addr(1), 1)
                                                for n in range(4)]))
    revoke = chain.system(0, 0, p.RevokeSubmit(chain.addr(3)))
    result = chain.execute([revoke, *(t.raw for t in pool.select(10))])
    assert [type(error) for _, error in result.excluded] == [e.NotPermitted] + \
        [e.NonceTooHigh] * 3
    assert pool.drop_excluded(result.excluded) == 4
    assert len(pool) == 0


def test_pending_transactions_age_out_on_an_idle_chain(chain: Chain) -> None:
    pool = chain.mempool(PoolLimits(max_age_ms=1000))
    assert _admit(pool, [chain.transfer(0, 0, chain.addr(1), 1)]) == [None]
    chain.now_ms = 600
    assert _admit(pool, [chain.transfer(1, 0, chain.addr(1), 1)]) == [None]
    chain.now_ms = 1000  # no block has committed meanwhile
    assert pool.drop_aged() == 1 and len(pool) == 1
    chain.now_ms = 1600
    assert pool.select(10) == [] and len(pool) == 0
    # Aged out, the same transaction may come again and stays its full age.
    assert _admit(pool, [chain.transfer(0, 0, chain.addr(1), 1)]) == [None]
    chain.now_ms = 2599
    assert pool.drop_aged() == 0 and len(pool) == 1


def test_aging_takes_the_senders_later_nonces(chain: Chain) -> None:
    pool = chain.mempool(PoolLimits(max_age_ms=1000))
    assert _admit(pool, [chain.transfer(0, 0, chain.addr(1), 1)]) == [None]
    chain.now_ms = 500
    assert _admit(pool, [chain.transfer(0, 1, chain.addr(1), 1)]) == [None]
    chain.now_ms = 1000
    assert pool.drop_aged() == 2 and len(pool) == 0


def test_a_senders_share_is_capped_before_verification(chain: Chain) -> None:
    pool = chain.mempool(PoolLimits(per_sender=3))
    raws = [chain.transfer(0, n, chain.addr(1), 1) for n in range(5)]
    checked = pool.precheck(raws)
    # Refused at precheck: these never reach signature verification.
    assert [type(c.error) for c in checked if isinstance(c, Refused)] == [e.SenderQuota] * 2
    assert _admit(pool, raws[:3]) == [None, None, None]
    [more] = _admit(pool, [raws[3]])
    assert isinstance(more, e.SenderQuota)
    assert _admit(pool, [chain.transfer(1, 0, chain.addr(1), 1)]) == [None]  # others still


def test_one_nonce_twice_in_a_batch_is_refused_before_verification(chain: Chain) -> None:
    pool = chain.mempool()
    raws = [chain.transfer(0, 0, chain.addr(1), amount) for amount in (1, 2, 3)]
    checked = pool.precheck(raws)
    assert [type(c.error) for c in checked if isinstance(c, Refused)] == \
        [e.DuplicateTransaction] * 2


def test_the_budget_counts_the_batch_before_verification(chain: Chain) -> None:
    """What a sender's earlier transactions in the same batch spend counts at precheck, so
    transfers it could not pay for cost no signature verification."""
    pool = chain.mempool()
    raws = [chain.transfer(0, 0, chain.addr(1), 980, fee=10),
            chain.transfer(0, 1, chain.addr(1), 5, fee=10),
            chain.transfer(1, 0, chain.addr(2), 5, fee=10)]
    checked = pool.precheck(raws)
    assert isinstance(checked[1], Refused) and isinstance(checked[1].error, e.InsufficientFunds)
    assert not isinstance(checked[0], Refused) and not isinstance(checked[2], Refused)


def test_a_copy_left_out_as_spent_keeps_the_senders_later_nonces(chain: Chain) -> None:
    """Under BFT another validator's transaction may take a pending one's nonce: the pending
    one is then left out as nonce_too_low, and the sender's later nonces must stay."""
    pool = chain.mempool()
    mine = [chain.transfer(0, n, chain.addr(1), 1) for n in range(3)]
    assert _admit(pool, mine) == [None, None, None]
    theirs = chain.transfer(0, 0, chain.addr(2), 1)  # same nonce, another body
    result = chain.execute([theirs, mine[0]])
    assert [type(error) for _, error in result.excluded] == [e.NonceTooLow]
    assert pool.drop_excluded(result.excluded) == 0
    pool.on_commit(chain.height, result.included)
    assert [t.body.nonce for t in pool.select(10)] == [1, 2]
