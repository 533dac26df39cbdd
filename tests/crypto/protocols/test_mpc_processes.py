"""Protocols with every party in its own OS process, over the real transport and runtime."""

from __future__ import annotations

import pytest

from xinlian.crypto.primitives import sm2
from xinlian.testing.mpc.procrun import run_processes
from xinlian.testing.mpc.protocols import build
from xinlian.testing.mpc.setup import MpcConfigError, Params
from xinlian.testing.mpc.simrun import run_sim

pytestmark = pytest.mark.timeout(120)

# Party processes start at different moments on a loaded machine: round deadlines far longer
# than start-up, so that only a party's own behaviour decides whether it is waited for.
ROUND_MS = 20_000


def test_dkg_in_processes_each_party_holds_only_its_own_secrets() -> None:
    """Every process draws its node key, DKG encryption key and broadcast signing key from
    the OS CSPRNG and reports the SHA-256 of each secret it holds: no secret is held by
    two processes, and none comes from the seed (a second run with the same parameters
    holds different secrets and ends with a different group key)."""
    params = Params("dkg", parties=4, seed=21, round_ms=ROUND_MS)
    runs = [run_processes(build(params), deadline_s=60) for _ in range(2)]
    for run in runs:
        report = run.report()
        assert report["finished"] and report["ok"] and report["phases"][0]["qualified"] == 4
        assert report["secrets"] == "os-random" and report["messages"] > 0
        assert sorted(run.held) == [1, 2, 3, 4]
        assert all(len(held) == 3 for held in run.held.values())  # node, encryption, signing
        everything = [h for held in run.held.values() for h in held]
        assert len(everything) == len(set(everything))  # no secret in two processes
    first, second = ({h for held in run.held.values() for h in held} for run in runs)
    assert not first & second
    assert runs[0].report()["group_key"] != runs[1].report()["group_key"]
    assert run_sim(build(params)).report()["secrets"] == "seeded"


def test_processes_refuse_keys_from_a_dealer() -> None:
    with pytest.raises(MpcConfigError):
        run_processes(build(Params("frost", parties=3, keys="dealer")), deadline_s=60)


def test_dkg_in_processes_leaves_out_an_equivocating_dealer() -> None:
    """Dealer 1 signs a different valid deal for each member; over the real transport the
    echo round proves it, every honest member leaves it out, and they agree on the key."""
    params = Params("dkg", parties=4, seed=26, faulty=1, fault="equivocate", round_ms=ROUND_MS)
    r = run_processes(build(params), deadline_s=60).report()
    assert r["finished"] and r["ok"] and r["identified"] == [1]
    phase = r["phases"][0]
    assert phase["agree"] and phase["equivocators"] == [1] and phase["qualified"] == 3


def test_frost_in_processes_signs_and_names_a_cheater() -> None:
    good = run_processes(build(Params("frost", parties=4, seed=22, keys="dkg",
                                      round_ms=ROUND_MS)), deadline_s=60).report()
    assert good["ok"] and good["verified"] and good["signers"] == [1, 2, 3, 4]
    bad = run_processes(build(Params("frost", parties=4, seed=22, faulty=1, fault="invalid",
                                     keys="dkg", round_ms=ROUND_MS)),
                        deadline_s=60).report()
    assert bad["finished"] and not bad["ok"] and bad["identified"] == [1]


def test_tbls_in_processes_with_keys_from_a_dkg() -> None:
    r = run_processes(build(Params("tbls", parties=3, seed=25, keys="dkg", round_ms=ROUND_MS)),
                      deadline_s=60).report()
    assert r["finished"] and r["ok"] and r["verified"] and r["keys"] == "dkg"


def test_tsm2_in_processes_gives_a_standard_sm2_signature() -> None:
    r = run_processes(build(Params("tsm2", parties=3, threshold=2, seed=23, round_ms=ROUND_MS)),
                      deadline_s=60).report()
    assert r["finished"] and r["ok"] and r["verified"]
    assert sm2.verify(bytes.fromhex(r["public_key"]), b"xinlian threshold demo",
                      bytes.fromhex(r["signature"]))


def test_roast_in_processes_signs_despite_cheating_and_silent_signers() -> None:
    """ROAST has no deadlines: it finishes as soon as t honest signers have answered. Which
    signers a session draws depends on arrival order, so the cheater (2) is named only if a
    session included it; the silent (1) and absent (3) signers never can be."""
    r = run_processes(build(Params("roast", parties=6, threshold=3, seed=24, faulty=3,
                                   fault="mixed", keys="dkg", round_ms=ROUND_MS)),
                      deadline_s=60).report()
    assert r["finished"] and r["ok"] and r["verified"] and set(r["identified"]) <= {2}
