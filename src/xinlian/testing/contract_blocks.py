"""Blocks of contract calls on a real chain store: the harness that checks parallel execution
against serial execution (tests/execution/test_parallel.py) and measures both
(benchmarks/contracts.py).

`CallChain.create` makes a chain (a real `LedgerPipeline` over LMDB) with `accounts` funded
accounts, a Qi token (examples/qi/token.qi) that gave each of them tokens, and a `Relay`
contract holding tokens that pays them out through a synchronous cross-contract call and
counts its payments (one hot key every relay call reads and writes). The relay also pays
asynchronously (`ask`: the token's transfer runs at the start of the next block, then the
relay's callback counts it) and has a scheduled function every 2 blocks (paid from the
prepaid balance the setup funds), so blocks carry engine-started runs before their
transactions. Workloads are lists of `Op`s; `CallChain.transactions` signs them with
consecutive nonces per sender.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xinlian import codec
from xinlian.crypto.suites import get_suite
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.executor import BlockResult, Executor
from xinlian.execution.payloads import Call, Deploy, Fund, Transfer, Upgrade
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.ledger.genesis import genesis_from_dict
from xinlian.ledger.transaction import Transaction, TxBody, TxKind, decode_transaction, sign_body
from xinlian.node.offload import execution_pool
from xinlian.node.pipeline import Built, LedgerPipeline

SUITE = get_suite("intl")
CHAIN_ID = "calls"
ROOT = Path(__file__).resolve().parents[3]
FEE = 10**9  # a fee limit that covers any call here
FUEL = 20_000_000  # a token transfer burns about a tenth of it
TOKENS = 10**6  # each account's token balance after setup
SETUP_BLOCK = 2_000  # transactions per setup block

RELAY_SOURCE = """
interface Ledger {
    fn transfer(to: address, amount: u256) -> bool;
}

contract Relay {
    state token: address;
    state paid: u64;
    state refused: u64;

    init(token_addr: address) { token = token_addr; }

    // pays from the relay's own token balance: a synchronous cross-contract call
    pub fn pay(to: address, amount: u256) -> u64 {
        paid += 1;
        Ledger(token).transfer(to, amount);
        return paid;
    }

    // the same, but a failed payment is caught and counted instead
    pub fn try_pay(to: address, amount: u256) -> u64 {
        try let ok = Ledger(token).transfer(to, amount) {
            paid += 1;
        } catch e {
            refused += 1;
        }
        return refused;
    }

    // the same, answered in the next block (execution.contracts.engine_runs)
    pub fn ask(to: address, amount: u256) {
        async Ledger(token).transfer(to, amount) then on_paid;
    }

    fn on_paid(ok: bool?) {
        if ok.is_some() { paid += 1; } else { refused += 1; }
    }

    fn tick() every 2 blocks { paid += 1; }
}
"""


@dataclass(frozen=True)
class Op:
    """One transaction of a workload: `sender` (account index) does `action` with `args`
    (the first is a recipient: `CallChain.recipient`).
    Actions: "transfer" (token: to, amount), "pay" / "try_pay" (relay: to, amount),
    "missing" (an unknown method), "starve" (a token transfer with too little fuel),
    "stranger" (a call to an address with no contract), "ask" (relay: to, amount, paid
    asynchronously in the next block), "native" (a transfer of units:
    to, amount), "fund" (units into the token's prepaid balance: amount), "upgrade" (the
    token's code again, a new version: only account 0 may), "stale" (a transaction with a
    spent nonce: left out of the block)."""

    sender: int
    action: str
    args: tuple[int, ...] = ()


class CallChain:
    def __init__(self, pipeline: LedgerPipeline, keys: list[Any], token: Artifact,
                 relay: Artifact) -> None:
        self.pipeline = pipeline
        self.keys = keys
        self.addresses = [a.address for a in pipeline.genesis.accounts]
        self.nonces = [pipeline.chain.account(a).nonce for a in self.addresses]
        self.token_art, self.relay_art = token, relay
        deployer = self.addresses[0]
        self.token = contract_address(SUITE.hash_bytes, deployer, 0)
        self.relay = contract_address(SUITE.hash_bytes, deployer, 1)
        self.serial = Executor(pipeline.genesis.params, SUITE)
        self.timestamp_ms = 0

    # --- making a chain -----------------------------------------------------------------

    @classmethod
    def create(cls, data_dir: Path, accounts: int, workers: int = 0) -> CallChain:
        """A new chain in `data_dir` (see the module docstring)."""
        keys = [SUITE.generate_signing_key(i.to_bytes(4, "big") * 8) for i in range(accounts)]
        genesis = genesis_from_dict({
            "chain_id": CHAIN_ID, "suite": SUITE.name,
            "organisations": [{"name": "org", "admins": [keys[0].public_key.data.hex()]}],
            "accounts": [{"key": k.public_key.data.hex(), "balance": 10**14} for k in keys],
            "params": {"permissioned": False},
        })
        pipeline = LedgerPipeline(data_dir, genesis, keys[0], clock=lambda: 0, durable=False,
                                  pool=execution_pool(data_dir, genesis, workers))
        token = compile_source((ROOT / "examples/qi/token.qi").read_text(), "token.qi")
        relay = compile_source(RELAY_SOURCE, "relay.qi")
        chain = cls(pipeline, keys, token, relay)
        chain.commit([chain.deploy(token, "T", TOKENS * (accounts + 1)),
                      chain.deploy(relay, chain.token)])
        gifts = [chain.sign(0, TxKind.CALL, Call(chain.token, "transfer", chain.args(
                    token, "transfer", a, TOKENS), FUEL)) for a in [chain.relay,
                                                                     *chain.addresses[1:]]]
        gifts.append(chain.sign(0, TxKind.FUND, Fund(chain.relay, 10**9)))  # its schedule
        for start in range(0, len(gifts), SETUP_BLOCK):
            chain.commit(gifts[start:start + SETUP_BLOCK])
        return chain

    def copy(self, target: Path, workers: int) -> CallChain:
        """A chain at `target` (replaced) with this one's state and `workers`."""
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.pipeline.chain.store.path.parent, target)
        genesis = self.pipeline.genesis
        pipeline = LedgerPipeline(target, genesis, self.keys[0], clock=lambda: 0,
                                  durable=False, pool=execution_pool(target, genesis, workers))
        chain = CallChain(pipeline, self.keys, self.token_art, self.relay_art)
        chain.timestamp_ms = self.timestamp_ms
        return chain

    # --- transactions -------------------------------------------------------------------

    def args(self, art: Artifact, method: str, *values: Any) -> bytes:
        spec = next(f for f in art.abi["functions"] if f["name"] == method)
        return b"".join(abi.encode(abi.type_from_json(p["type"]), v)
                        for p, v in zip(spec["params"], values, strict=True))

    def deploy(self, art: Artifact, *init: Any) -> Transaction:
        return self.sign(0, TxKind.DEPLOY, Deploy(art.wasm, art.abi_json().encode(),
                                                  self.args(art, "init", *init), FUEL))

    def sign(self, sender: int, kind: int, payload: Any, nonce: int | None = None
             ) -> Transaction:
        if nonce is None:
            nonce = self.nonces[sender]
            self.nonces[sender] += 1
        body = TxBody(CHAIN_ID, self.keys[sender].public_key, nonce, kind,
                      codec.encode(payload), FEE, 10**9)
        return decode_transaction(sign_body(body, self.keys[sender]), CHAIN_ID,
                                  SUITE.hash_bytes)

    def recipient(self, i: int) -> bytes:
        """Account `i`, or past the accounts, an address that holds nothing yet."""
        return self.addresses[i] if i < len(self.addresses) else i.to_bytes(20, "big")

    def transaction(self, op: Op) -> Transaction:
        """The signed transaction of one workload step (see `Op`)."""
        to = self.recipient(op.args[0]) if op.args else self.relay
        amount = op.args[1] if len(op.args) > 1 else 0
        call = TxKind.CALL
        if op.action == "transfer":
            payload: Any = Call(self.token, "transfer",
                                self.args(self.token_art, "transfer", to, amount), FUEL)
        elif op.action in ("pay", "try_pay", "ask"):
            payload = Call(self.relay, op.action,
                           self.args(self.relay_art, op.action, to, amount), FUEL)
        elif op.action == "missing":
            payload = Call(self.token, "no_such_method", b"", FUEL)
        elif op.action == "starve":
            payload = Call(self.token, "transfer",
                           self.args(self.token_art, "transfer", to, amount), 1_000)
        elif op.action == "stranger":
            payload = Call(to, "transfer", self.args(self.token_art, "transfer", to, 1), FUEL)
        elif op.action == "native":
            return self.sign(op.sender, TxKind.TRANSFER, Transfer(to, amount))
        elif op.action == "fund":
            return self.sign(op.sender, TxKind.FUND, Fund(self.token, amount))
        elif op.action == "upgrade":  # the same code again: a new version, by its admin only
            return self.sign(op.sender, TxKind.UPGRADE, Upgrade(
                self.token, self.token_art.wasm, self.token_art.abi_json().encode(), FUEL))
        elif op.action == "stale":
            return self.sign(op.sender, call, Call(self.token, "transfer", self.args(
                self.token_art, "transfer", to, 1), FUEL), nonce=0)
        else:
            raise ValueError(f"unknown workload action {op.action!r}")
        return self.sign(op.sender, call, payload)

    def transactions(self, ops: Sequence[Op]) -> list[Transaction]:
        """One block's transactions, with nonces that follow the committed head's."""
        self.nonces = [self.pipeline.chain.account(a).nonce for a in self.addresses]
        return [self.transaction(op) for op in ops]

    # --- blocks -------------------------------------------------------------------------

    def execute(self, txs: Sequence[Transaction], *, serial: bool = False) -> BlockResult:
        """Execute `txs` as the next block on the head state, committing nothing: with the
        pipeline's executor (parallel when it has workers) or a serial one."""
        return self.pipeline.execute(txs, self.timestamp_ms + 1000,
                                     self.serial if serial else None)

    def commit(self, txs: Sequence[Transaction]) -> Built:
        """Execute `txs` as the next block and commit it."""
        self.timestamp_ms += 1000
        built = self.pipeline.build(txs, self.timestamp_ms)
        self.pipeline.commit(built)
        self.pipeline.publish(built)
        return built

    def close(self) -> None:
        self.pipeline.close()
