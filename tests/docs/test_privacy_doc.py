"""docs/privacy.md runs as written: the BBS, range-proof and encrypted-aggregate examples
(and the aggregates' commands, a sum and a comparison); the garbled-circuit section's
Python block prints what the page says, and its `sh` blocks (the port replaced by a free
one) compute the FIPS-197 ciphertext locally and a comparison between a garbler and an
evaluator process."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xinlian.cli.cluster import free_ports

from .walkthrough import sh_blocks

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"


def section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_bbs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", section("BBS signatures"), re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {})
    assert capsys.readouterr().out.strip() == "8905 bbs_invalid_proof"


def prints_what_the_page_says(name: str) -> None:
    """Section `name`'s first Python example prints exactly the block after "prints"."""
    text = section(name)
    code = re.findall(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)[0]
    expected = text[text.index("prints\n\n```\n") + len("prints\n\n```\n"):]
    expected = expected[: expected.index("```")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})
    assert out.getvalue() == expected


def test_the_garbled_circuit_example_prints_what_the_page_says() -> None:
    prints_what_the_page_says("Garbled circuits")


def test_the_garbled_circuit_command_lines_run(tmp_path: Path) -> None:
    script = "set -euo pipefail\n" + "\n".join(sh_blocks(section("Garbled circuits")))
    script = script.replace("9300", str(free_ports(1)[0]))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == [
        "aes_128: 218072 gates (51200 AND), inputs [128, 128], outputs [128] bits",
        "0x69c4e0d86a7b0430d8cdb78070b4c55a",
        "comparator64: 324 gates (64 AND), inputs [64, 64], outputs [1] bits",
        "1", "1"]


def test_range_proof_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", section("Range proofs (Bulletproofs)"), re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {})
    assert capsys.readouterr().out.split("\n") == [
        "8802 confidential_bad_statement", "8803 confidential_invalid_range_proof", ""]


def test_the_encrypted_aggregate_example_prints_what_the_page_says() -> None:
    prints_what_the_page_says("Encrypted aggregates")


def test_the_encrypted_aggregate_command_lines_run(tmp_path: Path) -> None:
    script = "set -euo pipefail\n" + "\n".join(sh_blocks(section("Encrypted aggregates")))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[1:] == [
        '{"bits": 16, "contribution_bytes": 851}', '{"bits": 16, "contribution_bytes": 851}',
        '{"bits": 16, "contribution_bytes": 851}', '{"contributions": 3, "bound": 196605}',
        '{"member": 1}', '{"member": 2}', '{"member": 4}',
        '{"value": 101735, "contributions": 3, "shares": 3, "threshold": 3}',
        '{"member": 1}', '{"member": 2}', '{"member": 4}', '{"members": [1, 2, 4]}',
        '{"member": 1}', '{"member": 2}', '{"member": 4}',
        '{"at_least": 100000, "claim": true}',
        '{"valid": true, "at_least": 100000, "claim": true, '
        '"context": "loans-2026q4 >= 100000"}']
