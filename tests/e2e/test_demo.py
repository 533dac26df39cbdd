"""`xinlian demo --json` end to end: a real node process, SDK submission, verified proofs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_demo_commits_everything_and_verifies_proofs(suite: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "xinlian.cli.main", "demo", "--json", "--suite", suite,
         "--txs", "400", "--accounts", "40", "--block-txs", "100"],
        capture_output=True, text=True, timeout=300, check=True)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1  # --json prints only the summary
    summary = json.loads(lines[0])
    assert summary["committed_txs"] == 400
    assert summary["blocks"] >= 4  # at most 100 per block
    assert summary["proof_verified"] is True
    assert summary["tx_per_s"] > 0


def test_bft_demo_survives_a_killed_validator() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "xinlian.cli.main", "demo", "--json", "--nodes", "4",
         "--suite", "intl", "--txs", "400", "--accounts", "40"],
        capture_output=True, text=True, timeout=300, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["committed_txs"] == 400 and summary["nodes"] == 4
    assert summary["proof_verified"] is True
    assert summary["same_state_root"] is True  # including the validator killed and restarted
