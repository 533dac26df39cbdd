"""`xinlian pq cert issue|show|revoke` and the node's `[identity]` loading: files written
by the CLI are what the node accepts; every refusal is a typed error (exit status 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinlian import codec
from xinlian.cli.main import main as cli
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.suites import get_suite
from xinlian.ledger.genesis import Genesis, Organisation, load_genesis
from xinlian.network import handshake as hs
from xinlian.network import identity as idn
from xinlian.network.identity import decode_certificate
from xinlian.node.errors import NodeConfigError
from xinlian.node.identity import identity_for, read_identity_files
from xinlian.node.keyfile import read_key, write_key

DAY_MS = 86_400_000


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """A `pq` genesis with organisations org0 and org1, their admin key files, a pq node
    key and an Ed25519 one."""
    pq, intl = get_suite("pq"), get_suite("intl")
    admins = []
    for i in range(2):
        key = pq.generate_signing_key(bytes([40, i]) * 16)
        write_key(tmp_path / f"admin{i}.json", pq, key)
        admins.append(key.public_key.data.hex())
    write_key(tmp_path / "node.json", pq, pq.generate_signing_key(b"\x41" * 32))
    write_key(tmp_path / "old.json", intl, intl.generate_signing_key(b"\x42" * 32))
    (tmp_path / "genesis.toml").write_text(
        'chain_id = "certs"\nsuite = "pq"\n' + "".join(
            f'[[organisations]]\nname = "org{i}"\nadmins = ["{a}"]\n'
            for i, a in enumerate(admins)), encoding="utf-8")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _issue(d: Path, *extra: str, admin: str = "admin0.json", org: str = "org0",
           subject: str = "node.json", out: str = "node.cert") -> list[str]:
    return ["pq", "cert", "issue", "--genesis", str(d / "genesis.toml"), "--admin-key",
            str(d / admin), "--organisation", org, "--subject-key", str(d / subject),
            "--out", str(d / out), *extra]


def load_identity(config: dict[str, object], data: Path, genesis: Genesis,
                  key: PublicKey) -> hs.Identity | None:
    """What a validator at genesis does with node.toml's `[identity]`."""
    files = read_identity_files(config, data)
    return None if files is None else identity_for(files, genesis.crypto_suite(),
                                                   genesis.chain_id, genesis.organisations,
                                                   key)


def test_issue_show_revoke_and_load(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, *_issue(chain, "--serial", "7", "--days", "30"))
    assert code == 0
    issued = json.loads(out)
    assert issued["serial"] == 7 and issued["subject_algorithm"] == "ML_DSA_65"
    assert issued["not_after_ms"] - issued["not_before_ms"] == 30 * DAY_MS
    code, out, _ = _run(capsys, "pq", "cert", "show", str(chain / "node.cert"),
                        "--genesis", str(chain / "genesis.toml"))
    shown = json.loads(out)
    assert code == 0 and shown["verified"] and shown["serial"] == 7
    assert shown["subject_node_id"] == issued["subject_node_id"]
    # node.toml's [identity] gives the node that certificate and the genesis' admins
    genesis = load_genesis(chain / "genesis.toml")
    key = read_key(chain / "node.json")[1].public_key
    table: dict[str, object] = {"certificate": "node.cert"}
    config: dict[str, object] = {"identity": table}
    identity = load_identity(config, chain, genesis, key)
    assert identity is not None
    assert identity.certificate == decode_certificate((chain / "node.cert").read_bytes())
    # org0 revokes serials 7 and 8 (one list extended by a second command)
    base = ["pq", "cert", "revoke", "--genesis", str(chain / "genesis.toml"),
            "--admin-key", str(chain / "admin0.json"), "--organisation", "org0"]
    assert _run(capsys, *base, "--serial", "8", "--out", str(chain / "org0.crl"))[0] == 0
    code, out, _ = _run(capsys, *base, "--serial", "7", "--list", str(chain / "org0.crl"),
                        "--out", str(chain / "org0.crl"))
    assert code == 0 and json.loads(out)["serials"] == [7, 8]
    code, out, _ = _run(capsys, "pq", "cert", "show", str(chain / "org0.crl"),
                        "--genesis", str(chain / "genesis.toml"))
    assert json.loads(out) | {"issued_ms": 0} == {
        "kind": "revocation_list", "version": 1, "chain_id": "certs", "organisation": "org0",
        "issued_ms": 0, "serials": [7, 8], "issuer_algorithm": "ML_DSA_65", "verified": True}
    # the node refuses to start on its own revoked certificate
    table["revocations"] = ["org0.crl"]
    with pytest.raises(NodeConfigError, match="certificate_revoked"):
        load_identity(config, chain, genesis, key)


def test_refusals_are_typed(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    genesis = str(chain / "genesis.toml")
    cases = [
        (_issue(chain, "--serial", "1", admin="admin1.json"), "certificate_refused"),
        (_issue(chain, "--serial", "1", org="org9"), "certificate_refused"),
        (_issue(chain, "--serial", "1", subject="old.json"), "classical_identity"),
        (_issue(chain, "--serial", "1", admin="old.json"), "classical_identity"),
        (_issue(chain, "--serial", "1", "--not-before-ms", "10", "--not-after-ms", "5"),
         "certificate_refused"),
        (["pq", "cert", "show", genesis], "malformed_frame"),
        (["pq", "cert", "show", str(chain / "absent.cert")], "bad_config"),
    ]
    for argv, name in cases:
        code, _, err = _run(capsys, *argv)
        assert code == 2 and f" {name}]" in err, (argv, err)
    assert _run(capsys, *_issue(chain, "--serial", "2", "--not-before-ms", "1000",
                                "--not-after-ms", "2000"))[0] == 0
    code, _, err = _run(capsys, "pq", "cert", "show", str(chain / "node.cert"),
                        "--genesis", genesis)
    assert code == 2 and "certificate_expired" in err
    code, out, _ = _run(capsys, "pq", "cert", "show", str(chain / "node.cert"),
                        "--genesis", genesis, "--now-ms", "1500")
    assert code == 0 and json.loads(out)["verified"]


def test_identity_config_errors(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    genesis = load_genesis(chain / "genesis.toml")
    key = read_key(chain / "node.json")[1].public_key
    assert _run(capsys, *_issue(chain, "--serial", "3"))[0] == 0
    (chain / "garbage.crl").write_bytes(b"\x91\x01")
    assert load_identity({}, chain, genesis, key) is None
    bad: list[dict[str, object]] = [{"identity": {}}, {"identity": {"certificate": "absent"}},
           {"identity": {"certificate": "node.cert", "revocations": "x"}},
           {"identity": {"certificate": "node.cert", "skew_ms": -1}},
           {"identity": {"certificate": "node.cert", "revocations": ["garbage.crl"]}},
           {"identity": {"certificate": "genesis.toml"}}]
    for config in bad:
        with pytest.raises(NodeConfigError):
            load_identity(config, chain, genesis, key)
    other = read_key(chain / "admin0.json")[1].public_key  # not the certified key
    with pytest.raises(NodeConfigError, match="certificate_refused"):
        load_identity({"identity": {"certificate": "node.cert"}}, chain, genesis, other)


def test_the_identity_follows_the_organisations_governance_leaves(
        chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An admin added by governance (in the state, not the genesis) issues certificates the
    node accepts; once removed, what it issued no longer holds."""
    genesis = load_genesis(chain / "genesis.toml")
    suite = genesis.crypto_suite()
    newcomer = suite.generate_signing_key(b"\x43" * 32)
    node = read_key(chain / "node.json")[1].public_key
    cert = idn.issue_certificate(newcomer, chain_id="certs", organisation="org1",
                                 role="validator", subject=node, serial=5,
                                 not_before_ms=0, not_after_ms=2**62)
    (chain / "new.cert").write_bytes(codec.encode(cert))
    files = read_identity_files({"identity": {"certificate": "new.cert"}}, chain)
    assert files is not None
    with pytest.raises(NodeConfigError, match="not an admin of 'org1'"):
        identity_for(files, suite, "certs", genesis.organisations, node)
    grown = [*genesis.organisations[:1],
             Organisation("org1", [*genesis.organisations[1].admins, newcomer.public_key])]
    identity = identity_for(files, suite, "certs", grown, node)
    assert identity.policy.still_holds(cert.body, 1)
    shrunk = idn.IdentityPolicy.of(suite, "certs", genesis.organisations)
    assert not shrunk.still_holds(cert.body, 1)
