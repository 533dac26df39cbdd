"""Runs of threshold BLS: dealt or DKG keys, signers and a combiner, a wrong-partial attack."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.errors import InvalidKey, InvalidSignature
from xinlian.crypto.primitives import bls
from xinlian.crypto.primitives.groups import BLS_G1
from xinlian.crypto.threshold import tbls
from xinlian.crypto.threshold.tbls_core import COMBINER, TblsCombiner, TblsSigner
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc.byzantine import Byzantine, rewrite_payload, silent
from xinlian.testing.mpc.chain import dkg_cores, dkg_keys
from xinlian.testing.mpc.keys import Keys
from xinlian.testing.mpc.setup import (
    KEY_SOURCES,
    Outcome,
    Params,
    Setup,
    check,
    faulty_ids,
    no_keys,
    two_thirds,
)


def wrong_partial(payload: bytes) -> bytes:
    """A partial that is a valid G2 point but not this share's signature."""
    try:
        partial = codec.decode(payload, tbls.PartialSignature)
    except CodecError:
        return payload
    return codec.encode(tbls.PartialSignature(index=partial.index, signature=bls.G2_GENERATOR))

FAULTS = ("silent", "invalid")


def _verifies(group_key: str, message: bytes, signature: str) -> bool:
    """The combined signature checked as any BLS verifier would (POP scheme)."""
    try:
        key = bls.decode_public_key(bytes.fromhex(group_key))
        sig = bls.decode_signature(bytes.fromhex(signature))
    except (InvalidKey, InvalidSignature):
        return False
    return bls.verify(key, message, sig)


def setup(params: Params) -> Setup:
    n = params.parties
    t = params.threshold_or(two_thirds(n))
    check(n >= 2 and 1 <= t <= n, "need 1 <= threshold <= parties, parties >= 2")
    check(params.fault in FAULTS, f"tbls faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= n, "at most every signer is faulty")
    check(params.keys in KEY_SOURCES, f"keys come from: {', '.join(KEY_SOURCES)}")
    session = b"tbls/%d" % params.seed
    message = params.message.encode()
    parties = tuple(range(n + 1))
    faulty = faulty_ids(params)

    def signer(me: int, roster: Mapping[int, NodeId], share: tbls.KeyShare) -> Core:
        return TblsSigner(me, roster, share, session, message)

    def combiner(roster: Mapping[int, NodeId], key_set: tbls.PublicKeySet) -> Core:
        return TblsCombiner(COMBINER, roster, key_set, session, message, params.round_ms)

    honest: Callable[[int, Mapping[int, NodeId], Keys], Core]
    if params.keys == "dkg":  # a DKG over BLS12-381 G1 (members 1..n), then signing
        honest = dkg_cores(
            params, BLS_G1, "tbls",
            lambda me, roster, public, share, _keys: signer(me, roster,
                                                            tbls.key_share_from_dkg(share)),
            lambda roster, public: combiner(roster, tbls.key_set_from_package(public)))
        generate = dkg_keys(BLS_G1, range(1, n + 1))
    else:  # a seeded dealer: simulation only
        key_set, shares = tbls.deal(n, t, tbls.seeded(b"xinlian-cli/%d" % params.seed))
        generate = no_keys

        def honest(me: int, roster: Mapping[int, NodeId], _keys: Keys) -> Core:
            return combiner(roster, key_set) if me == COMBINER else signer(me, roster,
                                                                           shares[me - 1])

    def make_core(me: int, roster: Mapping[int, NodeId], keys: Keys) -> Core:
        core = honest(me, roster, keys)
        if me not in faulty:
            return core
        return Byzantine(core, silent if params.fault == "silent"
                         else rewrite_payload(wrong_partial))

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(COMBINER)
        if out is None:
            return {"ok": False, "error": "the combiner did not finish", "identified": []}
        result: dict[str, Any] = {"ok": False, "threshold": t, "keys": params.keys,
                                  "received": out["received"], "identified": out["culprits"],
                                  "group_key": out["group_key"]}
        if out["ok"]:
            result["signature"] = out["signature"]
            result["verified"] = _verifies(out["group_key"], message, out["signature"])
            result["ok"] = result["verified"]
        else:
            result["error"] = out["error"]
        return result

    roles = {i: "combiner" if i == COMBINER else "signer" for i in parties}
    return Setup(params, parties, make_core, frozenset({COMBINER}), summarise, faulty, roles,
                 generate, params.keys == "dealer")
