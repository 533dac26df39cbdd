"""A live migration on real processes: 4 validator processes of an `intl` chain move their
accounts to `pq` (ML-DSA-65) keys under a steady load of signed transfers, with no halt and
no lost transaction (docs/pq.md, "Migration without a fork").

The load is closed-loop: each round every account sends transfers to a validator (round
robin) and the round waits for their receipts before the next. Governance (3 of the 4
organisations) schedules the move 25 blocks ahead with a 30-block window; every account
binds an ML-DSA-65 key (signed by both keys); an account signs with its old key while the
node's next block is before H and with its bound key from H on, so every transfer a node
admits can commit. Every admitted transfer commits with status 0, the heights keep rising
through all three phases, and the validators end on one head.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.execution import payloads as p
from xinlian.execution.migration import binding_message
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client
from xinlian.sdk.wallet import SignedTx, Wallet

CHAIN_ID = "xinlian-cluster"
LEAD, WINDOW, PER_ROUND = 25, 30, 4


@pytest.mark.timeout(600)
def test_four_validator_processes_migrate_a_live_chain_to_pq(tmp_path: Path) -> None:
    suite, pq = get_suite("intl"), get_suite("pq")
    dirs = prepare(tmp_path, 4, suite, 0, 0, accounts=4, ports=free_ports(4))
    nodes = [NodeProcess(d) for d in dirs]
    clients = [Client(node.base_url) for node in nodes]
    try:
        def wallet(name: str) -> Wallet:
            return Wallet(read_key(tmp_path / "keys" / f"{name}.json")[1], CHAIN_ID, suite)

        def commit(client: Client, txs: list[SignedTx]) -> None:
            views = client.submit_many(txs)
            assert all(v.accepted for v in views), [v.error for v in views]
            receipts = client.wait_for_commit([t.hash for t in txs], timeout=120)
            assert all(r.status == 0 for r in receipts.values()), receipts

        admins = [wallet(f"admin{i}") for i in range(3)]
        accounts = [wallet(f"account{j}") for j in range(4)]
        at = clients[0].status().height + LEAD
        propose = admins[0].system(p.Propose(p.ScheduleMigration("pq", at, WINDOW)))
        commit(clients[0], [propose])
        for i in (1, 2):
            commit(clients[i], [admins[i].system(p.Approve(propose.hash))])
        assert clients[2].pq_status().schedule is not None  # where the approval committed

        new_keys = [pq.generate_signing_key() for _ in accounts]
        binds = [a.system(p.BindKey(k.public_key, k.sign(binding_message(
            CHAIN_ID, a.address, k.public_key)))) for a, k in zip(accounts, new_keys, strict=True)]
        commit(clients[1], binds)
        assert clients[1].pq_status().bound_accounts == 4

        phases: dict[str, int] = {}  # phase -> transfers committed in it
        signers = list(accounts)
        sent = 0
        while phases.get("done", 0) < 3 * PER_ROUND * len(accounts):
            client = clients[sent % len(clients)]
            phase = client.pq_status().phase
            if phase != "scheduled" and signers[0] is accounts[0]:
                # the wallet names the chain's suite (its hash names transactions)
                signers = [Wallet(k, CHAIN_ID, suite, account=a.address, nonce=a.nonce)
                           for a, k in zip(accounts, new_keys, strict=True)]
            txs = [w.transfer(accounts[(j + 1) % 4].address, 1)
                   for _ in range(PER_ROUND) for j, w in enumerate(signers)]
            commit(client, txs)
            phases[phase] = phases.get(phase, 0) + len(txs)
            sent += 1
        assert set(phases) == {"scheduled", "overlap", "done"}, phases
        total = 1 + 2 + len(binds) + sum(phases.values())  # nothing else was sent
        while True:  # busy-poll: every validator reaches one head holding every transaction
            statuses = [c.status() for c in clients]
            if all(s.committed_txs == total for s in statuses) and \
                    len({(s.height, s.head_hash) for s in statuses}) == 1:
                break
        assert statuses[0].height >= at + WINDOW
        for j, account in enumerate(accounts):  # each account's nonce counts all it sent
            nonce = clients[j].account(account.address, verify=False).account.nonce
            assert nonce == signers[j].nonce
    finally:
        for client in clients:
            client.close()
        for node in nodes:
            node.stop()
