"""`xinlian pq table`: rows measured from real keys, signatures and ciphertexts.

Only what does not depend on the machine's speed is asserted: sizes, expansion and the
static indicators (the time indicator is the machine's)."""

from __future__ import annotations

import json

import pytest

from xinlian.cli.main import main as cli


def test_pq_table_json_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["pq", "table", "--json", "--budget", "0", "--algorithm", "ML-DSA-65",
                "--algorithm", "ML-KEM-1024", "--algorithm", "SM2+ML-DSA-65"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_impl = {(r["algorithm"], r["implementation"]): r for r in rows}
    mldsa = by_impl[("ML-DSA-65", "fast-mldsa")]
    assert mldsa["signature_bytes"] == 3309 and mldsa["public_key_bytes"] == 1952
    assert mldsa["sign_verify_us"] > 0 and mldsa["quantum_bits"] >= 128
    composite = next(r for r in rows if r["algorithm"] == "SM2+ML-DSA-65")
    assert composite["signature_bytes"] == 3309 + 64
    kem = next(r for r in rows if r["algorithm"] == "ML-KEM-1024")
    assert kem["ciphertext_bytes_32"] == 1568 + 16 + 32 and kem["expansion_32"] > 50
    assert not kem["indicators_met"] and any("50x" in f for f in kem["failed"])


def test_pq_table_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["pq", "table", "--budget", "0", "--algorithm", "SLH-DSA-SHA2-128f"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("indicators: >= 128-bit quantum security")
    assert "SLH-DSA-SHA2-128f" in out and "signature 17088 > 5000 bytes" in out
