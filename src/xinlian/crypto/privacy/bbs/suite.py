"""The two BLS12-381 ciphersuites of the BBS draft and their shared utilities.

A ciphersuite fixes expand_message and hash_to_curve; from them come hash_to_scalar, the
message-to-scalar map, the generators and the fixed point P1 (draft sections 4 and 6). The
generators are constants of the suite, so they are computed once and extended on demand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xinlian.crypto.primitives.bls import G1Point, encode_point
from xinlian.crypto.privacy.bbs.errors import MalformedBbsInputError
from xinlian.crypto.privacy.bbs.hash_to_curve import (
    expand_message_xmd,
    expand_message_xof,
    hash_to_curve_g1_xmd,
    hash_to_curve_g1_xof,
)

# The prime order of G1 and G2.
R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
SCALAR_LEN = 32
POINT_LEN = 48
EXPAND_LEN = 48
MAX_MESSAGES = 1 << 16  # a bound of this implementation, not of the draft


@dataclass
class _Generators:
    v: bytes
    points: list[G1Point] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class Ciphersuite:
    """One BBS ciphersuite with the `H2G_HM2S_` interface (create_generators, hash-to-scalar)."""

    name: str
    ciphersuite_id: bytes
    expand_message: Callable[[bytes, bytes, int], bytes]
    hash_to_curve_g1: Callable[[bytes, bytes], G1Point]
    _cache: dict[bytes, _Generators] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def api_id(self) -> bytes:
        return self.ciphersuite_id + b"H2G_HM2S_"

    def hash_to_scalar(self, msg: bytes, dst: bytes) -> int:
        """Draft 4.2.2: OS2IP(expand_message(msg, dst, 48)) mod r."""
        return int.from_bytes(self.expand_message(msg, dst, EXPAND_LEN), "big") % R

    def messages_to_scalars(self, messages: Sequence[bytes]) -> list[int]:
        """Draft 4.1.2 (`HM2S_`): each message hashed on its own."""
        if len(messages) > MAX_MESSAGES:
            raise MalformedBbsInputError(f"{len(messages)} messages (at most {MAX_MESSAGES})")
        dst = self.api_id + b"MAP_MSG_TO_SCALAR_AS_HASH_"
        return [self.hash_to_scalar(bytes(m), dst) for m in messages]

    def generators(self, count: int) -> list[G1Point]:
        """Draft 4.1.1 (`H2G_`): Q_1 then H_1..H_{count-1}, deterministic and cached."""
        if count > MAX_MESSAGES + 1:
            raise MalformedBbsInputError(f"{count} generators (at most {MAX_MESSAGES + 1})")
        return self._create(count, self.api_id, b"MESSAGE_GENERATOR_SEED")

    @property
    def p1(self) -> G1Point:
        """The suite's fixed point P1: create_generators(1) with the `BP_` seed (draft 6.2)."""
        return self._create(1, self.api_id, b"BP_MESSAGE_GENERATOR_SEED")[0]

    def _create(self, count: int, api_id: bytes, seed: bytes) -> list[G1Point]:
        seed_dst = api_id + b"SIG_GENERATOR_SEED_"
        generator_dst = api_id + b"SIG_GENERATOR_DST_"
        with self._lock:
            state = self._cache.get(seed)
            if state is None:
                state = _Generators(self.expand_message(api_id + seed, seed_dst, EXPAND_LEN))
                self._cache[seed] = state
            while len(state.points) < count:
                i = len(state.points) + 1
                state.v = self.expand_message(state.v + i.to_bytes(8, "big"), seed_dst, EXPAND_LEN)
                state.points.append(self.hash_to_curve_g1(state.v, generator_dst))
                state.encoded.append(encode_point(state.points[-1]))
            return state.points[:count]

    def generator_octets(self, count: int) -> bytes:
        """The first `count` generators, compressed and concatenated (for the domain hash)."""
        self.generators(count)
        return b"".join(self._cache[b"MESSAGE_GENERATOR_SEED"].encoded[:count])


BLS12_381_SHA_256 = Ciphersuite(
    name="BLS12-381-SHA-256",
    ciphersuite_id=b"BBS_BLS12381G1_XMD:SHA-256_SSWU_RO_",
    expand_message=expand_message_xmd,
    hash_to_curve_g1=hash_to_curve_g1_xmd,
)
BLS12_381_SHAKE_256 = Ciphersuite(
    name="BLS12-381-SHAKE-256",
    ciphersuite_id=b"BBS_BLS12381G1_XOF:SHAKE-256_SSWU_RO_",
    expand_message=expand_message_xof,
    hash_to_curve_g1=hash_to_curve_g1_xof,
)
SUITES = {s.name: s for s in (BLS12_381_SHA_256, BLS12_381_SHAKE_256)}


def get_suite(name: str) -> Ciphersuite:
    try:
        return SUITES[name]
    except KeyError:
        raise MalformedBbsInputError(f"unknown BBS ciphersuite {name!r}") from None
