"""docs/privacy.md, "Confidential transfers", runs as written: its `sh` blocks, in order, in
an empty folder, as one bash script against the real solo node they start (the port 8545
replaced by a free one): the regulator's key by DKG and governance, two banks' deposit,
confidential transfer and decrypted balances, a non-member's open request and an overdraft
refused with their typed errors and exit statuses, the blinded opening (a member's request,
two of three members' shares, the amount for the requester only) with the amount rule,
the regulator's monitoring rules over it (unread without the blinding, two findings with it), a
withdrawal, the SDK's transfer, and a Qi contract's confidential payment (the example
contract as written in examples/qi)."""

from __future__ import annotations

from pathlib import Path

from .test_privacy_doc import section
from .walkthrough import run_blocks, sh_blocks

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qi" / "credit_sale.qi"


def test_the_contract_in_the_doc_is_the_example() -> None:
    text = section("Confidential transfers")
    start = text.index("cat > credit_sale.qi <<'EOF'\n") + len("cat > credit_sale.qi <<'EOF'\n")
    assert text[start:text.index("\nEOF\n", start) + 1] == EXAMPLE.read_text()


def test_the_two_banks_walk_through_runs_as_written(tmp_path: Path) -> None:
    blocks = sh_blocks(section("Confidential transfers"))
    assert len(blocks) == 10
    run = run_blocks(blocks, tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    for expected in [
        "regulator key (ristretto255, 2 of 3) by DKG: regulator/regulator.json",
        "['RegulatorSet']",
        "confidential key (ristretto255) written to bank-a.conf.json",
        "confidential key registered (tx 0x",
        "deposited 50000 (tx 0x",
        "confidential balance 38000\nconfidential balance 12000\n",
        "error[5303 not_regulator_member]: the transaction failed and nothing of it applied",
        "exit 1",
        "error[8802 confidential_bad_statement]: amount or balance -61999 is outside",
        "exit 2",
        ": not opened: no open request (a member asks with `xinlian private request`)",
        "open request of member 1 published; blinding written to reg1.blinding.json",
        "share of member 1 published (tx 0x",
        "share of member 3 published; the opening is recorded (the requester reads it",
        "for member 1; the amount reads only with its blinding (--blinding)",
        ": 12000 (opened at block ",
        "by members [1, 3])\nFLAGGED: amount above 10000",
        "0 1\nlarge-transfer amount 12000 10000 1\nbusy-sender total_sent 12000 10000 1\n",
        "withdrew 2000 (tx 0x",
        "confidential balance 10000",
        "A 37500 B 10500 opened: None",
        "credits 1 A 36000 B 12000\ntraced to the seller: True\n",
        "refused: confidential_refused (7515): `conf_pay`: confidential_invalid_proof (8810)",
        "A 36000 B 12000",
    ]:
        assert expected in out, expected
