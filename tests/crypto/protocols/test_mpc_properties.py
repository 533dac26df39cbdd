"""Property tests over whole runs: any number of misbehaving parties the protocol tolerates,
any kind, any seed and latency: the honest parties get their verified result, exactly the
provable cheaters are named, and beyond the tolerance the run fails without naming an
honest party."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.testing.mpc.protocols import build
from xinlian.testing.mpc.setup import Params, two_thirds
from xinlian.testing.mpc.simrun import run_sim

pytestmark = pytest.mark.timeout(300)

seeds = st.integers(0, 2**32)
latency = st.floats(1.0, 80.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 7), st.data(), st.sampled_from(["silent", "invalid", "equivocate"]),
       seeds, latency)
def test_dkg_completes_with_up_to_n_minus_t_bad_dealers(n: int, data: st.DataObject,
                                                       fault: str, seed: int,
                                                       lat: float) -> None:
    k = data.draw(st.integers(0, n - two_thirds(n)))
    r = run_sim(build(Params("dkg", parties=n, faulty=k, fault=fault, seed=seed)),
                latency_ms=lat).report()
    assert r["finished"] and r["ok"]
    assert r["identified"] == list(range(1, k + 1))


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 12), st.data(),
       st.sampled_from(["silent", "absent", "invalid", "bad_point", "replay", "mixed"]),
       seeds, latency)
def test_roast_signs_whenever_t_signers_are_honest(n: int, data: st.DataObject, fault: str,
                                                  seed: int, lat: float) -> None:
    k = data.draw(st.integers(0, n - two_thirds(n)))
    r = run_sim(build(Params("roast", parties=n, faulty=k, fault=fault, seed=seed)),
                latency_ms=lat).report()
    assert r["finished"] and r["ok"] and r["verified"]
    assert set(r["identified"]) <= set(range(1, k + 1))
    assert r["sessions_started"] <= n - two_thirds(n) + 1  # ROAST's bound on sessions


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 9), st.data(), st.sampled_from(["tbls", "pre", "frost"]),
       st.sampled_from(["silent", "invalid"]), seeds)
def test_collectors_succeed_iff_enough_parties_are_honest(n: int, data: st.DataObject,
                                                         protocol: str, fault: str,
                                                         seed: int) -> None:
    t = data.draw(st.integers(1, n))
    k = data.draw(st.integers(0, n))
    r = run_sim(build(Params(protocol, parties=n, threshold=t, faulty=k, fault=fault,
                             seed=seed))).report()
    assert r["finished"]
    honest = n - k
    if protocol == "frost" and fault == "invalid" and k:
        assert not r["ok"]  # plain FROST has no retry: any invalid share fails the session
    else:
        assert r["ok"] == (honest >= t)
    named = set(r["identified"])
    assert named <= (set(range(1, k + 1)) if fault == "invalid" else set())  # never the honest
    if fault == "invalid" and protocol in ("pre", "frost"):
        assert named == set(range(1, k + 1))  # every fragment / share is checked
