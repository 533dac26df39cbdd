"""The web workbench in a browser: keystroke-to-diagnostic latency and the time for an
edit to reach a second user (`make bench-verifier`).

Starts a solo node process and `xinlian web` (the harness of the browser tests,
tests/e2e/workbench.py, loaded by path), opens examples/qi/token.qi in Debian's headless
Chromium through Playwright and types KEYSTROKES keys at its end one at a time, each after
the previous key's diagnostics are drawn. A keystroke's latency runs from the editor's
change (in the page) to the language server's diagnostics for that version drawn in the
editor: the websocket both ways, the server core's analysis (compiler and detectors) and
the redraw. Then two users open the same file and one types KEYS one key at a time, each
after the previous one reached the other's editor: an edit is timed from the writer's
editor to the reader's (Yjs over the workbench's websockets). Wall-clock, so both are
given with the load average. `--screenshots DIR` also
saves the editor, explorer and debugger views as PNGs (docs/workbench-*.png).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from playwright.sync_api import Page, sync_playwright

from benchmarks.report import emit, percentile

HARNESS = Path(__file__).resolve().parents[1] / "tests" / "e2e" / "workbench.py"
KEYS = "\n// keystrokes typed one at a time"
REPEATS = 3  # the keys are typed this many times


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("xinlian_workbench_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--screenshots", metavar="DIR", help="save the views as PNGs")
    args = parser.parse_args()
    h = _harness()
    with tempfile.TemporaryDirectory(prefix="xinlian-web-") as tmp:
        site = h.start_site(Path(tmp), pinned=True)
        try:
            with sync_playwright() as playwright:
                browser = h.launch(playwright)
                page = h.log_in(browser, site, "bob")
                h.open_file(page, "token.qi")
                samples: list[float] = []
                for _ in range(REPEATS):
                    samples += h.keystroke_latencies(page, KEYS)
                emit("workbench", "browser_keystroke_to_diagnostic_p50_ms",
                     percentile(samples, 50), "ms", p90_ms=round(percentile(samples, 90), 3),
                     file="token.qi", keystrokes=len(samples),
                     load_average=round(os.getloadavg()[0], 1))
                reader = h.log_in(browser, site, "alice")
                h.open_file(page, "shared.qi")
                h.open_file(reader, "shared.qi")
                remote: list[float] = []
                for _ in range(REPEATS):
                    remote += h.remote_edit_latencies(page, reader, KEYS)
                emit("workbench", "edit_to_second_user_p50_ms", percentile(remote, 50), "ms",
                     p90_ms=round(percentile(remote, 90), 3), file="shared.qi",
                     keystrokes=len(remote), load_average=round(os.getloadavg()[0], 1))
                if args.screenshots:
                    _screenshots(h, h.log_in(browser, site, "bob"), site,
                                 Path(args.screenshots))
                browser.close()
        finally:
            site.stop()


def _screenshots(h: ModuleType, page: Page, site: Any, out: Path) -> None:
    """The editor (of the file alice also has open: her cursor shows) with an error marked
    and compiled; the explorer showing a token transfer's verified receipt and event; the
    Debug panel stopped in a transfer."""
    h.open_file(page, "shared.qi")
    page.fill("#deploy-args", '"Tok", 1000')
    page.click("#deploy")
    address = page.inner_text("#deployed").split()[2]
    h.type_at_end(page, "\nfn broken() -> u64 { return nope; }")
    page.wait_for_selector(".cm-lintRange-error")
    page.click("#compile")
    page.wait_for_selector("#compile-errors")
    page.locator(".cm-scroller").evaluate("(e) => { e.scrollTop = e.scrollHeight; }")
    page.screenshot(path=str(out / "workbench-editor.png"))
    card = page.locator(".contract", has_text=address)
    card.locator("select.fn").select_option("transfer")
    card.locator("input.args").fill(f'"{site.address(1).hex()}", 7')
    card.locator("button.call").click()
    card.locator(".tx-link").click()
    page.wait_for_selector("#events li.event")
    page.screenshot(path=str(out / "workbench-explorer.png"))
    debug_screenshot(h, h.log_in(page.context.browser, site, "bob"), out)


def debug_screenshot(h: ModuleType, page: Page, out: Path) -> None:
    """The Debug panel in a token transfer, at the line that writes the receiver's balance."""
    h.open_file(page, "token.qi")
    page.fill("#deploy-args", '"Tok", 1000')
    page.fill("#debug-call", f'transfer("0x{"00" * 19}b0", 5)')
    page.click("#debug")
    page.wait_for_selector("#debugged")
    page.fill("#dbg-breaks", "30")
    page.click("#dbg-continue")
    page.screenshot(path=str(out / "workbench-debug.png"))


if __name__ == "__main__":
    main()
