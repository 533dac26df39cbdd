"""`xinlian web` next to a real solo node process, over HTTP and its language-server
websocket: log-in and roles, files, compile/test/verify/check, diagnostics as the text
changes, deploy, call and upgrade with the server's key, and the explorer's verified reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pycrdt import (
    Doc,
    Text,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from xinlian.lang.compiler import compile_source

from .workbench import COUNTER, Session, Site, start_site

TOKEN_FILE = {"project": "demo", "file": "token.qi"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    started = start_site(tmp_path_factory.mktemp("workbench"))
    yield started
    started.stop()


def test_invalid_log_ins_and_anonymous_requests_are_refused(site: Site) -> None:
    anonymous = Session(site)
    assert anonymous.send("POST", "api/login", {"user": "alice", "password": "nope"})[0] == 401
    assert anonymous.send("POST", "api/login", {"user": "mallory", "password": "x"})[0] == 401
    status, out = anonymous.send("GET", "api/me")
    assert status == 401 and out["error"]["name"] == "not_logged_in"
    assert anonymous.send("POST", "api/login", [1])[0] == 400


def test_members_see_their_projects_only(site: Site) -> None:
    me = Session(site, "carol").ok("GET", "api/me")
    assert me["projects"] == [{"name": "demo", "role": "viewer",
                               "files": ["counter.qi", "shared.qi", "token.qi"]}]
    carol = Session(site, "carol")
    status, out = carol.send("GET", "api/file?project=other&file=secret.qi")
    assert status == 403 and out["error"]["name"] == "forbidden"
    status, out = carol.send("GET", "api/file?project=demo&file=../other/secret.qi")
    assert status == 400 and out["error"]["name"] == "bad_path"


def test_viewer_reads_and_compiles_but_cannot_save_deploy_or_transact(site: Site) -> None:
    carol = Session(site, "carol")
    text = carol.ok("GET", "api/file?project=demo&file=token.qi")["text"]
    assert carol.ok("POST", "api/compile", {**TOKEN_FILE, "text": text})["ok"] is True
    status, out = carol.send("PUT", "api/file", {**TOKEN_FILE, "text": text + "\n"})
    assert status == 403 and out["error"]["name"] == "forbidden"
    assert carol.send("POST", "api/deploy", {**TOKEN_FILE, "args": []})[0] == 403
    assert (site.projects / "demo" / "token.qi").read_text() == text


def test_compile_shows_errors_at_their_line_and_the_abi_at_each_level(site: Site) -> None:
    bob = Session(site, "bob")
    text = bob.ok("GET", "api/file?project=demo&file=token.qi")["text"]
    broken = text.replace("balances[from] = have - amount;", "balances[from] = have - amout;")
    line = next(i for i, t in enumerate(broken.split("\n"), 1) if "amout" in t)
    out = bob.ok("POST", "api/compile", {**TOKEN_FILE, "text": broken, "opt": 1})
    assert out["ok"] is False
    (diag,) = out["diagnostics"]
    assert diag["line"] == line and diag["code"] == "E7201" and "amout" in diag["message"]
    for opt in (0, 2):  # the build of the level asked for
        out = bob.ok("POST", "api/compile", {**TOKEN_FILE, "text": text, "opt": opt})
        assert out["abi"]["contract"] == "Token" and out["debug"]
        assert out["code_hash"] == compile_source(text, "token.qi", opt).code_hash
    assert bob.send("POST", "api/compile", {**TOKEN_FILE, "text": text, "opt": 7})[0] == 400


def test_debug_traces_a_call_and_a_test_for_any_member(site: Site) -> None:
    carol = Session(site, "carol")  # a viewer: debugging runs on a private local chain
    text = carol.ok("GET", "api/file?project=demo&file=token.qi")["text"]
    bob_hex = "0x" + "00" * 19 + "b0"
    out = carol.ok("POST", "api/debug", {**TOKEN_FILE, "text": text, "args": ['"T"', "1000"],
                                         "call": f'transfer("{bob_hex}", 5)'})
    trace = out["trace"]
    assert out["ok"] and trace["result"] is True and trace["error"] is None
    assert [s["line"] for s in trace["steps"]] == [41, 27, 28, 29, 30, 31, 42]
    assert trace["steps"][3]["locals"]["have"] == 1000
    assert [(w["var"], w["decoded"]) for w in trace["writes"]] == [("balances", 995),
                                                                   ("balances", 5)]
    assert [e["name"] for e in trace["events"]] == ["Transfer"]
    tested = carol.ok("POST", "api/debug", {**TOKEN_FILE, "text": text,
                                            "test": "transfer_moves_balance"})
    assert tested["ok"] and tested["trace"]["steps"]
    failing = carol.ok("POST", "api/debug", {**TOKEN_FILE, "text": text, "args": ['"T"', "1"],
                                             "call": f'transfer("{bob_hex}", 5)'})
    assert failing["ok"] is False and failing["trace"]["error"]["name"] == "revert"
    broken = carol.ok("POST", "api/debug", {**TOKEN_FILE, "text": text + "\nfn (", "test": "x"})
    assert broken["ok"] is False and broken["diagnostics"]
    for bad, name in [({"call": "nope()"}, "bad_arguments"),
                      ({"call": "transfer(1, 2)"}, "bad_arguments"),
                      ({"test": "missing"}, "bad_arguments"),
                      ({"call": "f()", "test": "t"}, "bad_request"),
                      ({}, "bad_request")]:
        status, err = carol.send("POST", "api/debug", {**TOKEN_FILE, "text": text,
                                                      "args": ['"T"', "1000"], **bad})
        assert status == 400 and err["error"]["name"] == name, bad


def test_tests_verify_and_check(site: Site) -> None:
    bob = Session(site, "bob")
    text = bob.ok("GET", "api/file?project=demo&file=token.qi")["text"]
    tests = bob.ok("POST", "api/test", {**TOKEN_FILE, "text": text})
    assert tests["ok"] and [t["name"] for t in tests["tests"]] == ["transfer_moves_balance"]
    wrong = text.replace("assert(balance_of(bob) == 30);", "assert(balance_of(bob) == 31);")
    assert wrong != text
    out = bob.ok("POST", "api/test", {**TOKEN_FILE, "text": wrong})
    assert out["ok"] is False and out["tests"][0]["failure"]
    verified = bob.ok("POST", "api/verify", {**TOKEN_FILE, "text": text})
    assert verified["status"] == "proved" and verified["goals"]
    counter = bob.ok("POST", "api/check", {"project": "demo", "file": "counter.qi",
                                           "text": COUNTER})
    assert any(f["detector"] == "missing-access-control" for f in counter["findings"])
    assert bob.ok("POST", "api/check", {**TOKEN_FILE, "text": text})["findings"] == []


async def _lsp_round(site: Site, cookie: str, texts: list[str]) -> list[list[dict[str, Any]]]:
    """Open the token file with texts[0], change it to each next text; the diagnostics
    published for each version."""
    uri = "file:///demo/token.qi"
    got = []
    async with aiohttp.ClientSession(cookies={"xinlian_session": cookie}) as http, \
            http.ws_connect(site.url.replace("http", "ws") + "lsp?project=demo") as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
        assert (await ws.receive_json())["result"]["capabilities"]
        for version, text in enumerate(texts, 1):
            if version == 1:
                await ws.send_json({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                                    "params": {"textDocument": {"uri": uri, "version": 1,
                                                                "text": text}}})
            else:
                await ws.send_json({"jsonrpc": "2.0", "method": "textDocument/didChange",
                                    "params": {"textDocument": {"uri": uri,
                                                                "version": version},
                                               "contentChanges": [{"text": text}]}})
            msg = await ws.receive_json()
            assert msg["params"]["version"] == version
            got.append(msg["params"]["diagnostics"])
    return got


def test_language_server_over_the_websocket(site: Site) -> None:
    carol = Session(site, "carol")
    cookie = carol.cookie
    text = carol.ok("GET", "api/file?project=demo&file=token.qi")["text"]
    broken = text.replace("balances[from] = have - amount;", "balances[from] = have - amout;")
    line = next(i for i, t in enumerate(broken.split("\n")) if "amout" in t)
    clean, error, fixed = asyncio.run(_lsp_round(site, cookie, [text, broken, text]))
    assert clean == [] and fixed == []
    (diag,) = error
    assert diag["range"]["start"]["line"] == line and diag["code"] == "E7201"


def test_invalid_websocket_without_log_in_is_refused(site: Site) -> None:
    async def attempt() -> int:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(site.url.replace("http", "ws") + "lsp?project=demo"):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status
    assert asyncio.run(attempt()) == 401


async def _shared_text_after_write(site: Site, cookie: str, line: str) -> str:
    """Join shared.qi's document as a Yjs client, insert `line` at its start, and read
    the server's whole document back: its text."""
    async def step2(ws: aiohttp.ClientWebSocketResponse, doc: Doc[Text]) -> None:
        await ws.send_bytes(create_sync_message(doc))  # sync step 1: what we have
        while True:  # skip the server's own step 1 and any presence
            msg = await ws.receive_bytes()
            if msg[0] == YMessageType.SYNC and msg[1] == YSyncMessageType.SYNC_STEP2:
                handle_sync_message(msg[1:], doc)
                return

    async with aiohttp.ClientSession(cookies={"xinlian_session": cookie}) as http, \
            http.ws_connect(site.url.replace("http", "ws") + "collab/demo/shared.qi") as ws:
        mine: Doc[Text] = Doc()
        mine["source"] = text = Text()
        await step2(ws, mine)
        before = mine.get_state()
        text.insert(0, line)
        await ws.send_bytes(create_update_message(mine.get_update(before)))
        server: Doc[Text] = Doc()
        server["source"] = Text()
        await step2(ws, server)  # answered after our update: a channel is served in order
        return str(server["source"])


def test_a_viewers_changes_to_a_shared_file_are_dropped(site: Site) -> None:
    saved = (site.projects / "demo" / "shared.qi").read_text()
    carol, bob = Session(site, "carol"), Session(site, "bob")
    after_carol = asyncio.run(_shared_text_after_write(site, carol.cookie, "// carol\n"))
    assert after_carol == saved
    after_bob = asyncio.run(_shared_text_after_write(site, bob.cookie, "// bob\n"))
    assert after_bob == "// bob\n" + saved


def test_deploy_call_and_see_the_event_in_the_explorer(site: Site) -> None:
    bob, carol = Session(site, "bob"), Session(site, "carol")
    out = bob.ok("POST", "api/deploy", {**TOKEN_FILE, "args": ['"Tok"', "1000"]})
    address = out["contract"]
    assert out["events"] == [{"event": "Transfer", "args": {
        "from": "00" * 20, "to": site.address(0).hex(), "amount": 1000}}]
    (entry,) = [d for d in carol.ok("GET", "api/deployments?project=demo")
                if d["address"] == address]
    assert entry["contract"] == "Token"
    receiver = site.address(1).hex()
    status, refused = carol.send("POST", "api/call", {
        "project": "demo", "address": address, "fn": "transfer", "args": [f'"{receiver}"', "5"]})
    assert status == 403 and refused["error"]["name"] == "forbidden"
    sent = bob.ok("POST", "api/call", {"project": "demo", "address": address,
                                       "fn": "transfer", "args": [f'"{receiver}"', "5"]})
    assert sent["value"] is True and sent["events"][0]["event"] == "Transfer"
    status, reverted = bob.send("POST", "api/call", {
        "project": "demo", "address": address, "fn": "transfer",
        "args": [f'"{receiver}"', "100000"]})
    assert status == 400 and "InsufficientBalance" in json.dumps(reverted)
    balance = carol.ok("POST", "api/call", {"project": "demo", "address": address,
                                            "fn": "balance_of", "args": [f'"{receiver}"']})
    assert balance == {"view": True, "value": 5}
    tx = carol.ok("GET", f"api/chain/tx/{sent['tx_hash']}")
    assert tx["verified_by"] == "node-signature" and tx["receipt"]["status"] == 0
    (event,) = tx["receipt"]["events"]
    assert event["event"] == "Transfer" and event["args"]["amount"] == 5
    assert event["args"]["to"] == receiver
    block = carol.ok("GET", f"api/chain/block/{tx['height']}")
    assert sent["tx_hash"] in block["tx_hashes"]
    overview = carol.ok("GET", "api/chain")
    assert overview["blocks"][0]["height"] == overview["status"]["height"] >= tx["height"]
    account = carol.ok("GET", f"api/chain/account/{site.address(0).hex()}")
    assert account["account"]["nonce"] >= 2 and account["verified_by"] == "node-signature"
    contract = carol.ok("GET", f"api/chain/contract/{address}")
    assert contract["info"]["abi"]["contract"] == "Token"
    assert carol.send("GET", "api/chain/tx/zz")[0] == 400


def test_upgrade_needs_the_owner(site: Site) -> None:
    alice, bob = Session(site, "alice"), Session(site, "bob")
    counter = {"project": "demo", "file": "counter.qi"}
    address = bob.ok("POST", "api/deploy", {**counter, "args": []})["contract"]
    bob.ok("PUT", "api/file", {**counter, "text": COUNTER})
    upgrade = {**counter, "address": address}
    status, out = bob.send("POST", "api/upgrade", upgrade)
    assert status == 403 and out["error"]["name"] == "forbidden"
    alice.ok("POST", "api/upgrade", upgrade)
    step = alice.ok("POST", "api/call", {"project": "demo", "address": address,
                                         "fn": "get_step", "args": []})
    assert step == {"view": True, "value": 10}
    (entry,) = [d for d in alice.ok("GET", "api/deployments?project=demo")
                if d["address"] == address]
    assert entry["contract"] == "CounterV2"


def test_the_page_and_its_bundle_are_served(site: Site) -> None:
    page = Path(__file__).parents[2] / "src" / "xinlian" / "web" / "static" / "index.html"
    anonymous = Session(site)
    with anonymous.opener.open(site.url, timeout=30) as resp:
        assert resp.read().decode() == page.read_text()
    with anonymous.opener.open(site.url + "static/editor.js", timeout=30) as resp:
        assert b"QiEditor" in resp.read()
    with anonymous.opener.open(site.url + "static/proofs.js", timeout=30) as resp:
        assert b"QiProofs" in resp.read()
