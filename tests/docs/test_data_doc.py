"""docs/data.md is run as written: its `sh` blocks, in order, in an empty folder, as one bash
script against the real solo node it starts (the port 8545 replaced by a free one): the CLI
and the SDK declare, write, read and query with verified answers and read records'
verified histories and the blocks that may have changed them; bad input gets its typed
errors and exit statuses, and the node keeps serving; a blob goes up and comes back
verified, and a writer who is no reader is refused it; keyword and boolean queries find
their records, and an adaptive collection drops an unused index and builds it back for
reported queries, its plan shown with the reasons; queries of several conditions (words
AND a range AND a time window, AND NOT) find theirs by either driver, page by page."""

from __future__ import annotations

from pathlib import Path

from .walkthrough import run_walkthrough


def test_the_walk_through_runs_as_written(tmp_path: Path) -> None:
    run = run_walkthrough("data.md", tmp_path, 8)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    for expected in [
        "collection meters declared (tx 0x",
        "  at: time, index range\n  kwh: number, index range\n  profile: sequence, index none",
        "3 record(s) written",
        'r2: meter="M-7", at=2026-12-01T09:00:00.000Z, kwh=135, '
        "profile=[[0, 40], [1800000, 95]]  (block ",
        "no record r9 (its absence verified)",
        "2 record(s) at block 3, verified\n",            # kwh 0..130: r4 80, r1 120
        "2 record(s) at block 3, verified; more: --cursor 0x",
        "1 record(s) at block 3, verified\n",            # the second page of the window
        "count 3, sum 335, min 80, max 135 at block 3, verified",
        "0 record(s) at block 4, verified",              # r3 (-12) deleted
        "put r6, fee ",
        "r4 80 at block 3\nr6 99 at block 5\nr1 120 at block 2\nr2 135 at block 3\n",
        "kwh 50..150: 4 434 80 135",
        ": delete\n2 of 2 version(s) at block 5, verified\n",  # r3: put, then deleted
        ": put 0x",
        "in force at block 3, verified\nno version at block 1, verified\n",
        "r6 versions: [(5, False)]\nr3 at block 4 deleted: True\n"
        "blocks that may have written r1: True\n",
        "blocks that may hold it: 2 (of [0, 6) at block 5, verified)\n"  # r1: block 2
        "blocks that may hold it: 2 (of [0, 3) at block 5, verified); more: --first 3 "
        "--height 5\n",                                  # a page of 3 blocks
        "1 entry, proof of ",
        '"name":"unknown_attribute"',
        "error[6140 bad_data_query]: no attribute 'colour'",
        "error[5107 bad_data_query]: attribute 'meter' has no range index (none)",
        "error[5107 bad_data_query]: a page holds 1..1000 records, not 5000",
        "error[5002 unauthorised]: the transaction failed",
        "error[6140 bad_data_query]: no collection 'nothing'",
        "error[3024 bad_query]: block window: blocks [6, 0) are an empty window",
        "error[6140 bad_data_query]: collection 'meters' has no attribute 'colour'",
        "stored 2500000 bytes as blob 0x",
        '"size": 2500000, "chunk_size": 1048576, "media_type": "image/jpeg"}',
        "wrote 2500000 verified bytes to copy.jpg\nthe same bytes",
        "error[5120 blob_access_denied]: 0x",
        # keyword queries (section 10)
        'METER FAULT: display dark", opened=2026-12-01T10:00:00.000Z  (block 9)\n'
        't4: title="区块链 anchoring delayed, meter fault", opened=2026-12-01T11:00:00.000Z'
        "  (block 9)\n3 record(s) at block 9, verified\n",
        "2 record(s) at block 9, verified\n",
        "1 record(s) at block 9, verified; more: --cursor 0x7432 --height 9",
        "meter fault, not dark: ['t1', 't4']\n区块链: ['区块链 anchoring delayed, meter fault']",
        # the adaptive plan (section 11): a drop at block 10, a build at block 12
        "collection tickets: 5 records, next review at block 10 (at block 9, verified)",
        "candidate none: dropped (net 0 us against -110 us for range, build 0 us)",
        "  title (text): index keyword since block 8: declared auto\n"
        "  opened (time): index none since block 10: dropped",
        "error[5107 bad_data_query]: attribute 'opened' has no range index (none)",
        "3 record(s) at block 12, verified\n",
        "opened (time): index range since block 12: switched to range (net 23370 us",
        "[('title', 'keyword', 'keyword'), ('opened', 'range', 'range')]",
        # several conditions (section 12): by the price, then by the word, paged
        'k1: title="steel pipe, coated", price=120, made=2026-11-02T08:00:00.000Z, '
        'grade="A"  (block 14)\nk4: title="steel wire, rust spots"',
        "1 record(s) at block 14, verified; more: --cursor 0x006b31 --height 14\n"
        'k6: title="stainless steel plate"',
        "by price: ['k1', 'k6']\nby words: ['k1', 'k6']\n"
        "driven by condition 1 over 5 candidates",
        "error[5107 bad_data_query]: no condition can drive the query",
        "error[5107 bad_data_query]: a query driven by words runs in record id order only",
    ]:
        assert expected in out, (expected, out)
    # stdout alone: the exit statuses of the eight bad commands, of the query over a
    # dropped index and of the three bad queries of several conditions
    assert run.stdout.count("exit status 2") == 11 and "exit status 1" in run.stdout
    assert run.stdout.count("exit status 3") == 1  # a writer who is no reader downloads
