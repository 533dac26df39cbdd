"""Parallel execution of contract calls gives the serial result, byte for byte.

Each example is one block of random transactions executed twice on the same committed head
state of a real chain store: serially, and by the pipeline's executor with one worker
process (execution/parallel.py). Receipts, included and excluded transactions, writes and
the state root must be identical. The workload generators are listed in `STEPS`: a new kind
of transaction (async calls, scheduled runs) joins every property by adding its generator
there. Randomness comes from hypothesis only (derandomized: the same examples every run).
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.threshold.dkg import share_secret
from xinlian.execution.confidential import get_account, get_regulator
from xinlian.execution.confidential_payloads import Deposit, RegulatorMember, SetRegulator
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.contracts.world import BlockHashes
from xinlian.execution.executor import BlockResult, Executor
from xinlian.execution.parallel import BaseState, Costs, ExecutionPool, WorkerSpec
from xinlian.execution.payloads import Call, Propose
from xinlian.lang.compiler import compile_source
from xinlian.ledger.transaction import Transaction, TxKind
from xinlian.sdk import confidential
from xinlian.storage.kv import WriteBatch
from xinlian.testing.contract_blocks import CHAIN_ID, ROOT, SUITE, TOKENS, CallChain, Op

ACCOUNTS = 24


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallChain]:
    chain = CallChain.create(tmp_path_factory.mktemp("parallel") / "chain", ACCOUNTS,
                             workers=1)
    assert chain.pipeline.pool is not None
    chain.pipeline.pool.min_calls = 2  # small blocks go to the worker too
    chain.pipeline.pool.max_backoff = 0  # and blocks after conflicting ones as well
    # the worker always gets a share: measured costs on a loaded machine could give it none
    chain.pipeline.pool.costs = Costs(pinned=True)
    yield chain
    chain.close()


def pool_of(chain: CallChain) -> ExecutionPool:
    assert chain.pipeline.pool is not None
    return chain.pipeline.pool


def fingerprint(chain: CallChain, result: BlockResult) -> tuple[object, ...]:
    """Everything a block commits, in bytes, with the state root it leads to and the
    entries it adds to the index of contract data."""
    head = chain.pipeline.chain.head
    assert head is not None
    root = chain.pipeline.chain.tree.apply(head.header.height + 1, result.writes, WriteBatch())
    return ([tx.hash for tx in result.included], [codec.encode(r) for r in result.receipts],
            [codec.encode(r) for r in result.runs],
            [(tx.hash, e.code) for tx, e in result.excluded], result.writes, root,
            result.index)


def check_same(chain: CallChain, txs: list[Transaction]) -> BlockResult:
    serial = chain.execute(txs, serial=True)
    parallel = chain.execute(txs)
    assert fingerprint(chain, parallel) == fingerprint(chain, serial)
    return parallel


def steps(accounts: int) -> st.SearchStrategy[Op]:
    """One transaction among the first `accounts` accounts (few: high contention)."""
    who = st.integers(0, accounts - 1)
    amount = st.sampled_from([0, 1, 7, TOKENS // 2, TOKENS + 1])  # some overdraw
    return st.one_of(*(generator(who, amount) for generator in STEPS))


def _token(who: st.SearchStrategy[int], amount: st.SearchStrategy[int]
           ) -> st.SearchStrategy[Op]:
    return st.builds(lambda s, t, a: Op(s, "transfer", (t, a)), who, who, amount)


def _relay(who: st.SearchStrategy[int], amount: st.SearchStrategy[int]
           ) -> st.SearchStrategy[Op]:
    return st.builds(lambda s, m, t, a: Op(s, m, (t, a)), who,
                     st.sampled_from(["pay", "try_pay", "ask"]), who, amount)


def _failing(who: st.SearchStrategy[int], amount: st.SearchStrategy[int]
             ) -> st.SearchStrategy[Op]:
    return st.builds(lambda s, m, t, a: Op(s, m, (t, a)), who,
                     st.sampled_from(["missing", "starve", "stranger"]), who, amount)


def _native(who: st.SearchStrategy[int], amount: st.SearchStrategy[int]
            ) -> st.SearchStrategy[Op]:
    return st.one_of(st.builds(lambda s, t, a: Op(s, "native", (t, a)), who, who, amount),
                     st.builds(lambda s, a: Op(s, "fund", (0, a)), who, amount),
                     st.builds(lambda s: Op(s, "upgrade"), who),
                     st.builds(lambda s, t: Op(s, "stale", (t,)), who, who))


# token transfers, cross-contract calls (a hot counter), failing calls, other kinds between
# (transfers of units, funding and upgrading the token: what every token call reads)
STEPS = [_token, _token, _relay, _failing, _native]


@st.composite
def workloads(draw: st.DrawFn) -> list[Op]:
    accounts = draw(st.sampled_from([2, 3, 8, ACCOUNTS]))
    return draw(st.lists(steps(accounts), min_size=1, max_size=40))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(ops=workloads())
def test_parallel_and_serial_blocks_are_byte_identical(chain: CallChain, ops: list[Op]
                                                       ) -> None:
    check_same(chain, chain.transactions(ops))


def test_blocks_with_async_deliveries_and_scheduled_runs_are_byte_identical(
        chain: CallChain) -> None:
    """Async requests committed in one block are delivered at the start of the next, with
    the relay's scheduled run, before calls that read what those runs wrote."""
    counts = []
    for _ in range(2):  # one of the two next heights is the relay's scheduled one
        chain.commit(chain.transactions([Op(i, "ask", (i + 1, 3)) for i in range(6)]))
        result = check_same(chain, chain.transactions(
            [Op(i, m, (i + 2, 1)) for i in range(8) for m in ("pay", "transfer", "ask")]))
        counts.append(len(result.runs))
    assert sorted(counts) == [12, 13]  # six deliveries (call, callback), and the tick once


def test_independent_calls_are_taken_from_the_worker_and_conflicts_run_again(
        chain: CallChain) -> None:
    stats = pool_of(chain).stats
    before = (stats.speculated, stats.adopted)
    half = ACCOUNTS // 2  # each account sends or receives once
    independent = [Op(i, "transfer", (half + i, 5)) for i in range(half)]
    # taken from the workers, the runs are indexed as serial ones: three entries per
    # Transfer event at least (its sender, its recipient, its position)
    assert len(check_same(chain, chain.transactions(independent)).index) >= 3 * half
    speculated, adopted = stats.speculated - before[0], stats.adopted - before[1]
    assert speculated > 0 and adopted == speculated
    # every relay payment reads and writes the relay's counter: all but the worker's first
    # run read a value the node's earlier runs changed
    before = (stats.speculated, stats.adopted)
    check_same(chain, chain.transactions([Op(i % ACCOUNTS, "pay", (i, 1)) for i in range(24)]))
    assert stats.speculated - before[0] > 0 and stats.adopted == before[1]


def test_a_killed_worker_changes_nothing_and_is_replaced(chain: CallChain) -> None:
    pool = pool_of(chain)
    ops = [Op(i, "transfer", (i + 3, 2)) for i in range(ACCOUNTS)] * 2
    check_same(chain, chain.transactions(ops))  # the pool is running
    restarts, fallbacks = pool.stats.restarts, pool.stats.fallbacks
    for pid in pool.processes():
        os.kill(pid, signal.SIGKILL)
    check_same(chain, chain.transactions(ops))  # its segment ran serially
    assert pool.stats.fallbacks == fallbacks + 1
    assert "exited" in pool.stats.failures[-1]
    adopted = pool.stats.adopted
    check_same(chain, chain.transactions(ops))  # a new worker serves the next block
    assert pool.stats.restarts == restarts + 1
    assert pool.stats.adopted > adopted


def test_invalid_base_state_makes_the_worker_refuse_and_the_block_runs_serially(
        chain: CallChain) -> None:
    pool = pool_of(chain)
    txs = chain.transactions([Op(i, "transfer", (i + 1, 1)) for i in range(ACCOUNTS)])
    head = chain.pipeline.chain.head
    assert head is not None
    wrong = BaseState(head.header.height, bytes(32))
    fallbacks = pool.stats.fallbacks
    serial = chain.execute(txs, serial=True)
    store = chain.pipeline.chain
    block = BlockContext(head.header.height + 1, chain.timestamp_ms + 1000,
                         BlockHashes(store.header_hash))
    parallel = chain.pipeline.executor.execute_block(txs, block, store.read, wrong)
    assert fingerprint(chain, parallel) == fingerprint(chain, serial)
    assert pool.stats.fallbacks == fallbacks + 1
    assert "does not hold state" in pool.stats.failures[-1]


def test_committed_blocks_agree_with_a_serial_node(chain: CallChain, tmp_path: Path) -> None:
    """Several blocks committed by the parallel node and by a serial copy of it: the same
    headers' state and receipt roots, block after block."""
    serial = chain.copy(tmp_path / "serial", workers=0)
    try:
        for round_ in range(3):
            ops = [Op((i * 5 + round_) % ACCOUNTS, "transfer" if i % 3 else "pay",
                      (i + round_, 3)) for i in range(30)]
            built = [c.commit(c.transactions(ops)) for c in (chain, serial)]
            headers = [b.prepared.block.header for b in built if b.prepared is not None]
            assert len(headers) == 2
            assert headers[0].state_root == headers[1].state_root
            assert headers[0].receipts_root == headers[1].receipts_root
    finally:
        serial.close()


def test_after_a_block_of_conflicts_the_next_blocks_run_serially_for_a_while(
        chain: CallChain) -> None:
    pool = pool_of(chain)
    pool.max_backoff = 2
    try:
        hot = chain.transactions([Op(i % ACCOUNTS, "pay", (i, 1)) for i in range(24)])
        cool = chain.transactions([Op(i, "transfer", (ACCOUNTS + i, 1))
                                   for i in range(ACCOUNTS)])
        blocks = pool.stats.blocks
        check_same(chain, hot)
        assert pool.stats.blocks == blocks + 1
        check_same(chain, cool)  # serial: one block of backoff
        assert pool.stats.blocks == blocks + 1
        check_same(chain, hot)  # the workers again: conflicts again, two blocks of backoff
        check_same(chain, cool)
        check_same(chain, cool)
        assert pool.stats.blocks == blocks + 2
        check_same(chain, cool)  # no conflicts: the backoff starts from one block again
        check_same(chain, cool)
        assert pool.stats.blocks == blocks + 4
    finally:
        pool.max_backoff = 0


def test_invalid_store_keeps_every_block_serial_with_the_cause_noted(
        chain: CallChain, tmp_path: Path) -> None:
    genesis = chain.pipeline.genesis
    pool = ExecutionPool(WorkerSpec(str(tmp_path / "no_store"), genesis.chain_id,
                                    genesis.suite, genesis.params), 1)
    pool.min_calls = 2
    executor = Executor(genesis.params, chain.pipeline.suite, pool=pool)
    try:
        txs = chain.transactions([Op(i, "transfer", (ACCOUNTS + i, 1)) for i in range(8)])
        serial = chain.execute(txs, serial=True)
        parallel = chain.pipeline.execute(txs, chain.timestamp_ms + 1000, executor)
        assert fingerprint(chain, parallel) == fingerprint(chain, serial)
        assert pool.stats.adopted == 0 and pool.stats.fallbacks == 1
        assert "the worker cannot start" in pool.stats.failures[-1]
    finally:
        pool.close()


def test_blocks_with_confidential_payments_are_byte_identical(chain: CallChain,
                                                              tmp_path: Path) -> None:
    """Contract calls that run `conf_pay` (examples/qi/credit_sale.qi) are taken from the
    worker or run again exactly as serially: two buyers' payments and a second payment of
    one of them (stale by then) among token transfers."""
    c = chain.copy(tmp_path / "confidential", workers=1)
    try:
        pool = pool_of(c)
        pool.min_calls, pool.max_backoff, pool.costs = 2, 0, Costs(pinned=True)
        g = GROUPS["ristretto255"]
        rng = random.Random(3).randbytes
        [key] = share_secret(g, g.random_scalar(rng), 1, [1], rng)
        c.commit([c.sign(0, TxKind.SYSTEM, Propose(SetRegulator(
            g.name, 1, key.public.group_public_key.encode(),
            [RegulatorMember(1, c.addresses[0], g.base_mul(key.secret).encode())])))])
        secrets = {i: g.random_scalar(rng) for i in (1, 2, 3)}
        c.commit([c.sign(i, TxKind.CONFIDENTIAL, confidential.register_op(
            secrets[i], CHAIN_ID, c.addresses[i], c.nonces[i], rng)) for i in secrets])
        art = compile_source((ROOT / "examples/qi/credit_sale.qi").read_text(), "sale.qi")
        shop = contract_address(SUITE.hash_bytes, c.addresses[0], c.nonces[0])
        c.commit([c.deploy(art, c.addresses[3], 100, 10),
                  *(c.sign(i, TxKind.CONFIDENTIAL, Deposit(1000)) for i in (1, 2))])

        def buy(i: int, amount: int, nonce: int) -> Transaction:
            read = c.pipeline.chain.read
            sender, seller = get_account(read, c.addresses[i]), get_account(read,
                                                                            c.addresses[3])
            reg = get_regulator(read)
            assert sender is not None and seller is not None and reg is not None
            pay = confidential.payment(secrets[i], sender, seller, reg, amount, 100,
                                       CHAIN_ID, c.addresses[i], nonce, shop,
                                       SUITE.hash_bytes, rng)
            return c.sign(i, TxKind.CALL, Call(shop, "buy", c.args(art, "buy", pay),
                                               600_000_000), nonce=nonce)

        txs = c.transactions([Op(4, "transfer", (5, 1)), Op(6, "transfer", (7, 1))])
        payments = [buy(1, 150, c.nonces[1]), buy(2, 120, c.nonces[2]),
                    buy(1, 130, c.nonces[1] + 1)]
        speculated = pool.stats.speculated
        result = check_same(c, [txs[0], *payments, txs[1]])
        assert pool.stats.speculated > speculated  # the worker ran them first
        statuses = {r.tx_hash: (r.status, r.error) for r in result.receipts}
        assert [statuses[t.hash][0] for t in payments[:2]] == [0, 0]
        assert statuses[payments[2].hash][1] == "confidential_refused"  # stale by then
    finally:
        c.close()
