"""A live 4-validator chain moves from `intl` (Ed25519) to `pq` (ML-DSA-65) accounts under a
steady load of signed transfers, in the whole-validator simulation (seeded; real consensus,
ledger pipelines, execution and LMDB stores; docs/pq.md "Migration without a fork").

Governance schedules the move (three of four organisations approve), every client binds an
ML-DSA-65 key with a transaction signed by both keys, and the clients keep sending: with
their Ed25519 keys before H, with either key in the window, with the bound key after it.
The chain never stops committing, every validator ends with the same state, the blocks
hold the algorithms the rule allows at their heights, and the last transfers each client
sent are all committed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from xinlian import codec
from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.crypto.keys import AlgId
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.execution import payloads as p
from xinlian.execution.migration import binding_message, get_bound_count, get_schedule
from xinlian.ledger.migration import Phase, get_phase
from xinlian.ledger.transaction import (
    SignedTransaction,
    TxBody,
    TxKind,
    decode_transaction,
    sign_body,
)
from xinlian.sim.runtime import Simulation
from xinlian.testing.validators import ClientTxs, ValidatorNet

WINDOW = 10
AHEAD = 6


class Signer:
    """Signs each (key, nonce) once, as a client that keeps its signed transactions."""

    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        self._signed: dict[tuple[bytes, int], bytes] = {}

    def tx(self, key: SigningKey, nonce: int, kind: int, payload: Any,
           fee: int = 10**6) -> bytes:
        slot = (key.public_key.data, nonce)
        if slot not in self._signed:
            body = TxBody(self.chain_id, key.public_key, nonce, kind, codec.encode(payload),
                          fee, 10**9)
            self._signed[slot] = sign_body(body, key)
        return self._signed[slot]


def _send(net: ValidatorNet, t: int, node: int, raws: list[bytes]) -> None:
    net.sim.at(t, lambda sim: sim.input(net.nodes[node], ClientTxs(tuple(raws)), sim.now_ms))


def test_a_live_chain_moves_to_pq_keys_without_a_halt_or_a_lost_transfer() -> None:
    net = ValidatorNet(4, 41, config=Config(pacemaker=Pacemaker(base_ms=300)))
    try:
        suite, pq = net.genesis.crypto_suite(), get_suite("pq")
        signer = Signer(net.genesis.chain_id)
        # the admins (one per organisation) get balances to pay for governance
        funder = net.clients[0]
        _send(net, 0, 0, [signer.tx(funder.key, n, TxKind.TRANSFER,
                                    p.Transfer(admin, 10**9))
                          for n, admin in enumerate(net.nodes)])
        net.sim.run_until(2000)
        first = net.validator(net.nodes[0])
        assert first is not None
        chain = first.ledger.chain
        at = chain.height + 12
        propose = signer.tx(net.node_keys[0], 0, TxKind.SYSTEM,
                            p.Propose(p.ScheduleMigration("pq", at, WINDOW)))
        _send(net, 2000, 1, [propose])
        net.sim.run_until(3500)
        pid = suite.hash_bytes(codec.decode(propose, SignedTransaction).body)
        _send(net, 3500, 2, [signer.tx(net.node_keys[i], 0, TxKind.SYSTEM, p.Approve(pid))
                             for i in (1, 2)])
        net.sim.run_until(5000)
        schedule = get_schedule(chain.read)
        assert schedule is not None and schedule.height == at
        new_keys = [pq.generate_signing_key(hashlib.sha256(b"pq%d" % i).digest())
                    for i in range(len(net.clients))]
        binds = []
        for client, key in zip(net.clients, new_keys, strict=True):
            proof = key.sign(binding_message(net.genesis.chain_id, client.address,
                                             key.public_key))
            nonce = chain.account(client.address).nonce
            binds.append(signer.tx(client.key, nonce, TxKind.SYSTEM,
                                   p.BindKey(key.public_key, proof)))
        _send(net, 5000, 3, binds)
        net.sim.run_until(6500)
        assert chain.height < at  # the load below makes the heights H and H + W
        assert get_bound_count(chain.read) == len(net.clients)

        last: dict[int, int] = {}

        def tick(sim: Simulation) -> None:
            up = [n for n in net.nodes if sim.is_up(n)]
            for i, client in enumerate(net.clients):
                node = sim.rng.choice(up)
                validator = net.validator(node)
                assert validator is not None
                nonce = validator.ledger.chain.account(client.address).nonce
                phase = get_phase(schedule, validator.ledger.chain.height + 1)
                # in the window, half the clients already sign with their new keys
                new = phase is Phase.DONE or (phase is Phase.OVERLAP and i % 2 == 0)
                key = new_keys[i] if new else client.key
                to = net.clients[(i + 1) % len(net.clients)].address
                raws = tuple(signer.tx(key, nonce + k, TxKind.TRANSFER, p.Transfer(to, 1),
                                       fee=net.genesis.params.transfer_cost)
                             for k in range(AHEAD))
                last[i] = nonce + AHEAD - 1
                sim.input(node, ClientTxs(raws), sim.now_ms)

        for t in range(6500, 30_000, 100):
            net.sim.at(t, tick)
        net.sim.run_until(34_000)

        assert net.log.violations == []
        assert len(set(net.state_roots().values())) == 1
        head = chain.height
        assert head >= at + WINDOW + 5, head  # the chain went on committing past the window
        algs: dict[Phase, set[AlgId]] = {phase: set() for phase in Phase}
        for height in range(1, head + 1):
            block = chain.block(height)
            assert block is not None
            phase = get_phase(schedule, height)
            for raw in block.txs:
                tx = decode_transaction(raw, net.genesis.chain_id, suite.hash_bytes)
                algs[phase].add(tx.body.sender.alg)
        assert algs[Phase.SCHEDULED] == {AlgId.ED25519}
        assert algs[Phase.OVERLAP] == {AlgId.ED25519, AlgId.ML_DSA_65}
        assert algs[Phase.DONE] == {AlgId.ML_DSA_65}
        for i, client in enumerate(net.clients):  # the last transfers sent all committed
            assert chain.account(client.address).nonce == last[i] + 1
    finally:
        net.close()
