"""`xinlian demo --json` end to end: a real node process, SDK submission, verified proofs,
the example Qi token deployed, called, queried and one balance proven, an async call
answered in its callback and a scheduled function run by the chain, a confidential
transfer decrypted by both sides and opened by the regulator's on-chain shares, and an
anonymous transfer submitted by a relayer, found by both sides' scans and opened."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


def run_demo(*args: str) -> dict[str, Any]:
    """Run `xinlian demo --json` and return its summary; on failure, the demo's own output
    becomes the test's message (a failed run is otherwise only an exit code)."""
    out = subprocess.run([sys.executable, "-m", "xinlian.cli.main", "demo", "--json", *args],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"demo exited {out.returncode}\n{out.stdout}\n{out.stderr}"
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1  # --json prints only the summary
    summary: dict[str, Any] = json.loads(lines[0])
    return summary


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_demo_commits_everything_and_verifies_proofs(suite: str) -> None:
    summary = run_demo("--suite", suite, "--txs", "400", "--accounts", "40",
                       "--block-txs", "100")
    assert summary["committed_txs"] == 400
    assert summary["blocks"] >= 4  # at most 100 per block
    assert summary["proof_verified"] is True
    assert summary["tx_per_s"] > 0
    assert_contracts_shown(summary)
    assert summary["confidential_group"] == ("sm2" if suite == "sm" else "ristretto255")
    assert_confidential_shown(summary)


def assert_confidential_shown(summary: dict[str, Any]) -> None:
    """The sender and the receiver decrypt their balances; the regulator opens the amount."""
    assert summary["confidential_balances"] == [7_500, 2_500]
    assert summary["confidential_opened_amount"] == 2_500
    fee = summary["anonymous_fee"]
    assert summary["anonymous_balances"] == [10_000 - 2_500 - fee, 12_500]
    assert summary["anonymous_opened_sender_is_a"] is True
    assert summary["anonymous_opened_amount"] == 2_500


def assert_contracts_shown(summary: dict[str, Any]) -> None:
    """Five token transfers committed, the overdraw refused by the contract, the proven
    balance of the last receiver (500) equal to what the query returned; the oracle's answer
    reached the consumer's callback; the payout's scheduled function ran and paid."""
    assert summary["token_calls_ok"] == 5
    assert summary["token_call_failed"] == "revert"
    assert summary["token_balance_proven"] == summary["token_query"] == 500
    assert summary["token_proof_matches_query"] is True
    assert summary["async_callback_status"] == 0
    assert summary["async_latest"] == summary["async_price"]  # the callback stored the answer
    assert summary["scheduled_rounds"] >= 1
    assert summary["scheduled_accrued"] == summary["scheduled_rounds"] * summary["scheduled_share"]


def test_bft_demo_survives_a_killed_validator() -> None:
    summary = run_demo("--nodes", "4", "--suite", "intl", "--txs", "400", "--accounts", "40")
    assert summary["committed_txs"] == 400 and summary["nodes"] == 4
    assert summary["proof_verified"] is True
    assert summary["same_state_root"] is True  # including the validator killed and restarted
    assert_contracts_shown(summary)
    assert_confidential_shown(summary)  # the regulator key enacted by 3 of 4 organisations
