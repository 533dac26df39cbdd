"""Encrypted attributes on a real solo node process: the owner sets a DKG key, banks put
their loan totals and votes as plain integers that the SDK encrypts and proves, validators
check every proof, the client sums a verified range query's contributions and three of four
members open only the sums; the same through the `xinlian data` and `xinlian private agg`
commands; a copied or tampered contribution is refused with a typed error and the node
keeps serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.cli.main import main
from xinlian.crypto.primitives.groups import SM2
from xinlian.crypto.privacy.homomorphic import threshold
from xinlian.crypto.threshold.dkg import KeyShare
from xinlian.sdk import Client
from xinlian.sdk.errors import DataWriteFailed

from .cluster import Chain, init_data_dir

LOANS = {"bank-a": (1200, 1), "bank-b": (35000, 0), "bank-c": (65535, 1)}


def test_encrypted_sums_on_a_solo_node(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    chain = Chain.make("sm", 2)
    data_dir = init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20)
    keys = tmp_path / "keys"
    assert main(["private", "agg", "keygen", "--members", "4", "--threshold", "3",
                 "--out-dir", str(keys)]) == 0
    public = json.loads((keys / "key.json").read_text())
    node = NodeProcess(data_dir)
    try:
        with Client(node.base_url) as client:
            owner = client.data("loans", wallet=client.wallet(chain.keys[0]))
            other = client.data("loans", wallet=client.wallet(chain.keys[1]))
            owner.declare({"bank": ("text", "range"), "amount": "encrypted",
                           "vote": "encrypted"}, writers=[chain.address(1)])
            key = bytes.fromhex(public["aggregate_key"])
            owner.set_aggregate_key("amount", key, 16)
            owner.set_aggregate_key("vote", key, 0)
            assert owner.aggregate_key("amount").bits == 16
            for i, (bank, (amount, vote)) in enumerate(LOANS.items()):
                (owner, other)[i % 2].put({bank: {"bank": bank, "amount": amount,
                                                  "vote": vote}})
            stored = owner.get("bank-b")
            assert stored is not None and len(stored.values["amount"]) == 851
            with pytest.raises(DataWriteFailed) as refused:  # bank-b's value, elsewhere
                other.put({"bank-x": {"bank": "bank-x",
                                      "amount": stored.values["amount"]}})
            assert refused.value.remote_name == "homomorphic_invalid_contribution"
            tampered = bytearray(stored.values["vote"])
            tampered[-1] ^= 1
            with pytest.raises(DataWriteFailed) as refused:
                other.put({"bank-b": {"bank": "bank-b", "vote": bytes(tampered)}})
            assert refused.value.remote_name == "homomorphic_invalid_contribution"

            records = list(owner.query_all("bank"))
            assert len(records) == 3
            total = owner.encrypted_sum("amount", records)
            votes = owner.encrypted_sum("vote", records)
        members = {i: json.loads((keys / f"member-{i}.json").read_text()) for i in (1, 2, 4)}
        shares = [KeyShare.decode(bytes.fromhex(m["key_share"])) for m in members.values()]
        for found, expected in ((total, 1200 + 35000 + 65535), (votes, 2)):
            made = [threshold.make_share(s, found.ciphertext) for s in shares]
            assert threshold.decrypt(shares[0].public, found.ciphertext, made,
                                     found.bound) == expected
        assert total.ciphertext.group is SM2 and total.count == 3

        rpc = ["--rpc", node.base_url]
        capsys.readouterr()
        assert main(["data", "encrypted-sum", "loans", "vote", "--over", "bank", "--to",
                     "bank-b", "--out", str(tmp_path / "agg.json"), *rpc]) == 0
        assert json.loads(capsys.readouterr().out) == {"contributions": 2, "bound": 2}
        files = []
        for i in (1, 2, 4):
            files.append(str(tmp_path / f"s{i}.json"))
            assert main(["private", "agg", "share", "--key-share",
                         str(keys / f"member-{i}.json"), str(tmp_path / "agg.json"),
                         "--out", files[-1]]) == 0
        capsys.readouterr()
        assert main(["private", "agg", "open", "--key", str(keys / "key.json"),
                     str(tmp_path / "agg.json"), *files]) == 0
        assert json.loads(capsys.readouterr().out)["value"] == 1  # bank-a's and bank-b's
    finally:
        node.stop()
