"""What a runner needs to run one protocol: parameters, parties, cores and a summary.

A protocol module turns `Params` into a `Setup`: the party indices, what each party
generates for itself (its own secrets and their public forms, keys.py), a factory that
builds each party's core given the roster (party index -> node id, which the runner
chooses) and the party's keys (its own secrets, everyone's public keys), the
parties whose outcome ends the run, and `summarise`, which checks the outcomes (signatures
verified with the ordinary verifier, keys compared across parties) and reports them. The
same `Setup` is built in the parent and in every party process from the same `Params`, so
a party process needs nothing but the parameters, its index and the others' public keys.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from xinlian.crypto.primitives.groups import Rng
from xinlian.errors import XinlianError
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc.keys import Keys, OwnKeys


class MpcError(XinlianError):
    """Root of the MPC runner errors (686x)."""

    code = 6860
    name = "mpc_error"


class MpcConfigError(MpcError):
    """Parameters no run can have: thresholds, party counts, unknown curves or faults."""

    code = 6861
    name = "mpc_config"


class MpcRunError(MpcError):
    """A run that did not finish: a party process failed or the deadline passed."""

    code = 6862
    name = "mpc_run"


def seeded_rng(seed: int, *labels: object) -> Rng:
    """A reproducible byte source for one party: `rng(k) -> k bytes` (never for real keys)."""
    return random.Random("/".join(map(str, (seed, *labels)))).randbytes


Outcome = dict[str, Any]  # what one party delivered (JSON-able)


@dataclass(frozen=True)
class Params:
    """Everything that defines a run; JSON-able so party processes get it on the command line."""

    protocol: str
    parties: int = 5
    threshold: int = 0  # 0: the protocol's default
    seed: int = 1
    curve: str = ""  # "": the protocol's default
    faulty: int = 0
    fault: str = "silent"
    message: str = "xinlian threshold demo"
    round_ms: int = 1000  # how long a party waits for a round's messages
    refresh: bool = False  # dkg: also run a proactive refresh
    reshare_to: int = 0  # dkg: also reshare to this many members (0: no reshare)
    new_threshold: int = 0  # dkg: threshold after resharing (0: default for reshare_to)
    signers: int = 0  # ring: members that sign (0: all)
    openers: int = 3  # ring: opener committee size
    opener_threshold: int = 2  # ring: openers needed to open
    variant: str = "accountable"  # ring: "accountable" (LSAG + openers) or "traceable"
    keys: str = "dealer"  # frost, roast, tbls: "dealer" (seeded) or "dkg" (run a DKG first)
    echo: bool = True  # dkg, tsm2: echo broadcast digests (False: signed sends only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Params:
        return Params(**data)

    def threshold_or(self, default: int) -> int:
        return self.threshold or default


def two_thirds(n: int) -> int:
    """t = floor(2n/3) + 1, the issue's threshold for n parties."""
    return 2 * n // 3 + 1


def faulty_ids(params: Params, first: int = 1) -> tuple[int, ...]:
    """The misbehaving parties of a run: the first `params.faulty` party indices."""
    return tuple(range(first, first + params.faulty))


KEY_SOURCES = ("dealer", "dkg")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise MpcConfigError(message)


def no_keys(_party: int, _rng: Rng) -> OwnKeys:
    return OwnKeys()


@dataclass
class Setup:
    params: Params
    parties: tuple[int, ...]
    make_core: Callable[[int, Mapping[int, NodeId], Keys], Core]
    finishers: frozenset[int]  # the run ends when each of these has delivered its outcome
    summarise: Callable[[Mapping[int, Outcome]], dict[str, Any]]
    faulty: tuple[int, ...]
    roles: Mapping[int, str]  # party -> role name, for the report
    generate: Callable[[int, Rng], OwnKeys] = no_keys  # a party's own secrets (keys.py)
    dealt: bool = False  # a trusted dealer computed every party's share: simulation only
