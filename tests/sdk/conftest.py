"""The SDK tests share tests/api/harness.py (a real node behind a real server); it is
loaded by path because the two test directories are separate packages. `keys` and `served`
give a module one node (test_verify.py and test_headers.py make their own), `client` a
blocking client of it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.node.certify import CertifiedHeader, genesis_root
from xinlian.node.history import HeaderProof
from xinlian.node.statesync import EpochProof
from xinlian.sdk import Client
from xinlian.sdk.headers import HeaderChain
from xinlian.testing.validators import ValidatorNet

_PATH = Path(__file__).parents[1] / "api" / "harness.py"
_NAME = "xinlian_tests_harness"


def _load() -> object:
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(_NAME, _PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


harness = _load()
EPOCHS = 3


@pytest.fixture(scope="module")
def keys() -> Any:
    """The harness's keys on `intl`, for the tests of one module."""
    return harness.Keys("intl")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, keys: Any) -> Iterator[Any]:
    """A node producing blocks behind a server, in a thread of its own (for the blocking
    client), for the tests of one module."""
    background = harness.Background(  # type: ignore[attr-defined]
        Path(tmp_path_factory.mktemp("node")), keys)
    yield background
    background.close()


@pytest.fixture(scope="module")
def client(served: Any) -> Iterator[Client]:
    """A blocking client of the module's node."""
    with Client(served.server.url) as client:
        yield client


@pytest.fixture
def served_fresh(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A node of its own for one test (the harness's `intl` keys, the node behind a server
    in a thread), for tests that change the chain's rules or need a clean pool."""
    keys = harness.Keys("intl")  # type: ignore[attr-defined]
    background = harness.Background(tmp_path / "node", keys)  # type: ignore[attr-defined]
    try:
        yield keys, background
    finally:
        background.close()


@dataclass
class Served:
    """What a full node of the simulated chain serves a light client."""

    net: ValidatorNet
    proofs: list[EpochProof]
    checkpoints: dict[int, CertifiedHeader]
    anchor: CertifiedHeader
    old: HeaderProof

    def fresh(self) -> HeaderChain:
        genesis = self.net.genesis
        return HeaderChain(genesis_root(genesis), genesis.chain_id,
                           genesis.crypto_suite().hash_bytes)


@pytest.fixture(scope="session")
def bft_chain() -> Iterator[Served]:
    """A BFT chain of whole validators in the simulator (seeded), through EPOCHS epoch
    changes, and what its full nodes serve a light client (tests/sdk/test_headers.py,
    tests/sdk/test_light_api.py)."""
    net = ValidatorNet(4, 21, config=Config(pacemaker=Pacemaker(base_ms=300)))
    try:
        net.load(0, 3200)
        net.new_epochs([500 + 900 * i for i in range(EPOCHS)])
        net.sim.run_until(4000)
        assert net.log.violations == []
        validator = net.validator(net.nodes[0])
        assert validator is not None and validator.consensus.epoch == EPOCHS
        bft = validator.bft
        anchor = bft.latest_certified()
        checkpoints = {e: c for e in range(EPOCHS) if (c := bft.checkpoint(e)) is not None}
        assert anchor is not None and len(checkpoints) == EPOCHS
        old = validator.ledger.chain.header_proof(1, anchor.header.height)
        assert old is not None
        yield Served(net, bft.epoch_proofs(0, 100), checkpoints, anchor, old)
    finally:
        net.close()
