"""A live chain's move to post-quantum accounts in the whole-validator simulation: the run
that tests/node/test_pq_migration_bft.py checks and benchmarks/pq.py measures (the same
move on real validator processes is cli/pq_demo.py).

The chain (`ValidatorNet`, seeded keys: never for a real chain) starts on `intl`. The
organisations' admins are funded by a client, admin 0 proposes `ScheduleMigration(to, H, W)`
with H twelve blocks ahead and admins 1 and 2 approve (3 of 4 organisations), every client
binds a key of the target suite (its transaction signed by the old key, the proof by the new
one), then every client sends `ahead` transfers every 100 ms to a validator chosen by the
seed, from its account's committed nonce: with its old key before H, in the window half the
clients with their new keys, after it all with their new keys. The run records when each
transfer was first sent and when each height first committed (simulated milliseconds), and
the process CPU time the simulation spent in each phase.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xinlian import codec
from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.crypto.signing import SigningKey, replayable
from xinlian.crypto.suites import get_suite
from xinlian.execution import payloads as p
from xinlian.execution.migration import binding_message, get_schedule
from xinlian.execution.rotation import rotation_message
from xinlian.ledger.migration import MigrationSchedule, Phase, get_phase
from xinlian.ledger.transaction import SignedTransaction, TxBody, TxKind, signing_message
from xinlian.node.chain import ChainStore
from xinlian.sim.runtime import Simulation
from xinlian.testing.validators import ClientTxs, LedgerCommitted, ValidatorNet

LEAD = 12  # blocks between the proposal's height and H
SETUP_MS = 6500  # funding, governance and bindings take the simulation this long
TICK_MS = 100


class Signer:
    """Signs each (key, nonce) once, as a client that keeps its signed transactions."""

    def __init__(self, chain_id: str, hash_bytes: Callable[[bytes], bytes]) -> None:
        self.chain_id = chain_id
        self.hash_bytes = hash_bytes
        self.signed: dict[tuple[bytes, int], bytes] = {}
        self.hashes: dict[bytes, bytes] = {}  # raw transaction -> its hash

    def tx(self, key: SigningKey, nonce: int, kind: int, payload: Any,
           fee: int = 10**6) -> bytes:
        slot = (key.public_key.data, nonce)
        if slot not in self.signed:
            body = codec.encode(TxBody(self.chain_id, key.public_key, nonce, kind,
                                       codec.encode(payload), fee, 10**9))
            raw = codec.encode(SignedTransaction(body, key.sign(signing_message(body))))
            self.signed[slot] = raw
            self.hashes[raw] = self.hash_bytes(body)
        return self.signed[slot]


@dataclass
class _CpuClock:
    """Process CPU time, lapped into the phase the chain was in since the last lap."""

    since: float
    phase: Phase
    spent: dict[Phase, float] = field(default_factory=dict)

    def lap(self, phase: Phase) -> None:
        now = time.process_time()
        self.spent[self.phase] = self.spent.get(self.phase, 0.0) + now - self.since
        self.since, self.phase = now, phase


@dataclass
class MigrationRun:
    net: ValidatorNet
    schedule: MigrationSchedule
    new_keys: list[SigningKey]
    sent_ms: dict[bytes, int] = field(default_factory=dict)  # tx hash -> first sent
    committed_ms: dict[int, int] = field(default_factory=dict)  # height -> first committed
    cpu_s: dict[Phase, float] = field(default_factory=dict)  # simulation CPU per phase
    last_nonce: dict[int, int] = field(default_factory=dict)  # client -> last nonce sent

    @property
    def chain(self) -> ChainStore:
        """Validator 0's chain store."""
        validator = self.net.validator(self.net.nodes[0])
        assert validator is not None
        return validator.ledger.chain

    def close(self) -> None:
        self.net.close()


def _send(net: ValidatorNet, t: int, node: int, raws: list[bytes]) -> None:
    net.sim.at(t, lambda sim: sim.input(net.nodes[node], ClientTxs(tuple(raws)), sim.now_ms))


def _setup(net: ValidatorNet, signer: Signer, to: str, window: int
           ) -> tuple[MigrationSchedule, list[SigningKey]]:
    """Fund the admins, schedule the move, bind every client's new key."""
    target = get_suite(to)
    _send(net, 0, 0, [signer.tx(net.clients[0].key, n, TxKind.TRANSFER, p.Transfer(a, 10**9))
                      for n, a in enumerate(net.nodes)])
    net.sim.run_until(2000)
    chain = _chain(net)
    propose = signer.tx(net.node_keys[0], 0, TxKind.SYSTEM,
                        p.Propose(p.ScheduleMigration(to, chain.height + LEAD, window)))
    _send(net, 2000, 1, [propose])
    net.sim.run_until(3500)
    pid = signer.hashes[propose]
    _send(net, 3500, 2, [signer.tx(net.node_keys[i], 0, TxKind.SYSTEM, p.Approve(pid))
                         for i in (1, 2)])
    net.sim.run_until(5000)
    schedule = get_schedule(chain.read)
    if schedule is None:
        raise AssertionError("governance did not enact the migration")
    keys = [replayable(target.generate_signing_key(hashlib.sha256(b"pq-migration/%d" % i).digest()))
            for i in range(len(net.clients))]
    binds = []
    for client, key in zip(net.clients, keys, strict=True):
        proof = key.sign(binding_message(net.genesis.chain_id, client.address, key.public_key))
        binds.append(signer.tx(client.key, chain.account(client.address).nonce,
                               TxKind.SYSTEM, p.BindKey(key.public_key, proof)))
    _send(net, 5000, 3, binds)
    net.sim.run_until(SETUP_MS)
    return schedule, keys


def rotation(net: ValidatorNet, i: int) -> p.RotateValidatorKeys:
    """Validator `i`'s registration of its rotated keys (`net.rotated_keys[i]`), both
    signing the rotation message."""
    vote, node = net.rotated_keys[i]
    old = net.genesis.validators[i]
    message = rotation_message(net.genesis.chain_id, net.nodes[i], old, vote.public_key,
                               node.public_key)
    return p.RotateValidatorKeys(net.nodes[i], vote.public_key, node.public_key,
                                 vote.sign(message), node.sign(message))


def _rotate(net: ValidatorNet, signer: Signer, start_ms: int, count: int) -> int:
    """The admin of each of the first `count` validators' organisations proposes its
    rotation, the next two organisations' admins approve; returns the simulated time by
    which all are enacted."""
    chain = _chain(net)
    admins = net.node_keys
    nonces = [chain.account(net.nodes[i]).nonce for i in range(len(admins))]

    def tx(i: int, op: p.SystemOp) -> bytes:
        nonces[i] += 1
        return signer.tx(admins[i], nonces[i] - 1, TxKind.SYSTEM, op)

    proposals = [tx(i, p.Propose(rotation(net, i))) for i in range(count)]
    _send(net, start_ms, 0, proposals)
    net.sim.run_until(start_ms + 1000)
    approvals = [tx((j + k) % len(admins), p.Approve(signer.hashes[proposals[j]]))
                 for k in (1, 2) for j in range(count)]
    _send(net, start_ms + 1000, 1, approvals)
    net.sim.run_until(start_ms + 2000)
    return start_ms + 2000


def _chain(net: ValidatorNet, node: bytes | None = None) -> ChainStore:
    """The ledger of `node` (the first validator's by default)."""
    validator = net.validator(net.nodes[0] if node is None else node)
    assert validator is not None
    return validator.ledger.chain


def run_migration(seed: int = 41, *, to: str = "pq", window: int = 10, ahead: int = 6,
                  load_until_ms: int = 30_000, end_ms: int = 34_000,
                  rotate: int = 0) -> MigrationRun:
    """The run described in the module docstring; the caller closes it. `rotate`: that
    many validators (the first) also register keys of `to` (`_rotate`), so consensus
    switches to it (execution/rotation.py's rule)."""
    net = ValidatorNet(4, seed, config=Config(pacemaker=Pacemaker(base_ms=300)),
                       rotate_to=to if rotate else None)
    signer = Signer(net.genesis.chain_id, net.genesis.crypto_suite().hash_bytes)
    setup_ms = SETUP_MS
    try:
        schedule, keys = _setup(net, signer, to, window)
        if rotate:
            setup_ms = _rotate(net, signer, SETUP_MS, rotate)
    except BaseException:
        net.close()
        raise
    run = MigrationRun(net, schedule, keys)

    def committed(node: bytes, now_ms: int, value: object) -> None:
        if isinstance(value, LedgerCommitted):
            run.committed_ms.setdefault(value.height, now_ms)

    net.sim.observe(committed)
    clock = _CpuClock(time.process_time(), Phase.SCHEDULED)

    def tick(sim: Simulation) -> None:
        # clients send to validators at the head: one that left the committee stops there
        up = [n for n in net.nodes if sim.is_up(n)]
        head = max(_chain(net, n).height for n in up)
        up = [n for n in up if _chain(net, n).height == head]
        for i, client in enumerate(net.clients):
            node = sim.rng.choice(up)
            validator = net.validator(node)
            assert validator is not None
            nonce = validator.ledger.chain.account(client.address).nonce
            phase = get_phase(schedule, validator.ledger.chain.height + 1)
            new = phase is Phase.DONE or (phase is Phase.OVERLAP and i % 2 == 0)
            key = keys[i] if new else client.key
            to_address = net.clients[(i + 1) % len(net.clients)].address
            raws = tuple(signer.tx(key, nonce + k, TxKind.TRANSFER, p.Transfer(to_address, 1),
                                   fee=net.genesis.params.transfer_cost)
                         for k in range(ahead))
            for raw in raws:
                run.sent_ms.setdefault(signer.hashes[raw], sim.now_ms)
            run.last_nonce[i] = nonce + ahead - 1
            sim.input(node, ClientTxs(raws), sim.now_ms)
        clock.lap(get_phase(schedule, _chain(net).height + 1))

    for t in range(setup_ms, load_until_ms, TICK_MS):
        net.sim.at(t, tick)
    net.sim.run_until(end_ms)
    clock.lap(clock.phase)
    run.cpu_s = clock.spent
    return run

