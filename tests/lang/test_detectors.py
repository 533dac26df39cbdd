"""Each built-in detector of `xinlian qi check` on one contract it must flag and one it must
not (the safe twin differs only in the fix)."""

from __future__ import annotations

import pytest

from xinlian.lang.detect import find_issues
from xinlian.lang.detectors import DETECTORS

IFACE = "interface Bank { fn pay(to: address, amount: u64) -> bool; fn price() -> u64; }\n"

WITHDRAW = IFACE + """
contract C {
    state owed: map<address, u64>;
    state bank: address;
    event Paid(who: address);
    pub fn withdraw() {
        let amount = owed[caller()];
        let ok = Bank(bank).pay(caller(), amount);
        require(ok, "payment failed");
        owed[caller()] = 0;
        emit Paid(caller());
    }
}"""
ORIGIN_FEE = """
contract C {
    state owner: address;
    state fee: u64;
    pub fn set_fee(f: u64) { require(origin() == owner, "owner only"); fee = f; }
    pub view fn get() -> u64 { return fee; }
}"""
ZERO_OWED = "        owed[caller()] = 0;\n"

# detector id -> (vulnerable source, safe source)
CASES: dict[str, tuple[str, str]] = {
    "reentrancy-sync-call": (WITHDRAW, WITHDRAW.replace(ZERO_OWED, "").replace(
        "        let ok", ZERO_OWED + "        let ok")),
    "try-error-swallowed": (IFACE + """
contract C {
    state bank: address;
    state paid: u64;
    pub view fn quote() -> u64 {
        try let p = Bank(bank).price() { return p; } catch e { }
        return 0;
    }
}""", IFACE + """
contract C {
    state bank: address;
    state paid: u64;
    error Unpriced(why: string);
    pub view fn quote() -> u64 {
        try let p = Bank(bank).price() { return p; } catch e { revert Unpriced(e); }
    }
}"""),
    "try-result-unused": (IFACE + """
contract C {
    state bank: address;
    state calls: map<address, u64>;
    error Failed(why: string);
    pub fn pay(to: address) {
        try let ok = Bank(bank).pay(to, 5) { calls[caller()] += 1; } catch e { revert Failed(e); }
    }
}""", IFACE + """
contract C {
    state bank: address;
    state calls: map<address, u64>;
    error Failed(why: string);
    pub fn pay(to: address) {
        try let ok = Bank(bank).pay(to, 5) {
            require(ok, "refused");
            calls[caller()] += 1;
        } catch e { revert Failed(e); }
    }
}"""),
    "unchecked-return": (IFACE + """
contract C {
    state bank: address;
    pub view fn go(to: address) { Bank(bank).pay(to, 1); }
}""", IFACE + """
contract C {
    state bank: address;
    pub view fn go(to: address) { require(Bank(bank).pay(to, 1), "refused"); }
}"""),
    "async-failure-ignored": (IFACE + """
contract C {
    state bank: address;
    state last: u64;
    pub fn ask() { async Bank(bank).price() then got; }
    fn got(p: u64?) { last = p.unwrap_or(0); }
    pub view fn read() -> u64 { return last; }
}""", IFACE + """
contract C {
    state bank: address;
    state last: u64;
    pub fn ask() { async Bank(bank).price() then got; }
    fn got(p: u64?) { if p.is_some() { last = p.unwrap(); } }
    pub view fn read() -> u64 { return last; }
}"""),
    "missing-access-control": ("""
contract C {
    state owner: address;
    state fee: u64;
    init() { owner = caller(); }
    pub fn set_fee(f: u64) { fee = f; }
    pub view fn get() -> u64 { return fee; }
}""", """
contract C {
    state owner: address;
    state fee: u64;
    init() { owner = caller(); }
    pub fn set_fee(f: u64) { require(caller() == owner, "owner only"); fee = f; }
    pub view fn get() -> u64 { return fee; }
}"""),
    "tx-origin-auth": (ORIGIN_FEE, ORIGIN_FEE.replace("origin()", "caller()")),
    "unbounded-loop": ("""
contract C {
    state members: list<address>;
    state credit: map<address, u64>;
    pub fn join() { members.push(caller()); }
    pub fn reward() { for m in members { credit[m] += 1; } }
}""", """
contract C {
    state members: list<address>;
    state credit: map<address, u64>;
    pub fn join() { members.push(caller()); }
    pub fn reward(start: u32, count: u32) {
        let all = members;
        for i in start..start + count { credit[all[i]] += 1; }
    }
}"""),
    "block-time-dependence": ("""
contract C {
    state deadline: u64;
    state bids: map<address, u64>;
    pub fn bid(v: u64) { require(block_time() < deadline, "closed"); bids[caller()] = v; }
}""", """
contract C {
    state deadline: u64;
    state bids: map<address, u64>;
    pub fn bid(v: u64) { require(block_number() < deadline, "closed"); bids[caller()] = v; }
}"""),
    "weak-randomness": ("""
contract C {
    state winner: map<u64, u64>;
    pub fn draw(round: u64, n: u64) {
        require(n > 0, "empty");
        winner[round] += block_time() % n;
    }
}""", """
contract C {
    state winner: map<u64, u64>;
    pub fn draw(round: u64, n: u64, seed: u64) {
        require(n > 0, "empty");
        winner[round] += seed % n;
    }
}"""),
    "migrate-uninitialised": ("""
contract V1 { state count: u64; init() { count = 1; } pub view fn get() -> u64 { return count; } }
contract V2 upgrades V1 {
    state count: u64;
    state step: u64;
    init() { count = 1; step = 10; }
    fn migrate() { count = count; }
    pub view fn get() -> u64 { return count + step; }
}""", """
contract V1 { state count: u64; init() { count = 1; } pub view fn get() -> u64 { return count; } }
contract V2 upgrades V1 {
    state count: u64;
    state step: u64;
    init() { count = 1; step = 10; }
    fn migrate() { step = 10; }
    pub view fn get() -> u64 { return count + step; }
}"""),
    "upgrade-rule-weakened": ("""
contract V1 { upgrade by governance; state n: u64; pub view fn get() -> u64 { return n; } }
contract V2 upgrades V1 {
    upgrade by admin;
    state n: u64;
    pub view fn get() -> u64 { return n; }
}""", """
contract V1 { upgrade by governance; state n: u64; pub view fn get() -> u64 { return n; } }
contract V2 upgrades V1 {
    upgrade by governance;
    state n: u64;
    pub view fn get() -> u64 { return n; }
}"""),
    "missing-event": ("""
contract C {
    state owner: address;
    state fee: u64;
    event FeeSet(fee: u64);
    pub fn set_fee(f: u64) { require(caller() == owner, "owner only"); fee = f; }
    pub view fn get() -> u64 { return fee; }
}""", """
contract C {
    state owner: address;
    state fee: u64;
    event FeeSet(fee: u64);
    pub fn set_fee(f: u64) {
        require(caller() == owner, "owner only");
        fee = f;
        emit FeeSet(f);
    }
    pub view fn get() -> u64 { return fee; }
}"""),
    "divide-before-multiply": ("""
contract C {
    pub view fn share(amount: u64, parts: u64, rate: u64) -> u64 {
        let each = amount / parts;
        return each * rate;
    }
}""", """
contract C {
    pub view fn share(amount: u64, parts: u64, rate: u64) -> u64 {
        return amount * rate / parts;
    }
}"""),
    "tautology": ("""
contract C {
    state total: u64;
    pub view fn check(x: u64) -> bool { require(x >= 0, "negative"); return x < total; }
}""", """
contract C {
    state total: u64;
    pub view fn check(x: u64) -> bool { require(x > 0, "zero"); return x < total; }
}"""),
    "shadowed-state": ("""
contract C {
    state fee: u64;
    pub view fn quote(amount: u64) -> u64 { let fee = amount / 100; return fee; }
}""", """
contract C {
    state fee: u64;
    pub view fn quote(amount: u64) -> u64 { let cut = amount / 100; return cut + fee; }
}"""),
    "unused-state": ("""
contract C {
    state hits: u64;
    state label: string;
    pub fn hit(s: string) { label = s; hits += 1; }
    pub view fn count() -> u64 { return hits; }
}""", """
contract C {
    state hits: u64;
    state label: string;
    pub fn hit(s: string) { label = s; hits += 1; }
    pub view fn count() -> u64 { return hits; }
    pub view fn name() -> string { return label; }
}"""),
    "stale-map-write": ("""
contract C {
    state bal: map<address, u64>;
    pub fn send(to: address, amount: u64) {
        let a = bal[caller()];
        let b = bal[to];
        require(a >= amount, "low");
        bal[caller()] = a - amount;
        bal[to] = b + amount;
    }
}""", """
contract C {
    state bal: map<address, u64>;
    pub fn send(to: address, amount: u64) {
        let a = bal[caller()];
        require(a >= amount, "low");
        bal[caller()] = a - amount;
        bal[to] += amount;
    }
}"""),
    "narrowing-cast": ("""
contract C {
    state small: map<address, u32>;
    pub fn put(v: u64) { small[caller()] = v as u32; }
}""", """
contract C {
    state small: map<address, u32>;
    pub fn put(v: u64) { require(v <= 4294967295, "too big"); small[caller()] = v as u32; }
}"""),
    "unchecked-shift": ("""
contract C {
    pub view fn scale(v: u64, bits: u32) -> u64 { return v << bits; }
}""", """
contract C {
    pub view fn scale(v: u64, bits: u32) -> u64 { return v >> bits; }
}"""),
    "self-call": (IFACE + """
contract C {
    pub view fn price() -> u64 { return 7; }
    pub view fn twice() -> u64 { return Bank(self_address()).price() * 2; }
}""", IFACE + """
contract C {
    pub view fn price() -> u64 { return 7; }
    pub view fn twice() -> u64 { return price() * 2; }
}"""),
}


def _ids(source: str) -> set[str]:
    return {f.detector for f in find_issues(source, "case.qi")}


def test_every_detector_has_a_case_and_at_least_15() -> None:
    assert len(DETECTORS) >= 15
    assert {d.id for d in DETECTORS} == set(CASES)
    assert len({d.id for d in DETECTORS}) == len(DETECTORS)


@pytest.mark.parametrize("detector", sorted(CASES))
def test_true_positive(detector: str) -> None:
    vulnerable, _ = CASES[detector]
    hits = [f for f in find_issues(vulnerable, "case.qi") if f.detector == detector]
    assert hits, f"{detector} missed its vulnerable case"
    lines = vulnerable.splitlines()
    assert all(1 <= f.line <= len(lines) and f.file == "case.qi" for f in hits)


@pytest.mark.parametrize("detector", sorted(CASES))
def test_true_negative(detector: str) -> None:
    _, safe = CASES[detector]
    assert detector not in _ids(safe)
