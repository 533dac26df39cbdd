"""The native SM2 verifier's fast paths, each reached on purpose: every entry of the G and Q
tables with both signs, scalars near n and with long runs of zeros or ones in their wNAF,
additions that meet an equal or opposite point, groups of verify_many (whose Q tables are
made affine together) across their boundaries, and the portable arithmetic that machines
without MULX/ADX use. Each signature is built from chosen s and t = r + s (below), so the
verdicts are known; GmSSL checks a sample of them independently.

Randomness is seeded.
"""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
from pathlib import Path

import pytest

from xinlian.crypto.primitives import _sm2verify, sm2
from xinlian.crypto.primitives.sm2_exchange import SM2_CURVE
from xinlian.testing.sm2_reference import gmssl_verify_digest, public_of, sign_digest

N = sm2.N
GROUP = 64  # signatures whose Q tables share one inversion; the wNAF widths are 11 (G), 5 (Q)

Case = tuple[bytes, bytes, bytes]


def _rs(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def signature_for(c: int, s: int, t: int) -> Case:
    """Key Q = cG and a valid signature whose s and t = r + s are the ones given: s G + t Q
    = (s + t c) G = R, r = t - s, and e chosen so that (e + x(R)) mod n = r."""
    k = (s + t * c) % N
    assert k != 0 and (t - s) % N != 0
    x = SM2_CURVE.base_mul(k)[0]
    r = (t - s) % N
    return public_of(c), ((r - x) % N).to_bytes(32, "big"), _rs(r, s)


def _tweaked(case: Case) -> Case:
    public, digest, signature = case
    e = (int.from_bytes(digest, "big") + 1) % (1 << 256)
    return public, e.to_bytes(32, "big"), signature


def _many(cases: list[Case]) -> list[bool]:
    out = _sm2verify.verify_many(b"".join(c[0] for c in cases), b"".join(c[1] for c in cases),
                                 b"".join(c[2] for c in cases))
    return [b == 1 for b in out]


def verdicts(cases: list[Case]) -> list[bool]:
    """Each case's verdict, which verify (Jacobian tables) and verify_many (affine tables,
    in groups) must give alike."""
    one = [_sm2verify.verify(*c) for c in cases]
    assert _many(cases) == one
    return one


def _key(rng: random.Random) -> int:
    return rng.randrange(1, N)


# --- every table entry, both signs ----------------------------------------------------------

@pytest.mark.parametrize(("table", "width", "seed"), [("G", 11, 101), ("Q", 5, 102)])
def test_every_table_entry_with_both_signs(table: str, width: int, seed: int) -> None:
    # in a width-w wNAF the scalar j is the digit j, and 2^w - j the digit -j (then 1 at 2^w)
    rng = random.Random(seed)
    c, other = _key(rng), rng.randrange(1, N)
    scalars = [k for j in range(1, 1 << (width - 1), 2) for k in (j, (1 << width) - j)]
    cases = [signature_for(c, k, other) if table == "G" else signature_for(c, other, k)
             for k in scalars]
    assert verdicts(cases) == [True] * len(cases)
    assert verdicts([_tweaked(x) for x in cases]) == [False] * len(cases)
    for case in cases[::len(cases) // 16]:
        assert gmssl_verify_digest(*case)


# --- scalars whose recoding is unusual -------------------------------------------------------

SCALARS = {
    "s, t = n-1, n-2": (N - 1, N - 2),
    "s, t = n-2, n-1": (N - 2, N - 1),
    "s, t = 1, 2": (1, 2),
    "s, t = 2, 1": (2, 1),
    "s, t = 1, n-1": (1, N - 1),
    "s, t = n-1, 1": (N - 1, 1),
    "single bits (whole words of zeros)": (1 << 64, (1 << 192) + 1),
    "top bit; a run of ones": (1 << 255, (1 << 128) - 1),
    "alternating bits": ((1 << 256) // 3 % N, (1 << 256) // 5 % N),
    "long runs of ones": ((1 << 250) - 1, (1 << 200) + (1 << 100) + 1),
    "n minus a word": (N - (1 << 64), 3),
    "a carry out of the top of the recoding": (5, N - (1 << 100)),
}


@pytest.mark.parametrize("name", sorted(SCALARS))
def test_scalars_near_n_and_with_long_runs(name: str) -> None:
    s, t = SCALARS[name]
    assert 1 <= s < N and 1 <= t < N
    case = signature_for(_key(random.Random(name)), s, t)
    assert verdicts([case, _tweaked(case)]) == [True, False]
    assert gmssl_verify_digest(*case)


# --- additions that meet equal or opposite points --------------------------------------------

def test_an_addition_that_meets_an_equal_point_doubles() -> None:
    # Q = (3/5) G: at the last position the chain adds 3G, then 5Q = 3G again
    case = signature_for(3 * pow(5, -1, N) % N, 3, 5)
    assert verdicts([case, _tweaked(case)]) == [True, False]
    assert gmssl_verify_digest(*case)


def test_the_chain_passes_through_infinity_and_goes_on() -> None:
    # Q = -(3/5) G: at position 100 the chain adds 3G to nothing, then 5Q = -3G, and is at
    # infinity; the digits below (7 and 9) carry it on to 7G + 9Q
    c = -3 * pow(5, -1, N) % N
    case = signature_for(c, 3 * (1 << 100) + 7, 5 * (1 << 100) + 9)
    assert verdicts([case, _tweaked(case)]) == [True, False]
    assert gmssl_verify_digest(*case)


@pytest.mark.parametrize("c", [1, N - 1])
def test_keys_g_and_minus_g(c: int) -> None:
    rng = random.Random(c)
    cases = [signature_for(c, s, t) for s, t in [(3, 5), (5, 3), (1, 2), (N - 2, 1)]
             if (s + t * c) % N]
    cases += [signature_for(c, rng.randrange(1, N), rng.randrange(1, N)) for _ in range(8)]
    assert verdicts(cases) == [True] * len(cases)
    assert verdicts([_tweaked(x) for x in cases]) == [False] * len(cases)


def test_sum_at_infinity_is_refused_in_a_group_too() -> None:
    s, t = 1111, 2222  # Q = -(s / t) G, so s G + t Q = O
    key = public_of(-s * pow(t, -1, N) % N)
    refused = (key, bytes(32), _rs((t - s) % N, s))
    valid = signature_for(7, 8, 9)
    assert verdicts([valid, refused, valid]) == [True, False, True]


# --- groups of verify_many -------------------------------------------------------------------

def _random_signatures(count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    out: list[Case] = []
    while len(out) < count:
        secret, e = rng.randrange(1, N), rng.randrange(1 << 256)
        signature = sign_digest(secret, e, rng.randrange(1, N))
        if signature is not None:
            out.append((public_of(secret), e.to_bytes(32, "big"), signature))
    return out


def _spoiled(case: Case, how: int) -> Case:
    public, digest, signature = case
    if how == 0:
        return public, digest, _rs(0, int.from_bytes(signature[32:], "big"))
    if how == 1:
        return public[:-1] + bytes([public[-1] ^ 1]), digest, signature
    return _tweaked(case)


def test_groups_across_their_boundaries() -> None:
    cases = _random_signatures(2 * GROUP + 2, seed=103)
    spoiled = {0, 1, GROUP - 1, GROUP, GROUP + 1, 2 * GROUP - 1, 2 * GROUP, 2 * GROUP + 1}
    mixed = [_spoiled(x, i % 3) if i in spoiled else x for i, x in enumerate(cases)]
    assert verdicts(mixed) == [i not in spoiled for i in range(len(mixed))]


def test_a_group_with_nothing_to_invert() -> None:
    # a whole group refused before any table is made, then one that verifies
    cases = _random_signatures(GROUP + 3, seed=104)
    mixed = [_spoiled(x, i % 2) for i, x in enumerate(cases[:GROUP])] + cases[GROUP:]
    assert verdicts(mixed) == [False] * GROUP + [True] * 3
    assert _many([]) == []


# --- the portable arithmetic -----------------------------------------------------------------

def _cpu_has_mulx_adx() -> bool:
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return {"bmi2", "adx"} <= flags


def test_the_arithmetic_is_the_assembly_where_the_processor_has_it() -> None:
    expected = "x86-64 mulx/adx" if _cpu_has_mulx_adx() else "portable C"
    if os.environ.get("XINLIAN_SM2_PORTABLE"):
        expected = "portable C"
    assert _sm2verify.arithmetic() == expected


PORTABLE_RUN = """
import json, sys
from xinlian.crypto.primitives import _sm2verify
cases = [tuple(bytes.fromhex(h) for h in c) for c in json.load(sys.stdin)]
one = [_sm2verify.verify(*c) for c in cases]
many = _sm2verify.verify_many(*(b"".join(c[i] for c in cases) for i in range(3)))
print(json.dumps([_sm2verify.arithmetic(), one, [b == 1 for b in many]]))
"""


def test_portable_arithmetic_gives_the_same_verdicts() -> None:
    rng = random.Random(105)
    cases = _random_signatures(150, seed=106)
    cases += [signature_for(_key(rng), s, t) for s, t in SCALARS.values()]
    cases += [signature_for(3 * pow(5, -1, N) % N, 3, 5),
              signature_for(-3 * pow(5, -1, N) % N, 3 * (1 << 100) + 7, 5 * (1 << 100) + 9)]
    cases += [_spoiled(x, i % 3) for i, x in enumerate(cases[:60])]
    expected = verdicts(cases)
    assert expected.count(True) == len(cases) - 60
    run = subprocess.run(
        [sys.executable, "-c", PORTABLE_RUN], capture_output=True, text=True, timeout=300,
        check=True, env={**os.environ, "XINLIAN_SM2_PORTABLE": "1"},
        input=json.dumps([[part.hex() for part in c] for c in cases]))
    arithmetic, one, many = json.loads(run.stdout)
    assert arithmetic == "portable C"
    assert one == many == expected
