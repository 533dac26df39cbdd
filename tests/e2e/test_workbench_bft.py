"""The workbench's explorer on a real BFT network (4 validator processes on loopback, the
workbench connected to one): the page checks each header's committee certificate itself
(BLS12-381 aggregate on `intl`, one signature per signer on the other suites: SM2,
ML-DSA-65 or a composite) against the genesis committee, and accepts or rejects the same
material as the Python SDK's `HeaderChain` does, tampered certificates and committees
included; and across an epoch change (material made in Python with real keys: the
committee of epoch 0 ends its epoch naming the next one, which then certifies a header),
where the page follows the epoch proof as `next_root` does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from playwright.sync_api import Browser, Page

from xinlian import codec
from xinlian.api.format import from_json, to_json
from xinlian.consensus.committee import Committee, EpochRoot
from xinlian.consensus.errors import InvalidCommittee
from xinlian.crypto.suites import get_suite
from xinlian.ledger.block import BlockHeader, header_hash
from xinlian.node.certify import CertifiedHeader, genesis_root
from xinlian.node.statesync import EpochProof
from xinlian.sdk import Client
from xinlian.sdk.errors import ProofError
from xinlian.sdk.headers import HeaderChain

from .workbench import (
    CHROMIUM,
    Session,
    Site,
    epoch_case,
    epoch_proof,
    log_in,
    look_up,
    start_bft_site,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=(
    f"{CHROMIUM} is missing: Debian's chromium drives these tests (make chromium)"))

EPOCH_BLOCKS = 8  # the networks end an epoch every 8 ledger blocks (genesis epoch_blocks)
SCHEMES = {"intl": "BLS12-381", "sm": "SM2", "pq": "ML-DSA-65", "hybrid-sm": "SM2+ML-DSA-65",
           "hybrid-intl": "Ed25519+ML-DSA-65"}


# All but intl's network are slow campaigns (suite time); test_workbench_pq.py checks pq and
# hybrid certificates made in Python in make test.
@pytest.fixture(scope="module", params=[
    "intl", *(pytest.param(s, marks=pytest.mark.slow) for s in SCHEMES if s != "intl")])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    started = start_bft_site(tmp_path_factory.mktemp(f"workbench-bft-{request.param}"),
                             request.param, epoch_blocks=EPOCH_BLOCKS)
    yield started
    started.stop()


def _python_accepts(site: Site, anchor: Any, header: Any, certified: Any) -> bool:
    """The Python SDK's verdict on the same material: `HeaderChain` from the anchor's
    committee (admitted as a genesis committee is: `validate`, which checks BLS keys'
    proofs of possession), following the anchor's epoch proofs, accepts the certificate,
    and it certifies `header` (the item's)."""
    with Client(site.node.base_url) as client:
        chain = client.chain_info()
    suite = get_suite(chain.genesis.suite)
    root = EpochRoot(from_json(anchor["committee"], Committee), 0, chain.genesis_hash)
    headers = HeaderChain(root, chain.genesis.chain_id, suite.hash_bytes)
    try:
        root.committee.validate()
        headers.follow([codec.decode(bytes.fromhex(p[2:]), EpochProof)
                        for p in anchor["epochs"]])
        digest = headers.accept(from_json(certified, CertifiedHeader))
    except (InvalidCommittee, ProofError, codec.CodecError):
        return False
    return digest == header_hash(from_json(header, BlockHeader), suite.hash_bytes)


def _header(kind: str, proof: Any) -> Any:
    return {"tx": proof.get("header"), "block": proof.get("header"),
            "account": proof.get("state", {}).get("header"), "contract": proof.get("header")}[kind]


def _page_verdict(page: Page, tamper: str | None) -> tuple[bool, str, dict[str, Any]]:
    """The page's verifier on its last item, the certificate or anchor changed by `tamper`;
    the material it checked, and (`certOk`) whether the certificate passes on its own (a
    changed committee already fails the anchor's check against the genesis)."""
    out: dict[str, Any] = page.evaluate(f"""() => {{
        const flip = (h) => h.slice(0, -1) + (h.endsWith('0') ? '1' : '0');
        const {{ kind, asked, proof }} = workbench.proofs;
        let a = structuredClone(workbench.proofs.anchor),
            c = structuredClone(workbench.proofs.certified);
        {tamper or ""};
        let certOk = true;  // the certificate alone, past the check of the anchor's genesis
        const header = proof.header || proof.state.header;
        try {{ QiProofs.verifyHeader({{ ...a, certified: c }}, header, null); }}
        catch {{ certOk = false; }}
        try {{ const out = QiProofs.verify(kind, a, proof, asked, c);
               return {{ ok: true, message: out.done.join(", "), a, c, kind, proof, certOk }}; }}
        catch (err) {{ return {{ ok: false, message: err.message, a, c, kind, proof, certOk }}; }}
    }}""")
    return out["ok"], out["message"], out


# Each changes the certificate (or the committee the page trusts) in the page.
TAMPERS = {
    "the aggregate or a signature": "c.cert.signatures[0] = flip(c.cert.signatures[0])",
    "the signers (one fewer: below the quorum)": (
        "const bits = parseInt(c.cert.signers.slice(2), 16); "
        "c.cert.signers = '0x' + (bits & (bits - 1)).toString(16).padStart(2, '0')"),
    "the signers (another three)": (
        "c.cert.signers = ['0xe0', '0xd0', '0xb0', '0x70'].find((b) => b !== c.cert.signers)"),
    "the epoch": "c.epoch += 1",
    "the certified header's state root": "c.header.state_root = flip(c.header.state_root)",
    "the certified header's height": "c.header.height += 1",
    "a member's key in the committee": (
        "const m = a.committee.members, k = m[0].key; m[0].key = m[1].key; m[1].key = k"),
    "a member added with most of the power": (
        "const m = a.committee.members; m.push({ ...m[0], node: flip(m[0].node), power: 100 })"),
    "no certificate": "c = null",
}
# A point of the curve E2 (x = 1 + i) outside G2's prime-order subgroup, compressed: blst
# (Python) and @noble/curves (the page) both refuse it as a signature.
OUTSIDE_G2 = "0xa0" + "00" * 46 + "01" + "00" * 47 + "01"
BLS_TAMPERS = {  # a BLS committee's keys carry proofs of possession
    "a member's proof of possession": "const m = a.committee.members[2]; m.pop = flip(m.pop)",
    "the aggregate replaced by a point outside G2": f"c.cert.signatures[0] = '{OUTSIDE_G2}'",
}


def test_the_page_checks_committee_certificates_as_python_does(
        site: Site, browser: Browser) -> None:
    bob = Session(site, "bob")
    token = bob.ok("POST", "api/deploy", {"project": "demo", "file": "token.qi",
                                          "args": ['"Tok"', "1000"]})["contract"]
    sent = bob.ok("POST", "api/call", {"project": "demo", "address": token, "fn": "transfer",
                                       "args": [f'"{site.address(1).hex()}"', "3"]})
    height = bob.ok("GET", f"api/chain/tx/{sent['tx_hash']}")["height"]
    anchor = bob.ok("GET", "api/chain")["anchor"]
    with Client(site.node.base_url) as client:  # the genesis committee, read afresh
        genesis = client.chain_info().genesis
    assert anchor["basis"] == "committee" and anchor["epochs"] == []  # no epoch change here
    assert anchor["committee"] == to_json(genesis_root(genesis).committee)
    scheme = SCHEMES[anchor["suite"]]

    page = log_in(browser, site, "carol")
    page.click('.tab[data-view="explorer"]')
    page.wait_for_selector("#blocks td.block-verified")
    assert page.locator("#blocks td.error").count() == 0
    lookups = {"tx": sent["tx_hash"], "block": str(height), "account": site.address(1).hex(),
               "contract": token}
    for kind, asked in lookups.items():
        look_up(page, kind, asked)
        line = page.inner_text("#explorer .browser-verified")
        assert f"header certified by the committee ({scheme}, " in line, line
        ok, _, seen = _page_verdict(page, None)
        header = _header(kind, seen["proof"])
        assert ok and seen["certOk"], kind
        assert _python_accepts(site, seen["a"], header, seen["c"]), kind
        tampers = TAMPERS | (BLS_TAMPERS if scheme == "BLS12-381" else {})
        for what, tamper in tampers.items():
            ok, message, seen = _page_verdict(page, tamper)
            assert not ok, f"the page accepted a {kind} with {what} changed"
            assert not seen["certOk"], f"the certificate of a {kind} with {what} changed passed"
            if seen["c"] is not None:
                assert not _python_accepts(site, seen["a"], header, seen["c"]), (
                    kind, what, message)
    page.context.close()


# --- across an epoch change ---------------------------------------------------------------
def test_the_page_follows_epoch_changes_as_python_does(site: Site, browser: Browser) -> None:
    anchor = Session(site, "bob").ok("GET", "api/chain")["anchor"]
    suite = get_suite(anchor["suite"])
    case = epoch_case(suite)
    c0, k0, c1, k1 = case.c0, case.k0, case.c1, case.k1
    header, digest, certified = case.header, case.digest, case.certified

    good = epoch_proof(c0, k0, c1)
    ending = good.blocks[1]
    assert ending.reconfig is not None
    changed = msgspec.structs.replace(ending.reconfig, members=[
        *ending.reconfig.members[:3], msgspec.structs.replace(ending.reconfig.members[3], power=9)])
    cases: dict[str, tuple[list[EpochProof], CertifiedHeader]] = {
        "certified in epoch 1": ([good], certified(c1, k1, 1)),
        "certified in epoch 0": ([good], certified(c0, k0, 0)),
        "no epoch proof": ([], certified(c1, k1, 1)),
        "signed by epoch 0's committee as epoch 1": ([good], certified(c0, k0, 1)),
        "a QC below the quorum": ([epoch_proof(c0, k0, c1, who=(0, 1))], certified(c1, k1, 1)),
        "a QC by the next committee": ([epoch_proof(c0, k1, c1)], certified(c1, k1, 1)),
        "a chain not committed (rounds 1, 3)": ([epoch_proof(c0, k0, c1, top_round=3)],
                                                certified(c1, k1, 1)),
        "the next committee changed after the QC": (
            [EpochProof(good.qc, [good.blocks[0],
                                  msgspec.structs.replace(ending, reconfig=changed)])],
            certified(c1, k1, 1)),
        "the next committee's epoch": (
            [epoch_proof(c0, k0, msgspec.structs.replace(c1, epoch=2))], certified(c1, k1, 1)),
    }
    python = {}
    for name, (proofs, cert) in cases.items():
        chain = HeaderChain(EpochRoot(c0, 0, bytes(32)), "epochs", suite.hash_bytes)
        try:
            chain.follow(proofs)
            python[name] = chain.accept(cert) == digest
        except ProofError:
            python[name] = False
    material = {name: [{"chain_id": "epochs", "suite": suite.name, "basis": "committee",
                        "node_key": None, "committee": to_json(c0),
                        "epochs": ["0x" + codec.encode(p).hex() for p in proofs],
                        "certified": to_json(cert)}]
                for name, (proofs, cert) in cases.items()}
    page = log_in(browser, site, "carol")
    verdicts = page.evaluate("""([material, header]) => Object.fromEntries(
        Object.entries(material).map(([name, [anchor]]) => {
            try { return [name, QiProofs.verifyHeader(anchor, header, null).done[0]]; }
            catch (err) { return [name, "✘ " + err.message]; } }))""",
                             [material, to_json(header)])
    scheme = SCHEMES[suite.name]
    assert verdicts["certified in epoch 1"] == (
        f"header certified by the committee ({scheme}, 3 of 4, epoch 1: 1 epoch change checked)")
    assert verdicts["certified in epoch 0"] == (
        f"header certified by the committee ({scheme}, 3 of 4)")
    assert {n: not v.startswith("✘") for n, v in verdicts.items()} == python, verdicts
    assert python == {n: n.startswith("certified in") for n in cases}
    page.context.close()


# --- the network's own epoch changes ------------------------------------------------------
EPOCH_TAMPERS = {
    "no epoch proofs": "a.epochs = []",
    "the last epoch proof left out": "a.epochs.pop()",
    "a byte of the first epoch proof changed": "a.epochs[0] = flip(a.epochs[0])",
}


def test_the_page_follows_the_networks_own_epoch_changes(site: Site, browser: Browser) -> None:
    """Transfers carry the network past `EPOCH_BLOCKS` ledger blocks, so its committee ends
    an epoch (genesis `epoch_blocks`); the page follows the real epoch proofs the workbench
    passes on, as `HeaderChain` does, to a header the next epoch's committee certified, and
    refuses it without those proofs or with one changed."""
    bob = Session(site, "bob")
    token = bob.ok("POST", "api/deploy", {"project": "demo", "file": "token.qi",
                                          "args": ['"Tok"', "1000"]})["contract"]
    transfer = {"project": "demo", "address": token, "fn": "transfer",
                "args": [f'"{site.address(1).hex()}"', "1"]}
    with Client(site.node.base_url) as client:
        for _ in range(4 * EPOCH_BLOCKS):  # each call waits for the block that commits it
            if client.certified().epoch >= 1:
                break
            bob.ok("POST", "api/call", transfer)
        assert client.certified().epoch >= 1
    sent = bob.ok("POST", "api/call", transfer)  # in a block of epoch 1 or later

    page = log_in(browser, site, "carol")
    page.click('.tab[data-view="explorer"]')
    look_up(page, "tx", sent["tx_hash"])
    line = page.inner_text("#explorer .browser-verified")
    ok, _, seen = _page_verdict(page, None)
    epoch, changes = seen["c"]["epoch"], len(seen["a"]["epochs"])
    assert ok and seen["certOk"] and epoch >= 1 and changes >= epoch, (line, epoch, changes)
    assert f"epoch {epoch}: " in line and " epoch change" in line, line
    header = _header("tx", seen["proof"])
    assert _python_accepts(site, seen["a"], header, seen["c"])
    for what, tamper in EPOCH_TAMPERS.items():
        ok, message, seen = _page_verdict(page, tamper)
        assert not ok and not seen["certOk"], f"the page accepted a header with {what}"
        assert not _python_accepts(site, seen["a"], header, seen["c"]), (what, message)
    page.context.close()
