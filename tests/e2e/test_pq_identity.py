"""Membership certificates end to end on a `pq` network of 4 real validator processes,
each presenting an ML-DSA-65 certificate issued with `xinlian pq cert issue`:

- they commit transactions;
- the platform's tools will not set up a validator with an Ed25519 node key on this chain
  (`xinlian init`, `xinlian pq cert issue` exit 2); a real process that holds such a key
  anyway, with a certificate a genuine organisation admin signed for it, cannot get a
  handshake Reply from any validator (each counts a `classical_identity` refusal), and the
  validators keep committing;
- org3 revokes its validator's certificate (`xinlian pq cert revoke`); after SIGHUP the other
  three close their connections to it and refuse it, and keep committing without it;
- org1's admin adds a second admin by transaction (AddAdmin, governance); validator 1
  restarts with a certificate from that new admin, and the others, whose identity follows
  the organisations in the state, accept it: the three commit again (without it there is no
  quorum).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from xinlian import codec
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.cli.main import main as cli
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import AddAdmin
from xinlian.ledger.genesis import load_genesis
from xinlian.network.identity import issue_certificate
from xinlian.node.keyfile import read_key
from xinlian.sdk.wallet import Wallet

DEADLINE_S = 180.0  # an upper bound for each polled condition, never a synchronisation
PEER = Path(__file__).with_name("classical_peer.py")


def _until(check: Any, what: str) -> Any:
    end = time.monotonic() + DEADLINE_S
    while not (found := check()):
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.2)  # a poll's pace, not synchronisation: the loop checks the condition
    return found


def _counter(address: str, name: str) -> int:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    match = re.search(rf"^xinlian_transport_{name}(?:_total)? (\d+)", text, re.MULTILINE)
    assert match, f"no transport counter {name}"
    return int(match.group(1))


def _committed(nodes: list[NodeProcess], count: int) -> dict[str, Any] | None:
    statuses = [node.rpc("xl_status") for node in nodes]
    if all(s["committed_txs"] >= count for s in statuses) and \
            len({(s["height"], s["head_hash"]) for s in statuses}) == 1:
        return statuses[0]
    return None


def _identity(data: Path, revocations: list[str]) -> None:
    """node.toml's [identity] table (the last table of the file), rewritten."""
    text = (data / "node.toml").read_text(encoding="utf-8").split("[identity]")[0]
    lists = ", ".join(f'"{name}"' for name in revocations)
    (data / "node.toml").write_text(
        text + f'[identity]\ncertificate = "node.cert"\nrevocations = [{lists}]\n',
        encoding="utf-8")


@pytest.mark.timeout(600)
def test_pq_validators_authenticate_by_certificate(tmp_path: Path) -> None:
    suite = get_suite("pq")
    ports = free_ports(8)
    dirs = prepare(tmp_path, 4, suite, 0, 0, accounts=4, ports=ports[:4])
    genesis, keys = str(tmp_path / "genesis.toml"), tmp_path / "keys"
    for i, data in enumerate(dirs):
        assert cli(["pq", "cert", "issue", "--genesis", genesis, "--admin-key",
                    str(keys / f"admin{i}.json"), "--organisation", f"org{i}",
                    "--subject-key", str(keys / f"node{i}.json"), "--serial", "1",
                    "--days", "1", "--out", str(data / "node.cert")]) == 0
        _identity(data, [])
    old = tmp_path / "old.json"
    assert cli(["keygen", "--suite", "intl", "--out", str(old)]) == 0
    assert cli(["init", "--config", genesis, "--data", str(tmp_path / "old"), "--node-key",
                str(old), "--listen", f"127.0.0.1:{ports[3]}"]) == 2
    assert cli(["pq", "cert", "issue", "--genesis", genesis, "--admin-key",
                str(keys / "admin0.json"), "--organisation", "org0", "--subject-key",
                str(old), "--serial", "9", "--out", str(tmp_path / "old.cert")]) == 2
    chain_id = load_genesis(Path(genesis)).chain_id
    metrics = [f"127.0.0.1:{p}" for p in ports[4:]]
    nodes = [NodeProcess(d, args=["--metrics-listen", m]) for d, m in zip(dirs, metrics,
                                                                           strict=True)]
    try:
        wallets = [Wallet(read_key(keys / f"account{j}.json")[1], chain_id, suite)
                   for j in range(4)]
        sent = 0

        def send(per_wallet: int) -> int:
            txs = ["0x" + w.transfer(wallets[(i + 1) % 4].address, 1).raw.hex()
                   for _ in range(per_wallet) for i, w in enumerate(wallets)]
            assert all(r["accepted"] for r in nodes[0].rpc("xl_submitTransactions", txs))
            return len(txs)

        sent += send(5)
        _until(lambda: _committed(nodes, sent), "the first transactions")

        # a classical key, certified by org0's real admin, dials every validator
        endpoints = [f"127.0.0.1:{p}" for p in ports[:4]]
        run = subprocess.run([sys.executable, str(PEER), genesis, str(keys / "admin0.json"),
                              "org0", *endpoints], capture_output=True, text=True,
                             timeout=120, check=True)
        answers = [json.loads(line) for line in run.stdout.splitlines()]
        assert [a["endpoint"] for a in answers] == endpoints
        assert all(a["answered"] == 0 for a in answers), answers  # no Reply from anyone
        for m in metrics:
            assert _counter(m, "classical_identity") >= 1
        sent += send(5)
        _until(lambda: _committed(nodes, sent), "commits after the classical attempt")

        # org3 revokes its validator's certificate; the other three load the list
        crl = tmp_path / "org3.crl"
        assert cli(["pq", "cert", "revoke", "--genesis", genesis, "--admin-key",
                    str(keys / "admin3.json"), "--organisation", "org3", "--serial", "1",
                    "--out", str(crl)]) == 0
        for node, data in zip(nodes[:3], dirs[:3], strict=True):
            (data / "org3.crl").write_bytes(crl.read_bytes())
            _identity(data, ["org3.crl"])
            node.proc.send_signal(signal.SIGHUP)
        for m in metrics[:3]:
            _until(lambda m=m: _counter(m, "certificates_refused") >= 2,
                   "the revoked validator cut off and refused")
        revoked_height = nodes[3].rpc("xl_status")["height"]
        sent += send(5)
        status = _until(lambda: _committed(nodes[:3], sent), "commits without org3")
        assert status["height"] > revoked_height
        assert nodes[3].rpc("xl_status")["committed_txs"] < sent

        # governance: org1's admin adds an admin; validator 1 is re-certified by the newcomer
        newcomer = suite.generate_signing_key()
        admin1 = Wallet(read_key(keys / "admin1.json")[1], chain_id, suite)
        add = admin1.system(AddAdmin("org1", newcomer.public_key))
        assert nodes[0].rpc("xl_submitTransactions", ["0x" + add.raw.hex()])[0]["accepted"]
        sent += 1
        _until(lambda: _committed(nodes[:3], sent), "the AddAdmin transaction")
        now = time.time_ns() // 1_000_000
        cert = issue_certificate(newcomer, chain_id=chain_id, organisation="org1",
                                 role="validator", subject=read_key(keys / "node1.json")[1]
                                 .public_key, serial=2, not_before_ms=now - 60_000,
                                 not_after_ms=now + 86_400_000)
        nodes[1].stop()
        (dirs[1] / "node.cert").write_bytes(codec.encode(cert))
        nodes[1] = NodeProcess(dirs[1], args=["--metrics-listen", metrics[1]])
        sent += send(5)
        _until(lambda: _committed(nodes[:3], sent), "commits with the re-certified validator")
    finally:
        for node in nodes:
            node.stop()
