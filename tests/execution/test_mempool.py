"""Mempool admission, replay protection, eviction and block selection."""

from __future__ import annotations

import pytest

from xinlian import codec
from xinlian.ledger import errors as e
from xinlian.ledger.mempool import Refused

from .conftest import Chain


def _admit(pool, raws):  # type: ignore[no-untyped-def]
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
def test_admission_rejects_with_typed_errors(chain: Chain, make, error) -> None:  # type: ignore[no-untyped-def]
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
