"""`xinlian contract ...` before it reaches a node: arguments read by the ABI's types, and
the exit statuses of a wrong command (2) and of a node that cannot be reached (3).
Runs against a node are in tests/e2e/test_contracts_cli.py."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from xinlian.cli.main import main
from xinlian.crypto.suites import get_suite
from xinlian.lang.abi import type_from_json
from xinlian.lang.abi_json import args_from_text, value_to_json
from xinlian.lang.errors import ArgumentError
from xinlian.node.keyfile import write_key

EXAMPLES = Path(__file__).parents[2] / "examples" / "qi"
ADDR = "0x" + "ab" * 20


@pytest.fixture
def key(tmp_path: Path) -> str:
    suite = get_suite("intl")
    path = tmp_path / "alice.json"
    write_key(path, suite, suite.generate_signing_key(bytes([1]) * 32))
    return str(path)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, never listened on, so refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def test_json_arguments_follow_the_abi_types() -> None:
    def parse(type_json: object, text: str) -> object:
        return args_from_text([("x", type_from_json(type_json))], "f", [text])[0]

    assert parse("u256", "12") == 12
    assert parse("u256", '"0xff"') == 255
    assert parse("u256", str(2**200)) == 2**200
    assert parse("i8", "-5") == -5
    assert parse("bool", "true") is True
    assert parse("address", ADDR) == bytes.fromhex("ab" * 20)
    assert parse("address", "ab" * 20) == bytes.fromhex("ab" * 20)  # 0x optional
    assert parse("bytes", "0xbeef") == b"\xbe\xef"
    assert parse("string", "hello") == "hello"  # a bare word is a string
    assert parse("string", '"two words"') == "two words"
    assert parse({"list": "u8"}, "[1, 2]") == [1, 2]
    assert parse({"optional": "u64"}, "null") is None
    assert parse({"optional": "address"}, f'"{ADDR}"') == bytes.fromhex("ab" * 20)
    assert parse({"enum": "Side", "variants": ["Buy", "Sell"]}, '"Sell"') == "Sell"
    point = {"struct": "P", "fields": [["x", "i32"], ["who", "address"]]}
    assert parse(point, f'{{"x": -1, "who": "{ADDR}"}}') == {"x": -1,
                                                              "who": bytes.fromhex("ab" * 20)}
    assert value_to_json({"a": [b"\x01"], "b": 3}) == {"a": ["0x01"], "b": 3}


@pytest.mark.parametrize(("type_json", "text", "why"), [
    ("u8", "256", "not a valid u8"), ("u64", "-1", "not a valid u64"),
    ("bool", "1", "not a bool"), ("address", "0xabcd", "an address is 20 bytes"),
    ("bytes", "0xzz", "non-hexadecimal"), ("u64", "twelve", "is not a `u64`"),
    ({"list": "u8"}, "[1, 300]", "not a valid u8"),
])
def test_invalid_arguments_name_the_parameter(type_json: object, text: str, why: str) -> None:
    with pytest.raises(ArgumentError, match=f"argument `x` of `f`: .*{why}"):
        args_from_text([("x", type_from_json(type_json))], "f", [text])


def test_a_wrong_command_exits_2_before_reaching_a_node(
        tmp_path: Path, key: str, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    rpc = f"http://127.0.0.1:{closed_port}"
    token = str(EXAMPLES / "token.qi")
    broken = tmp_path / "broken.qi"
    broken.write_text("contract C { pub fn f( }")
    cases = [
        (["deploy", str(broken), "--key", key], "error[E71"),
        (["deploy", token, "Tok", "many", "--key", key], "argument `supply` of `init`"),
        (["deploy", token, "Tok", "--key", key], "`init` takes 2 argument(s), got 1"),
        (["deploy", str(tmp_path / "none.wasm"), "--key", key], "cannot read"),
        (["call", "0xabcd", "transfer", ADDR, "1", "--abi", token, "--key", key],
         "address must be"),
        (["call", ADDR, "nope", "--abi", token, "--key", key], "no public method `nope`"),
        (["query", ADDR, "balance_of", "--abi", token], "`balance_of` takes 1"),
        (["proof", ADDR, "balances", "--abi", token], "`balances` takes 1 argument(s)"),
        (["proof", ADDR, "nothing", "--abi", token], "has no state `nothing`"),
        (["call", ADDR, "mint", ADDR, "1", "--abi", token, "--key", str(tmp_path / "no")],
         "cannot read"),
    ]
    for argv, why in cases:
        assert main(["contract", *argv, "--rpc", rpc]) == 2, argv
        assert why in capsys.readouterr().err, argv


def test_an_unreachable_node_exits_3(key: str, closed_port: int,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    rpc = f"http://127.0.0.1:{closed_port}"
    token = str(EXAMPLES / "token.qi")
    for argv in (["query", ADDR, "balance_of", ADDR, "--abi", token],
                 ["deploy", token, "Tok", "5", "--key", key],
                 ["fund", ADDR, "5", "--key", key]):
        assert main(["contract", *argv, "--rpc", rpc]) == 3, argv
        assert "error[6101 transport_error]" in capsys.readouterr().err
    assert main(["contract", "versions", ADDR, "--rpc", rpc, "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["error"]["name"] == "transport_error"
    assert main(["contract", "versions", "0x12", "--rpc", rpc, "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["name"] == "bad_format"


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["contract", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("deploy", "call", "query", "proof", "upgrade", "fund"):
        assert cmd in out
    json.dumps(out)  # plain text
