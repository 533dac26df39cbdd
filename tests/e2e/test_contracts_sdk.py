"""Contracts on a real solo node process, through the SDK (blocking and asyncio) and the
`xinlian contract` command: deploy the token, transfer, query, a verified proof of a
balance, typed events and errors, the proven ABI, an upgrade by the admin and one refused
to another account, versions, and funding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.cli.main import main as cli
from xinlian.crypto.suites import Suite, get_suite
from xinlian.execution.contracts.records import code_record
from xinlian.lang.compiler import compile_source
from xinlian.node.keyfile import write_key
from xinlian.sdk import (
    AsyncClient,
    Client,
    ContractFailed,
    ContractReverted,
    NoContract,
    ProofError,
)

from .cluster import Chain, init_data_dir

EXAMPLES = Path(__file__).parents[2] / "examples" / "qi"
TOKEN = compile_source((EXAMPLES / "token.qi").read_text(), "token.qi")
COUNTER_V1 = compile_source((EXAMPLES / "upgradeable.qi").read_text(), "upgradeable.qi",
                            contract="CounterV1")
COUNTER_V2 = compile_source((EXAMPLES / "upgradeable.qi").read_text(), "upgradeable.qi",
                            contract="CounterV2")

@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Chain]]:
    tmp = tmp_path_factory.mktemp("contracts")
    chain = Chain.make("intl", 3)
    data = init_data_dir(chain, tmp, balance=10**9, block_interval_ms=50)
    process = NodeProcess(data)
    try:
        yield process, chain
    finally:
        process.stop()


@pytest.fixture
def client(node: tuple[NodeProcess, Chain]) -> Iterator[Client]:
    with Client(node[0].base_url) as c:
        yield c


def test_token_deploy_transfer_query_and_proof(client: Client,
                                               node: tuple[NodeProcess, Chain]) -> None:
    chain = node[1]
    alice = client.wallet(chain.keys[0])
    bob = chain.address(1)
    deployed = client.deploy(alice, TOKEN, "Tok", 1000)
    assert deployed.contract == alice.contract_address(alice.nonce - 1)
    (minted,) = deployed.events
    token = client.contract(deployed.contract, TOKEN.abi, wallet=alice)
    assert isinstance(minted, token.events.Transfer)
    assert minted.as_dict() == {"from": bytes(20), "to": alice.address, "amount": 1000}
    before = client.status().height

    out = token.transfer(bob, 10)
    assert out.value is True and out.fuel_used > 0 and out.fee_paid > 0
    assert [e.as_dict() for e in out.events] == [
        {"from": alice.address, "to": bob, "amount": 10}]
    assert token.balance_of(bob) == 10 and token.balance_of(alice.address) == 990
    assert token.fn("balance_of").query(bob, height=before) == 0  # an older block's state
    assert token.token_name() == "Tok"

    proven = token.proof("balances", bob)
    assert (proven.value, proven.present) == (10, True)
    assert proven.height > before
    nobody = token.proof("balances", bytes(19) + b"\x99")
    assert (nobody.value, nobody.present) == (0, False)  # proven absent: the zero value
    assert token.proof("name").value == "Tok"

    with pytest.raises(token.errors.InsufficientBalance) as info:
        token.transfer(bob, 10**6)
    exc = info.value
    assert isinstance(exc, ContractReverted)
    assert exc.error_args == {"have": 990, "want": 10**6}
    assert exc.receipt is not None and exc.receipt.fee_paid > 0 and exc.trace
    assert token.balance_of(alice.address) == 990  # the failed run changed nothing
    with pytest.raises(ContractReverted, match="InsufficientBalance"):
        token.fn("transfer").query(bob, 10**6)  # a failing query: nothing committed

    # the ABI proven from the chain types the same wrapper
    fetched = client.contract(deployed.contract, wallet=alice)
    assert fetched.abi.doc == token.abi.doc
    info_view = token.info()
    assert (info_view.admin, info_view.version, info_view.frozen) == (alice.address, 1, False)
    said = client.contract_info(deployed.contract, verify=False)  # the node's own answer
    fields = ("code_hash", "admin", "version", "frozen", "balance", "created_height", "abi",
              "upgrade")
    assert [getattr(said, f) for f in fields] == [getattr(info_view, f) for f in fields]
    assert info_view.code_hash == code_record(alice.suite.hash_bytes, TOKEN.wasm, TOKEN.abi)[0]


def test_upgrade_by_the_admin_and_refused_to_another(client: Client,
                                                     node: tuple[NodeProcess, Chain]) -> None:
    chain = node[1]
    admin = client.wallet(chain.keys[0])
    other = client.wallet(chain.keys[2])
    deployed = client.deploy(admin, COUNTER_V1)
    counter = client.contract(deployed.contract, COUNTER_V1.abi, wallet=admin)
    counter.increment()
    assert counter.get() == 1

    stranger = client.contract(deployed.contract, COUNTER_V1.abi, wallet=other)
    with pytest.raises(ContractFailed) as refused:
        stranger.upgrade(COUNTER_V2)
    assert refused.value.remote_name == "upgrade_refused"
    assert stranger.abi.contract == "CounterV1"  # the wrapper kept the old ABI
    assert [v.version for v in client.contract_versions(deployed.contract)] == [1]

    upgraded = counter.upgrade(COUNTER_V2)
    assert upgraded.receipt.status == 0 and counter.abi.contract == "CounterV2"
    assert counter.get_step() == 10  # `migrate` ran with the upgrade
    counter.increment()
    assert counter.get() == 11  # storage kept across the upgrade

    versions = counter.versions()
    assert [v.version for v in versions] == [1, 2]
    h = admin.suite.hash_bytes
    assert [v.code_hash for v in versions] == [code_record(h, art.wasm, art.abi)[0]
                                               for art in (COUNTER_V1, COUNTER_V2)]
    assert versions == client.contract_versions(deployed.contract, verify=False)
    old = client.contract_code(versions[0].code_hash)
    assert old.wasm == COUNTER_V1.wasm and old.abi["contract"] == "CounterV1"

    funded = counter.fund(500)
    assert funded.receipt.status == 0 and counter.info().balance == 500
    assert [e.name for e in funded.events] == ["Funded"]


def test_k_of_n_upgrade_and_a_new_admin(client: Client,
                                        node: tuple[NodeProcess, Chain]) -> None:
    chain = node[1]
    first, second = client.wallet(chain.keys[1]), client.wallet(chain.keys[2])
    v1 = compile_source(
        f'contract A {{ upgrade by approvals(2 of [hex"{first.address.hex()}", '
        f'hex"{second.address.hex()}"]); state n: u64; '
        "pub view fn v() -> u64 { return 1; } }", "a.qi")
    v2 = compile_source("contract B { state n: u64; pub view fn v() -> u64 { return 2; } }",
                        "b.qi")
    deployed = client.deploy(first, v1)
    a = client.contract(deployed.contract, v1.abi, wallet=first)
    approved = a.upgrade(v2)  # one approval of two: recorded, nothing else changes
    assert [e.name for e in approved.events] == ["UpgradeApproved"]
    assert a.abi.contract == "A" and a.v() == 1
    b = client.contract(deployed.contract, v1.abi, wallet=second)
    b.upgrade(v2)  # the second approval applies it
    assert b.abi.contract == "B" and b.v() == 2
    assert [v.version for v in b.versions()] == [1, 2]

    counter = client.contract(client.deploy(first, COUNTER_V1).contract, COUNTER_V1.abi,
                              wallet=first)
    handed = counter.set_admin(second.address)
    assert [e.name for e in handed.events] == ["AdminChanged"]
    assert counter.info().admin == second.address
    with pytest.raises(ContractFailed) as refused:
        counter.set_admin(first.address)  # no longer the admin
    assert refused.value.remote_name == "unauthorised"
    assert client.contract(counter.address, COUNTER_V1.abi, wallet=second).upgrade(
        COUNTER_V2).receipt.status == 0  # the new admin may upgrade


def test_missing_contracts_and_forged_answers(client: Client) -> None:
    nowhere = bytes(19) + b"\x42"
    with pytest.raises(NoContract, match="proven absent"):
        client.contract_info(nowhere)
    with pytest.raises(NoContract):
        client.contract(nowhere)
    with pytest.raises(ContractFailed) as info:
        client.contract(nowhere, TOKEN.abi).balance_of(nowhere)
    assert "no contract at" in info.value.message and info.value.receipt is None
    proof = client.state_proof(b"cs/" + nowhere, verify=False)
    forged = msgspec.structs.replace(proof, value=b"\x01")  # a node claiming a value
    with pytest.raises(ProofError):
        client.verifier().state(forged)


def test_async_client_mirrors_the_blocking_one(node: tuple[NodeProcess, Chain]) -> None:
    process, chain = node

    async def run() -> None:
        async with AsyncClient(process.base_url) as client:
            alice = await client.wallet(chain.keys[1])
            deployed = await client.deploy(alice, TOKEN, "Async", 50)
            token = await client.contract(deployed.contract, TOKEN.abi, wallet=alice)
            out = await token.transfer(chain.address(2), 5)
            assert out.value is True
            assert await token.balance_of(chain.address(2)) == 5
            assert (await token.proof("balances", chain.address(2))).value == 5
            with pytest.raises(token.errors.InsufficientBalance):
                await token.transfer(chain.address(2), 10**9)
            fetched = await client.contract(deployed.contract)
            assert await fetched.total_supply() == 50
            assert [v.version for v in await token.versions()] == [1]

    asyncio.run(run())


def test_the_contract_command(tmp_path: Path, node: tuple[NodeProcess, Chain],
                              capsys: pytest.CaptureFixture[str]) -> None:
    process, chain = node
    key = tmp_path / "account1.json"
    write_key(key, _suite(chain), chain.keys[1])
    other = tmp_path / "account2.json"
    write_key(other, _suite(chain), chain.keys[2])
    rpc = ["--rpc", process.base_url]
    bob = "0x" + chain.address(2).hex()

    errors: list[str] = []

    def run(*argv: str) -> tuple[int, Any]:
        code = cli(["contract", *argv, *rpc, "--json"])
        out, err = capsys.readouterr()
        errors.append(err)
        return code, json.loads(out) if out.strip() else None

    token_qi = str(EXAMPLES / "token.qi")
    code, deployed = run("deploy", token_qi, "CliTok", '"1000"', "--key", str(key))
    assert code == 0 and deployed["ok"], deployed
    address = deployed["contract"]
    assert deployed["events"][0]["name"] == "Transfer"

    code, called = run("call", address, "transfer", bob, "25", "--abi", token_qi,
                       "--key", str(key))
    assert code == 0 and called["value"] is True
    assert called["events"] == [{"name": "Transfer", "args": {
        "from": "0x" + chain.address(1).hex(), "to": bob, "amount": 25}}]
    assert run("query", address, "balance_of", bob, "--abi", token_qi) == (
        0, {"ok": True, "value": 25})
    assert run("query", address, "balance_of", bob)[1]["value"] == 25  # ABI from the chain
    code, proven = run("proof", address, "balances", bob)
    assert code == 0 and proven["value"] == 25 and proven["present"] and proven["verified"]

    code, failed = run("call", address, "transfer", bob, "100000", "--key", str(key))
    assert code == 1 and not failed["ok"]
    assert failed["error"]["error"] == "InsufficientBalance"
    assert failed["error"]["args"] == {"have": 975, "want": 100000}
    assert failed["fee_paid"] > 0 and failed["error"]["trace"]
    assert errors[-1].startswith("error[7506 revert]: InsufficientBalance(have: 975")

    source = tmp_path / "token.qi"  # a compiled module with its ABI beside it
    source.write_text((EXAMPLES / "token.qi").read_text())
    assert cli(["qi", "compile", str(source), "--abi"]) == 0
    capsys.readouterr()
    code, from_wasm = run("deploy", str(tmp_path / "token.wasm"), "Wasm", "7", "--key", str(key))
    assert code == 0
    assert run("query", from_wasm["contract"], "token_name")[1]["value"] == "Wasm"

    upgradeable = str(EXAMPLES / "upgradeable.qi")
    code, counter = run("deploy", upgradeable, "--contract", "CounterV1", "--key", str(key))
    assert code == 0
    where = counter["contract"]
    code, refused = run("upgrade", where, upgradeable, "--contract", "CounterV2",
                        "--key", str(other))
    assert code == 1 and refused["error"]["name"] == "upgrade_refused"
    code, _ = run("upgrade", where, upgradeable, "--contract", "CounterV2", "--key", str(key))
    assert code == 0
    assert run("query", where, "get_step")[1]["value"] == 10
    code, versions = run("versions", where)
    assert code == 0 and [v["version"] for v in versions["versions"]] == [1, 2]
    code, funded = run("fund", where, "77", "--key", str(key))
    assert code == 0 and funded["events"][0]["name"] == "Funded"
    code, info = run("info", where)
    assert code == 0 and info["balance"] == 77 and info["version"] == 2
    assert info["upgrade"] == {"rule": "admin"}
    code, handed = run("set-admin", where, "0x" + chain.address(2).hex(), "--key", str(key))
    assert code == 0 and handed["events"][0]["name"] == "AdminChanged"
    assert run("info", where)[1]["admin"] == "0x" + chain.address(2).hex()

    assert cli(["contract", "query", where, "get", *rpc]) == 0  # text output
    assert capsys.readouterr().out.strip() == "0"
    assert cli(["contract", "fund", where, "5", "--key", str(tmp_path / "none.json"),
                *rpc]) == 2
    capsys.readouterr()


def _suite(chain: Chain) -> Suite:
    return get_suite(chain.suite_name)
