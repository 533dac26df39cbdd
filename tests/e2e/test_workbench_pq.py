"""The explorer's checks in the page on the post-quantum suites, held to the Python
verifiers: real material from solo nodes of `pq` (ML-DSA-65, through the workbench, started
with `--trust-anchor`), `hybrid-sm` (SM2+ML-DSA-65) and `hybrid-intl` (Ed25519+ML-DSA-65),
each record also with a bit flipped in the ML-DSA part and in the classical part of its
signatures; committee certificates and epoch changes of those suites (made in Python with
real vote keys) as `HeaderChain` takes them; and the trust anchor: a pin that does not match
the served chain fails every check, one that matches is what the checks rest on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import pytest
from playwright.sync_api import Browser, Page

from xinlian import codec
from xinlian.api.format import to_json
from xinlian.cli.cluster import NodeProcess
from xinlian.cli.demo import init_solo
from xinlian.consensus.certificates import Cert
from xinlian.consensus.committee import Committee, EpochRoot
from xinlian.consensus.errors import InvalidCommittee
from xinlian.crypto.composite import MLDSA65_SIGNATURE_SIZE
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.suites import get_suite
from xinlian.ledger.block import BlockHeader
from xinlian.node.certify import CertifiedHeader
from xinlian.node.keyfile import read_key
from xinlian.node.statesync import EpochProof
from xinlian.sdk import Client
from xinlian.sdk.errors import ProofError, UntrustedChain
from xinlian.sdk.headers import HeaderChain
from xinlian.web.anchor import parse_pin
from xinlian.web.chain import Chain

from .workbench import (
    CHROMIUM,
    Session,
    Site,
    epoch_case,
    epoch_proof,
    log_in,
    look_up,
    python_accepts,
    start_site,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=(
    f"{CHROMIUM} is missing: Debian's chromium drives these tests (make chromium)"))

HYBRIDS = ["hybrid-sm", "hybrid-intl"]
SCHEMES = {"pq": "ML-DSA-65", "hybrid-sm": "SM2+ML-DSA-65", "hybrid-intl": "Ed25519+ML-DSA-65"}
CLASSICAL_SIGNATURE = 64  # SM2 and Ed25519 alike


def _signature_size(suite: str) -> int:
    return MLDSA65_SIGNATURE_SIZE + (0 if suite == "pq" else CLASSICAL_SIGNATURE)


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Site, dict[str, NodeProcess]]]:
    """The workbench on a `pq` node (started with `--trust-anchor`) and a solo node of each
    hybrid suite, all started side by side."""
    dirs = {}
    for suite in HYBRIDS:
        [dirs[suite]] = init_solo(tmp_path_factory.mktemp(f"workbench-{suite}"),
                                  get_suite(suite), 2, 1000)
    with ThreadPoolExecutor(1 + len(HYBRIDS)) as pool:
        site = pool.submit(start_site, tmp_path_factory.mktemp("workbench-pq"), "pq",
                           pinned=True)
        starting = {suite: pool.submit(NodeProcess, d) for suite, d in dirs.items()}
        try:
            yield site.result(), {suite: node.result() for suite, node in starting.items()}
        finally:  # whatever started stops, even if another failed to
            for node in starting.values():
                if node.exception() is None:
                    node.result().stop()
            if site.exception() is None:
                site.result().stop()


@pytest.fixture(scope="module")
def site(chains: tuple[Site, dict[str, NodeProcess]]) -> Site:
    return chains[0]


@pytest.fixture(scope="module")
def hybrids(chains: tuple[Site, dict[str, NodeProcess]]) -> dict[str, NodeProcess]:
    """A solo node of each hybrid suite, with its account keys beside its data directory."""
    return chains[1]


def _transfer(url: str, keys: Path) -> bytes:
    """A transfer from account 0 to account 1, committed; its hash."""
    _, key = read_key(keys / "account0.json")
    _, other = read_key(keys / "account1.json")
    with Client(url) as client:
        receiver = client.wallet(other).address
        tx = client.wallet(key).transfer(receiver, 5)
        client.send(tx)
        return tx.hash


def _material(url: str, tx_hash: bytes, account: bytes) -> dict[str, Any]:
    """What the workbench serves for a transaction, its block and an account: the anchor
    (`web.chain.Chain`'s) and the node's records as the SDK read and checked them."""
    chain = Chain(url, None)
    try:
        tx = chain.client.transaction(tx_hash)
        assert tx is not None
        block = chain.client.block(tx.height)
        assert block is not None
        return {"anchor": chain.anchor(), "items": [
            ["tx", to_json(tx), tx_hash.hex()], ["block", to_json(block), str(tx.height)],
            ["account", to_json(chain.client.account(account)), account.hex()]]}
    finally:
        chain.close()


# Each flips the low bit of one byte of a signature in the record: at byte 1000 of its
# ML-DSA-65 part, or 10 bytes before its end (the classical part of a composite, the end of
# an ML-DSA-65 signature). A signature ends its record's field (the raw transaction's too).
TAMPERS = """(size) => {
    const flipAt = (h, i) => {
        const at = h.length + 2 * i, byte = parseInt(h.substr(at, 2), 16) ^ 1;
        return h.slice(0, at) + byte.toString(16).padStart(2, "0") + h.slice(at + 2); };
    const pq = (h) => flipAt(h, 1000 - size), end = (h) => flipAt(h, -10);
    const both = (get, set) => ({
        [`the header signature's ML-DSA part`]: (p) => set(p, pq(get(p))),
        [`the header signature's end`]: (p) => set(p, end(get(p))) });
    return {
        tx: { ...both((p) => p.header_signature.data, (p, v) => { p.header_signature.data = v; }),
              "the sender signature's ML-DSA part": (p) => { p.raw = pq(p.raw); },
              "the sender signature's end": (p) => { p.raw = end(p.raw); } },
        block: both((p) => p.signature.data, (p, v) => { p.signature.data = v; }),
        account: both((p) => p.state.header_signature, (p, v) => { p.state.header_signature = v; }),
    };
}"""


def _page_verdicts(page: Page, suite: str, material: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's verifier on each real record and each tampered copy, in one evaluation:
    [{kind, what, ok, message, p, asked}]."""
    out: list[dict[str, Any]] = page.evaluate(f"""([material, size]) => {{
        const tampers = ({TAMPERS})(size), out = [], a = material.anchor;
        for (const [kind, proof, asked] of material.items) {{
            for (const [what, tamper] of [[null, () => {{}}], ...Object.entries(tampers[kind])]) {{
                const p = structuredClone(proof);
                tamper(p);
                let ok = true, message;
                try {{ message = QiProofs.verify(kind, a, p, asked, null, a.pin).done.join(); }}
                catch (err) {{ ok = false; message = err.message; }}
                out.push({{ kind, what, ok, message, p, asked }});
            }}
        }}
        return out;
    }}""", [material, _signature_size(suite)])
    return out


def _held_to_python(url: str, suite: str, verdicts: list[dict[str, Any]]) -> None:
    scheme = SCHEMES[suite]
    assert len(verdicts) == 3 + 8  # three real records, eight tampered copies
    for v in verdicts:
        if v["what"] is None:
            assert v["ok"], (suite, v["kind"], v["message"])
            assert f"header signature ({scheme})" in v["message"], v["message"]
            if v["kind"] == "tx":
                assert f"sender signature ({scheme})" in v["message"], v["message"]
        else:
            assert not v["ok"], f"the page accepted a {suite} {v['kind']} with {v['what']} changed"
        assert python_accepts(url, v["kind"], v["p"], v["asked"]) == v["ok"], (suite, v)


def test_the_page_checks_ml_dsa_records_of_a_pq_node_as_python_does(
        site: Site, browser: Browser) -> None:
    tx_hash = _transfer(site.node.base_url, site.keys)
    receiver = site.address(1)
    page = log_in(browser, site, "carol")
    page.click('.tab[data-view="explorer"]')
    page.wait_for_selector("#blocks td.block-verified")
    assert page.locator("#blocks td.error").count() == 0
    assert page.inner_text("#anchor").endswith("; pinned by the workbench server (--trust-anchor)")
    look_up(page, "tx", tx_hash.hex())
    assert page.inner_text("#explorer .browser-verified") == (
        "✔ verified in browser: header signature (ML-DSA-65), sender signature (ML-DSA-65), "
        "tx audit path, receipt audit path")
    height = Session(site, "carol").ok("GET", f"api/chain/tx/{tx_hash.hex()}")["height"]
    material: dict[str, Any] = {"items": []}
    for kind, asked in [("tx", tx_hash.hex()), ("block", str(height)), ("account", receiver.hex())]:
        look_up(page, kind, asked)
        assert page.locator("#explorer .browser-verified").count() == 1, kind
        material["anchor"] = page.evaluate("() => workbench.proofs.anchor")
        material["items"].append([kind, page.evaluate("() => workbench.proofs.proof"), asked])
    _held_to_python(site.node.base_url, "pq", _page_verdicts(page, "pq", material))
    page.context.close()


def test_the_page_checks_composite_records_of_hybrid_nodes_as_python_does(
        site: Site, hybrids: dict[str, NodeProcess], browser: Browser) -> None:
    page = log_in(browser, site, "carol")
    for suite, node in hybrids.items():
        keys = node.data.parent / "keys"
        tx_hash = _transfer(node.base_url, keys)
        _, key = read_key(keys / "account1.json")
        with Client(node.base_url) as client:
            receiver = client.wallet(key).address
        material = _material(node.base_url, tx_hash, receiver)
        _held_to_python(node.base_url, suite, _page_verdicts(page, suite, material))
    page.context.close()


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 1
    return bytes(out)


def _flip_signature(cert: Cert, index: int, at: int) -> Cert:
    signatures = list(cert.signatures)
    signatures[index] = _flip(signatures[index], at)
    return msgspec.structs.replace(cert, signatures=signatures)


def _committee_cases(suite_name: str) -> tuple[Committee, dict[str, Any], BlockHeader, bytes]:
    """A committee of epoch 0 (four members of `suite_name`) and, by name, the epoch proofs
    and certified header each case gives it; the header and its hash."""
    suite = get_suite(suite_name)
    case = epoch_case(suite)
    c0, k0, c1, k1 = case.c0, case.k0, case.c1, case.k1
    header, digest, certified = case.header, case.digest, case.certified

    good, in0, in1 = epoch_proof(c0, k0, c1), certified(c0, k0, 0), certified(c1, k1, 1)
    pq_at, end_at = 1000, -10  # the ML-DSA part; the classical part of a composite
    member = c0.members[2]  # not a signer: only the committee's validation sees its key
    cases: dict[str, Any] = {
        "certified in epoch 0": (c0, [], in0),
        "certified in epoch 1": (c0, [good], in1),
        "a signature's ML-DSA part": (
            c0, [], msgspec.structs.replace(in0, cert=_flip_signature(in0.cert, 1, pq_at))),
        "a signature's end": (
            c0, [], msgspec.structs.replace(in0, cert=_flip_signature(in0.cert, 2, end_at))),
        "the epoch QC's ML-DSA part": (
            c0, [msgspec.structs.replace(good, qc=msgspec.structs.replace(
                good.qc, cert=_flip_signature(good.qc.cert, 0, pq_at)))], in1),
        "the epoch QC's end": (
            c0, [msgspec.structs.replace(good, qc=msgspec.structs.replace(
                good.qc, cert=_flip_signature(good.qc.cert, 2, end_at)))], in1),
        "a member's key cut short": (
            msgspec.structs.replace(c0, members=[*c0.members[:2], msgspec.structs.replace(
                member, key=member.key[:-1]), c0.members[3]]), [], in0),
    }
    if suite_name == "hybrid-sm":  # the SM2 half of a key must be a point of the curve
        cases["a member's SM2 half off the curve"] = (
            msgspec.structs.replace(c0, members=[*c0.members[:2], msgspec.structs.replace(
                member, key=_flip(member.key, -1)), c0.members[3]]), [], in0)
    return c0, cases, header, digest


def _python_takes(suite_name: str, committee: Committee, proofs: list[EpochProof],
                  cert: CertifiedHeader, digest: bytes) -> bool:
    chain = HeaderChain(EpochRoot(committee, 0, bytes(32)), "epochs",
                        get_suite(suite_name).hash_bytes)
    try:
        committee.validate()
        chain.follow(proofs)
        return chain.accept(cert) == digest
    except (InvalidCommittee, ProofError):
        return False


def test_the_page_checks_pq_and_hybrid_committee_certificates_as_python_does(
        site: Site, browser: Browser) -> None:
    """ML-DSA-65 and composite signatures listed per signer (crypto/votes.py): a header's
    certificate and an epoch change's QC, real and with a bit flipped in either part of a
    signature, and committees with a malformed member key, as `HeaderChain` takes them."""
    material, python, headers = {}, {}, {}
    for suite_name in SCHEMES:
        _, cases, header, digest = _committee_cases(suite_name)
        headers[suite_name] = to_json(header)
        for name, (committee, proofs, cert) in cases.items():
            python[f"{suite_name}: {name}"] = _python_takes(suite_name, committee, proofs,
                                                            cert, digest)
            material[f"{suite_name}: {name}"] = {
                "chain_id": "epochs", "suite": suite_name, "basis": "committee",
                "node_key": None, "committee": to_json(committee),
                "epochs": ["0x" + codec.encode(p).hex() for p in proofs],
                "certified": to_json(cert)}
    page = log_in(browser, site, "carol")
    verdicts = page.evaluate("""([material, headers]) => Object.fromEntries(
        Object.entries(material).map(([name, anchor]) => {
            const header = headers[anchor.suite];
            try { return [name, QiProofs.verifyHeader(anchor, header, null).done[0]]; }
            catch (err) { return [name, "✘ " + err.message]; } }))""", [material, headers])
    page.context.close()
    for suite_name, scheme in SCHEMES.items():
        assert verdicts[f"{suite_name}: certified in epoch 0"] == (
            f"header certified by the committee ({scheme}, 3 of 4)")
        assert verdicts[f"{suite_name}: certified in epoch 1"] == (
            f"header certified by the committee ({scheme}, 3 of 4, epoch 1: 1 epoch change "
            "checked)")
    assert {n: not v.startswith("✘") for n, v in verdicts.items()} == python, verdicts
    assert python == {n: "certified in" in n for n in python}


# --- the trust anchor ------------------------------------------------------------------------
def _pin(page: Page, text: str) -> str:
    """Pin `text` in the page's form; the anchor line once the explorer shows it."""
    before = page.inner_text("#anchor")
    page.fill("#pin-value", text)
    page.click("#pin-form button")
    page.wait_for_function("(before) => document.getElementById('anchor').innerText !== before"
                           " && document.querySelector('#blocks')", arg=before)
    return page.inner_text("#anchor")


def test_a_pin_that_does_not_match_fails_every_check(
        site: Site, hybrids: dict[str, NodeProcess], browser: Browser) -> None:
    right = json.loads((site.keys.parent / "anchor.json").read_text())
    with Client(hybrids["hybrid-sm"].base_url) as client:  # another chain's genesis hash
        other = "0x" + client.chain_info().genesis_hash.hex()
    _, key = read_key(site.keys / "account0.json")
    not_the_node = "0x" + codec.encode(key.public_key).hex()
    for genesis_hash, node_key in [(other, right["node_key"]),
                                   (right["genesis_hash"], not_the_node)]:
        with pytest.raises(UntrustedChain), Client(
                site.node.base_url, genesis_hash=bytes.fromhex(genesis_hash[2:]),
                node_key=codec.decode(bytes.fromhex(node_key[2:]), PublicKey)) as client:
            client.verifier()  # the SDK refuses these pins too
    pinned = Chain(site.node.base_url, None, parse_pin({"genesis_hash": other,
                                                         "node_key": right["node_key"]}))
    with pytest.raises(UntrustedChain):  # and so does the server given it as --trust-anchor
        pinned.overview()
    pinned.close()
    page = log_in(browser, site, "carol")
    page.click('.tab[data-view="explorer"]')
    page.wait_for_selector("#blocks td.block-verified")
    served = page.inner_text("#anchor")
    assert served.startswith(f"checks rest on: chain xinlian-demo (pq), genesis "
                             f"{right['genesis_hash']}, node key 0x")
    failures = {
        json.dumps({"genesis_hash": other, "node_key": right["node_key"]}): (
            f"the workbench serves the chain of genesis {right['genesis_hash']}, not the "
            f"pinned {other}: nothing is verified against it"),
        right["genesis_hash"]: ("the pin names no node key: a solo chain's headers are "
                                "signed by a key its genesis does not name"),
        json.dumps({**right, "node_key": not_the_node}): (
            "the node signs with another key than the pinned one"),
    }
    assert _pin(page, "0x1234") == ("a pin is a genesis hash (0x and 64 hex digits) or the "
                                    "JSON `xinlian web-anchor` prints")
    rows = page.locator("#blocks tr").count() - 1
    for text, reason in failures.items():
        assert _pin(page, text) == f"✘ trust anchor: {reason}"
        assert page.locator("#blocks td.block-verified").count() == 0
        assert page.locator("#blocks td.error").count() == rows
        look_up(page, "block", "0")
        assert page.inner_text("#explorer .browser-failed") == (
            f"✘ not verified in browser: {reason}")
        assert page.locator("#explorer h3").count() == 0  # nothing shown as data
    assert _pin(page, json.dumps(right)) == served.replace(
        "pinned by the workbench server (--trust-anchor)", "pinned in this browser")
    assert page.locator("#blocks td.error").count() == 0
    look_up(page, "block", "0")
    assert page.locator("#explorer .browser-verified").count() == 1
    page.click("#unpin")
    page.wait_for_function("(served) => document.getElementById('anchor').innerText === served",
                           arg=served)
    page.context.close()
