"""Write the labelled detector corpus: contracts/*.qi and manifest.json (see README.md).

Each family is one kind of weakness, written as vulnerable variants and safe near-miss
variants (the same code with the fix); the hard cases are code whose truth differs from
what a simple reading of the IR suggests. Every variant is instantiated with each of three
naming schemes, into a skeleton whose other code is clean (writes guarded, events
emitted, every state variable read). Files are numbered after a seeded shuffle, so a file
name says nothing about its label; the labels are in manifest.json only.

Run from the repository root: `python tests/lang/detect_corpus/generate.py`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
SEED = 19

NAMES = [
    {"C": "Vault", "S1": "balances", "S2": "limit", "S3": "members", "F1": "update",
     "F2": "settle", "F3": "apply_change", "EV": "Updated", "IF": "Bank", "M": "pay"},
    {"C": "Registry", "S1": "entries", "S2": "quota", "S3": "queue", "F1": "put",
     "F2": "on_answer", "F3": "inner", "EV": "Changed", "IF": "Feed", "M": "send"},
    {"C": "Market", "S1": "stock", "S2": "price", "S3": "orders", "F1": "trade",
     "F2": "done", "F3": "step", "EV": "Traded", "IF": "Exchange", "M": "settle_with"},
]

SKELETON = """// corpus contract
interface $IF { fn $M(to: address, amount: u64) -> bool; fn value() -> u64; }

contract $C {
    state owner: address;
    state peer: address;
    state $S1: map<address, u64>;
    state $S2: u64;
    event $EV(who: address, amount: u64);
    error Failed(why: string);

    init(p: address) { owner = caller(); peer = p; }
    pub view fn get_owner() -> address { return owner; }
    pub view fn get_peer() -> address { return peer; }
    pub view fn get_$S2() -> u64 { return $S2; }
    pub view fn get_$S1(who: address) -> u64 { return $S1[who]; }
$BODY
}
"""
FILLER = """
    pub fn set_$S2(v: u64) {
        require(caller() == owner, "owner only");
        $S2 = v;
        emit $EV(caller(), v);
    }
"""
GUARD = 'require(caller() == owner, "owner only");'



@dataclass(frozen=True)
class Fix:
    """A safe twin: vulnerable variant `of` of the same family with `edits` ((old, new),
    each made once), so that it differs from it only in the fix."""

    of: int
    edits: tuple[tuple[str, str], ...]

    def __init__(self, of: int, *edits: tuple[str, str]) -> None:
        object.__setattr__(self, "of", of)
        object.__setattr__(self, "edits", edits)

    def apply(self, variants: list[tuple[bool, str | Fix]]) -> str:
        body = variants[self.of][1]
        assert isinstance(body, str)
        for old, new in self.edits:
            assert body.count(old) == 1, old
            body = body.replace(old, new)
        return body


# family (the detector its vulnerable variants exhibit) -> variants; a variant is
# (vulnerable?, body inside the contract, or a `Fix` of a vulnerable one) or, prefixed
# "FILE:", a whole file
FAMILIES: dict[str, list[tuple[bool, str | Fix]]] = {
    "reentrancy-sync-call": [
        (True, """
    pub fn $F1(amount: u64) {
        require($S1[caller()] >= amount, "low");
        let ok = $IF(peer).$M(caller(), amount);
        require(ok, "refused");
        $S1[caller()] -= amount;
        emit $EV(caller(), amount);
    }"""),
        (True, """
    fn $F3(who: address, amount: u64) { $S1[who] -= amount; }
    pub fn $F1(amount: u64) {
        require($S1[caller()] >= amount, "low");
        require($IF(peer).$M(caller(), amount), "refused");
        $F3(caller(), amount);
        emit $EV(caller(), amount);
    }"""),
        (False, Fix(0, ("        $S1[caller()] -= amount;\n", ""),
                    ("        let ok", "        $S1[caller()] -= amount;\n        let ok"))),
        (False, Fix(1, ("        $F3(caller(), amount);\n", ""),
                    ("        require($IF",
                     "        $F3(caller(), amount);\n        require($IF"))),
    ],
    "try-error-swallowed": [
        (True, """
    pub fn $F1(amount: u64) {
        GUARD
        try let ok = $IF(peer).$M(owner, amount) { require(ok, "refused"); } catch e { }
        emit $EV(owner, amount);
    }"""),
        (True, """
    pub fn $F1(amount: u64) {
        GUARD
        try {
            let ok = $IF(peer).$M(owner, amount);
            require(ok, "refused");
        } catch { }
        emit $EV(owner, amount);
    }"""),
        (False, Fix(0, ("catch e { }", "catch e { revert Failed(e); }"))),
        (False, """
    pub fn $F1(amount: u64) {
        GUARD
        try {
            let ok = $IF(peer).$M(owner, amount);
            require(ok, "refused");
        } catch e { emit $EV(owner, 0); }
    }"""),
    ],
    "try-result-unused": [
        (True, """
    pub fn $F1(amount: u64) {
        GUARD
        try let ok = $IF(peer).$M(owner, amount) { emit $EV(owner, amount); }
        catch e { revert Failed(e); }
    }"""),
        (True, """
    pub fn $F1() {
        GUARD
        try let v = $IF(peer).value() { emit $EV(owner, 0); } catch e { revert Failed(e); }
    }"""),
        (False, Fix(0, ("{ emit $EV(owner, amount); }",
                        '{ require(ok, "refused"); emit $EV(owner, amount); }'))),
        (False, Fix(1, ("emit $EV(owner, 0);", "emit $EV(owner, v);"))),
    ],
    "unchecked-return": [
        (True, """
    pub fn $F1(amount: u64) {
        GUARD
        $IF(peer).$M(owner, amount);
        emit $EV(owner, amount);
    }"""),
        (True, """
    fn $F3(x: u64) -> bool { return x > $S2; }
    pub view fn $F1(x: u64) -> u64 { $F3(x); return x; }"""),
        (False, """
    pub fn $F1(amount: u64) {
        GUARD
        require($IF(peer).$M(owner, amount), "refused");
        emit $EV(owner, amount);
    }"""),
        (False, """
    fn $F3(x: u64) -> bool { return x > $S2; }
    pub view fn $F1(x: u64) -> u64 { require($F3(x), "small"); return x; }"""),
    ],
    "async-failure-ignored": [
        (True, """
    pub fn $F1() { GUARD async $IF(peer).value() then $F2; }
    fn $F2(v: u64?) { $S2 = v.unwrap_or(0); emit $EV(owner, $S2); }"""),
        (True, """
    pub fn $F1() { GUARD async $IF(peer).$M(owner, 5) then $F2; }
    fn $F2(ok: bool?) { $S2 += 1; emit $EV(owner, $S2); }"""),
        (False, """
    pub fn $F1() { GUARD async $IF(peer).value() then $F2; }
    fn $F2(v: u64?) { if v.is_some() { $S2 = v.unwrap(); emit $EV(owner, $S2); } }"""),
        (False, """
    pub fn $F1() { GUARD async $IF(peer).$M(owner, 5) then $F2; }
    fn $F2(ok: bool?) { if ok.unwrap_or(false) { $S2 += 1; emit $EV(owner, $S2); } }"""),
    ],
    "missing-access-control": [
        (True, """
    pub fn $F1(v: u64) { $S2 = v; emit $EV(caller(), v); }"""),
        (True, """
    pub fn $F1(who: address, v: u64) { $S1[who] = v; emit $EV(who, v); }"""),
        (True, """
    fn $F3(v: u64) { $S2 = v; }
    pub fn $F1(v: u64) { $F3(v); emit $EV(caller(), v); }"""),
        (False, """
    pub fn $F1(v: u64) { GUARD $S2 = v; emit $EV(caller(), v); }"""),
        (False, """
    fn only_owner() { GUARD }
    pub fn $F1(who: address, v: u64) { only_owner(); $S1[who] = v; emit $EV(who, v); }"""),
        (False, """
    pub fn $F1(v: u64) { $S1[caller()] = v; emit $EV(caller(), v); }"""),
    ],
    "tx-origin-auth": [
        (True, """
    pub fn $F1(v: u64) {
        require(origin() == owner, "owner only");
        $S2 = v;
        emit $EV(owner, v);
    }"""),
        (True, """
    pub fn $F1(v: u64) {
        let who = origin();
        require(who == owner, "owner only");
        $S2 = v;
        emit $EV(who, v);
    }"""),
        (False, Fix(0, ("origin()", "caller()"))),
        (False, Fix(1, ("origin()", "caller()"))),
    ],
    "unbounded-loop": [
        (True, """
    state $S3: list<address>;
    pub fn enrol(who: address) { GUARD $S3.push(who); emit $EV(who, 0); }
    pub fn $F1() { GUARD for m in $S3 { $S1[m] += 1; } emit $EV(owner, 0); }"""),
        (True, """
    state rounds: u64;
    pub fn next_round() { GUARD rounds += 1; emit $EV(owner, rounds); }
    pub fn $F1() { GUARD for i in 0..rounds { $S1[owner] += i; } emit $EV(owner, 0); }"""),
        (False, """
    state $S3: list<address>;
    pub fn enrol(who: address) { GUARD $S3.push(who); emit $EV(who, 0); }
    pub fn $F1(start: u32, n: u32) {
        GUARD
        require(n <= 50, "page too long");
        let all = $S3;
        for i in start..start + n { $S1[all[i]] += 1; }
        emit $EV(owner, 0);
    }"""),
        (False, """
    state rounds: u64;
    pub fn next_round() { GUARD rounds += 1; emit $EV(owner, rounds); }
    pub fn $F1(n: u64) {
        GUARD
        require(n <= 50 && n <= rounds, "bad count");
        for i in 0..n { $S1[owner] += i; }
        emit $EV(owner, 0);
    }"""),
    ],
    "block-time-dependence": [
        (True, """
    pub fn $F1(v: u64) {
        require(block_time() < $S2, "closed");
        $S1[caller()] = v;
        emit $EV(caller(), v);
    }"""),
        (True, """
    pub fn $F1(v: u64) {
        let now = block_time();
        if now > $S2 { revert Failed("closed"); }
        $S1[caller()] = v;
        emit $EV(caller(), v);
    }"""),
        (False, Fix(0, ("block_time()", "block_number()"))),
        (False, Fix(1, ("block_time()", "block_number()"))),
    ],
    "weak-randomness": [
        (True, """
    pub fn $F1(n: u64) {
        GUARD
        require(n > 0, "empty");
        $S2 = block_time() % n;
        emit $EV(owner, $S2);
    }"""),
        (True, """
    pub fn $F1(n: u64) {
        GUARD
        require(n > 0, "empty");
        let h = sm3(encode(block_number()));
        $S2 = u64(h[0]) % n;
        emit $EV(owner, $S2);
    }"""),
        (False, Fix(0, ("n: u64)", "n: u64, seed: u64)"), ("block_time() % n", "seed % n"))),
        (False, """
    pub fn $F1(n: u64, seed: bytes) {
        GUARD
        require(n > 0 && seed.len() > 0, "empty");
        let h = sm3(seed);
        $S2 = u64(h[0]) % n;
        emit $EV(owner, $S2);
    }"""),
    ],
    "migrate-uninitialised": [
        (True, """FILE:// corpus contract
contract $C { state $S2: u64; init() { $S2 = 1; } pub view fn get() -> u64 { return $S2; } }
contract ${C}Next upgrades $C {
    state $S2: u64;
    state rate: u64;
    init() { $S2 = 1; rate = 100; }
    pub view fn get() -> u64 { return $S2 * rate; }
}
"""),
        (True, """FILE:// corpus contract
contract $C { state $S2: u64; init() { $S2 = 1; } pub view fn get() -> u64 { return $S2; } }
contract ${C}Next upgrades $C {
    state $S2: u64;
    state rate: u64;
    state epoch: u64;
    init() { $S2 = 1; rate = 100; }
    fn migrate() { epoch = 1; }
    pub view fn get() -> u64 { return $S2 * rate + epoch; }
}
"""),
        (False, """FILE:// corpus contract
contract $C { state $S2: u64; init() { $S2 = 1; } pub view fn get() -> u64 { return $S2; } }
contract ${C}Next upgrades $C {
    state $S2: u64;
    state rate: u64;
    init() { $S2 = 1; rate = 100; }
    fn migrate() { rate = 100; }
    pub view fn get() -> u64 { return $S2 * rate; }
}
"""),
        (False, """FILE:// corpus contract
contract $C { state $S2: u64; init() { $S2 = 1; } pub view fn get() -> u64 { return $S2; } }
contract ${C}Next upgrades $C {
    state $S2: u64;
    state hits: u64;
    init() { $S2 = 1; }
    pub fn hit() { hits += 1; }
    pub view fn get() -> u64 { return $S2 + hits; }
}
"""),
    ],
    "upgrade-rule-weakened": [
        (True, """FILE:// corpus contract
contract $C { upgrade by governance; state $S2: u64; pub view fn get() -> u64 { return $S2; } }
contract ${C}Next upgrades $C {
    state $S2: u64;
    pub view fn get() -> u64 { return $S2 + 1; }
}
"""),
        (True, """FILE:// corpus contract
contract $C {
    upgrade by approvals(2 of [hex"00000000000000000000000000000000000000a1",
                               hex"00000000000000000000000000000000000000a2"]);
    state $S2: u64;
    pub view fn get() -> u64 { return $S2; }
}
contract ${C}Next upgrades $C {
    upgrade by approvals(1 of [hex"00000000000000000000000000000000000000a1"]);
    state $S2: u64;
    pub view fn get() -> u64 { return $S2 + 1; }
}
"""),
        (False, """FILE:// corpus contract
contract $C { upgrade by governance; state $S2: u64; pub view fn get() -> u64 { return $S2; } }
contract ${C}Next upgrades $C {
    upgrade by governance;
    state $S2: u64;
    pub view fn get() -> u64 { return $S2 + 1; }
}
"""),
        (False, """FILE:// corpus contract
contract $C { state $S2: u64; pub view fn get() -> u64 { return $S2; } }
contract ${C}Next upgrades $C {
    upgrade by governance;
    state $S2: u64;
    pub view fn get() -> u64 { return $S2 + 1; }
}
"""),
    ],
    "missing-event": [
        (True, """
    pub fn $F1(v: u64) { GUARD $S2 = v; }"""),
        (True, """
    fn $F3(who: address, v: u64) { $S1[who] = v; }
    pub fn $F1(who: address, v: u64) { GUARD $F3(who, v); }"""),
        (False, """
    pub fn $F1(v: u64) { GUARD $S2 = v; emit $EV(owner, v); }"""),
        (False, """
    fn $F3(who: address, v: u64) { $S1[who] = v; emit $EV(who, v); }
    pub fn $F1(who: address, v: u64) { GUARD $F3(who, v); }"""),
    ],
    "divide-before-multiply": [
        (True, """
    pub view fn $F1(a: u64, b: u64) -> u64 { require(b > 0, "zero"); return a / b * $S2; }"""),
        (True, """
    pub view fn $F1(a: u64, b: u64) -> u64 {
        require(b > 0, "zero");
        let q = a / b;
        return q * $S2;
    }"""),
        (False, """
    pub view fn $F1(a: u64, b: u64) -> u64 { require(b > 0, "zero"); return a * $S2 / b; }"""),
        (False, """
    pub view fn $F1(a: u64, b: u64) -> u64 {
        require(b > 0, "zero");
        let q = a * $S2;
        return q / b;
    }"""),
    ],
    "tautology": [
        (True, """
    pub view fn $F1(v: u64) -> u64 { require(v >= 0, "negative"); return v + $S2; }"""),
        (True, """
    pub view fn $F1(v: u64) -> u64 {
        if v <= 18446744073709551615 { return v; }
        return $S2;
    }"""),
        (True, """
    pub view fn $F1(v: u64) -> u64 { if $S2 == $S2 { return v; } return 0; }"""),
        (False, """
    pub view fn $F1(v: u64) -> u64 { require(v > 0, "zero"); return v + $S2; }"""),
        (False, """
    pub view fn $F1(v: u64) -> u64 { if v < $S2 { return v; } return $S2; }"""),
    ],
    "shadowed-state": [
        (True, """
    pub view fn $F1(x: u64) -> u64 { let $S2 = x * 2; return $S2; }"""),
        (True, """
    pub view fn $F1($S2: u64) -> u64 { return $S2 + 1; }"""),
        (False, """
    pub view fn $F1(x: u64) -> u64 { let twice = x * 2; return twice + $S2; }"""),
        (False, """
    pub view fn $F1(amount: u64) -> u64 { return amount + $S2; }"""),
    ],
    "unused-state": [
        (True, """
    state notes: string;
    pub fn $F1(s: string) { GUARD notes = s; emit $EV(owner, 0); }"""),
        (True, """
    state spare: u64;"""),
        (False, """
    state notes: string;
    pub fn $F1(s: string) { GUARD notes = s; emit $EV(owner, 0); }
    pub view fn get_notes() -> string { return notes; }"""),
        (False, """
    state spare: u64;
    pub view fn get_spare() -> u64 { return spare; }"""),
    ],
    "stale-map-write": [
        (True, """
    pub fn $F1(to: address, amount: u64) {
        let a = $S1[caller()];
        let b = $S1[to];
        require(a >= amount, "low");
        $S1[caller()] = a - amount;
        $S1[to] = b + amount;
        emit $EV(to, amount);
    }"""),
        (True, """
    pub fn $F1(from: address, to: address, amount: u64) {
        GUARD
        let have = $S1[from];
        let get = $S1[to];
        require(have >= amount, "low");
        $S1[from] = have - amount;
        $S1[to] = get + amount;
        emit $EV(to, amount);
    }"""),
        (False, """
    pub fn $F1(to: address, amount: u64) {
        let a = $S1[caller()];
        require(a >= amount, "low");
        $S1[caller()] = a - amount;
        $S1[to] += amount;
        emit $EV(to, amount);
    }"""),
        (False, Fix(0, ("        let a", '        require(caller() != to, "self transfer");\n'
                                         "        let a"))),
    ],
    "narrowing-cast": [
        (True, """
    state small: map<address, u32>;
    pub fn $F1(v: u64) { small[caller()] = v as u32; emit $EV(caller(), v); }
    pub view fn get_small(who: address) -> u32 { return small[who]; }"""),
        (True, """
    pub view fn $F1(v: i64) -> u64 { return u64(v) + $S2; }"""),
        (False, Fix(0, ("{ small[caller()]",
                        '{ require(v <= 4294967295, "too big"); small[caller()]'))),
        (False, """
    pub view fn $F1(v: u32) -> u64 { return u64(v) + $S2; }"""),
    ],
    "unchecked-shift": [
        (True, """
    pub view fn $F1(v: u64, k: u32) -> u64 { return v << k; }"""),
        (True, """
    pub view fn $F1(k: u32) -> u64 { return $S2 << k; }"""),
        (False, """
    pub view fn $F1(v: u64, k: u32) -> u64 { return v >> k; }"""),
        (False, """
    pub view fn $F1() -> u64 { return ($S2 & 255) << 3; }"""),
    ],
    "self-call": [
        (True, """
    pub view fn value() -> u64 { return $S2; }
    pub view fn $F1() -> u64 { return $IF(self_address()).value() + 1; }"""),
        (True, """
    pub view fn value() -> u64 { return $S2; }
    pub view fn $F1() -> u64 { let me = self_address(); return $IF(me).value(); }"""),
        (False, """
    pub view fn value() -> u64 { return $S2; }
    pub view fn $F1() -> u64 { return value() + 1; }"""),
        (False, """
    pub view fn value() -> u64 { return $S2; }
    pub view fn $F1() -> u64 { return $IF(peer).value() + 1; }"""),
    ],
}

# hard cases: code whose truth the detectors' approximations get wrong or nearly wrong
# (variant name -> (the weaknesses it really has, body)); they are in the figures too
HARD: dict[str, tuple[list[str], str]] = {
    "guard-compares-caller-with-wrong-party": (["missing-access-control"], """
    pub fn $F1(v: u64) {
        require(caller() != peer, "not the peer");
        $S2 = v;
        emit $EV(owner, v);
    }"""),
    "public-by-design-cache-refresh": ([], """
    pub fn $F1() { let v = $IF(peer).value(); $S2 = v; emit $EV(caller(), v); }"""),
    "division-in-helper": (["divide-before-multiply"], """
    fn per(a: u64, b: u64) -> u64 { return a / b; }
    pub view fn $F1(a: u64, b: u64) -> u64 { require(b > 0, "zero"); return per(a, b) * $S2; }"""),
    "contradictory-range": (["tautology"], """
    pub view fn $F1(v: u64) -> u64 { if v > 10 && v < 5 { return v; } return $S2; }"""),
    "distinct-keys-by-construction": ([], """
    pub fn $F1(amount: u64) {
        GUARD
        let a = $S1[caller()];
        let b = $S1[self_address()];
        require(a >= amount, "low");
        $S1[caller()] = a - amount;
        $S1[self_address()] = b + amount;
        emit $EV(caller(), amount);
    }"""),
    "cast-bounded-by-modulo": ([], """
    pub view fn $F1(v: u64) -> u8 { return (v % 100) as u8; }"""),
    "randomness-from-caller": (["weak-randomness"], """
    pub fn $F1(n: u64) {
        GUARD
        require(n > 0, "empty");
        let h = sm3(bytes(caller()));
        $S2 = u64(h[0]) % n;
        emit $EV(owner, $S2);
    }"""),
    "nonce-without-event": ([], """
    state nonce: map<address, u64>;
    pub fn $F1() { nonce[caller()] += 1; }
    pub view fn get_nonce(who: address) -> u64 { return nonce[who]; }"""),
    "state-only-read-by-its-own-update": (["unused-state"], """
    state hits: u64;
    pub fn $F1() { GUARD hits += 1; emit $EV(owner, 0); }"""),
    "self-address-kept-in-state": (["self-call"], """
    state me: address;
    pub fn remember() { GUARD me = self_address(); emit $EV(owner, 0); }
    pub view fn value() -> u64 { return $S2; }
    pub view fn $F1() -> u64 { return $IF(me).value() + 1; }"""),
    "failure-flag-checked-after-try": ([], """
    pub fn $F1(amount: u64) {
        GUARD
        let mut failed = false;
        try { require($IF(peer).$M(owner, amount), "refused"); } catch { failed = true; }
        if failed { revert Failed("payment"); }
        emit $EV(owner, amount);
    }"""),
    "result-returned-for-convenience": ([], """
    fn credit(who: address, v: u64) -> u64 { $S1[who] += v; return $S1[who]; }
    pub fn $F1(v: u64) { credit(caller(), v); emit $EV(caller(), v); }"""),
    "origin-equals-caller-check": ([], """
    pub fn $F1(v: u64) {
        require(origin() == caller(), "accounts only");
        $S1[caller()] = v;
        emit $EV(caller(), v);
    }"""),
    "bounded-shift": ([], """
    pub view fn $F1(k: u32) -> u64 { require(k < 8, "too far"); return u64(1) << k; }"""),
}


def render(body: str, names: dict[str, str], filler: bool) -> str:
    body = body.replace("GUARD", GUARD)
    if body.startswith("FILE:"):
        return Template(body.removeprefix("FILE:")).substitute(names)
    full = body + (FILLER if filler else "")
    return Template(SKELETON).substitute(names, BODY=Template(full).substitute(names))


def build() -> tuple[dict[str, str], dict[str, dict[str, object]]]:
    """The corpus: file name -> source, and file name -> its labels."""
    items = []
    for family, variants in FAMILIES.items():
        counts = {True: 0, False: 0}
        for vulnerable, text in variants:
            body = text.apply(variants) if isinstance(text, Fix) else text
            counts[vulnerable] += 1
            variant = f"{'vulnerable' if vulnerable else 'safe'}-{counts[vulnerable]}"
            for k, names in enumerate(NAMES):
                items.append((render(body, names, filler=k == 2), {
                    "family": family, "variant": variant, "names": k,
                    "vulnerabilities": [family] if vulnerable else []}))
    for variant, (truth, body) in HARD.items():
        for k, names in enumerate(NAMES):
            items.append((render(body, names, filler=k == 2), {
                "family": "hard", "variant": variant, "names": k,
                "vulnerabilities": truth}))
    random.Random(SEED).shuffle(items)
    sources, labels = {}, {}
    for i, (source, label) in enumerate(items, 1):
        name = f"c{i:03}.qi"
        sources[name] = source
        labels[name] = label
    return sources, labels


def main() -> None:
    sources, labels = build()
    out = HERE / "contracts"
    out.mkdir(exist_ok=True)
    for old in out.glob("*.qi"):
        old.unlink()
    for name, source in sources.items():
        (out / name).write_text(source)
    (HERE / "manifest.json").write_text(json.dumps({"seed": SEED, "files": labels},
                                                   indent=1, sort_keys=True) + "\n")
    print(f"{len(sources)} contracts in {out}")


if __name__ == "__main__":
    main()
