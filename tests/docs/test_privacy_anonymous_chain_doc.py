"""docs/privacy.md, "Anonymous transfers on chain", runs as written: its `sh` blocks, in
order, in an empty folder, as one bash script against the real solo node they start (the
port 8545 replaced by a free one): the regulator key by DKG and governance, two banks'
addresses and shields, a transfer prepared by bank A and submitted by the relay account,
balances by scanning, the note spent again and an early opening refused with their typed
errors and exit statuses, the blinded opening (member 1's request, two of three members'
shares, the accounts for the requester only), the regulator's monitoring rules over it
(the change left out), an unshield, and the SDK's relayed transfer."""

from __future__ import annotations

import re
from pathlib import Path

from .test_privacy_doc import section
from .walkthrough import run_blocks, sh_blocks


def test_the_relayed_walk_through_runs_as_written(tmp_path: Path) -> None:
    blocks = sh_blocks(section("Anonymous transfers on chain"))
    assert len(blocks) == 7
    run = run_blocks(blocks, tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    for expected in [
        "anonymous keys (ristretto255) written to bank-a.anon.json",
        "anonymous address registered (tx 0x",
        "shielded 50000 (tx 0x",
        "anonymously to 0x",
        "in pay.json (fee 409 from the notes)",
        "anonymous balance 37591 in 1 notes\nanonymous balance 32000 in 2 notes\n",
        "error[5404 anonymous_double_spend]: the transaction failed and nothing of it applied",
        "exit 1",
        ": not opened: no open request (a member asks with `xinlian private anon request`)",
        "open request of member 1 published; blindings written to reg1.blinding.json",
        "shares of member 1 published (tx 0x",
        "shares of member 3 published; the opening is recorded (the requester reads it",
        "for member 1; it reads only with its blindings (--blinding)",
        "by members [1, 3])",
        "opened 1 unread 0\nlarge-transfer None amount 12000 10000 1\n",
        "unshielded 5000 to 0x",
        "B 27457 supply True",
    ]:
        assert expected in out, expected
    bank_a, bank_b = re.findall(r"bank A is (0x[0-9a-f]{40}), bank B is (0x[0-9a-f]{40})",
                                out)[0]
    assert f"from {bank_a} to {bank_b}: 12000, {bank_a}: 37591 (opened at block" in out
    assert f"busy-receiver {bank_b} total_received 12000 10000 1\n" in out
