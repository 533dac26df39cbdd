"""The protocols the runners know, by the name the CLI uses."""

from __future__ import annotations

from collections.abc import Callable

from xinlian.testing.mpc import dkg, frost, pre, ring, roast, tbls, tsm2
from xinlian.testing.mpc.setup import MpcConfigError, Params, Setup

SETUPS: dict[str, Callable[[Params], Setup]] = {
    "dkg": dkg.setup,
    "frost": frost.setup,
    "roast": roast.setup,
    "tbls": tbls.setup,
    "tsm2": tsm2.setup,
    "ring": ring.setup,
    "pre": pre.setup,
}


def build(params: Params) -> Setup:
    """The `Setup` of `params.protocol` (MpcConfigError for an unknown one)."""
    try:
        make = SETUPS[params.protocol]
    except KeyError:
        raise MpcConfigError(f"unknown protocol {params.protocol!r}") from None
    return make(params)
