"""`xinlian node backup` of a running node that keeps committing, `node restore` into a new
directory, and a node started from it that agrees with the source at the backed-up height:
height, head, state root and state proofs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from xinlian.cli.cluster import NodeProcess
from xinlian.cli.main import main as cli
from xinlian.ledger.account import account_key
from xinlian.node.backup import read_manifest
from xinlian.sdk.client import Client

from .cluster import Chain, init_data_dir

ACCOUNTS = 8
PER_ROUND = 20  # transfers per account and round
WAIT_S = 60.0


class Sender:
    """Signed transfers from every account, in rounds, with each account's nonces in order."""

    def __init__(self, chain: Chain, node: NodeProcess) -> None:
        self.chain = chain
        self.node = node
        self.nonces = [0] * ACCOUNTS
        self.submitted = 0

    def round(self) -> None:
        txs = []
        for i in range(ACCOUNTS):
            for _ in range(PER_ROUND):
                txs.append(self.chain.transfer(i, self.nonces[i], (i + 1) % ACCOUNTS, 1))
                self.nonces[i] += 1
        replies = self.node.rpc("xl_submitTransactions", ["0x" + t.hex() for t in txs])
        assert all(r["accepted"] for r in replies), replies
        self.submitted += len(txs)

    def wait_committed(self) -> dict[str, object]:
        deadline = time.monotonic() + WAIT_S
        while (status := self.node.rpc("xl_status"))["committed_txs"] < self.submitted:
            assert time.monotonic() < deadline, status
            time.sleep(0.05)  # a polling interval, not a synchronisation
        return status


def test_backup_while_committing_restores_the_same_chain(tmp_path: Path) -> None:
    chain = Chain.make("intl", ACCOUNTS)
    data = init_data_dir(chain, tmp_path, block_interval_ms=20, nonce_window=4096)
    source = NodeProcess(data)
    restored: NodeProcess | None = None
    try:
        sender = Sender(chain, source)
        sender.round()
        before = sender.wait_committed()["height"]
        # the node commits rounds of transfers all the while the backup runs
        done, sending = threading.Event(), threading.Event()
        failures: list[BaseException] = []

        def keep_sending() -> None:
            try:
                while not done.is_set():
                    sender.round()
                    sending.set()
                    sender.wait_committed()
            except BaseException as exc:  # reported by the test below
                failures.append(exc)
                sending.set()

        feeder = threading.Thread(target=keep_sending)
        feeder.start()
        try:
            sending.wait()  # transfers are in the pool: the node commits while we copy
            assert cli(["node", "backup", str(tmp_path / "backup"), "--data", str(data)]) == 0
        finally:
            done.set()
            feeder.join()
        assert not failures, failures
        sender.round()  # and after it
        after = sender.wait_committed()
        manifest = read_manifest(tmp_path / "backup")
        assert manifest.head is not None
        height = manifest.head.height
        assert isinstance(before, int) and before <= height < int(str(after["height"]))

        assert cli(["node", "restore", str(tmp_path / "backup"),
                    "--data", str(tmp_path / "restored")]) == 0
        restored = NodeProcess(tmp_path / "restored")
        status = restored.rpc("xl_status")
        block = source.rpc("xl_getBlockByHeight", height)
        assert status["height"] == height
        assert status["head_hash"] == "0x" + manifest.head.hash == block["hash"]
        assert status["state_root"] == "0x" + manifest.head.state_root \
            == block["header"]["state_root"]
        for i in range(ACCOUNTS):
            key = "0x" + account_key(chain.address(i)).hex()
            assert restored.rpc("xl_getStateProof", key, height) == \
                source.rpc("xl_getStateProof", key, height)
        with Client(restored.base_url) as client:  # the proofs verify, too
            views = [client.account(chain.address(i)) for i in range(ACCOUNTS)]
        assert sum(v.account.nonce for v in views) == int(str(status["committed_txs"]))

        # the restored node goes on from there: the next nonce of an account commits
        nonce = views[0].account.nonce
        restored.rpc("xl_submitTransaction", "0x" + chain.transfer(0, nonce, 1, 1).hex())
        deadline = time.monotonic() + WAIT_S
        while restored.rpc("xl_status")["height"] == height:
            assert time.monotonic() < deadline
            time.sleep(0.05)  # a polling interval, not a synchronisation
    finally:
        source.stop()
        if restored is not None:
            restored.stop()
