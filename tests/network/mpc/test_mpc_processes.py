"""Protocols with every party in its own OS process, over the real transport and runtime."""

from __future__ import annotations

import pytest

from xinlian.network.mpc.procrun import run_processes
from xinlian.network.mpc.protocols import build
from xinlian.network.mpc.setup import Params
from xinlian.network.mpc.simrun import run_sim

pytestmark = pytest.mark.timeout(120)


def test_dkg_in_processes_matches_the_simulator() -> None:
    params = Params("dkg", parties=4, seed=21, faulty=1, fault="invalid")
    real = run_processes(build(params), deadline_s=60).report()
    simulated = run_sim(build(params)).report()
    assert real["finished"] and real["ok"] and real["identified"] == [1]
    # The same seeded parties produce the same key whatever carries their messages.
    assert real["group_key"] == simulated["group_key"]
    assert real["messages"] > 0 and real["bytes"] > real["messages"]


def test_frost_in_processes_signs_and_names_a_cheater() -> None:
    good = run_processes(build(Params("frost", parties=4, seed=22)), deadline_s=60).report()
    assert good["ok"] and good["verified"] and good["signers"] == [1, 2, 3, 4]
    bad = run_processes(build(Params("frost", parties=4, seed=22, faulty=1, fault="invalid")),
                        deadline_s=60).report()
    assert bad["finished"] and not bad["ok"] and bad["identified"] == [1]
