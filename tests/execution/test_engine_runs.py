"""Async calls and scheduled functions on the ledger's `Executor`: delivery in the next block
(result, failure, out of fuel, time-out), the fuel reservation, the queue's bounds and
order; scheduled runs' order, payment from the prepaid balance, unpaid and failing runs,
cancellation and re-arming by FUND, and upgrades replacing schedules."""

from __future__ import annotations

from typing import Any

import pytest

from xinlian import codec
from xinlian.crypto.hashes import sm3
from xinlian.execution.contracts.engine_runs import Limits, has_work, queue_key, run_id
from xinlian.execution.contracts.schedules import armed, schedules
from xinlian.execution.errors import AsyncQueueFull, AsyncTimedOut, InsufficientBalance
from xinlian.execution.executor import BlockResult, Executor
from xinlian.execution.payloads import Call, Deploy
from xinlian.execution.state import Overlay
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import OutOfFuelError, RevertError
from xinlian.lang.types import STRING, IntTy
from xinlian.ledger.rules import fuel_fee
from xinlian.ledger.transaction import TxKind
from xinlian.testing.contracts import (
    SUITE,
    ContractChain,
    abi_bytes,
    compile_example,
    encode_args,
)

ORACLE = compile_example("oracle.qi", "Oracle")
CONSUMER = compile_example("oracle.qi", "Consumer")
PAYOUT = compile_example("payout.qi")
_SRC = """
interface Svc { fn spin(); fn value(x: u64) -> u64; }
contract Asker {
    state got: list<u64>;
    state fails: u64;
    state oks: u64;
    pub fn ask(svc: address, xs: list<u64>) {
        for x in xs { async Svc(svc).value(x) then on_value; }
    }
    pub fn ask_spin(svc: address) { async Svc(svc).spin() then on_done; }
    fn on_value(v: u64?) { if v.is_some() { got.push(v.unwrap()); } else { fails += 1; } }
    fn on_done(ok: bool) { if ok { oks += 1; } else { fails += 1; } }
    pub view fn values() -> list<u64> { return got; }
    pub view fn failures() -> u64 { return fails; }
}
contract Svc {
    pub fn spin() { while true {} }
    pub fn value(x: u64) -> u64 { require(x != 13, "unlucky"); return x * 2; }
}
"""
ASKER = compile_source(_SRC, "asker.qi", contract="Asker")
SVC = compile_source(_SRC, "asker.qi", contract="Svc")
_TICKS = """
contract Ticks {
    state a: u64;
    state b: u64;
    event Tick(name: string, n: u64);
    fn b_tick() every 2 blocks { b += 1; emit Tick("b", b); }
    fn a_tick() every 2 blocks { a += 1; emit Tick("a", a); require(a != 2, "second a fails"); }
    pub view fn counts() -> list<u64> { return [a, b]; }
}
"""
TICKS = compile_source(_TICKS, "ticks.qi")
TICKS_V2 = compile_source(_TICKS + """
contract Ticks2 upgrades Ticks {
    state a: u64;
    state b: u64;
    fn c_tick() every 3 blocks { a += 100; }
    pub view fn counts() -> list<u64> { return [a, b]; }
}
""", "ticks2.qi", contract="Ticks2")
LIMITS = Limits()
U64 = IntTy(64, False)


def chain_with(limits: Limits | None = None, **params: int) -> ContractChain:
    chain = ContractChain(params=dict(params))
    chain.executor = Executor(chain.genesis.params, SUITE, chain.runner, limits=limits)
    return chain


def value(chain: ContractChain, art: Artifact, contract: bytes, method: str,
          *args: Any) -> Any:
    out = chain.query(art, contract, method, *args)
    assert out.ok, out.error
    return out.value


def oracle_pair(chain: ContractChain) -> tuple[bytes, bytes]:
    oracle, _ = chain.deploy(ORACLE)
    assert chain.call(ORACLE, oracle, "set", "XL", 42).status == 0
    consumer, r = chain.deploy(CONSUMER, oracle)
    assert r.status == 0
    return oracle, consumer


def test_async_call_runs_in_the_next_block_and_the_callback_gets_the_result() -> None:
    chain = chain_with()
    _, consumer = oracle_pair(chain)
    r = chain.call(CONSUMER, consumer, "request", "XL")
    assert r.status == 0 and chain.state.get(queue_key(chain.height + 1)) is not None
    assert value(chain, CONSUMER, consumer, "latest") == 0  # not yet
    result = chain.block([])  # no transactions: the engine's runs alone
    call, back = result.runs
    h = chain.height
    assert call.tx_hash == run_id(SUITE.hash_bytes, b"async", h, 0)
    assert back.tx_hash == run_id(SUITE.hash_bytes, b"callback", h, 1)
    assert call.status == 0 and back.status == 0
    assert value(chain, CONSUMER, consumer, "latest") == 42
    assert chain.state.get(queue_key(h)) is None and not has_work(chain.state.get, h + 1)
    assert result.fuel_used == call.fuel_used + back.fuel_used > 0


def test_a_failed_call_gives_the_callback_none() -> None:
    chain = chain_with()
    _, consumer = oracle_pair(chain)
    chain.call(CONSUMER, consumer, "request", "NOPE")
    call, back = chain.block([]).runs
    assert call.error == RevertError.name and "Unknown" in call.message
    assert back.status == 0
    assert value(chain, CONSUMER, consumer, "failed") == 1
    assert value(chain, CONSUMER, consumer, "latest") == 0


def test_out_of_fuel_is_delivered_as_false_with_the_fuel_charged() -> None:
    chain = chain_with()
    svc, _ = chain.deploy(SVC)
    asker, _ = chain.deploy(ASKER)
    chain.call(ASKER, asker, "ask_spin", svc)
    call, back = chain.block([]).runs
    assert call.error == OutOfFuelError.name and call.fuel_used == LIMITS.async_fuel
    assert call.fee_paid == fuel_fee(chain.genesis.params, LIMITS.async_fuel)
    assert back.status == 0 and value(chain, ASKER, asker, "failures") == 1


def test_the_callbacks_fuel_is_reserved_at_request_time_and_the_rest_refunded() -> None:
    chain = chain_with(fuel_price=1000)
    params = chain.genesis.params
    _, consumer = oracle_pair(chain)
    before = chain.account(0).balance
    r = chain.call(CONSUMER, consumer, "request", "XL")
    reserved = fuel_fee(params, LIMITS.async_fuel + LIMITS.callback_fuel)
    assert reserved > 0
    assert chain.account(0).balance == before - r.fee_paid - reserved
    call, back = chain.block([]).runs
    used = fuel_fee(params, call.fuel_used + back.fuel_used)
    assert call.fee_paid + back.fee_paid == used < reserved
    assert chain.account(0).balance == before - r.fee_paid - used


def test_a_fee_limit_that_cannot_cover_the_reservation_fails_the_run() -> None:
    chain = chain_with(fuel_price=1000)
    _, consumer = oracle_pair(chain)
    fuel = 10**7
    base = chain.genesis.params.system_cost
    fee = base + fuel_fee(chain.genesis.params, fuel)  # covers the fuel, not the reservation
    before = chain.account(0).balance
    r = chain.one(0, TxKind.CALL, Call(consumer, "request",
                                       encode_args(CONSUMER, "request", "XL"), fuel), fee)
    assert r.error == InsufficientBalance.name and "reserve" in r.message
    assert chain.account(0).balance == before - r.fee_paid
    assert chain.state.get(queue_key(chain.height + 1)) is None
    assert chain.block([]).runs == []


def test_deliveries_keep_request_order_and_are_the_same_on_every_run() -> None:
    def run() -> tuple[list[Any], dict[bytes, bytes]]:
        chain = chain_with()
        svc, _ = chain.deploy(SVC)
        asker, _ = chain.deploy(ASKER)
        raws = [chain.raw(0, TxKind.CALL, Call(asker, "ask", encode_args(
                    ASKER, "ask", svc, [3, 13, 5]), 10**8)),
                chain.raw(1, TxKind.CALL, Call(asker, "ask", encode_args(
                    ASKER, "ask", svc, [7]), 10**8))]
        assert [r.status for r in chain.block(raws).receipts] == [0, 0]
        runs = chain.block([]).runs
        assert [r.status for r in runs[::2]] == [0, RevertError.code, 0, 0]
        assert value(chain, ASKER, asker, "values") == [6, 10, 14]
        assert value(chain, ASKER, asker, "failures") == 1
        return runs, dict(chain.state)

    assert run() == run()


def test_requests_that_do_not_fit_wait_and_time_out_into_the_callback() -> None:
    one = LIMITS.async_fuel + LIMITS.callback_fuel
    chain = chain_with(Limits(delivery_block_fuel=one, timeout_blocks=1))
    svc, _ = chain.deploy(SVC)
    asker, _ = chain.deploy(ASKER)
    chain.call(ASKER, asker, "ask", svc, [1, 2, 3])
    made = chain.height
    first = chain.block([]).runs  # due block: one delivery fits
    assert [r.status for r in first] == [0, 0]
    second = chain.block([]).runs  # one block late, still within the time-out
    assert [r.status for r in second] == [0, 0]
    third = chain.block([])  # two blocks late: the last one times out
    assert chain.height == made + 3
    call, back = third.runs
    assert call.error == AsyncTimedOut.name and call.fuel_used == 0 and back.status == 0
    assert value(chain, ASKER, asker, "values") == [2, 4]
    assert value(chain, ASKER, asker, "failures") == 1
    assert not has_work(chain.state.get, chain.height + 1)


def test_a_block_queues_a_bounded_number_of_requests() -> None:
    chain = chain_with(Limits(requests_per_block=2))
    svc, _ = chain.deploy(SVC)
    asker, _ = chain.deploy(ASKER)
    r = chain.call(ASKER, asker, "ask", svc, [1, 2, 3])
    assert r.error == AsyncQueueFull.name
    assert chain.state.get(queue_key(chain.height + 1)) is None
    assert chain.call(ASKER, asker, "ask", svc, [1, 2]).status == 0


def test_the_block_reserves_room_for_the_engines_runs() -> None:
    assert LIMITS.block_fuel < 20_000_000_000  # MAX_BLOCK_FUEL: transactions keep room


# --- scheduled functions ------------------------------------------------------------------

def advance_to(chain: ContractChain, height: int) -> list[BlockResult]:
    out = []
    while chain.height < height:
        out.append(chain.block([]))
    return out


def test_payout_runs_every_10_blocks_paid_from_its_prepaid_balance() -> None:
    chain = chain_with(fuel_price=1000)
    payout, _ = chain.deploy(PAYOUT, 5)
    chain.call(PAYOUT, payout, "add", chain.addr(1))
    assert chain.fund(payout, 10**6).status == 0
    assert armed(chain.state.get) == 1 and has_work(chain.state.get, chain.height + 1)
    results = advance_to(chain, 10)
    [run] = results[-1].runs
    assert run.tx_hash == run_id(SUITE.hash_bytes, b"sched", 10, 0)
    assert run.status == 0 and [e.name for e in run.events] == ["Paid"]
    info = chain.info(payout)
    assert info is not None and info.balance == 10**6 - run.fee_paid and run.fee_paid > 0
    assert value(chain, PAYOUT, payout, "balance", chain.addr(1)) == 5
    assert all(not r.runs for r in results[:-1])
    advance_to(chain, 20)
    assert value(chain, PAYOUT, payout, "paid_rounds") == 2


def test_scheduled_runs_go_by_contract_address_then_function_name() -> None:
    chain = chain_with(fuel_price=0)
    deploy = Deploy(TICKS.wasm, TICKS.abi_json().encode(), b"", 10**8)
    result = chain.block([chain.raw(0, TxKind.DEPLOY, deploy), chain.raw(1, TxKind.DEPLOY, deploy)])
    first, second = (r.output for r in result.receipts)
    runs = advance_to(chain, 2)[-1].runs
    ticks = [(bytes.fromhex(e.source), abi.decode_many([STRING, U64], e.data)[0])
             for r in runs for e in r.events if e.name == "Tick"]
    assert ticks == sorted((c, n) for c in (first, second) for n in ("a", "b"))


def test_a_failing_run_emits_an_event_pays_and_keeps_its_schedule() -> None:
    chain = chain_with()
    ticks, _ = chain.deploy(TICKS)  # height 1; the run at 2 comes before the fund: unpaid
    chain.fund(ticks, 10**6)
    advance_to(chain, 4)
    assert value(chain, TICKS, ticks, "counts") == [1, 1]
    runs = advance_to(chain, 6)[-1].runs
    a_run = next(r for r in runs if r.status != 0)
    assert a_run.error == RevertError.name and a_run.fee_paid > 0
    [event] = a_run.events
    assert (event.source, event.name) == ("schedule", "RunFailed")
    assert codec.decode(event.data, list)[:2] == [ticks, "a_tick"]
    assert value(chain, TICKS, ticks, "counts") == [1, 2]  # the failed run rolled back
    runs = advance_to(chain, 8)[-1].runs  # still scheduled (it fails the same way again)
    assert sorted(r.status for r in runs) == [0, RevertError.code]
    assert value(chain, TICKS, ticks, "counts") == [1, 3]
    info = chain.info(ticks)
    assert info is not None and 0 < info.balance < 10**6


def test_unpaid_runs_emit_events_and_cancel_the_schedule_until_a_fund() -> None:
    chain = chain_with(Limits(unpaid_runs=3))
    payout, _ = chain.deploy(PAYOUT, 5)
    unpaid = [r.runs for r in advance_to(chain, 30) if r.runs]
    assert len(unpaid) == 3
    names = [[e.name for e in runs[0].events] for runs in unpaid]
    assert names == [["RunUnpaid"], ["RunUnpaid"], ["RunUnpaid", "Cancelled"]]
    assert all(runs[0].error == InsufficientBalance.name for runs in unpaid)
    assert armed(chain.state.get) == 0 and not has_work(chain.state.get, chain.height + 1)
    assert [s.next_height for s in schedules(Overlay(chain.state.get), payout)] == [0]
    advance_to(chain, 40)
    assert chain.block([]).runs == []  # cancelled: nothing runs, no event
    chain.fund(payout, 10**6)  # re-armed from the next due height
    assert armed(chain.state.get) == 1
    ran = [r for b in advance_to(chain, 50) for r in b.runs]
    assert [r.status for r in ran] == [0]
    assert value(chain, PAYOUT, payout, "paid_rounds") == 1


def test_an_upgrade_replaces_the_contracts_schedules() -> None:
    chain = chain_with(fuel_price=0)
    ticks, _ = chain.deploy(TICKS)
    assert armed(chain.state.get) == 2
    assert chain.upgrade(TICKS_V2, ticks).status == 0
    assert [s.function for s in schedules(Overlay(chain.state.get), ticks)] == ["c_tick"]
    assert armed(chain.state.get) == 1
    start = chain.height
    ran = [r for b in advance_to(chain, start + 6) for r in b.runs]
    # the old a_tick ran once, at the start of the upgrade's block (height 2)
    assert len(ran) == 2 and value(chain, TICKS_V2, ticks, "counts") == [201, 1]


@pytest.mark.parametrize("every", [0, -1, "2", None])
def test_invalid_a_scheduled_abi_entry_without_a_positive_period(every: Any) -> None:
    chain = chain_with()
    doc = dict(TICKS.abi)
    doc["functions"] = [dict(f, every=every) if f["kind"] == "scheduled" else f
                        for f in TICKS.abi["functions"]]
    r = chain.one(0, TxKind.DEPLOY, Deploy(TICKS.wasm, abi_bytes(doc), b"", 10**8))
    assert r.error == "bad_abi"


def test_local_chain_runs_the_same_engine_runs_with_its_limits() -> None:
    """`LocalChain` (qi run / qi test) drives the same code: a full queue is a typed error,
    a request is answered in the next block, and the runs get the engine's ids."""
    from xinlian.execution.vm.local import LocalChain

    ch = LocalChain(limits=Limits(requests_per_block=2))
    svc = ch.deploy(SVC)
    asker = ch.deploy(ASKER)
    with pytest.raises(AsyncQueueFull):
        ch.call(asker, "ask", svc, [1, 2, 3])
    assert ch.call(asker, "ask", svc, [4, 13]).ok
    results = ch.advance_block()
    assert [r.ok for r in results] == [True, True, False, True]
    assert ch.call(asker, "values").value == [8] and ch.call(asker, "failures").value == 1
    assert ch.block_txs[:4] == [run_id(sm3, kind, ch.world.block_number, i)
                                for i, kind in enumerate([b"async", b"callback"] * 2)]
