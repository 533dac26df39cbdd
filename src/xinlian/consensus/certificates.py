"""Signatures on votes and the certificates that combine them.

Two certificate forms share one record, `Cert(signers bitmap, signatures)`:
- aggregate (BLS12-381, IETF proof-of-possession scheme, `xinlian.crypto.primitives.bls`):
  `signatures` holds one 96-byte aggregate. Signers of the same message are checked with
  one pairing against the sum of their keys; signers of different messages (a timeout
  certificate, where each signer reports its own high QC round) are grouped by message,
  one pairing per group.
- list (any suite signature, e.g. SM2 for the `sm` suite): one signature per signer, in
  bitmap order, each verified on its own.

Every operation is counted in a `Meter` so that the simulator can charge the measured CPU
cost of real cryptography. Successful certificate checks are remembered in the same `Meter`
(a pure function of the committee, message and signature), because the same certificate
arrives many times. A meter belongs to one core: what one node verified tells another node
nothing, and in a simulation of many nodes in one process a shared cache would let one
node skip checks another made.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Annotated

from xinlian import codec
from xinlian.consensus.committee import Committee, bitmap, signers
from xinlian.consensus.errors import InvalidCertificate
from xinlian.crypto.errors import CryptoError, InvalidSignature
from xinlian.crypto.primitives import bls
from xinlian.crypto.signing import SigningKey, verify_raw

CACHE_SIZE = 8192  # certificates a core remembers as verified


class Meter(Counter[str]):
    """One core's crypto bookkeeping: operations counted, certificates verified."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: OrderedDict[tuple[object, ...], None] = OrderedDict()


class Cert(codec.Struct):
    signers: Annotated[bytes, codec.at_most(128)]
    signatures: list[Annotated[bytes, codec.at_most(8192)]]


class VoteKey:
    """A member's consensus signing keys: BLS for aggregate committees, else the suite key of
    the committee's vote algorithm. A member may hold keys of two suites across a suite
    migration (execution/rotation.py): each epoch's committee picks the one it verifies."""

    __slots__ = ("_bls", "_suite")

    def __init__(self, bls_secret: bytes | None = None, suite_key: SigningKey | None = None,
                 more: Sequence[SigningKey] = ()):
        self._bls = bls.BlsKey(bls_secret) if bls_secret is not None else None
        keys = ([suite_key] if suite_key is not None else []) + list(more)
        self._suite = {key.alg: key for key in keys}

    def sign(self, committee: Committee, message: bytes, meter: Meter) -> bytes:
        if committee.aggregate:
            if self._bls is None:
                raise InvalidCertificate("this node holds no BLS key for an aggregate committee")
            meter["bls_sign"] += 1
            return self._bls.sign(message)
        key = self._suite.get(committee.crypto_suite.signature)
        if key is None:
            raise InvalidCertificate(f"this node holds no {committee.crypto_suite.signature.name}"
                                     f" vote key for epoch {committee.epoch}")
        meter["sig_sign"] += 1
        return key.sign(message).data


def _g2(data: bytes) -> bls.SignaturePoint | None:
    try:
        return bls.decode_signature(data)
    except InvalidSignature:
        return None


def verify_one(committee: Committee, index: int, message: bytes, signature: bytes,
               meter: Meter) -> bool:
    """One member's vote signature."""
    if committee.aggregate:
        meter["bls_verify"] += 1
        meter["bls_pairing"] += 2
        sig = _g2(signature)
        return sig is not None and bls.verify(committee.bls_keys[index], message, sig)
    meter["sig_verify"] += 1
    member = committee.members[index]
    try:
        return verify_raw(committee.crypto_suite.signature, bytes(member.key), message, signature)
    except CryptoError:  # an algorithm the suite does not sign with: nothing verifies
        return False


def combine(committee: Committee, votes: Sequence[tuple[int, bytes]], meter: Meter) -> Cert:
    """A certificate from (index, signature) pairs that were checked or will be checked."""
    ordered = sorted(votes)
    bits = bitmap((i for i, _ in ordered), committee.n)
    if committee.aggregate:
        meter["bls_sig_add"] += len(ordered)
        try:
            points = [bls.decode_signature(s) for _, s in ordered]
        except InvalidSignature:
            raise InvalidCertificate("a vote signature is not a G2 point") from None
        return Cert(bits, [bls.aggregate(points)])
    return Cert(bits, [s for _, s in ordered])


def _remember(meter: Meter, key: tuple[object, ...], ok: bool) -> bool:
    if ok:
        meter.verified[key] = None
        if len(meter.verified) > CACHE_SIZE:
            meter.verified.popitem(last=False)
    return ok


def verify_cert(committee: Committee, cert: Cert, message_of: Callable[[int], bytes],
                threshold: int, meter: Meter) -> list[int]:
    """The signer indices, raising InvalidCertificate unless they reach `threshold` power
    and every signer signed `message_of(index)`."""
    who = signers(cert.signers, committee.n)
    if committee.power(who) < threshold:
        raise InvalidCertificate(f"signers hold {committee.power(who)} power, need {threshold}")
    messages = [message_of(i) for i in who]
    if committee.aggregate:
        ok = _verify_aggregate(committee, cert, who, messages, meter)
    else:
        ok = _verify_list(committee, cert, who, messages, meter)
    if not ok:
        raise InvalidCertificate("certificate signature does not verify")
    return who


def _verify_aggregate(committee: Committee, cert: Cert, who: list[int], messages: list[bytes],
                      meter: Meter) -> bool:
    if len(cert.signatures) != 1:
        return False
    groups: dict[bytes, list[int]] = {}
    for i, m in zip(who, messages, strict=True):
        groups.setdefault(m, []).append(i)
    meter["bls_verify"] += 1
    meter["bls_pairing"] += len(groups) + 1
    meter["bls_pk_add"] += len(who)
    key = (committee.digest, tuple((m, tuple(g)) for m, g in groups.items()),
           bytes(cert.signatures[0]))
    if key in meter.verified:
        return True
    sig = _g2(cert.signatures[0])
    if sig is None:
        return False
    keys = committee.bls_keys
    sums = [bls.sum_public_keys([keys[i] for i in g]) for g in groups.values()]
    return _remember(meter, key, bls.aggregate_verify(sums, list(groups), sig))


def _verify_list(committee: Committee, cert: Cert, who: list[int], messages: list[bytes],
                 meter: Meter) -> bool:
    if len(cert.signatures) != len(who):
        return False
    meter["sig_verify"] += len(who)
    key = (committee.digest, tuple(messages), tuple(bytes(s) for s in cert.signatures))
    if key in meter.verified:
        return True
    alg = committee.crypto_suite.signature
    for i, m, s in zip(who, messages, cert.signatures, strict=True):
        try:
            if not verify_raw(alg, bytes(committee.members[i].key), m, bytes(s)):
                return False
        except CryptoError:  # verify_raw's only error: an algorithm it does not know
            return False
    return _remember(meter, key, True)
