"""`xinlian node backup` of a running node that keeps committing, `node restore` into a new
directory, and a node started from it that agrees with the source at the backed-up height:
height, head, state root and state proofs. For a solo node, and for a validator of four
(whose batches/ store is backed up too) that rejoins from its restored copy."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from xinlian.cli.cluster import CHAIN_ID, NodeProcess, free_ports, prepare
from xinlian.cli.main import main as cli
from xinlian.crypto.suites import get_suite
from xinlian.ledger.account import account_key
from xinlian.node.backup import read_manifest
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client
from xinlian.sdk.wallet import Wallet

from .cluster import Chain, init_data_dir

ACCOUNTS = 8
PER_ROUND = 20  # transfers per account and round
WAIT_S = 60.0


class Sender:
    """Rounds of signed transfers from every wallet (in nonce order) to one node."""

    def __init__(self, wallets: list[Wallet], node: NodeProcess) -> None:
        self.wallets = wallets
        self.node = node
        self.submitted = 0

    def round(self) -> None:
        n = len(self.wallets)
        txs = [w.transfer(self.wallets[(i + 1) % n].address, 1).raw
               for i, w in enumerate(self.wallets) for _ in range(PER_ROUND)]
        replies = self.node.rpc("xl_submitTransactions", ["0x" + t.hex() for t in txs])
        assert all(r["accepted"] for r in replies), replies
        self.submitted += len(txs)

    def wait_committed(self, *others: NodeProcess) -> dict[str, object]:
        """Until this node and `others` have committed every transfer sent, at one head."""
        deadline = time.monotonic() + WAIT_S
        while True:
            statuses = [n.rpc("xl_status") for n in (self.node, *others)]
            if all(s["committed_txs"] >= self.submitted for s in statuses) and \
                    len({(s["height"], s["head_hash"], s["state_root"]) for s in statuses}) == 1:
                return statuses[0]
            assert time.monotonic() < deadline, statuses
            time.sleep(0.05)  # a polling interval, not a synchronisation

    def backup_while_sending(self, data: Path, target: Path) -> None:
        """`xinlian node backup` of `data` while rounds of transfers keep committing."""
        done, sending = threading.Event(), threading.Event()
        failures: list[BaseException] = []

        def keep_sending() -> None:
            try:
                while not done.is_set():
                    self.round()
                    sending.set()
                    self.wait_committed()
            except BaseException as exc:  # reported below
                failures.append(exc)
                sending.set()

        feeder = threading.Thread(target=keep_sending)
        feeder.start()
        try:
            sending.wait()  # transfers are in the pool: the node commits while we copy
            assert cli(["node", "backup", str(target), "--data", str(data)]) == 0
        finally:
            done.set()
            feeder.join()
        assert not failures, failures


def test_backup_while_committing_restores_the_same_chain(tmp_path: Path) -> None:
    chain = Chain.make("intl", ACCOUNTS)
    data = init_data_dir(chain, tmp_path, block_interval_ms=20, nonce_window=4096)
    source = NodeProcess(data)
    restored: NodeProcess | None = None
    try:
        sender = Sender([Wallet(k, chain.chain_id, chain.suite_name) for k in chain.keys],
                        source)
        sender.round()
        before = sender.wait_committed()["height"]
        sender.backup_while_sending(data, tmp_path / "backup")
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
        again = Wallet(chain.keys[0], chain.chain_id, chain.suite_name,
                       nonce=views[0].account.nonce)
        restored.rpc("xl_submitTransaction", "0x" + again.transfer(chain.address(1), 1).raw.hex())
        deadline = time.monotonic() + WAIT_S
        while restored.rpc("xl_status")["height"] == height:
            assert time.monotonic() < deadline
            time.sleep(0.05)  # a polling interval, not a synchronisation
    finally:
        source.stop()
        if restored is not None:
            restored.stop()


def test_a_validator_restored_from_its_online_backup_rejoins(tmp_path: Path) -> None:
    """Every store of a validator (chain/ and batches/) is backed up while the network
    commits; the validator is stopped and replaced by its restored copy, which holds the
    same block at the backed-up height and catches up with the others."""
    suite = get_suite("intl")
    dirs = prepare(tmp_path / "net", 4, suite, 0, 0, accounts=4, ports=free_ports(4))
    nodes = [NodeProcess(d) for d in dirs]
    try:
        wallets = [Wallet(read_key(tmp_path / "net" / "keys" / f"account{j}.json")[1],
                          CHAIN_ID, suite) for j in range(4)]
        sender = Sender(wallets, nodes[0])
        sender.round()
        sender.wait_committed(*nodes[1:])
        sender.backup_while_sending(dirs[3], tmp_path / "backup")
        manifest = read_manifest(tmp_path / "backup")
        assert sorted(manifest.stores) == ["batches", "chain"] and manifest.head is not None
        nodes[3].stop()
        sender.round()  # the network goes on without it
        sender.wait_committed(*nodes[1:3])

        assert cli(["node", "restore", str(tmp_path / "backup"),
                    "--data", str(tmp_path / "restored")]) == 0
        nodes[3] = NodeProcess(tmp_path / "restored")
        sender.round()
        sender.wait_committed(*nodes[1:])  # it caught up: one head and state root on all
        height = manifest.head.height
        mine = nodes[3].rpc("xl_getBlockByHeight", height)
        theirs = nodes[0].rpc("xl_getBlockByHeight", height)
        assert mine["hash"] == theirs["hash"] == "0x" + manifest.head.hash
        key = "0x" + account_key(wallets[0].address).hex()
        # the same proof against the same header (each validator signs the header it stores)
        mine, theirs = (n.rpc("xl_getStateProof", key, height) for n in (nodes[3], nodes[0]))
        assert mine.pop("header_signature") != theirs.pop("header_signature")
        assert mine == theirs
    finally:
        for node in nodes:
            node.stop()
