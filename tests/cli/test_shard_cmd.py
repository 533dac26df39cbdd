"""`xinlian shard security`: the tables of docs/sharding.md, and its refusals."""

from __future__ import annotations

import json

import pytest

from xinlian.cli.main import main


def test_security_prints_tails_picks_and_layouts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shard", "security", "--nodes", "512", "--adversary", "0.05", "1/10",
                 "--sizes", "32", "64", "--layout", "512:16", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    tails, picks, layouts = rows[:2], rows[2:4], rows[4:]
    assert tails[0] == {"nodes": 512, "adversary": "1/20", "corrupt": 26,
                        "c=32": "2^-24.6", "c=64": "2^-57.9"}
    assert picks[1]["2^-20"] == "c=58 shards=7 (2^-21.5)"
    assert layouts == [{"nodes": 512, "shards": 16, "committee": 30,
                        "most corrupt for 2^-20": 22, "most corrupt for 2^-40": 9,
                        "failure at 5%": "2^-17.7"}]


def test_invalid_security_parameters_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shard", "security", "--nodes", "10", "--sizes", "20"]) == 2
    assert "error[9201 invalid_shard_parameters]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["shard", "security", "--adversary", "1.5"])
    with pytest.raises(SystemExit):
        main(["shard", "security", "--layout", "512-16"])
