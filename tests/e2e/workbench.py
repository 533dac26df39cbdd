"""A real solo node process (or a small BFT network, `start_bft_site`) and `xinlian web`
next to it, for the workbench's tests (over
HTTP in test_workbench.py, in a browser in test_workbench_browser.py) and its latency
benchmark (benchmarks/workbench.py loads this file by path): a projects folder with the
token and counter examples (and a token in shared.qi for several users to edit), and three
users of the `demo` project: alice (owner), bob
(editor) and carol (viewer). The workbench signs with the chain's first account's key."""

from __future__ import annotations

import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright

from xinlian.api.format import from_json
from xinlian.api.views import BlockView, TxView
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.cli.demo import init_solo
from xinlian.consensus.blocks import block_id
from xinlian.consensus.certificates import Cert, Meter, VoteKey, combine
from xinlian.consensus.committee import Committee, Member
from xinlian.consensus.messages import QC, Block, vote_message
from xinlian.crypto.primitives import bls
from xinlian.crypto.suites import Suite, get_suite
from xinlian.errors import XinlianError
from xinlian.execution.contracts.records import contract_key
from xinlian.ledger.account import address_of
from xinlian.ledger.block import BlockHeader, header_hash
from xinlian.node.certify import CertifiedHeader, seal_message
from xinlian.node.interface import AccountView, StateProof
from xinlian.node.keyfile import read_key
from xinlian.node.statesync import EpochProof
from xinlian.sdk import Client
from xinlian.web.users import User, hash_password, save_user

EXAMPLES = Path(__file__).parents[2] / "examples" / "qi"
COUNTER = (EXAMPLES / "upgradeable.qi").read_text()
COUNTER_V1 = COUNTER[:COUNTER.index("contract CounterV2")]
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
ROLES = {"alice": "owner", "bob": "editor", "carol": "viewer"}


@dataclass
class Site:
    node: NodeProcess
    keys: Path  # account<j>.json: account 0 signs for the workbench
    web: subprocess.Popen[str]
    url: str
    projects: Path
    others: list[NodeProcess]  # a BFT network's other validators

    def address(self, account: int) -> bytes:
        suite, key = read_key(self.keys / f"account{account}.json")
        return address_of(key.public_key, suite.hash_bytes)

    def stop(self) -> None:
        if self.web.poll() is None:
            self.web.terminate()
            self.web.wait(timeout=30)
        assert self.web.stdout is not None
        self.web.stdout.close()
        for node in [self.node, *self.others]:
            node.stop()


def start_site(tmp: Path, suite: str = "intl", *, pinned: bool = False) -> Site:
    """A solo node of `suite` and the workbench; `pinned`: the workbench is started with
    `--trust-anchor`, the pin `xinlian web-anchor` prints for the node's data directory."""
    [data] = init_solo(tmp, get_suite(suite), 2, 1000)
    anchor: list[str] = []
    if pinned:
        pin = subprocess.run([sys.executable, "-m", "xinlian.cli.main", "web-anchor", "--data",
                              str(data)], check=True, capture_output=True, text=True).stdout
        (tmp / "anchor.json").write_text(pin)
        anchor = ["--trust-anchor", str(tmp / "anchor.json")]
    return _serve(tmp, NodeProcess(data), [], anchor)


def start_bft_site(tmp: Path, suite: str, validators: int = 4, epoch_blocks: int = 0) -> Site:
    """The workbench connected to validator 0 of a BFT network of `suite` on loopback (an
    epoch every `epoch_blocks` ledger blocks, if not 0)."""
    dirs = prepare(tmp, validators, get_suite(suite), 0, 0, accounts=2,
                   ports=free_ports(validators), epoch_blocks=epoch_blocks)
    nodes: list[NodeProcess] = []
    try:
        nodes.extend(NodeProcess(d) for d in dirs)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return _serve(tmp, nodes[0], nodes[1:])


def _serve(tmp: Path, node: NodeProcess, others: list[NodeProcess], more: list[str] | None = None
           ) -> Site:
    try:
        key = tmp / "keys" / "account0.json"
        projects = tmp / "projects"
        (projects / "demo").mkdir(parents=True)
        (projects / "demo" / "token.qi").write_text((EXAMPLES / "token.qi").read_text())
        (projects / "demo" / "counter.qi").write_text(COUNTER_V1)
        (projects / "demo" / "shared.qi").write_text((EXAMPLES / "token.qi").read_text())
        (projects / "other").mkdir()
        (projects / "other" / "secret.qi").write_text("contract S { state x: u64; }\n")
        users = tmp / "users.json"
        for name, password in PASSWORDS.items():
            save_user(users, User(name, hash_password(password), {"demo": ROLES[name]}))
        web = subprocess.Popen(
            [sys.executable, "-m", "xinlian.cli.main", "web", "--projects", str(projects),
             "--users", str(users), "--node", node.base_url, "--key", str(key),
             "--listen", "127.0.0.1:0", *(more or [])],
            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        assert web.stdout is not None
        line = web.stdout.readline()  # blocks until it serves
        assert line, "xinlian web did not start"
    except BaseException:
        for started in [node, *others]:
            started.stop()
        raise
    return Site(node, tmp / "keys", web, json.loads(line)["web"], projects, others)


class Session:
    """One logged-in user of the workbench over HTTP (its own cookie jar)."""

    def __init__(self, site: Site, user: str | None = None) -> None:
        self.site = site
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        if user is not None:
            status, _ = self.send("POST", "api/login",
                                  {"user": user, "password": PASSWORDS[user]})
            assert status == 200

    @property
    def cookie(self) -> str:
        """The session cookie's value (for a websocket client of its own)."""
        return next(str(c.value) for c in self.jar if c.name == "xinlian_session")

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.site.url + path, data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(req, timeout=120) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, out = self.send(method, path, body)
        assert status == 200, out
        return out


# --- in a browser (Playwright driving Debian's Chromium) ------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def log_in(browser: Browser, site: Site, user: str) -> Page:
    """A page of its own (its own cookies) logged in as `user`, the project tree shown."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(site.url)
    page.fill("#login-user", user)
    page.fill("#login-password", PASSWORDS[user])
    page.click("#login-button")
    page.wait_for_selector("#tree a.file")
    return page


def open_file(page: Page, file: str) -> None:
    """Open demo/FILE and wait for the language server's first diagnostics."""
    page.click(f"#tree a.file[title='demo/{file}']")
    page.wait_for_function(
        f"() => workbench.file === {json.dumps(file)} && workbench.view && workbench.ws"
        " && workbench.ws.readyState === 1 && workbench.sent.size === 0")


def look_up(page: Page, kind: str, asked: str) -> None:
    """Ask the explorer for one item and wait until the page has its proofs."""
    page.select_option("#lookup-kind", kind)
    page.fill("#lookup-value", asked)
    page.click("#lookup button")
    page.wait_for_function(f"() => workbench.proofs && workbench.proofs.kind === '{kind}' "
                           f"&& workbench.proofs.asked === '{asked}'")


def editor_text(page: Page) -> str:
    text: str = page.evaluate("() => QiEditor.text(workbench.view)")
    return text


def type_at_end(page: Page, text: str) -> None:
    """Put the cursor at the end of the open file and type `text` (as one input)."""
    page.click(".cm-content")
    page.keyboard.press("Control+End")
    page.keyboard.insert_text(text)


def _type_each(writer: Page, reader: Page, series: str, keys: str) -> int:
    """Type `keys` at the end of `writer`'s file one at a time, each after the previous
    one added an entry to `reader`'s `workbench[series]`; how many it had before."""
    before = len(reader.evaluate(f"() => workbench.{series}"))
    writer.click(".cm-content")
    writer.keyboard.press("Control+End")
    for i, key in enumerate(keys, 1):
        writer.keyboard.type(key)
        reader.wait_for_function(f"() => workbench.{series}.length >= {before + i}")
    return before


def keystroke_latencies(page: Page, keys: str) -> list[float]:
    """Type `keys` at the end of the open file one at a time, each after the previous
    key's diagnostics are drawn; the milliseconds from each edit to its diagnostics."""
    before = _type_each(page, page, "latencies", keys)
    found: list[float] = page.evaluate("() => workbench.latencies")
    return found[before:]


def remote_edit_latencies(writer: Page, reader: Page, keys: str) -> list[float]:
    """`writer` types `keys` at the end of the shared file one at a time, each after the
    previous one reached `reader`'s editor; the milliseconds from each edit in the
    writer's page to the same edit in the reader's (both pages' clocks are this machine's
    wall clock)."""
    sent0 = len(writer.evaluate("() => workbench.edits"))
    got0 = _type_each(writer, reader, "edits", keys)
    sent: list[float] = writer.evaluate("() => workbench.edits")
    got: list[float] = reader.evaluate("() => workbench.edits")
    return [b - a for a, b in zip(sent[sent0:], got[got0:], strict=True)]


# --- the Python verifiers the page is held to ------------------------------------------------
def python_accepts(url: str, kind: str, proof: Any, asked: str) -> bool:
    """The Python SDK's verdict on one explorer record, against the node key the node at
    `url` serves (read afresh, not the page's anchor)."""
    with Client(url) as client:
        trusted = client.verifier()
    try:
        if kind == "block":
            view: BlockView = from_json(proof, BlockView)
            trusted.block(view)
            return view.header.height == int(asked)
        if kind == "tx":
            tx: TxView = from_json(proof, TxView)
            trusted.transaction(tx)
            return tx.hash.hex() == asked
        if kind == "account":
            account: AccountView = from_json(proof, AccountView)
            trusted.account(account)
            return account.address.hex() == asked
        record: StateProof = from_json(proof, StateProof)
        trusted.state(record)
        return record.key == contract_key(bytes.fromhex(asked)) and record.value is not None
    except XinlianError:
        return False


# --- a committee's material made in Python from real keys -----------------------------------
def four_members(suite: Suite, epoch: int) -> tuple[Committee, list[VoteKey]]:
    """Four members of power 1 with keys from fixed seeds."""
    members, keys = [], []
    for i in range(4):
        seed = f"workbench epochs {suite.name} {epoch} {i}".encode().ljust(32, b".")
        if suite.aggregate_votes:
            key = bls.BlsKey.generate(seed)
            members.append(Member(bytes([epoch, i]) * 10, 1, key.public, key.pop))
            keys.append(VoteKey(bls_secret=key.secret))
        else:
            signing = suite.generate_signing_key(seed=seed)
            members.append(Member(bytes([epoch, i]) * 10, 1, signing.public_key.data, b""))
            keys.append(VoteKey(suite_key=signing))
    return Committee(epoch, suite.name, suite.aggregate_votes, members), keys


def certificate(committee: Committee, keys: list[VoteKey], message: bytes,
                who: tuple[int, ...] = (0, 1, 3)) -> Cert:
    meter = Meter()
    return combine(committee, [(i, keys[i].sign(committee, message, meter)) for i in who], meter)


def epoch_proof(c0: Committee, k0: list[VoteKey], c1: Committee, *, top_round: int = 2,
                who: tuple[int, ...] = (0, 1, 3)) -> EpochProof:
    """Epoch 0 ends at height 5 with a block naming `c1`, committed by a QC over its child."""
    none = QC(0, 0, 0, bytes(32), Cert(b"\x00", []))
    ending = Block(0, 1, 5, bytes(32), 0, none, None, [], c1)
    top = Block(0, top_round, 6, block_id(c0, ending), 1, none, None, [], None)
    top_id = block_id(c0, top)
    qc_cert = certificate(c0, k0, vote_message(0, top_round, 6, top_id), who)
    return EpochProof(QC(0, top_round, 6, top_id, qc_cert), [top, ending])


@dataclass(frozen=True)
class EpochCase:
    """Committees of four for epochs 0 and 1 (`four_members`) and a header for them to
    certify, with its hash."""

    c0: Committee
    k0: list[VoteKey]
    c1: Committee
    k1: list[VoteKey]
    header: BlockHeader
    digest: bytes

    def certified(self, committee: Committee, keys: list[VoteKey], epoch: int
                  ) -> CertifiedHeader:
        return CertifiedHeader(self.header, epoch, certificate(
            committee, keys, seal_message("epochs", epoch, 9, self.digest)))


def epoch_case(suite: Suite) -> EpochCase:
    c0, k0 = four_members(suite, 0)
    c1, k1 = four_members(suite, 1)
    proposer = suite.generate_signing_key(seed=bytes(32)).public_key
    header = BlockHeader("epochs", 9, bytes(32), 1_700_000_000_000, 0, bytes(range(32)),
                         bytes(32), bytes(32), proposer)
    return EpochCase(c0, k0, c1, k1, header, header_hash(header, suite.hash_bytes))
