"""`xinlian private gc` and `gc-circuit`: a written circuit computed between the two parties,
and bad files, inputs and addresses reported as typed errors with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.cli.main import main


@pytest.fixture
def adder_file(tmp_path: Path) -> Path:
    path = tmp_path / "adder.txt"
    assert main(["private", "gc-circuit", "adder64", "--out", str(path)]) == 0
    return path


def test_a_written_adder_adds_between_the_parties(adder_file: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["private", "gc", "--circuit", str(adder_file), "--inputs", "40", "0x2"]) == 0
    assert capsys.readouterr().out == "42\n"
    assert main(["private", "gc", "--circuit", str(adder_file), "--inputs", "5", "6",
                 "--garbler-inputs", ""]) == 0
    assert capsys.readouterr().out == "11\n"


@pytest.mark.parametrize("text, error", [
    ("2 3\n1 1\n1 1\n\n1 1 0 1 INV\n", "error[2101 malformed_circuit]: header says 2 gates"),
    ("1 3\n2 1 1\n1 1\n\n1 1 1 2 EQ\n", "error[2102 unsupported_gate]"),
])
def test_bad_circuit_files_are_reported(tmp_path: Path, capsys, text: str, error: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    assert main(["private", "gc", "--circuit", str(path), "--inputs", "1", "1"]) == 2
    assert error in capsys.readouterr().err


def test_missing_file_inputs_and_addresses_are_reported(adder_file: Path, tmp_path: Path,
                                                        capsys) -> None:
    assert main(["private", "gc", "--circuit", str(tmp_path / "none.txt")]) == 2
    assert "error[2101 malformed_circuit]: cannot read" in capsys.readouterr().err
    assert main(["private", "gc", "--circuit", str(adder_file), "--inputs", "1"]) == 2
    assert "error[2103 input_mismatch]: 1 values for 2 inputs" in capsys.readouterr().err
    assert main(["private", "gc", "--circuit", str(adder_file), "--inputs", str(2**64), "1"]) == 2
    assert "does not fit in 64 bits" in capsys.readouterr().err
    assert main(["private", "gc", "--circuit", str(adder_file), "--role", "evaluator",
                 "--connect", "nowhere", "--inputs", "1"]) == 2
    assert "--connect takes HOST:PORT" in capsys.readouterr().err
    assert main(["private", "gc", "--circuit", str(adder_file), "--garbler-inputs", "x",
                 "--inputs", "1", "2"]) == 2
    assert "error[2103 input_mismatch]: --garbler-inputs" in capsys.readouterr().err
