"""The workbench in a real browser (Playwright driving Debian's headless Chromium, which
`make chromium` installs) against `xinlian web` and a real solo node process: an error
typed into the editor is marked as you type and by Compile at the right line; a token is
deployed and called from the page and its event found in the explorer, verified; the
explorer's proofs are checked by the page itself, which accepts what the Python SDK's
verifier accepts and rejects what it rejects; a viewer cannot edit; diagnostics follow each
keystroke; two users edit one file at once and see each other's changes and cursors; a
token transfer is stepped through in the debugger."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from xinlian import codec
from xinlian.api.format import to_json
from xinlian.crypto.suites import get_suite
from xinlian.ledger.block import BlockHeader, Event, Receipt, header_hash, sign_header

from .workbench import (
    CHROMIUM,
    COUNTER,
    COUNTER_V1,
    Session,
    Site,
    editor_text,
    keystroke_latencies,
    log_in,
    look_up,
    open_file,
    python_accepts,
    start_site,
    type_at_end,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=(
    f"{CHROMIUM} is missing: Debian's chromium drives these tests (make chromium)"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    started = start_site(tmp_path_factory.mktemp("workbench-browser"))
    yield started
    started.stop()


def test_compile_shows_an_error_at_the_right_line(site: Site, browser: Browser) -> None:
    page = log_in(browser, site, "bob")
    open_file(page, "token.qi")
    original = editor_text(page)
    type_at_end(page, "\nfn broken() -> u64 { return nope; }")
    line = editor_text(page).count("\n") + 1
    marked = page.wait_for_selector(".cm-lintRange-error")  # from the language server
    assert marked is not None and marked.inner_text() == "nope"
    page.click("#compile")
    errors = page.wait_for_selector("#compile-errors")
    assert errors is not None
    assert errors.inner_text() == f"line {line}, column 29: unknown name `nope`"
    page.select_option("#opt", "2")
    page.click(".cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(original)
    page.wait_for_function("() => workbench.sent.size === 0 && workbench.lsp.length === 0")
    page.click("#compile")
    compiled = page.wait_for_selector("#compiled")
    assert compiled is not None and "compiled at -O2" in compiled.inner_text()
    assert '"contract": "Token"' in page.inner_text("#output details")
    symbols = page.locator("#output details", has_text="debug symbols")
    symbols.locator("summary").click()
    rows = json.loads(symbols.locator("pre").inner_text())
    transfer = original.splitlines().index(
        next(t for t in original.splitlines() if "fn transfer(" in t)) + 1
    assert any(fn == "transfer" and line > transfer for _, fn, line, _ in rows)
    page.context.close()


def test_deploy_and_call_a_token_and_see_the_event_in_the_explorer(
        site: Site, browser: Browser) -> None:
    page = log_in(browser, site, "bob")
    open_file(page, "token.qi")
    page.fill("#deploy-args", '"Tok", 1000')
    page.click("#deploy")
    deployed = page.wait_for_selector("#deployed")
    assert deployed is not None
    address = deployed.inner_text().split()[2]
    card = page.locator(".contract", has_text=address)
    card.locator("select.fn").select_option("transfer")
    receiver = site.address(1).hex()
    card.locator("input.args").fill(f'"{receiver}", 7')
    card.locator("button.call").click()
    card.locator(".tx-link").click()
    event = page.wait_for_selector("#events li.event")
    assert event is not None
    text = event.inner_text()
    assert text.startswith("Transfer ") and f'"to":"{receiver}"' in text
    assert '"amount":7' in text and address in text
    assert page.inner_text("#explorer .verified") == "✔ verified by the server (node-signature)"
    assert page.inner_text("#explorer .browser-verified") == (
        "✔ verified in browser: header signature (Ed25519), sender signature (Ed25519), "
        "tx audit path, receipt audit path")
    page.context.close()


def test_the_owner_upgrades_a_contract_from_the_page(site: Site, browser: Browser) -> None:
    (site.projects / "demo" / "upgraded.qi").write_text(COUNTER_V1)  # a file of its own
    bob = log_in(browser, site, "bob")
    open_file(bob, "upgraded.qi")
    bob.click("#deploy")
    deployed = bob.wait_for_selector("#deployed")
    assert deployed is not None
    address = deployed.inner_text().split()[2]
    assert bob.locator(".contract", has_text=address).locator("button.upgrade").is_disabled()
    bob.context.close()
    alice = log_in(browser, site, "alice")
    open_file(alice, "upgraded.qi")
    alice.click(".cm-content")
    alice.keyboard.press("Control+a")
    alice.keyboard.insert_text(COUNTER)  # CounterV2 upgrades CounterV1, its migrate sets step
    alice.click("#save")
    alice.wait_for_selector("#output p.ok:has-text('saved upgraded.qi')")
    card = alice.locator(".contract", has_text=address)
    card.locator("button.upgrade").click()
    alice.wait_for_selector(f".contract:has-text('CounterV2 at {address}')")
    upgraded = alice.locator(".contract", has_text=f"CounterV2 at {address}")
    upgraded.locator("select.fn").select_option("get_step")
    upgraded.locator("button.call").click()
    value = upgraded.locator(".result pre")
    value.wait_for()
    assert value.inner_text() == "10"
    alice.context.close()


def test_a_viewer_cannot_edit(site: Site, browser: Browser) -> None:
    page = log_in(browser, site, "carol")
    open_file(page, "token.qi")
    before = editor_text(page)
    assert page.is_disabled("#save") and page.is_disabled("#deploy")
    assert page.get_attribute(".cm-content", "contenteditable") == "false"
    page.click(".cm-content")
    page.keyboard.type("xyz")
    assert editor_text(page) == before
    status = page.evaluate("""async () => (await fetch('/api/file', {method: 'PUT',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({project: 'demo', file: 'token.qi', text: 'gone'})})).status""")
    assert status == 403
    assert (site.projects / "demo" / "token.qi").read_text() == before
    page.context.close()


def test_diagnostics_follow_each_keystroke(site: Site, browser: Browser) -> None:
    page = log_in(browser, site, "bob")
    open_file(page, "counter.qi")  # it stays broken for the module's later tests: not the token
    latencies = keystroke_latencies(page, "\n// typed")
    assert len(latencies) == len("\n// typed") and all(t > 0 for t in latencies)
    assert page.query_selector(".cm-lintRange-error") is None
    type_at_end(page, "\nfn f() -> u64 { return nope; }")
    marked = page.wait_for_selector(".cm-lintRange-error")
    assert marked is not None and marked.inner_text() == "nope"
    page.context.close()


def test_two_users_edit_one_file_and_see_each_others_changes(
        site: Site, browser: Browser) -> None:
    alice, bob = log_in(browser, site, "alice"), log_in(browser, site, "bob")
    open_file(alice, "shared.qi")
    open_file(bob, "shared.qi")
    type_at_end(bob, "\n// from bob")
    alice.wait_for_function("() => QiEditor.text(workbench.view).endsWith('\\n// from bob')")
    alice.click(".cm-content")
    alice.keyboard.press("Control+Home")
    alice.keyboard.insert_text("// from alice\n")
    bob.wait_for_function("() => QiEditor.text(workbench.view).startsWith('// from alice\\n')")
    assert editor_text(alice) == editor_text(bob)
    # presence: each sees the other's cursor, labelled with their name
    assert bob.wait_for_selector(".cm-ySelectionInfo:text-is('alice')", state="attached")
    assert alice.wait_for_selector(".cm-ySelectionInfo:text-is('bob')", state="attached")
    # a co-editor's change is analysed too: bob breaks it, alice sees the error marked
    type_at_end(bob, "\nfn f() -> u64 { return nope; }")
    marked = alice.wait_for_selector(".cm-lintRange-error")
    assert marked is not None and marked.inner_text() == "nope"
    carol = log_in(browser, site, "carol")  # a viewer follows the shared text
    open_file(carol, "shared.qi")
    assert editor_text(carol) == editor_text(bob)
    alice.click("#save")
    alice.wait_for_selector("#output .ok:text-is('saved shared.qi')")
    assert (site.projects / "demo" / "shared.qi").read_text() == editor_text(bob)
    for page in (alice, bob, carol):
        page.context.close()


def test_debug_a_token_transfer_step_by_step(site: Site, browser: Browser) -> None:
    page = log_in(browser, site, "carol")  # a viewer may debug: nothing reaches the chain
    open_file(page, "token.qi")
    page.fill("#deploy-args", '"Tok", 1000')
    page.fill("#debug-call", f'transfer("0x{"00" * 19}b0", 5)')
    page.click("#debug")
    page.wait_for_selector("#debugged")
    assert "step 1 of 7: line 41, transfer" in page.inner_text("#dbg-where")
    current = page.locator(".cm-debug-line").inner_text().strip()
    assert current == "move_funds(caller(), to, amount);"
    page.click("#dbg-into")
    assert "line 27, move_funds (depth 1)" in page.inner_text("#dbg-where")
    page.fill("#dbg-breaks", "30")
    page.click("#dbg-continue")  # to line 30: the sender's balance is written, not yet bob's
    assert "line 30" in page.inner_text("#dbg-where")
    assert page.locator("tr.local", has_text="have").inner_text().split() == ["have", "1000"]
    writes = page.locator("li.write").all_inner_texts()
    assert writes == [f'balances["0x{"00" * 19}01"] = 995']
    assert page.locator("li.debug-event").count() == 0
    page.click("#dbg-out")  # back in `transfer`, after the event
    assert "line 42, transfer (depth 0)" in page.inner_text("#dbg-where")
    assert page.locator("li.write").count() == 2
    assert "Transfer" in page.inner_text("#dbg-events")
    page.click("#dbg-back")
    assert "line 31, move_funds" in page.inner_text("#dbg-where")
    page.click("#dbg-over")
    page.click("#dbg-over")
    assert page.inner_text("#dbg-outcome") == "returned true"
    page.context.close()


# --- the explorer's proofs, checked in the page and by the Python SDK alike ----------------
# Each tamper changes one part of the node's record in the page (JavaScript over the fetched
# JSON); the page's verifier and sdk.verify.Verifier must then agree on it.
FLIP = "(h) => h.slice(0, -1) + (h.endsWith('0') ? '1' : '0')"
TAMPERS = {
    "tx": {
        "the event's data": "p.receipt.events[0].data = flip(p.receipt.events[0].data)",
        "the receipt's status": "p.receipt.status = 1",
        "the header's signature": "p.header_signature.data = flip(p.header_signature.data)",
        "the header's state root": "p.header.state_root = flip(p.header.state_root)",
        "a tx audit path sibling": "p.tx_path.siblings.push(p.hash)",
        "the sender's signature": "p.raw = flip(p.raw)",
        "the body's fee limit": "p.body.fee_limit += 1",
    },
    "block": {
        "a transaction hash": "p.tx_hashes[0] = flip(p.tx_hashes[0])",
        "the header's timestamp": "p.header.timestamp_ms += 1",
        "the block hash": "p.hash = flip(p.hash)",
    },
    "account": {
        "the balance": "p.account.balance += 1",
        "the proven value": "p.state.value = flip(p.state.value)",
        "a state proof sibling": ("const s = p.state.proof.siblings, "
                                  "i = s.findIndex((x) => x.length > 2); s[i] = flip(s[i])"),
        "the header's chain": "p.state.header.chain_id += 'x'",
    },
    "contract": {
        "the record": "p.value = flip(p.value)",
        "the key": "p.key = flip(p.key)",
        "the leaf": "p.proof.leaf.value_hash = flip(p.proof.leaf.value_hash)",
    },
}


def _page_verdict(page: Page, kind: str, tamper: str | None) -> tuple[bool, Any, str]:
    """The page's verifier on its last fetched record of `kind`, changed by `tamper`."""
    out: dict[str, Any] = page.evaluate(f"""() => {{
        const flip = {FLIP};
        const {{ anchor, asked }} = workbench.proofs;
        const p = structuredClone(workbench.proofs.proof);
        {tamper or ""};
        try {{ QiProofs.verify("{kind}", anchor, p, asked); return {{ ok: true, p, asked }}; }}
        catch (err) {{ return {{ ok: false, p, asked }}; }}
    }}""")
    return out["ok"], out["p"], str(out["asked"])


def test_the_explorer_verifies_proofs_in_the_browser(site: Site, browser: Browser) -> None:
    bob = Session(site, "bob")
    token = bob.ok("POST", "api/deploy", {"project": "demo", "file": "token.qi",
                                          "args": ['"Tok"', "1000"]})["contract"]
    sent = bob.ok("POST", "api/call", {"project": "demo", "address": token, "fn": "transfer",
                                       "args": [f'"{site.address(1).hex()}"', "3"]})
    height = bob.ok("GET", f"api/chain/tx/{sent['tx_hash']}")["height"]
    page = log_in(browser, site, "carol")
    page.click('.tab[data-view="explorer"]')
    page.wait_for_selector("#blocks td.block-verified")
    assert page.locator("#blocks td.error").count() == 0
    lookups = {"tx": sent["tx_hash"], "block": str(height), "account": site.address(1).hex(),
               "contract": token}
    for kind, asked in lookups.items():
        look_up(page, kind, asked)
        assert page.locator("#explorer .browser-verified").count() == 1, kind
        ok, proof, _ = _page_verdict(page, kind, None)
        assert ok and python_accepts(site.node.base_url, kind, proof, asked), kind
        if kind in ("account", "contract"):  # decoded from the proven bytes, in the page
            assert '"balance": "' in page.inner_text("#explorer details.proven pre")
        for what, tamper in TAMPERS[kind].items():
            ok, proof, asked_now = _page_verdict(page, kind, tamper)
            assert not ok, f"the page accepted a {kind} with {what} changed"
            assert not python_accepts(site.node.base_url, kind, proof, asked_now), (kind, what)


def test_the_explorer_shows_a_tampered_answer_as_not_verified(
        site: Site, browser: Browser) -> None:
    bob = Session(site, "bob")
    token = bob.ok("POST", "api/deploy", {"project": "demo", "file": "token.qi",
                                          "args": ['"Tok"', "1000"]})
    page = log_in(browser, site, "carol")

    def forged(route: Route) -> None:  # the event's amount changed on its way to the page
        answer = route.fetch().json()
        event = answer["proof"]["receipt"]["events"][0]
        event["data"] = event["data"][:-1] + ("1" if event["data"].endswith("0") else "0")
        route.fulfill(json=answer)

    page.route("**/api/chain/tx/*", forged)
    page.click('.tab[data-view="explorer"]')
    page.select_option("#lookup-kind", "tx")
    page.fill("#lookup-value", token["tx_hash"])
    page.click("#lookup button")
    failed = page.wait_for_selector("#explorer .browser-failed")
    assert failed is not None and failed.inner_text() == (
        "✘ not verified in browser: the receipt's audit path does not lead to the receipts_root")
    assert page.locator("#explorer #events").count() == 0  # nothing shown as data
    page.context.close()


@pytest.mark.parametrize("suite", ["sm", "intl"])
def test_the_page_checks_headers_of_each_classical_suite_as_python_does(
        site: Site, browser: Browser, suite: str) -> None:
    """SM3 and SM2 (sm), SHA-256 and Ed25519 (intl): a header signed in Python verifies in
    the page with the hash Python computes, and fails once changed."""
    chosen = get_suite(suite)
    key = chosen.generate_signing_key(seed=f"workbench proofs {suite}".encode().ljust(32, b"."))
    header = BlockHeader("proofs", 7, bytes(32), 1_700_000_000_000, 0,
                         bytes(range(32)), bytes(32), bytes(32), key.public_key)
    anchor = {"chain_id": "proofs", "suite": suite, "basis": "node-signature",
              "node_key": to_json(key.public_key)}
    signature = to_json(sign_header(header, key))
    page = log_in(browser, site, "carol")
    out = page.evaluate("""([anchor, header, signature]) => {
        const check = (h) => {
            try { return QiProofs.toHex(QiProofs.verifyHeader(anchor, h, signature).hash); }
            catch (err) { return err.message; } };
        return [check(header), check({ ...header, height: header.height + 1 })];
    }""", [anchor, to_json(header), signature])
    assert out == ["0x" + header_hash(header, chosen.hash_bytes).hex(),
                   "block 8 is not signed by the trusted node key"]
    page.context.close()


def test_the_page_encodes_records_as_the_codec_does(site: Site, browser: Browser) -> None:
    """The page's MessagePack of receipts and headers is codec.encode's, byte for byte, at
    every integer, string and byte-string width (seeded random records), and its decoder
    reads the codec's bytes back to the same encoding."""
    rng = random.Random(19)
    ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1]
    texts = ["", "a" * 31, "b" * 32, "链" * 11, "c" * 255, "d" * 256, "e" * 70000]

    def data() -> bytes:
        return rng.randbytes(rng.choice([0, 1, 31, 32, 255, 256, 70000]))

    receipts = [Receipt(data(), rng.choice(ints), rng.choice(texts),
                        [Event(rng.choice(texts), rng.choice(texts), data())
                         for _ in range(rng.choice([0, 1, 16]))],
                        rng.choice(ints), rng.choice(ints), data(), rng.choice(texts),
                        [rng.choice(texts) for _ in range(rng.choice([0, 2]))],
                        rng.choice(ints), rng.choice(ints)) for _ in range(24)]
    key = get_suite("intl").generate_signing_key(seed=bytes(32)).public_key
    headers = [BlockHeader(rng.choice(texts), rng.choice(ints), data(), rng.choice(ints),
                           rng.choice(ints), data(), data(), data(), key) for _ in range(24)]
    page = log_in(browser, site, "carol")
    out = page.evaluate("""([receipts, headers]) => [
        receipts.map((r) => QiProofs.toHex(QiProofs.encode(r, QiProofs.RECEIPT))),
        headers.map((h) => QiProofs.toHex(QiProofs.encode(h, QiProofs.HEADER))),
    ]""", [to_json(receipts), to_json(headers)])
    assert out == [["0x" + codec.encode(r).hex() for r in receipts],
                   ["0x" + codec.encode(h).hex() for h in headers]]
    decoded = page.evaluate("""(encoded) => encoded.map((e) => {
        try { QiProofs.decode(QiProofs.fromHex(e)); return "ok"; }
        catch (err) { return err.message; }
    })""", ["0x" + codec.encode(r).hex() for r in receipts[:4]] + ["0xcc05", "0x9301"])
    assert decoded == ["ok"] * 4 + ["value is not canonically encoded", "value is truncated"]
    page.context.close()


def test_the_page_hashes_as_each_suite_does(site: Site, browser: Browser) -> None:
    """Every suite's hash in the page (SM3, SHA-256, SHA3-256) is the Python suite's."""
    names = ["sm", "intl", "pq", "hybrid-sm", "hybrid-intl"]
    inputs = [b"", b"abc", bytes(range(256)) * 3]
    page = log_in(browser, site, "carol")
    out = page.evaluate("""([names, inputs]) => names.map((n) => inputs.map((i) =>
        QiProofs.toHex(QiProofs.hasher(n)(QiProofs.fromHex(i)))))""",
                        [names, ["0x" + i.hex() for i in inputs]])
    assert out == [["0x" + get_suite(n).hash_bytes(i).hex() for i in inputs] for n in names]
    page.context.close()
