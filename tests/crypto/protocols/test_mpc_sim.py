"""Each protocol as a message exchange in the simulator: results, identified misbehavers,
and determinism (one seed, one transcript)."""

from __future__ import annotations

from typing import Any

import pytest

from xinlian.crypto.primitives import sm2
from xinlian.testing.mpc.protocols import build
from xinlian.testing.mpc.setup import MpcConfigError, Params
from xinlian.testing.mpc.simrun import run_sim

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


def test_tsm2_signature_verifies_with_the_ordinary_sm2_verifier() -> None:
    r = _run(protocol="tsm2", parties=5, threshold=3)
    assert r["ok"] and r["verified"] and r["identified"] == []
    assert sm2.verify(bytes.fromhex(r["public_key"]), b"xinlian threshold demo",
                      bytes.fromhex(r["signature"]))


@pytest.mark.parametrize("fault", ["silent", "invalid"])
def test_tsm2_signs_without_the_misbehaving_parties_and_names_them(fault: str) -> None:
    r = _run(protocol="tsm2", parties=5, threshold=2, faulty=2, fault=fault, round_ms=200)
    assert r["ok"] and r["verified"] and r["identified"] == [1, 2]


@pytest.mark.parametrize("faulty", [0, 2])
def test_tsm2_refresh_keeps_the_key_and_the_earlier_presignature_signs(faulty: int) -> None:
    """Key generation, presigning, a refresh of every share, then signing with the
    presignature made before the refresh: same key as without the refresh."""
    kw: dict[str, Any] = dict(protocol="tsm2", parties=5, threshold=2, faulty=faulty,
                              fault="invalid")
    plain, refreshed = _run(**kw), _run(**kw, refresh=True)
    assert refreshed["ok"] and refreshed["verified"]
    assert refreshed["identified"] == plain["identified"] == list(range(1, faulty + 1))
    assert refreshed["public_key"] == plain["public_key"]
    assert refreshed["messages"] > plain["messages"]  # the refresh's three stages ran


def test_tsm2_refuses_more_silent_parties_than_multiplication_allows() -> None:
    with pytest.raises(MpcConfigError):
        build(Params("tsm2", parties=5, threshold=3, faulty=1))


@pytest.mark.parametrize("curve", ["sm2", "secp256k1"])
def test_pre_receiver_decrypts_what_the_owner_encrypted(curve: str) -> None:
    r = _run(protocol="pre", parties=5, threshold=3, curve=curve, message="病历 #7")
    assert r["ok"] and r["plaintext"] == "病历 #7" and r["received"] == 5


@pytest.mark.parametrize("fault", ["silent", "invalid"])
def test_pre_decrypts_from_the_honest_proxies(fault: str) -> None:
    r = _run(protocol="pre", parties=5, threshold=3, faulty=2, fault=fault)
    assert r["ok"] and r["identified"] == ([1, 2] if fault == "invalid" else [])


def test_pre_fails_with_fewer_than_m_honest_proxies_and_names_the_bad_ones() -> None:
    r = _run(protocol="pre", parties=5, threshold=4, faulty=2, fault="invalid")
    assert not r["ok"] and r["identified"] == [1, 2] and "plaintext" not in r


@pytest.mark.parametrize("curve", ["ed25519", "secp256k1", "sm2"])
def test_ring_double_use_is_linked_and_opened(curve: str) -> None:
    r = _run(protocol="ring", parties=6, curve=curve, faulty=2, fault="double")
    assert r["ok"] and r["accepted"] == 6 and r["linked"] == 2
    assert r["opened"] == [1, 2] and r["identified"] == [1, 2]


@pytest.mark.parametrize("variant", ["accountable", "traceable"])
def test_ring_single_signatures_stay_anonymous_and_bad_ones_are_rejected(variant: str) -> None:
    r = _run(protocol="ring", parties=6, signers=5, faulty=2, fault="invalid", variant=variant)
    assert r["ok"] and r["accepted"] == 3 and r["rejected"] == 2 and r["opened"] == []


def test_traceable_ring_reveals_a_double_signer_without_openers() -> None:
    r = _run(protocol="ring", parties=7, faulty=3, fault="double", variant="traceable")
    assert r["ok"] and r["parties"] == 8  # the verifier and the members: no openers
    assert r["accepted"] == 7 and r["linked"] == 3 and r["identified"] == [1, 2, 3]


@pytest.mark.parametrize("protocol", ["dkg", "frost", "roast", "tbls", "tsm2", "ring", "pre"])
def test_one_seed_gives_one_transcript(protocol: str) -> None:
    fault = {"roast": "mixed", "ring": "double"}.get(protocol, "invalid")
    # PRE's kfrags carry SM2 signatures whose nonce the library draws; secp256k1 uses Ed25519.
    kw = {"protocol": protocol, "parties": 5, "faulty": 1, "fault": fault,
          "threshold": 3 if protocol in ("tsm2", "pre") else 0,
          "curve": "secp256k1" if protocol == "pre" else ""}
    first, again = _run(seed=7, **kw), _run(seed=7, **kw)
    other = _run(seed=8, **kw)
    for r in (first, again):
        r.pop("wall_s")
    assert first == again
    assert other["transcript"] != first["transcript"]


def test_roast_with_a_hundred_signers() -> None:
    r = _run(protocol="roast", parties=100, faulty=30, fault="mixed")
    assert r["ok"] and r["verified"] and r["sessions_started"] >= 1


def test_measured_runs_charge_real_cpu_time_as_simulated_time() -> None:
    setup = build(Params("tsm2", parties=3, threshold=2))
    free = run_sim(setup, latency_ms=0, jitter_ms=0)
    charged = run_sim(build(Params("tsm2", parties=3, threshold=2)), latency_ms=0, jitter_ms=0,
                      measured=True)
    assert free.finished and charged.finished and charged.summary["ok"]
    assert free.sim_ms == 0 and charged.sim_ms is not None and charged.sim_ms > 0


@pytest.mark.parametrize(("protocol", "kw"), [
    ("frost", {"curve": "secp256k1"}),
    ("roast", {"faulty": 2, "fault": "invalid", "threshold": 4}),
    ("tbls", {"faulty": 1, "fault": "invalid"})])
def test_signing_with_keys_from_a_dkg_run_first(protocol: str, kw: dict[str, Any]) -> None:
    r = _run(protocol=protocol, parties=6, keys="dkg", **kw)
    assert r["ok"] and r["verified"] and r["keys"] == "dkg"
    assert r["identified"] == list(range(1, kw.get("faulty", 0) + 1))
    dealt = _run(protocol=protocol, parties=6, **kw)
    assert dealt["ok"] and dealt["group_key"] != r["group_key"]


def test_a_silent_member_is_left_out_of_the_dkg_and_of_signing() -> None:
    r = _run(protocol="frost", parties=5, keys="dkg", faulty=1, round_ms=300)
    assert r["ok"] and r["verified"] and r["signers"] == [2, 3, 4, 5]
