"""The workbench in a real browser (Playwright driving Debian's headless Chromium, which
`make chromium` installs) against `xinlian web` and a real solo node process: an error
typed into the editor is marked as you type and by Compile at the right line; a token is
deployed and called from the page and its event found in the explorer, verified; a viewer
cannot edit; diagnostics follow each keystroke; two users edit one file at once and see
each other's changes and cursors; a token transfer is stepped through in the debugger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from .workbench import (
    CHROMIUM,
    Site,
    editor_text,
    keystroke_latencies,
    launch,
    log_in,
    open_file,
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


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
    assert page.inner_text("#explorer .verified") == "✔ verified (node-signature)"
    page.context.close()


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
