"""`xinlian pq demo`: a live migration on real processes. A local network of 4 validator
processes of an `intl` chain moves its accounts to `pq` (ML-DSA-65) keys under a steady
load of transfers, and each round of the load is printed as a JSON line: the phase, the
transfers and the wall time until the last one's receipt. tests/e2e/test_pq_migration.py
checks the run and benchmarks/pq.py measures it (docs/pq.md, "Migration without a fork").
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from xinlian.api.views import BlockView
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.cli.node_cmd import ROTATED_NODE_FILE, ROTATED_VOTE_FILE
from xinlian.cli.pq_migrate import rotation_of
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.suites import get_suite
from xinlian.execution import payloads as p
from xinlian.execution.migration import binding_message
from xinlian.ledger.migration import Phase
from xinlian.node.certify import CertifiedHeader
from xinlian.node.interface import NodeStatus, TransportKey
from xinlian.node.keyfile import read_key, write_key
from xinlian.sdk.client import Client
from xinlian.sdk.wallet import SignedTx, Wallet

CLUSTER_CHAIN_ID = "xinlian-cluster"  # what cli.cluster.prepare names the chain


@dataclass(frozen=True)
class Round:
    """One round of the cluster's load: the phase its node reported before it was sent,
    its transfers, and the wall time from submitting them to the last one's receipt."""

    phase: str
    transfers: int
    commit_s: float


@dataclass
class ClusterRun:
    schedule_height: int
    window: int
    rounds: list[Round]
    statuses: list[NodeStatus]  # every validator's, once all hold every transaction
    nonces: list[tuple[int, int]]  # per account: the chain's nonce, the nonce it sent up to
    certified: CertifiedHeader  # the highest certified header, verified from genesis on
    vote_suite: str  # the suite its epoch's committee votes with
    # each validator's view of the committee's transport keys, once all run on pq keys
    transport: list[list[TransportKey]]
    # each validator's stored headers from block 1 to the common head, its genesis node
    # key and its registered (rotated) one
    headers: list[list[BlockView]]
    node_keys: list[tuple[PublicKey, PublicKey]]


def _commit(client: Client, txs: list[SignedTx]) -> float:
    """Submit `txs` and wait for their receipts; the wall time it took. AssertionError if
    one is refused or fails."""
    start = time.perf_counter()
    views = client.submit_many(txs)
    if not all(v.accepted for v in views):
        raise AssertionError(f"refused: {[v.error for v in views if not v.accepted]}")
    receipts = client.wait_for_commit([t.hash for t in txs], timeout=120)
    if not all(r.status == 0 for r in receipts.values()):
        raise AssertionError(f"failed: {receipts}")
    return time.perf_counter() - start


def _rotate(clients: list[Client], dirs: list[Path], admins: list[Wallet]) -> None:
    """Validator i's admin proposes its rotation (`xinlian pq rotate`), the next two
    organisations' admins approve (3 of 4)."""
    proposals = [admin.system(p.Propose(rotation_of(d, client)))
                 for admin, d, client in zip(admins, dirs, clients, strict=True)]
    _commit(clients[0], proposals)
    for k in (1, 2):
        _commit(clients[k], [admin.system(p.Approve(proposals[(i - k) % len(admins)].hash))
                             for i, admin in enumerate(admins)])


def _transport_on(clients: list[Client], alg: str) -> list[list[TransportKey]]:
    """Each validator's view of the committee's transport keys, polled until every member
    authenticates with a key of `alg` (channels reconnect with the rotated keys at the
    switch, and those still on old keys are closed when the window ends)."""
    while True:  # busy-poll, as for the heads below; the test's timeout bounds it
        views = [c.pq_status().transport for c in clients]
        if all(len(v) == len(clients) and all(t.key == alg for t in v) for v in views):
            return views


def _block(client: Client, height: int) -> BlockView:
    view = client.block(height, verify=False)
    if view is None:
        raise AssertionError(f"block {height} missing")
    return view


def run_cluster_migration(root: Path, *, lead: int = 25, window: int = 30,
                          per_round: int = 4, done_rounds: int = 3) -> ClusterRun:
    """4 validator processes of an `intl` chain under `root` move to `pq` accounts.

    The load is closed-loop: each round every account sends `per_round` transfers to a
    validator (round robin) and the round waits for their receipts. Governance (3 of the 4
    organisations) schedules the move `lead` blocks ahead with `window`; every account
    binds an ML-DSA-65 key; an account signs with its old key while its node's next block
    is before H, with its bound key from H on (so every transfer a node admits can commit),
    until `done_rounds` rounds ran after the window.
    """
    suite, pq = get_suite("intl"), get_suite("pq")
    dirs = prepare(root, 4, suite, 0, 0, accounts=4, ports=free_ports(4))
    for d in dirs:  # each validator's keys of the target suite, in its data directory
        write_key(d / ROTATED_VOTE_FILE, pq, pq.generate_signing_key())
        write_key(d / ROTATED_NODE_FILE, pq, pq.generate_signing_key())
    nodes = [NodeProcess(d) for d in dirs]
    clients = [Client(node.base_url) for node in nodes]
    try:
        def wallet(name: str) -> Wallet:
            key = read_key(root / "keys" / f"{name}.json")[1]
            return Wallet(key, CLUSTER_CHAIN_ID, suite)

        admins = [wallet(f"admin{i}") for i in range(3)]
        accounts = [wallet(f"account{j}") for j in range(4)]
        at = clients[0].status().height + lead
        propose = admins[0].system(p.Propose(p.ScheduleMigration("pq", at, window)))
        _commit(clients[0], [propose])
        for i in (1, 2):
            _commit(clients[i], [admins[i].system(p.Approve(propose.hash))])
        new_keys = [pq.generate_signing_key() for _ in accounts]
        _commit(clients[1], [a.system(p.BindKey(k.public_key, k.sign(binding_message(
            CLUSTER_CHAIN_ID, a.address, k.public_key))))
            for a, k in zip(accounts, new_keys, strict=True)])
        admins.append(wallet("admin3"))
        _rotate(clients, dirs, admins)
        rounds: list[Round] = []
        signers = list(accounts)
        while sum(r.phase == Phase.DONE.value for r in rounds) < done_rounds:
            client = clients[len(rounds) % len(clients)]
            phase = client.pq_status().phase
            if phase != Phase.SCHEDULED.value and signers[0] is accounts[0]:
                # the wallet names the chain's suite (its hash names transactions)
                signers = [Wallet(k, CLUSTER_CHAIN_ID, suite, account=a.address, nonce=a.nonce)
                           for a, k in zip(accounts, new_keys, strict=True)]
            txs = [w.transfer(accounts[(j + 1) % 4].address, 1)
                   for _ in range(per_round) for j, w in enumerate(signers)]
            rounds.append(Round(phase, len(txs), _commit(client, txs)))
        # all that was sent: the schedule, bindings, rotations and transfers
        total = 1 + 2 + len(accounts) + 3 * len(dirs) + sum(r.transfers for r in rounds)
        while True:  # busy-poll: every validator reaches one head holding every transaction
            statuses = [c.status() for c in clients]
            if all(s.committed_txs == total for s in statuses) and \
                    len({(s.height, s.head_hash) for s in statuses}) == 1:
                break
        nonces = [(clients[0].account(a.address, verify=False).account.nonce, w.nonce)
                  for a, w in zip(accounts, signers, strict=True)]
        transport = _transport_on(clients, pq.signature.name)
        stored = [[_block(c, h) for h in range(1, statuses[0].height + 1)] for c in clients]
        node_keys = [(read_key(root / "keys" / f"node{i}.json")[1].public_key,
                      read_key(d / ROTATED_NODE_FILE)[1].public_key)
                     for i, d in enumerate(dirs)]
        # a client follows the epochs from genesis (across the switch) to verify it
        certified = clients[0].certified()
        headers = clients[0].verifier().headers
        committee = None if headers is None else headers.committee(certified.epoch)
        if committee is None:
            raise AssertionError(f"no committee known for epoch {certified.epoch}")
        return ClusterRun(at, window, rounds, statuses, nonces, certified, committee.suite,
                          transport, stored, node_keys)
    finally:
        for client in clients:
            client.close()
        for node in nodes:
            node.stop()



def run_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="xinlian-pq-demo-") as root:
        run = run_cluster_migration(Path(root), lead=args.lead, window=args.window)
    for r in run.rounds:
        print(json.dumps(asdict(r)))
    print(json.dumps({"schedule_height": run.schedule_height, "window": run.window,
                      "height": run.statuses[0].height,
                      "committed_txs": run.statuses[0].committed_txs,
                      "certified_epoch": run.certified.epoch, "votes": run.vote_suite,
                      "vote_signature_bytes": [len(s) for s in run.certified.cert.signatures],
                      "transport_keys": sorted({t.key for v in run.transport for t in v}),
                      "header_signatures": [run.headers[0][0].signature.alg.name,
                                            run.headers[0][-1].signature.alg.name]}))
    return 0


def register(pq_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = pq_sub.add_parser("demo", help="migrate a local 4-validator network to pq keys under "
                                       "load (real processes; about a minute)")
    d.add_argument("--lead", type=int, default=25, help="blocks from the proposal to H")
    d.add_argument("--window", type=int, default=30, help="W, the overlap window in blocks")
    d.set_defaults(func=run_demo)
