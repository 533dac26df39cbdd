"""docs/contracts.md is run as written: its `sh` blocks, in order, in an empty folder, as one
bash script against the real node it starts (the port 8545 replaced by a free one)."""

from __future__ import annotations

from pathlib import Path

from .walkthrough import run_walkthrough


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    run = run_walkthrough("contracts.md", tmp_path, 10)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    for expected in [
        "Qi tests: 2 passed, 0 failed",
        "tip -> 5 ",
        "event Tipped(from: ",
        "total 12 event Tipped 7",   # the SDK's typed receipt and event
        "proven 7 at block",         # the SDK's verified proof
        '"value":12',                # the JSON-RPC query
        "error[5001 insufficient_balance]: 1 async call(s) reserve",
        "error[7510 upgrade_refused]",
        "upgraded 0x",
        "tip -> 18 ",                # 5 tipped + the bonus set by version 2's migrate
        "version 2: code",
        "error[7506 revert]: TooSmall(amount: 0)",
        "error[7502 bad_arguments]: argument `amount` of `tip`",
        "has no public method `tipp`",
        "no contract at 0000000000000000000000000000000000000001",
        "proposal status 0 events ['ContractFrozen']",
        "error[7513 contract_frozen]",
    ]:
        assert expected in out, (expected, out)
    lines = run.stdout.splitlines()
    assert lines[lines.index("5") + 1].startswith("5, proven at block")  # query, then proof
    funded = next(i for i, line in enumerate(lines) if line.startswith("funded 0x"))
    assert lines[funded + 1].startswith("  event Funded")
    assert int(lines[funded + 2]) >= 1  # tally_rounds: the scheduled function ran
    asked = next(i for i, line in enumerate(lines) if line.startswith("ask (tx"))
    assert lines[asked + 1] == "12"  # last_seen: the async answer reached the callback
