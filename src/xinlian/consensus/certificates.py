"""Signatures on votes and the certificates that combine them.

Two certificate forms share one record, `Cert(signers bitmap, signatures)`:
- aggregate (BLS12-381, IETF proof-of-possession ciphersuite via blspy): `signatures` holds
  one 96-byte aggregate. Signers of the same message are checked with one pairing against
  the sum of their keys; signers of different messages (a timeout certificate, where each
  signer reports its own high QC round) are grouped by message, one pairing per group.
- list (any suite signature, e.g. SM2 for the `sm` suite): one signature per signer, in
  bitmap order, each verified on its own.

Every operation is counted in a `Meter` so that the simulator can charge the measured CPU
cost of real cryptography. Successful certificate checks are remembered (a pure function of
the committee, message and signature), because the same certificate arrives many times.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Annotated

import blspy

from xinlian import codec
from xinlian.consensus.committee import BLS_SIG_SIZE, Committee, bitmap, signers
from xinlian.consensus.errors import InvalidCertificate
from xinlian.crypto.signing import SigningKey, verify_raw

Meter = Counter[str]

_MPL = blspy.PopSchemeMPL
_CACHE_SIZE = 8192
_verified: OrderedDict[tuple[object, ...], bool] = OrderedDict()


class Cert(codec.Struct):
    signers: Annotated[bytes, codec.at_most(128)]
    signatures: list[Annotated[bytes, codec.at_most(8192)]]


class VoteKey:
    """A member's consensus signing key: BLS for aggregate committees, else the suite key."""

    __slots__ = ("_bls", "_suite")

    def __init__(self, bls_secret: bytes | None = None, suite_key: SigningKey | None = None):
        self._bls = blspy.PrivateKey.from_bytes(bls_secret) if bls_secret is not None else None
        self._suite = suite_key

    def sign(self, committee: Committee, message: bytes, meter: Meter) -> bytes:
        if committee.aggregate:
            if self._bls is None:
                raise InvalidCertificate("this node holds no BLS key for an aggregate committee")
            meter["bls_sign"] += 1
            return bytes(_MPL.sign(self._bls, message))
        if self._suite is None:
            raise InvalidCertificate("this node holds no suite signing key")
        meter["sig_sign"] += 1
        return self._suite.sign(message).data


def _g2(data: bytes) -> blspy.G2Element | None:
    if len(data) != BLS_SIG_SIZE:
        return None
    try:
        return blspy.G2Element.from_bytes(bytes(data))
    except (ValueError, RuntimeError):
        return None


def verify_one(committee: Committee, index: int, message: bytes, signature: bytes,
               meter: Meter) -> bool:
    """One member's vote signature."""
    if committee.aggregate:
        meter["bls_verify"] += 1
        meter["bls_pairing"] += 2
        sig = _g2(signature)
        return sig is not None and bool(_MPL.verify(committee.bls_keys[index], message, sig))
    meter["sig_verify"] += 1
    member = committee.members[index]
    try:
        return verify_raw(committee.crypto_suite.signature, bytes(member.key), message, signature)
    except Exception:  # undecodable signature bytes from the wire are simply invalid
        return False


def combine(committee: Committee, votes: Sequence[tuple[int, bytes]], meter: Meter) -> Cert:
    """A certificate from (index, signature) pairs that were checked or will be checked."""
    ordered = sorted(votes)
    bits = bitmap((i for i, _ in ordered), committee.n)
    if committee.aggregate:
        meter["bls_sig_add"] += len(ordered)
        points = [_g2(s) for _, s in ordered]
        if any(p is None for p in points):
            raise InvalidCertificate("a vote signature is not a G2 point")
        return Cert(bits, [bytes(_MPL.aggregate(points))])
    return Cert(bits, [s for _, s in ordered])


def _remember(key: tuple[object, ...], ok: bool) -> bool:
    if ok:
        _verified[key] = True
        if len(_verified) > _CACHE_SIZE:
            _verified.popitem(last=False)
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
    if key in _verified:
        return True
    sig = _g2(cert.signatures[0])
    if sig is None:
        return False
    keys = committee.bls_keys
    sums = []
    for g in groups.values():
        total = keys[g[0]]
        for i in g[1:]:
            total = total + keys[i]
        sums.append(total)
    msgs = list(groups)
    ok = (_MPL.verify(sums[0], msgs[0], sig) if len(msgs) == 1
          else _MPL.aggregate_verify(sums, msgs, sig))
    return _remember(key, bool(ok))


def _verify_list(committee: Committee, cert: Cert, who: list[int], messages: list[bytes],
                 meter: Meter) -> bool:
    if len(cert.signatures) != len(who):
        return False
    meter["sig_verify"] += len(who)
    key = (committee.digest, tuple(messages), tuple(bytes(s) for s in cert.signatures))
    if key in _verified:
        return True
    alg = committee.crypto_suite.signature
    for i, m, s in zip(who, messages, cert.signatures, strict=True):
        try:
            if not verify_raw(alg, bytes(committee.members[i].key), m, bytes(s)):
                return False
        except Exception:
            return False
    return _remember(key, True)
