"""Block execution: transactions in, receipts and state writes out. Deterministic.

Rules, per transaction in block order:
1. Inclusion: the key rule of a suite migration (ledger/migration.py; a bound key acts for
   its account, execution/migration.py), then the ledger's executability rules
   (ledger/rules.py: nonce, expiry, permission, fees). A transaction failing them is left
   out of the block, with the typed error of the rule it broke; the node drops it from its
   pool (see docs/operations.md). A contract transaction whose fuel limit does not fit in
   what is left of the block's MAX_BLOCK_FUEL is left out with BlockFuelFull and stays in
   the pool for a later block.
2. The base cost of its kind is charged as the fee (burned) and the nonce is spent.
3. The operation runs on a child overlay: on success its writes are kept; on failure
   (overdraft, unauthorised, invalid operation, bad payload, a contract error) they are
   dropped and the receipt carries the error code. The fee and nonce stay spent either
   way; a contract run also pays for the fuel it burned (ledger/rules.py).

With a pool of workers (execution/parallel.py), `call` transactions of large blocks are
first run by worker processes on a guess of the state; step 3 then takes a worker's run
whose every read still holds (execution/speculation.py) instead of running the call, so
the result is the serial result. Writes made before the transactions (the engine-started
runs below) reach the workers as `pre_writes`.

Before the transactions, `_engine_runs` runs what no account signs (execution.contracts.
engine_runs): the async requests due at the block's height, then its due scheduled functions.
Their receipts (`BlockResult.runs`, derived ids) follow the transactions' in the receipts
root; their fuel counts in the block's. A contract transaction whose run makes async
requests pays their reservation when it succeeds (within its fee limit: base + fuel fee +
reservation; otherwise the run fails with insufficient_balance and is rolled back).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from xinlian import codec
from xinlian.crypto.suites import Suite
from xinlian.errors import XinlianError
from xinlian.execution.anonymous import Anonymous, shield_amount
from xinlian.execution.anonymous_payloads import AnonymousOp
from xinlian.execution.confidential import Confidential, deposit_amount, verify_fuel
from xinlian.execution.confidential_payloads import ConfidentialOp
from xinlian.execution.contracts.engine_runs import EngineRuns, Limits, has_work
from xinlian.execution.contracts.runner import BlockContext, ContractRunner, Outcome
from xinlian.execution.data import apply as data
from xinlian.execution.data.changes import RecordChange, record_changes
from xinlian.execution.data.model import DataWrite, DeclareCollection
from xinlian.execution.errors import BadPayload, InsufficientBalance
from xinlian.execution.indexing import IndexSpecs, run_entries
from xinlian.execution.migration import get_schedule, key_rule, resolve_sender
from xinlian.execution.parallel import BaseState, BlockPlan, ExecutionPool
from xinlian.execution.payloads import (
    Call,
    Deploy,
    Fund,
    SetAdmin,
    SystemOp,
    Transfer,
    Upgrade,
)
from xinlian.execution.speculation import Speculation, adopt, speculate_segment
from xinlian.execution.state import Overlay, Reader
from xinlian.execution.system import SystemContract, is_permitted
from xinlian.execution.vm.engine import MAX_BLOCK_FUEL
from xinlian.execution.vm.host import AsyncRequest, TxContext
from xinlian.ledger.account import Account
from xinlian.ledger.block import Event, Receipt
from xinlian.ledger.errors import BlockFuelFull, LedgerError
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import (
    Fees,
    base_cost,
    contract_base_cost,
    data_base_cost,
    executable_error,
    fuel_fee,
)
from xinlian.ledger.transaction import Transaction, TxKind

ContractOp = Deploy | Call | Upgrade | Fund | SetAdmin
_PAYLOADS: dict[int, type[ContractOp]] = {
    TxKind.DEPLOY: Deploy, TxKind.CALL: Call, TxKind.UPGRADE: Upgrade, TxKind.FUND: Fund,
    TxKind.SET_ADMIN: SetAdmin}
_CODE_OPS = (Deploy, Upgrade)  # the kinds that pay for the code they bring


@dataclass
class BlockResult:
    included: list[Transaction]
    receipts: list[Receipt]
    writes: dict[bytes, bytes | None]
    excluded: list[tuple[Transaction, LedgerError]]  # not executable, with the rule broken
    fuel_used: int = 0  # by the block's contract runs
    runs: list[Receipt] = field(default_factory=list)  # of the runs no account signs
    # the next block has engine work (requests due, or schedules armed): make this one
    # even without transactions, so that heights keep coming
    engine_work: bool = False
    # the ordered index's new entries (execution/indexing.py), from successful contract runs
    index: dict[bytes, bytes | None] = field(default_factory=dict)
    # the data indexes' updates (execution/data), per index kind, from successful data writes
    data_index: data.IndexUpdates = field(default_factory=dict)
    # the records successful data writes changed, in block order (execution/data/changes.py)
    data_changes: list[RecordChange] = field(default_factory=list)


class Executor:
    def __init__(self, params: ChainParams, suite: Suite,
                 runner: ContractRunner | None = None, pool: ExecutionPool | None = None,
                 limits: Limits | None = None) -> None:
        """`pool`: worker processes that run contract calls in parallel (None: serial);
        `limits`: of async and scheduled runs (engine_runs)."""
        self.params = params
        self.system = SystemContract(suite)
        self.confidential = Confidential(suite.hash_bytes)
        self.anonymous = Anonymous(suite.hash_bytes)
        self.hash = suite.hash_bytes
        self.contracts = runner or ContractRunner(suite.hash_bytes, suite.name)
        self.pool = pool
        self.engine_runs = EngineRuns(self.contracts, params, limits)
        self.index_specs = IndexSpecs(self.contracts.artifacts)

    def execute_block(self, txs: Sequence[Transaction], block: BlockContext,
                      read: Reader, base: BaseState | None = None) -> BlockResult:
        """`base`: the committed state that `read` reads, for the pool's workers to read
        (None: the block runs serially)."""
        state = Overlay(read)
        result = BlockResult([], [], {}, [])
        self._engine_runs(state, block, result)
        self.confidential.begin_block(state.get, txs)
        self.anonymous.begin_block(state.get, txs)
        plan = None if self.pool is None else self.pool.plan(
            txs, base, block.height, block.timestamp_ms, state.encoded_writes(),
            len(result.receipts))
        params = self.params
        # a schedule enacted by this block takes effect later: its height is above this one
        schedule = get_schedule(state.get)
        for position, tx in enumerate(txs):
            op = contract_op(tx)
            fees = tx_fees(params, tx, op, state.get)
            error = key_rule(state.get, self.hash, schedule, tx, block.height)
            sender = tx.sender_address  # a bound key's account (execution/migration.py)
            account = state.account(sender)
            if error is None:
                error = executable_error(
                    params, tx, fees, account, block.height,
                    not params.permissioned or is_permitted(state.get, sender))
            if error is None and fees.fuel_limit > MAX_BLOCK_FUEL - result.fuel_used:
                error = BlockFuelFull(f"fuel limit {fees.fuel_limit} exceeds the "
                                      f"{MAX_BLOCK_FUEL - result.fuel_used} left in the block")
            if error is not None:
                result.excluded.append((tx, error))
                continue
            result.included.append(tx)
            # the account read for the rules is the one charged: nothing ran in between
            if isinstance(op, ContractOp):
                ctx = TxContext(tx.hash, len(result.receipts), sender, tx.body.chain_id,
                                tx.body.nonce)
                receipt = self._contract(state, tx, op, fees, account, block, ctx, plan,
                                         position, result.index)
                result.fuel_used += receipt.fuel_used
            else:  # a confidential or anonymous operation's verification counts as fuel
                receipt = self._execute(state, tx, op, account,
                                        fees.base + fuel_fee(params, fees.fuel_limit),
                                        block.height, result.data_index, result.data_changes,
                                        len(result.receipts))
                result.fuel_used += fees.fuel_limit
            result.receipts.append(receipt)
        if plan is not None:
            plan.finish()
        result.engine_work = has_work(state.get, block.height + 1)
        result.writes = state.encoded_writes()
        return result

    def _engine_runs(self, state: Overlay, block: BlockContext, result: BlockResult) -> None:
        """The block's first work: async deliveries due at its height, then its scheduled
        runs (execution.contracts.engine_runs), indexed like transactions' runs."""
        def index(ctx: TxContext, out: Outcome, writes: Mapping[bytes, object]) -> None:
            result.index.update(run_entries(self.index_specs.over(state), block.height,
                                            ctx.index, out.events, writes, engine_run=True))

        runs = self.engine_runs.run_block(state, block, index)
        result.runs = [r.receipt for r in runs.runs]
        result.fuel_used += runs.fuel_used

    def speculate(self, block: BlockContext, read: Reader, pre_writes: dict[bytes, bytes | None],
                  items: Iterable[tuple[int, int, Transaction]]) -> Iterator[Speculation]:
        """In a worker process (execution/parallel.py): run the calls among `items` as
        `_contract` would, on the base state `read` plus `pre_writes` plus the writes of
        the earlier calls, recording what each read."""
        def run(scope: Overlay, tx: Transaction, index: int) -> tuple[Outcome | None, bool]:
            op = contract_op(tx)
            if not isinstance(op, Call):
                return None, False  # not taken: the node decides what it is
            resolve_sender(scope.get, self.hash, get_schedule(scope.get), tx)
            out = self._run_contract(scope, tx, op, block,
                                     TxContext(tx.hash, index, tx.sender_address,
                                               tx.body.chain_id, tx.body.nonce))
            # the engine's own record stays here (half the bytes to ship): `_contract` uses
            # only the receipt's fields of a run that is over
            return replace(out, result=None), out.error is None
        return speculate_segment(run, read, pre_writes, items)

    @staticmethod
    def _charge(state: Overlay, tx: Transaction, fee: int, account: Account) -> None:
        """Take `fee` from the sender, whose account is `account`, and spend the nonce."""
        state.set_account(tx.sender_address, Account(account.balance - fee, account.nonce + 1))

    def _execute(self, state: Overlay, tx: Transaction, bad: BadPayload | None,
                 account: Account, cost: int, height: int,
                 data_index: data.IndexUpdates, changes: list[RecordChange],
                 tx_index: int) -> Receipt:
        """A transfer, system or data transaction; a data write's index updates go into
        `data_index` when it succeeds, and the records it changed into `changes` (it is
        the block's transaction `tx_index`)."""
        self._charge(state, tx, cost, account)
        scope = state.child()
        updates: data.IndexUpdates = {}
        try:
            if bad is not None:
                raise bad
            events = self._run(scope, tx, height, updates)
        except XinlianError as exc:
            return Receipt(tx.hash, exc.code, exc.name, [], cost, cost)
        state.merge(scope)
        for kind, entries in updates.items():
            data_index.setdefault(kind, {}).update(entries)
        if tx.body.kind == TxKind.DATA_WRITE:
            changes.extend(record_changes(scope.writes, tx_index, tx.hash))
        return Receipt(tx.hash, 0, "", events, cost, cost)

    def _contract(self, state: Overlay, tx: Transaction, op: ContractOp, fees: Fees,
                  account: Account, block: BlockContext, ctx: TxContext,
                  plan: BlockPlan | None, position: int,
                  index: dict[bytes, bytes | None]) -> Receipt:
        """`account`: the sender's, before the charge; `plan`: the block's worker runs; a
        worker's run of this call (the transaction at `position`) whose reads still hold is
        the serial run's twin: it is taken instead of running the call. A successful run's
        index entries go into `index`."""
        self._charge(state, tx, fees.base, account)  # the fuel's fee follows the run
        sender = tx.sender_address
        spec = None if plan is None else plan.take_current(position, state, ctx.index)
        writes: Mapping[bytes, object]
        if spec is not None:
            out: Outcome = spec.outcome
            adopt(spec, state)
            writes = spec.writes
        else:
            scope = state.child()
            out = self._run_contract(scope, tx, op, block, ctx)
            writes = scope.writes
            if out.error is None:
                state.merge(scope)
        if out.error is None:
            index.update(run_entries(self.index_specs.over(state), block.height, ctx.index,
                                     out.events, writes))
        account = state.account(sender)
        fuel_cost = fuel_fee(self.params, out.fuel_used)
        state.set_account(sender, Account(account.balance - fuel_cost, account.nonce))
        return out.receipt(tx.hash, fees.base + fuel_cost)

    def _run_contract(self, scope: Overlay, tx: Transaction, op: ContractOp,
                      block: BlockContext, ctx: TxContext) -> Outcome:
        """Run a contract operation on `scope` (the caller keeps its writes only if it
        succeeded)."""
        sender, nonce = tx.sender_address, tx.body.nonce
        run = self.contracts
        out: Outcome
        if isinstance(op, Call):  # the common kind first
            out = run.call(scope, block, ctx, sender, op)
        elif isinstance(op, Deploy):
            out = run.deploy(scope, block, ctx, sender, nonce, op)
        elif isinstance(op, Upgrade):
            out = run.upgrade(scope, block, ctx, sender, op)
        elif isinstance(op, SetAdmin):
            out = run.set_admin(scope, sender, op)
        else:
            out = run.fund(scope, block.height, sender, op)
        if out.error is None and out.result is not None and out.result.async_calls:
            out.error = self._reserve(scope, tx, op, out.fuel_used, block.height,
                                      out.result.async_calls)
        return out

    def _reserve(self, scope: Overlay, tx: Transaction, op: ContractOp, fuel_used: int,
                 height: int, requests: list[AsyncRequest]) -> XinlianError | None:
        """Queue a run's async requests and take their reservation from the sender, within
        the fee limit and what the balance (charged the base cost already) leaves after the
        fee of the fuel burned. (A worker's run, made without the base charged, reads
        another balance, so the node runs such a call itself: speculation.py.)"""
        base = tx_fees(self.params, tx, op).base
        fuel_cost = fuel_fee(self.params, fuel_used)
        reserve = self.engine_runs.reservation(len(requests))
        room = min(tx.body.fee_limit - base - fuel_cost,
                   scope.account(tx.sender_address).balance - fuel_cost)
        if reserve > room:
            return InsufficientBalance(
                f"{len(requests)} async call(s) reserve {reserve}, more than the "
                f"{max(room, 0)} the fee limit and the balance leave")
        return self.engine_runs.enqueue(scope, height, requests, tx.sender_address, False)

    def _run(self, state: Overlay, tx: Transaction, height: int,
             updates: data.IndexUpdates) -> list[Event]:
        kind, payload = tx.body.kind, tx.body.payload
        try:
            if kind == TxKind.TRANSFER:
                return self._transfer(state, tx, codec.decode(payload, Transfer))
            if kind == TxKind.CONFIDENTIAL:
                body = tx.body
                return self.confidential.execute(
                    state, body.chain_id, tx.sender_address, body.nonce, tx.hash, height,
                    codec.decode(payload, ConfidentialOp))
            if kind == TxKind.ANONYMOUS:
                return self.anonymous.execute(
                    state, tx.body.chain_id, tx.sender_address, tx.body.nonce, tx.hash,
                    height, codec.decode(payload, AnonymousOp))
            if kind == TxKind.DATA_COLLECTION:
                return data.declare(state, self.hash, tx.sender_address, height,
                                    codec.decode(payload, DeclareCollection))
            if kind == TxKind.DATA_WRITE:
                events, found = data.write(state, self.hash, tx.sender_address, height,
                                           tx.hash, codec.decode(payload, DataWrite))
                updates.update(found)
                return events
            op = codec.decode(payload, SystemOp)
        except codec.CodecError as exc:
            raise BadPayload(f"payload does not decode: {exc.message}") from exc
        return self.system.execute(state, tx, height, op)

    @staticmethod
    def _transfer(state: Overlay, tx: Transaction, op: Transfer) -> list[Event]:
        if op.amount < 0:
            raise BadPayload("transfer amount must not be negative")
        sender = state.account(tx.sender_address)
        if sender.balance < op.amount:
            raise InsufficientBalance(f"balance {sender.balance} < amount {op.amount}")
        state.set_account(tx.sender_address, Account(sender.balance - op.amount, sender.nonce))
        receiver = state.account(op.to)
        state.set_account(op.to, Account(receiver.balance + op.amount, receiver.nonce))
        return [Event("transfer", "Transfer",
                      codec.encode([tx.sender_address, op.to, op.amount]))]


def contract_op(tx: Transaction) -> ContractOp | BadPayload | None:
    """The decoded payload of a contract transaction; BadPayload if it does not decode;
    None for the other kinds."""
    kind = _PAYLOADS.get(tx.body.kind)
    if kind is None:
        return None
    try:
        return codec.decode(tx.body.payload, kind)
    except codec.CodecError as exc:
        return BadPayload(f"payload does not decode: {exc.message}")


def tx_fees(params: ChainParams, tx: Transaction,
            op: ContractOp | BadPayload | None = None, read: Reader | None = None) -> Fees:
    """The fee figures of `tx` (ledger/rules.py); `op`: its contract payload, if decoded
    already. A contract payload that does not decode costs `system_cost` (and fails).
    A confidential or anonymous operation's fuel is the verification it costs, by the
    group of the state `read` reads (confidential.py, anonymous.py; without `read`, it
    counts no fuel)."""
    if op is None and tx.body.kind in _PAYLOADS:
        op = contract_op(tx)
    if isinstance(op, _CODE_OPS):
        return Fees(contract_base_cost(params, len(op.code)), op.fuel_limit)
    if isinstance(op, Call):
        return Fees(contract_base_cost(params, 0), op.fuel_limit)
    if tx.body.kind in (TxKind.DATA_COLLECTION, TxKind.DATA_WRITE):
        return Fees(data_base_cost(params, len(tx.body.payload)))
    if tx.body.kind == TxKind.CONFIDENTIAL and read is not None:
        try:
            conf = codec.decode(tx.body.payload, ConfidentialOp)
        except codec.CodecError:
            return Fees(base_cost(params, tx.body.kind))  # fails with bad_payload
        return Fees(base_cost(params, tx.body.kind), verify_fuel(read, conf))
    if tx.body.kind == TxKind.ANONYMOUS and read is not None:
        try:
            anon = codec.decode(tx.body.payload, AnonymousOp)
        except codec.CodecError:
            return Fees(base_cost(params, tx.body.kind))  # fails with bad_payload
        return Fees(base_cost(params, tx.body.kind), Anonymous.verify_fuel(read, anon))
    return Fees(base_cost(params, tx.body.kind))


def max_spend(tx: Transaction) -> int:
    """The most `tx` can take from its sender's balance: its fee limit plus, for a transfer,
    a fund, a confidential deposit or an anonymous shield whose payload decodes, the
    amount. The mempool's admission budget (ledger/mempool.py)."""
    if tx.body.kind == TxKind.FUND:
        op = contract_op(tx)
        return tx.body.fee_limit + (max(op.amount, 0) if isinstance(op, Fund) else 0)
    if tx.body.kind == TxKind.CONFIDENTIAL:
        return tx.body.fee_limit + deposit_amount(tx.body.payload)
    if tx.body.kind == TxKind.ANONYMOUS:
        return tx.body.fee_limit + shield_amount(tx.body.payload)
    if tx.body.kind != TxKind.TRANSFER:
        return tx.body.fee_limit
    try:
        amount = codec.decode(tx.body.payload, Transfer).amount
    except codec.CodecError:
        return tx.body.fee_limit  # fails with bad_payload: only the fee is charged
    return tx.body.fee_limit + max(amount, 0)
