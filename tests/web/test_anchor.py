"""The workbench's trust anchor (pin) on its own: its JSON form, what `xinlian web-anchor`
prints for a node's data directory, and the refusals of what is not a pin."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian import codec
from xinlian.cli.demo import init_solo
from xinlian.cli.main import main
from xinlian.crypto.keys import AlgId, PublicKey
from xinlian.crypto.suites import get_suite
from xinlian.ledger.genesis import ChainParams, Genesis, Organisation, Validator, load_genesis
from xinlian.node.keyfile import read_key
from xinlian.web.anchor import Pin, parse_pin, pin_of, read_pin
from xinlian.web.errors import BadTrustAnchor

ALGS = [AlgId.SM2, AlgId.ED25519, AlgId.ML_DSA_65, AlgId.SM2_ML_DSA_65, AlgId.ED25519_ML_DSA_65]


@given(st.binary(min_size=32, max_size=32),
       st.none() | st.builds(PublicKey, st.sampled_from(ALGS), st.binary(max_size=2048)))
def test_a_pin_reads_back_from_its_json(digest: bytes, key: PublicKey | None) -> None:
    pin = Pin(digest, key)
    assert parse_pin(json.loads(json.dumps(pin.to_json()))) == pin


def test_web_anchor_prints_a_solo_nodes_genesis_hash_and_node_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [data] = init_solo(tmp_path, get_suite("pq"), 1, 10)
    assert main(["web-anchor", "--data", str(data)]) == 0
    printed = json.loads(capsys.readouterr().out)
    genesis = load_genesis(data / "genesis.toml")
    node_key = read_key(data / "node_key.json")[1].public_key
    assert printed == {"genesis_hash": "0x" + genesis.hash().hex(),
                       "node_key": "0x" + codec.encode(node_key).hex()}
    (tmp_path / "anchor.json").write_text(json.dumps(printed))
    assert read_pin(tmp_path / "anchor.json") == Pin(genesis.hash(), node_key)


def test_a_bft_chains_pin_is_its_genesis_hash_alone() -> None:
    suite = get_suite("pq")
    key = suite.generate_signing_key(seed=bytes(32)).public_key
    genesis = Genesis("c", "pq", 0, ChainParams(), [Organisation("o", [])], [],
                      [Validator("o", key, key.data, b"")])
    assert pin_of(genesis, None) == Pin(genesis.hash(), None)
    with pytest.raises(BadTrustAnchor, match="needs its node key"):
        pin_of(msgspec.structs.replace(genesis, validators=[]), None)


@pytest.mark.parametrize("value", [
    "0x" + "00" * 32,  # a bare hash is the page's shorthand, not the file's form
    {"genesis_hash": "00" * 32},
    {"genesis_hash": "0x" + "00" * 31},
    {"genesis_hash": "0x" + "zz" * 32},
    {"genesis_hash": "0x" + "00" * 32, "node_key": "0x01"},
    {"genesis_hash": "0x" + "00" * 32, "node_key": 7},
    {"genesis_hash": "0x" + "00" * 32, "extra": 1},
])
def test_what_is_not_a_pin_is_refused(value: object) -> None:
    with pytest.raises(BadTrustAnchor):
        parse_pin(value)


def test_web_refuses_a_bad_trust_anchor(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    users = tmp_path / "users.json"
    users.write_text("{}")
    anchor = tmp_path / "anchor.json"
    anchor.write_text("not json")
    start = ["web", "--projects", str(tmp_path), "--users", str(users),
             "--trust-anchor", str(anchor)]
    assert main(start) == 2
    assert "bad_web_argument" in capsys.readouterr().err  # no --node to pin
    assert main([*start, "--node", "http://127.0.0.1:9"]) == 2
    assert "bad_trust_anchor" in capsys.readouterr().err
