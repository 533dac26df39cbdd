"""Each protocol as a message exchange in the simulator: results, identified misbehavers,
and determinism (one seed, one transcript)."""

from __future__ import annotations

from typing import Any

import pytest

from xinlian.network.mpc.envelope import MpcConfigError
from xinlian.network.mpc.protocols import build
from xinlian.network.mpc.setup import Params
from xinlian.network.mpc.simrun import run_sim

pytestmark = pytest.mark.timeout(120)


def _run(**kw: Any) -> dict[str, Any]:
    result = run_sim(build(Params(**kw)))
    assert result.finished
    return result.report()


@pytest.mark.parametrize("curve", ["ed25519", "secp256k1", "sm2"])
def test_dkg_honest_parties_agree_on_one_key(curve: str) -> None:
    r = _run(protocol="dkg", parties=5, curve=curve)
    assert r["ok"] and r["identified"] == [] and r["curve"] == curve
    assert r["phases"][0]["qualified"] == 5


@pytest.mark.parametrize("fault", ["silent", "invalid"])
def test_dkg_excludes_misbehaving_dealers_and_still_completes(fault: str) -> None:
    r = _run(protocol="dkg", parties=7, faulty=2, fault=fault)
    assert r["ok"] and r["identified"] == [1, 2]
    phase = r["phases"][0]
    assert phase["excluded"] == [1, 2] and phase["qualified"] == 5
    if fault == "invalid":  # caught by a complaint, not by silence
        assert set(phase["disqualified"]) == {"1", "2"}


def test_dkg_refresh_and_reshare_keep_the_group_key() -> None:
    base = _run(protocol="dkg", parties=5, seed=3)
    r = _run(protocol="dkg", parties=5, seed=3, refresh=True, reshare_to=7, new_threshold=4)
    assert r["ok"] and r["group_key"] == base["group_key"]
    kinds = [(p["kind"], p["threshold"], p["receivers"]) for p in r["phases"]]
    assert kinds == [("keygen", 4, 5), ("refresh", 4, 5), ("reshare", 4, 7)]


@pytest.mark.parametrize("curve", ["ed25519", "secp256k1"])
def test_frost_signature_verifies(curve: str) -> None:
    r = _run(protocol="frost", parties=5, curve=curve)
    assert r["ok"] and r["verified"] and r["signers"] == [1, 2, 3, 4, 5]


def test_frost_names_a_signer_with_an_invalid_share() -> None:
    r = _run(protocol="frost", parties=5, faulty=2, fault="invalid")
    assert not r["ok"] and r["identified"] == [1, 2] and "signature" not in r


def test_frost_leaves_out_signers_that_never_commit() -> None:
    r = _run(protocol="frost", parties=5, faulty=1)
    assert r["ok"] and r["verified"] and r["signers"] == [2, 3, 4, 5]


@pytest.mark.parametrize("fault", ["invalid", "bad_point", "mixed"])
def test_roast_signs_despite_n_minus_t_misbehaving_signers(fault: str) -> None:
    r = _run(protocol="roast", parties=10, faulty=3, fault=fault)
    assert r["ok"] and r["verified"]
    if fault in ("invalid", "bad_point"):
        assert r["identified"] == [1, 2, 3]
    else:  # silent, invalid, absent: only the cheater is provably malicious
        assert r["identified"] == [2]


def test_roast_refuses_more_faulty_signers_than_it_tolerates() -> None:
    with pytest.raises(MpcConfigError):
        build(Params("roast", parties=10, faulty=4))


@pytest.mark.parametrize("fault", ["silent", "invalid"])
def test_tbls_combines_and_names_invalid_partials(fault: str) -> None:
    r = _run(protocol="tbls", parties=7, faulty=2, fault=fault)
    assert r["ok"] and r["verified"]
    assert r["identified"] == ([1, 2] if fault == "invalid" else [])
    assert r["received"] == (7 if fault == "invalid" else 5)


def test_tbls_fails_with_fewer_than_t_valid_partials() -> None:
    r = _run(protocol="tbls", parties=4, threshold=3, faulty=2, fault="invalid")
    assert not r["ok"] and r["identified"] == [1, 2]


@pytest.mark.parametrize("protocol", ["dkg", "frost", "roast", "tbls"])
def test_one_seed_gives_one_transcript(protocol: str) -> None:
    kw = {"protocol": protocol, "parties": 5, "faulty": 1,
          "fault": "invalid" if protocol != "roast" else "mixed"}
    first, again = _run(seed=7, **kw), _run(seed=7, **kw)
    other = _run(seed=8, **kw)
    for r in (first, again):
        r.pop("wall_s")
    assert first == again
    assert other["transcript"] != first["transcript"]


def test_roast_with_a_hundred_signers() -> None:
    r = _run(protocol="roast", parties=100, faulty=30, fault="mixed")
    assert r["ok"] and r["verified"] and r["sessions_started"] >= 1
