"""Equivocating members in whole runs: a DKG dealer or a threshold-SM2 member that signs a
different round message for each member is proven, named and left out by every honest
member, who still agree; forged proofs get nobody disqualified; runs stay reproducible."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from xinlian import codec
from xinlian.crypto.suites import get_suite
from xinlian.crypto.threshold import broadcast as cb
from xinlian.crypto.threshold.envelope import Envelope
from xinlian.protocol import NodeId
from xinlian.sim.runtime import Simulation
from xinlian.testing.mpc import dkg
from xinlian.testing.mpc.protocols import build
from xinlian.testing.mpc.setup import MpcConfigError, Params
from xinlian.testing.mpc.simrun import run_sim, seeded_keys

pytestmark = pytest.mark.timeout(120)


def _run(**kw: Any) -> dict[str, Any]:
    result = run_sim(build(Params(**kw)))
    assert result.finished
    return result.report()


def test_dkg_members_agree_on_every_key_despite_equivocating_dealers() -> None:
    r = _run(protocol="dkg", parties=7, faulty=2, fault="equivocate", refresh=True,
             reshare_to=8)
    assert r["ok"] and r["identified"] == [1, 2]
    assert all(p["agree"] and p["excluded"] == [1, 2] for p in r["phases"])
    assert r["phases"][0]["equivocators"] == [1, 2]  # proven in keygen, ignored after
    assert r["faults_reported"]["1"] > 0 and r["faults_reported"]["2"] > 0


@pytest.mark.parametrize("curve", ["secp256k1", "sm2"])
def test_equivocating_dealers_are_left_out_on_every_curve(curve: str) -> None:
    r = _run(protocol="dkg", parties=5, faulty=1, fault="equivocate", curve=curve)
    assert r["ok"] and r["identified"] == [1] and r["phases"][0]["qualified"] == 4


def test_without_the_echo_the_same_attack_splits_the_group_key() -> None:
    r = _run(protocol="dkg", parties=7, faulty=2, fault="equivocate", echo=False)
    assert not r["ok"] and not r["phases"][0]["agree"] and r["group_key"] is None
    assert r["identified"] == []  # and nobody noticed


def test_tsm2_signs_without_the_equivocators_and_names_them() -> None:
    r = _run(protocol="tsm2", parties=5, threshold=2, faulty=2, fault="equivocate")
    assert r["ok"] and r["verified"] and r["identified"] == [1, 2]


def test_tsm2_refuses_more_equivocators_than_multiplication_allows() -> None:
    """An equivocator drops out at once, like a silent member: 2t - 1 must stay."""
    with pytest.raises(MpcConfigError, match="at most 1 faulty"):
        build(Params("tsm2", parties=4, threshold=2, faulty=2, fault="equivocate"))


@pytest.mark.parametrize("protocol", ["dkg", "tsm2"])
def test_runs_with_an_equivocator_are_reproducible(protocol: str) -> None:
    kw = {"protocol": protocol, "parties": 5, "faulty": 1, "fault": "equivocate",
          "threshold": 2 if protocol == "tsm2" else 0}
    first, again, other = _run(seed=7, **kw), _run(seed=7, **kw), _run(seed=8, **kw)
    for r in (first, again):
        r.pop("wall_s")
    assert first == again and first["ok"] and first["identified"] == [1]
    assert other["transcript"] != first["transcript"]


def _forged_proofs() -> list[cb.Proof]:
    """Proofs member 3 could make against honest member 1 without its signing key."""
    suite = get_suite(cb.SUITE)
    key = seeded_keys(build(Params("dkg", parties=4, seed=5)))[1].signing_key(dkg.SIGNING)
    real = cb.sign(key, suite, "dkg", b"dkg/5/keygen", 1, 1, b"a deal")
    return [cb.Proof(real, cb.Signed(1, 1, b"another deal", real.signature)),  # bad signature
            cb.Proof(real, real)]  # the same message twice


def test_forged_proofs_in_a_dkg_run_blame_the_forger_and_nobody_else() -> None:
    def prepare(sim: Simulation, roster: Mapping[int, NodeId]) -> None:
        for seq, proof in enumerate(_forged_proofs(), start=10_000):
            for to in (1, 2, 4):
                data = Envelope("dkg", b"dkg/5/keygen", 3, seq, codec.encode(proof))
                sim.inject(roster[3], roster[to], codec.encode(data), 0)

    r = run_sim(build(Params("dkg", parties=4, seed=5)), prepare=prepare).report()
    assert r["finished"] and r["ok"] and r["identified"] == []
    assert r["phases"][0]["qualified"] == 4 and r["phases"][0]["equivocators"] == []
    assert r["faults_reported"] == {"3": 6}
