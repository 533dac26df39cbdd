"""Runs of proxy re-encryption: an owner, proxies and a receiver, with corrupt fragments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.primitives.groups import Rng
from xinlian.crypto.privacy import pre
from xinlian.crypto.privacy.pre_core import (
    OWNER,
    SIGNER_OF_SUITE,
    SUITE_OF_CURVE,
    Fragment,
    Message,
    Owner,
    Proxy,
    Receiver,
)
from xinlian.crypto.signing import SEED_SIZE, generate_signing_key
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc.byzantine import Byzantine, rewrite_payload, silent
from xinlian.testing.mpc.keys import Keys, OwnKeys, new_scalar_key
from xinlian.testing.mpc.setup import (
    Outcome,
    Params,
    Setup,
    check,
    faulty_ids,
    two_thirds,
)


def corrupt_fragment(payload: bytes) -> bytes:
    """A proxy whose re-encryption is damaged in transit (its AEAD then fails)."""
    try:
        msg = codec.decode(payload, Message)
    except CodecError:
        return payload
    if not isinstance(msg, Fragment):
        return payload
    f = msg.fragment
    sealed = bytes([f.sealed[0] ^ 1]) + f.sealed[1:]
    return codec.encode(Fragment(pre.ReEncrypted(suite=f.suite, ephemeral=f.ephemeral,
                                                 nonce=f.nonce, sealed=sealed)))

FAULTS = ("silent", "invalid")
POLICY, SIGNER, RECEIVER = "pre-policy", "pre-signer", "pre-receiver"  # key names


def setup(params: Params) -> Setup:
    curve = params.curve or "sm2"
    check(curve in SUITE_OF_CURVE, "PRE runs over sm2 (SM4 data) or secp256k1 (AES data)")
    suite = SUITE_OF_CURVE[curve]
    group = pre.get_suite(suite).group
    n = params.parties
    m = params.threshold_or(two_thirds(n))
    check(1 <= m <= n <= pre.MAX_FRAGMENTS, f"need 1 <= M <= N <= {pre.MAX_FRAGMENTS}")
    check(params.fault in FAULTS, f"pre faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= n, "at most every proxy is faulty")
    session = b"pre/%d" % params.seed
    receiver = n + 1
    parties = tuple(range(n + 2))
    faulty = faulty_ids(params)
    message = params.message.encode()

    signer_alg = SIGNER_OF_SUITE[suite]

    def generate(me: int, rng: Rng) -> OwnKeys:
        """The owner's policy key and fragment-signing key, the receiver's key; proxies
        hold no long-term secret (the owner grants them their fragments)."""
        own = OwnKeys()
        if me == OWNER:
            policy = pre.derive_policy_key(group.random_scalar(rng), b"xinlian-cli-policy")
            own.secret[POLICY], own.public[POLICY] = (policy.encode(),
                                                      group.base_mul(policy).encode())
            seed = rng(SEED_SIZE)
            own.secret[SIGNER] = seed
            own.public[SIGNER] = codec.encode(generate_signing_key(signer_alg, seed).public_key)
        elif me == receiver:
            new_scalar_key(own, RECEIVER, group, rng)
        return own

    def make_core(me: int, roster: Mapping[int, NodeId], keys: Keys) -> Core:
        owner_key = group.decode_element(keys.public[OWNER][POLICY])
        receiver_key = group.decode_element(keys.public[receiver][RECEIVER])
        signer_key = codec.decode(keys.public[OWNER][SIGNER], PublicKey)
        if me == OWNER:
            signer = generate_signing_key(signer_alg, keys.own[SIGNER])
            return Owner(me, roster, suite, keys.scalar(group, POLICY), receiver_key, signer,
                         m, n, session, message, keys.rng)
        if me == receiver:
            return Receiver(me, roster, keys.scalar(group, RECEIVER), owner_key, signer_key,
                            m, n, session, params.round_ms)
        core = Proxy(me, roster, owner_key, receiver_key, signer_key, receiver, session,
                     keys.rng)
        if me not in faulty:
            return core
        return Byzantine(core, silent if params.fault == "silent"
                         else rewrite_payload(corrupt_fragment))

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(receiver)
        if out is None:
            return {"ok": False, "error": "the receiver did not finish", "identified": []}
        result: dict[str, Any] = {"ok": False, "suite": suite, "threshold": m,
                                  "received": out["received"], "identified": out["culprits"]}
        if out["ok"]:
            plain = bytes.fromhex(out["plaintext"])
            result["plaintext"] = plain.decode(errors="replace")
            result["ok"] = plain == message
        else:
            result["error"] = out["error"]
        return result

    roles = {i: "owner" if i == OWNER else "receiver" if i == receiver else "proxy"
             for i in parties}
    return Setup(params, parties, make_core, frozenset({receiver}), summarise, faulty, roles,
                 generate)
