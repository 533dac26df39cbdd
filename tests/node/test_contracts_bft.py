"""Contracts on BFT validators (the whole-validator simulation): a token deployed and called
through consensus ends with the same contract state and state root on every validator."""

from __future__ import annotations

from typing import Any

from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.execution.contracts.records import contract_address, contract_key, storage_key
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.payloads import Call, Deploy, Fund
from xinlian.execution.state import Overlay
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.types import ADDRESS, IntTy
from xinlian.ledger.transaction import TxKind
from xinlian.testing.contracts import compile_example, encode_args
from xinlian.testing.validators import ClientTxs, ValidatorNet

TOKEN = compile_example("token.qi")
ORACLE = compile_example("oracle.qi", "Oracle")
CONSUMER = compile_example("oracle.qi", "Consumer")


def test_validators_agree_on_contract_state() -> None:
    net = ValidatorNet(4, 21, config=Config(pacemaker=Pacemaker(base_ms=300)))
    try:
        client, other = net.clients[0], net.clients[1]

        signed = client.signed

        raws = [signed(0, TxKind.DEPLOY, Deploy(TOKEN.wasm, TOKEN.abi_json().encode(),
                                                encode_args(TOKEN, "init", "T", 1000),
                                                10**8))]
        token = contract_address(net.genesis.crypto_suite().hash_bytes, client.address, 0)
        args = encode_args(TOKEN, "transfer", other.address, 7)
        raws += [signed(n, TxKind.CALL, Call(token, "transfer", args, 10**8))
                 for n in (1, 2, 3)]
        net.sim.at(0, lambda sim: sim.input(net.nodes[0], ClientTxs(tuple(raws)), sim.now_ms))
        net.sim.run_until(3000)
        assert net.log.violations == []
        ledgers = [v.ledger for n in net.nodes if (v := net.validator(n)) is not None]
        assert len(ledgers) == 4
        key = storage_key(token, bytes.fromhex("03000000") + abi.encode(ADDRESS, other.address))
        values = {ledger.chain.read(key) for ledger in ledgers}
        assert values == {abi.encode(IntTy(256, False), 21)}
        assert len({ledger.chain.read(contract_key(token)) for ledger in ledgers}) == 1
        assert len(set(net.state_roots().values())) == 1
    finally:
        net.close()


TICKER = compile_source("""
contract Ticker {
    state n: u64;
    fn tick() every 3 blocks { n += 1; }
    pub view fn count() -> u64 { return n; }
}""", "ticker.qi")


def test_validators_agree_on_async_deliveries_and_scheduled_runs() -> None:
    """An async request answered in a later block and a scheduled function running on its
    heights — with no transactions after the first block's — end the same on every
    validator: consensus blocks without batches become ledger blocks while the executor
    has work of its own."""
    net = ValidatorNet(4, 22, config=Config(pacemaker=Pacemaker(base_ms=300)))
    try:
        client = net.clients[0]
        hash_bytes = net.genesis.crypto_suite().hash_bytes

        signed = client.signed

        def deploy(nonce: int, art: Artifact, *args: Any) -> tuple[bytes, bytes]:
            init = encode_args(art, "init", *args) if args else b""
            return (signed(nonce, TxKind.DEPLOY, Deploy(art.wasm, art.abi_json().encode(),
                                                        init, 10**8)),
                    contract_address(hash_bytes, client.address, nonce))

        raw_oracle, oracle = deploy(0, ORACLE)
        raw_consumer, consumer = deploy(2, CONSUMER, oracle)
        raw_ticker, ticker = deploy(3, TICKER)
        raws = [raw_oracle,
                signed(1, TxKind.CALL, Call(oracle, "set", encode_args(ORACLE, "set", "XL", 42),
                                            10**8)),
                raw_consumer, raw_ticker, signed(4, TxKind.FUND, Fund(ticker, 10**6)),
                signed(5, TxKind.CALL, Call(consumer, "request",
                                            encode_args(CONSUMER, "request", "XL"), 10**8))]
        net.sim.at(0, lambda sim: sim.input(net.nodes[0], ClientTxs(tuple(raws)), sim.now_ms))
        net.sim.run_until(6000)
        assert net.log.violations == []
        ledgers = [v.ledger for n in net.nodes if (v := net.validator(n)) is not None]
        assert len(ledgers) == 4
        answers: dict[int, set[tuple[int, int]]] = {}  # by height: validators may lag
        for ledger in ledgers:
            chain = ledger.chain
            runner = ledger.executor.contracts
            context = BlockContext(chain.height, 0)

            def view(art: Artifact, contract: bytes, method: str, *args: Any) -> Any:
                return runner.query(Overlay(chain.read), context, contract, method,  # noqa: B023
                                    encode_args(art, method, *args)).value

            blocks = [chain.block(h) for h in range(1, chain.height + 1)]
            assert sum(b.header.tx_count for b in blocks if b) == len(raws)
            answers.setdefault(chain.height, set()).add(
                (view(CONSUMER, consumer, "latest"), view(TICKER, ticker, "count")))
        assert all(len(seen) == 1 for seen in answers.values())
        assert min(answers) >= 7, answers
        assert all(latest == 42 and ticks >= 2 for [(latest, ticks)] in answers.values())
    finally:
        net.close()
