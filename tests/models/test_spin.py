"""The Promela models of the private transactions (models/*.pml) checked by SPIN
(Debian's `spin`, installed by `make spin`): an exhaustive search of each model finds no
assertion violated (value conserved, no overdraft, no double spend), and each mutant, the
model with one of the executor's checks removed, gives SPIN a counterexample, which
replays to the assertion it breaks."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SPIN = shutil.which("spin") or "/usr/bin/spin"
MODELS = Path(__file__).resolve().parents[2] / "models"

pytestmark = pytest.mark.skipif(
    not Path(SPIN).exists(), reason="no spin binary: `make spin` installs Debian's package")


def search(tmp_path: Path, model: str, *defines: str) -> tuple[str, Path]:
    """Generate pan from `model` with `defines`, compile it and search every state
    (safety: assertions and invalid end states); (pan's report, the trail's path)."""
    shutil.copy(MODELS / model, tmp_path / model)
    flags = [f"-D{d}" for d in defines]
    subprocess.run([SPIN, "-a", *flags, model], cwd=tmp_path, check=True,
                   capture_output=True)
    # unoptimised: gcc -O2 spends longer on pan.c than these small searches take
    subprocess.run(["gcc", "-O0", "-w", "-DSAFETY", "-o", "pan", "pan.c"], cwd=tmp_path,
                   check=True, capture_output=True)
    run = subprocess.run(["./pan", "-m200000"], cwd=tmp_path, capture_output=True,
                         text=True)
    return run.stdout, tmp_path / f"{model}.trail"


def states(report: str) -> int:
    found = re.search(r"(\d+) states, stored", report)
    assert found, report
    return int(found.group(1))


def assert_verified(report: str) -> None:
    """An exhaustive search that completed and found nothing."""
    assert "Full statespace search" in report, report
    assert "errors: 0" in report, report
    assert "max search depth too small" not in report, report


def replay(tmp_path: Path, model: str, *defines: str) -> str:
    """SPIN's replay of the trail the last search left: the steps and what failed."""
    run = subprocess.run([SPIN, "-t", *(f"-D{d}" for d in defines), model], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    return run.stdout


@pytest.mark.parametrize("scope", [
    (), pytest.param(("N=3",), marks=pytest.mark.slow),  # 1.7 million states, ~20 s
], ids=["2 accounts", "3 accounts"])
def test_confidential_accounts_conserve_value(tmp_path: Path, scope: tuple[str, ...]) -> None:
    report, trail = search(tmp_path, "confidential.pml", *scope)
    assert_verified(report)
    assert not trail.exists()
    # registration, deposits, transfers and withdrawals in every order: far more than a
    # handful of states (a model that deadlocked at once would also report no error)
    assert states(report) > 100_000


def test_invalid_confidential_without_stale_balance_check(tmp_path: Path) -> None:
    """Two withdrawals proven against one balance: the second overdraws it."""
    report, trail = search(tmp_path, "confidential.pml", "MUTANT_NO_STALE_CHECK")
    assert "errors: 1" in report, report
    assert trail.exists()
    replayed = replay(tmp_path, "confidential.pml", "MUTANT_NO_STALE_CHECK")
    assert "assertion violated" in replayed
    assert "conf[k]>=0" in replayed


def test_invalid_confidential_without_nonce_check(tmp_path: Path) -> None:
    """A transaction delivered again: without the nonce rule it applies twice."""
    report, trail = search(tmp_path, "confidential.pml", "MUTANT_NO_NONCE_CHECK")
    assert "errors: 1" in report, report
    assert trail.exists()
    replayed = replay(tmp_path, "confidential.pml", "MUTANT_NO_NONCE_CHECK")
    assert "assertion violated" in replayed
    assert "<=1" in replayed


@pytest.mark.parametrize("scope", [(), ("N=3", "MAXV=1")], ids=["2 accounts", "3 accounts"])
def test_anonymous_notes_conserve_value(tmp_path: Path, scope: tuple[str, ...]) -> None:
    report, trail = search(tmp_path, "anonymous.pml", *scope)
    assert_verified(report)
    assert not trail.exists()
    assert states(report) > 5_000


@pytest.mark.parametrize("mutant", ["MUTANT_NO_KEY_IMAGE_CHECK", "MUTANT_SAME_IMAGE_TWICE"])
def test_invalid_anonymous_without_key_image_check(tmp_path: Path, mutant: str) -> None:
    """A note spent twice, across transfers or twice in one: SPIN finds it."""
    report, trail = search(tmp_path, "anonymous.pml", mutant)
    assert "errors: 1" in report, report
    assert trail.exists()
    replayed = replay(tmp_path, "anonymous.pml", mutant)
    assert "assertion violated" in replayed
    assert "spends[k]<=1" in replayed


def test_invalid_anonymous_without_note_check(tmp_path: Path) -> None:
    """A ring naming a note that is not in the set: without _ring's check it is spent."""
    report, trail = search(tmp_path, "anonymous.pml", "MUTANT_NO_NOTE_CHECK")
    assert "errors: 1" in report, report
    assert trail.exists()
    replayed = replay(tmp_path, "anonymous.pml", "MUTANT_NO_NOTE_CHECK")
    assert "assertion violated" in replayed
    assert "in1<count" in replayed
