"""Runs that no account signs: async deliveries and scheduled functions, at a block's start.

One implementation for the chain's `Executor` and for `LocalChain`. Block order at height h:
the async requests due at h are delivered (each: the call, then its callback), then the
scheduled functions due at h run (sorted by contract address, then function name), then the
block's transactions. Every run here gets a receipt whose id is derived
(`run_id`: hash of b"xinlian/run/" + kind + height + index within the block).

State (in the authenticated tree, which hashes keys, so each list is found by its key):
- `aq/<height 8 BE>` -> `Queue`: the requests to deliver in block `height`, in order;
- `sched/...`: the schedule registry (execution.contracts.schedules).

Async requests. A run's requests are queued for the next block when the run succeeds. The
callee runs with `Limits.async_fuel`, the callback with `Limits.callback_fuel`; the fee of
both limits is reserved when the request is made: taken from the requesting transaction's
sender (a request made by a run no account signs — a callback, a callee, a scheduled run —
is paid from that contract's prepaid balance). At delivery, the fee of the fuel actually
burned is kept and the rest refunded to whoever paid. A block starts deliveries up to
`Limits.delivery_block_fuel` (counted by fuel limits); the rest wait, in order, for the next
block. A request still undelivered `Limits.timeout_blocks` blocks after it was due is
delivered as a time-out: its callback runs with `none` (`false`) and its call never runs.
A block may queue at most `Limits.requests_per_block` new requests; a run that would exceed
that fails (`async_queue_full`). Together these bound what the engine runs in one block
(`Limits.block_fuel`) below the block's fuel cap: time-outs come from one block's requests.

Scheduled functions. `fn f() every N blocks` is due at the heights that are multiples of N
(after the deployment's). A due run costs at most the fee of `Limits.scheduled_fuel`,
paid from the contract's prepaid balance (`ContractInfo.balance`, filled by FUND): a run
needs that much in the balance, and the fee of the fuel it burned is taken. A run that
cannot be paid emits `schedule.RunUnpaid`; after `Limits.unpaid_runs` unpaid runs in a row
the schedule is cancelled (`schedule.Cancelled`). A FUND of the contract re-arms its
cancelled schedules (from the next due height). A run that fails emits `schedule.RunFailed`
(its own changes are rolled back; it still pays for its fuel). Runs beyond
`Limits.scheduled_block_fuel` in one block move to the next block, ahead of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import msgspec

from xinlian import codec
from xinlian.codec import Struct
from xinlian.errors import XinlianError
from xinlian.execution.contracts import schedules
from xinlian.execution.contracts.runner import BlockContext, ContractRunner, Outcome
from xinlian.execution.contracts.schedules import Due
from xinlian.execution.contracts.world import ChainState
from xinlian.execution.errors import AsyncQueueFull, AsyncTimedOut, InsufficientBalance
from xinlian.execution.payloads import Call
from xinlian.execution.state import Overlay
from xinlian.execution.vm.engine import CallResult
from xinlian.execution.vm.host import AsyncRequest, TxContext
from xinlian.ledger.account import Account
from xinlian.ledger.block import Event, Receipt
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import fuel_fee

QUEUE_PREFIX = b"aq/"
EVENT_SOURCE = "schedule"  # the source of the events scheduling emits


@dataclass(frozen=True)
class Limits:
    """Fuel and count limits of the runs no account signs (see the module docstring)."""

    async_fuel: int = 100_000_000
    callback_fuel: int = 50_000_000
    scheduled_fuel: int = 100_000_000
    delivery_block_fuel: int = 5_000_000_000
    scheduled_block_fuel: int = 4_000_000_000
    requests_per_block: int = 64
    timeout_blocks: int = 8
    unpaid_runs: int = 3

    @property
    def block_fuel(self) -> int:
        """The most fuel these runs may burn in one block: the deliveries' budget, the
        callbacks of one block's requests timing out, and the scheduled runs' budget."""
        return (self.delivery_block_fuel + self.requests_per_block * self.callback_fuel
                + self.scheduled_block_fuel)


class Pending(Struct):
    """A queued async request: who asked what, who paid the reservation, and when."""

    origin: bytes
    target: bytes
    method: str
    payload: bytes
    callback: str
    payer: bytes
    payer_is_contract: bool  # the reservation came from a contract's prepaid balance
    reserved: int  # fee units held for the call's and the callback's fuel
    height: int  # the block that made the request

    def request(self) -> AsyncRequest:
        return AsyncRequest(self.origin, self.target, self.method, self.payload, self.callback)


class Queue(Struct):
    items: list[Pending]


_decode_queue = codec.trusted_decoder(Queue)


def queue_key(height: int) -> bytes:
    return QUEUE_PREFIX + height.to_bytes(8, "big")


def run_id(hash_bytes: Callable[[bytes], bytes], kind: bytes, height: int, index: int) -> bytes:
    """The receipt id of the `index`-th engine run of block `height` (kind: b"async",
    b"callback" or b"sched")."""
    return hash_bytes(b"xinlian/run/" + kind + height.to_bytes(8, "big")
                      + index.to_bytes(4, "big"))


def has_work(read: Callable[[bytes], bytes | None], height: int) -> bool:
    """Whether block `height` must be made even without transactions: requests are due in
    it, or schedules are armed (their heights come only if blocks do)."""
    return read(queue_key(height)) is not None or schedules.armed(read) > 0


@dataclass
class Run:
    """One engine-started run: its receipt and, when code ran, the engine's result."""

    receipt: Receipt
    result: CallResult | None = None


# told of each successful run as it is kept: its context, outcome and own writes (the
# chain's executor indexes them: execution/indexing.py)
Observer = Callable[[TxContext, Outcome, Mapping[bytes, object]], None]


@dataclass
class BlockRuns:
    runs: list[Run] = field(default_factory=list)
    fuel_used: int = 0
    observe: Observer | None = None


class EngineRuns:
    """Queues, schedules and runs (see the module docstring) over a block's overlay."""

    def __init__(self, runner: ContractRunner, params: ChainParams,
                 limits: Limits | None = None) -> None:
        self.runner = runner
        self.params = params
        self.limits = limits or Limits()

    # --- async requests ---------------------------------------------------------------------
    def reservation(self, count: int) -> int:
        """The fee reserved for `count` requests."""
        lim = self.limits
        return count * fuel_fee(self.params, lim.async_fuel + lim.callback_fuel)

    def enqueue(self, state: Overlay, height: int, requests: list[AsyncRequest],
                payer: bytes, payer_is_contract: bool) -> XinlianError | None:
        """Queue the requests a run of block `height` made for delivery in the next block
        and take their reservation from the payer; the error (nothing changed) if the
        payer cannot pay or the block's queue is full."""
        if not requests:
            return None
        key = queue_key(height + 1)
        raw = state.get(key)
        queue = Queue([]) if raw is None else _decode_queue(raw)
        made = sum(1 for p in queue.items if p.height == height)
        if made + len(requests) > self.limits.requests_per_block:
            return AsyncQueueFull(f"a block queues at most {self.limits.requests_per_block} "
                                  f"async requests ({made} so far, {len(requests)} more)")
        each = self.reservation(1)
        error = self._pay(state, payer, payer_is_contract, -each * len(requests))
        if error is not None:
            return error
        items = queue.items + [Pending(r.origin, r.target, r.method, r.payload, r.callback,
                                       payer, payer_is_contract, each, height)
                               for r in requests]
        state.set(key, codec.encode(Queue(items)))
        return None

    def _pay(self, state: Overlay, payer: bytes, is_contract: bool,
             amount: int) -> XinlianError | None:
        """Add `amount` (negative: take) to an account's or a contract's prepaid balance."""
        if amount == 0:
            return None
        if is_contract:
            chain = ChainState(state, self.runner.artifacts)
            info = chain.info(payer)
            balance = 0 if info is None else info.balance
            if info is None or balance + amount < 0:
                return InsufficientBalance(f"contract {payer.hex()} has {balance} prepaid, "
                                           f"cannot reserve {-amount} for async calls")
            chain.set_info(payer, msgspec.structs.replace(info, balance=balance + amount))
            return None
        account = state.account(payer)
        if account.balance + amount < 0:
            return InsufficientBalance(f"balance {account.balance} cannot reserve {-amount} "
                                       "for async calls")
        state.set_account(payer, Account(account.balance + amount, account.nonce))
        return None

    # --- the runs of one block --------------------------------------------------------------
    def run_block(self, state: Overlay, block: BlockContext,
                  observe: Observer | None = None) -> BlockRuns:
        """Deliver the requests due at `block.height`, then run the schedules due there;
        `observe` sees every successful run."""
        out = BlockRuns(observe=observe)
        self._deliveries(state, block, out)
        self._scheduled(state, block, out)
        return out

    def _context(self, kind: bytes, block: BlockContext, out: BlockRuns,
                 origin: bytes) -> TxContext:
        index = len(out.runs)
        return TxContext(run_id(self.runner.hash, kind, block.height, index), index, origin)

    def _record(self, out: BlockRuns, ctx: TxContext, outcome: Outcome, fee: int,
                events: list[Event] | None = None) -> None:
        receipt = outcome.receipt(ctx.hash, fee)
        if events:
            receipt = msgspec.structs.replace(receipt, events=receipt.events + events)
        out.runs.append(Run(receipt, outcome.result))
        out.fuel_used += outcome.fuel_used

    def _deliveries(self, state: Overlay, block: BlockContext, out: BlockRuns) -> None:
        lim, h = self.limits, block.height
        raw = state.get(queue_key(h))
        if raw is None:
            return
        state.set(queue_key(h), None)
        budget = lim.delivery_block_fuel
        waiting: list[Pending] = []
        for item in _decode_queue(raw).items:
            timed_out = h > item.height + 1 + lim.timeout_blocks
            if not timed_out and (waiting or lim.async_fuel + lim.callback_fuel > budget):
                waiting.append(item)  # in order: none overtakes an earlier request
                continue
            if not timed_out:
                budget -= lim.async_fuel + lim.callback_fuel
            self._deliver(state, block, out, item, timed_out)
        if waiting:
            key = queue_key(h + 1)
            later = state.get(key)
            rest = [] if later is None else _decode_queue(later).items
            state.set(key, codec.encode(Queue(waiting + rest)))

    def _deliver(self, state: Overlay, block: BlockContext, out: BlockRuns, item: Pending,
                 timed_out: bool) -> None:
        req = item.request()
        ctx = self._context(b"async", block, out, req.origin)
        if timed_out:
            call = Outcome(error=AsyncTimedOut(
                f"not delivered within {self.limits.timeout_blocks} blocks of block "
                f"{item.height + 1}"))
            res = CallResult(error=call.error)  # type: ignore[arg-type]
        else:
            op = Call(req.target, req.method, req.payload, self.limits.async_fuel)
            call = self._engine_run(state, block, out, ctx, req.target, lambda scope: (
                self.runner.call(scope, block, ctx, req.origin, op)))
            res = call.result or CallResult(error=call.error)  # type: ignore[arg-type]
        call_fee = fuel_fee(self.params, call.fuel_used)
        self._record(out, ctx, call, call_fee)
        ctx = self._context(b"callback", block, out, req.origin)
        back = self._engine_run(state, block, out, ctx, req.origin, lambda scope: (
            self.runner.callback(scope, block, ctx, req, res, self.limits.callback_fuel)))
        fee = fuel_fee(self.params, call.fuel_used + back.fuel_used)
        self._pay(state, item.payer, item.payer_is_contract, item.reserved - fee)
        self._record(out, ctx, back, fee - call_fee)

    def _engine_run(self, state: Overlay, block: BlockContext, out: BlockRuns,
                    ctx: TxContext, contract: bytes,
                    run: Callable[[Overlay], Outcome]) -> Outcome:
        """One run on a child of `state`, kept with its async requests (paid from
        `contract`'s prepaid balance) if it succeeded."""
        scope = state.child()
        outcome = run(scope)
        if outcome.error is None and outcome.result is not None:
            outcome.error = self.enqueue(scope, block.height, outcome.result.async_calls,
                                         contract, True)
        if outcome.error is None:
            if out.observe is not None:
                out.observe(ctx, outcome, scope.writes)
            state.merge(scope)
        return outcome

    def _scheduled(self, state: Overlay, block: BlockContext, out: BlockRuns) -> None:
        lim, h = self.limits, block.height
        entries = schedules.due(state, h)
        if not entries:
            return
        schedules.set_due(state, h, [])
        fits = max(0, lim.scheduled_block_fuel // lim.scheduled_fuel)
        for entry in entries[:fits]:
            self._run_scheduled(state, block, out, entry)
        if entries[fits:]:
            schedules.defer(state, entries[fits:], h + 1)

    def _run_scheduled(self, state: Overlay, block: BlockContext, out: BlockRuns,
                       entry: Due) -> None:
        h, contract, fn = block.height, entry.contract, entry.function
        ctx = self._context(b"sched", block, out, contract)
        most = fuel_fee(self.params, self.limits.scheduled_fuel)
        if self._pay(state, contract, True, -most) is not None:  # cannot be paid
            s = schedules.after_run(state, entry, h, paid=False)
            events = [Event(EVENT_SOURCE, "RunUnpaid", codec.encode([contract, fn, s.unpaid]))]
            if s.unpaid >= self.limits.unpaid_runs:
                schedules.cancel(state, entry, s.next_height)
                events.append(Event(EVENT_SOURCE, "Cancelled", codec.encode([contract, fn])))
            self._record(out, ctx, Outcome(error=InsufficientBalance(
                f"contract {contract.hex()} has less than the {most} a run of `{fn}` may "
                "cost prepaid")), 0, events)
            return
        # the most it may cost is held while it runs (its own async requests are paid from
        # what is left); the rest comes back after
        outcome = self._engine_run(state, block, out, ctx, contract, lambda scope: (
            self.runner.scheduled(scope, block, ctx, contract, fn, self.limits.scheduled_fuel)))
        fee = fuel_fee(self.params, outcome.fuel_used)
        self._pay(state, contract, True, most - fee)
        schedules.after_run(state, entry, h, paid=True)
        err = outcome.error
        events = [] if err is None else [
            Event(EVENT_SOURCE, "RunFailed", codec.encode([contract, fn, err.code, err.name]))]
        self._record(out, ctx, outcome, fee, events)
