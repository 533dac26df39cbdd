"""Language semantics, checked at every optimisation level against expected values."""

from __future__ import annotations

import pytest

from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source

SRC = """
enum Dir { North, East, South, West }
struct Acc { total: u64, seen: list<u64> }

fn triple(x: u64) -> u64 { return x * 3; }

contract S {
    state counter: u64;
    state log: list<u64>;
    state accs: map<u8, Acc>;
    state hits: map<u64, u64>;
    state key_calls: u64;

    fn key() -> u64 { key_calls += 1; return 7; }
    pub fn compound_keys_once() -> list<u64> {
        hits[key()] += 5;
        let mut l: list<u64> = [1, 2, 3];
        l[(key() - 6) as u32] *= 10;
        return [hits[7], key_calls, l[1]];
    }

    pub view fn loops(n: u64) -> u64 {
        let mut s: u64 = 0;
        let mut i: u64 = 0;
        while true {
            i += 1;
            if i > n { break; }
            if i % 2 == 0 { continue; }
            for j in 0..i {
                if j == 3 { break; }
                if j == 1 { continue; }
                s += j * 100 + i;
            }
        }
        return s;
    }
    pub view fn short_circuit(l: list<u64>) -> bool {
        let a = l.len() > 5 && l[5] > 0;
        let b = l.len() == 0 || l[0] == 7;
        return !a && b;
    }
    pub view fn small_ints(a: i8, b: i8) -> list<i64> {
        return [(a + b) as i64, (a - b) as i64, (a * b) as i64, (a / b) as i64,
                (a % b) as i64];
    }
    pub view fn shifts(a: i32, b: u16) -> list<i64> {
        return [(a >> 3) as i64, (a << 4) as i64, (b << 12) as i64, (b >> 20) as i64];
    }
    pub view fn u128s(a: u128, b: u128) -> list<u128> {
        return [a + b, a * 2, a / b, a % b];
    }
    pub view fn wide_compare(a: i256, b: i256) -> list<bool> {
        return [a < b, a <= b, a > b, a >= b, a == b, a != b];
    }
    pub view fn dirs(d: Dir) -> u8 {
        if d == Dir::West { return 99; }
        return d as u8;
    }
    pub fn compound(v: u64) -> u64 {
        counter = v;
        counter *= 6;
        counter -= 4;
        counter /= 2;
        counter %= 7;
        counter += triple(counter);
        return counter;
    }
    pub fn state_struct(k: u8, v: u64) -> Acc {
        accs[k].total += v;
        accs[k].seen.push(v);
        log.push(v);
        return accs[k];
    }
    pub view fn log_sum() -> u64 {
        let mut s: u64 = 0;
        for x in log { s += x; }
        return s;
    }
    pub fn pops() -> list<u64> {
        let mut l: list<u64> = [1, 2, 3];
        let last = l.pop();
        l.push(last * 10);
        l[0] = 5;
        return l;
    }
    pub view fn strings(a: string, b: bytes) -> list<bool> {
        let c = a + "!";
        return [c == "hi!", c.len() == 3, bytes(a) == b, b[0] == 104];
    }
    pub view fn equality(a: Acc, b: Acc, x: list<Dir?>, y: list<Dir?>) -> list<bool> {
        let pair: [u64; 2] = [a.total, b.total];
        return [a == b, a != b, x == y, pair == [a.total, b.total]];
    }
    pub view fn word_counts(words: list<string>) -> list<u64> {
        let mut m: map<string, u64> = {};
        for w in words { m[w] += 1; }
        return [m["a"], m["b"], m["zzz"], m.len() as u64];
    }
    pub view fn big_map(n: u64) -> u64 {
        let m: map<u64, u64> = {};
        for i in 0..n { m[i * 7] = i; }
        let mut s: u64 = 0;
        for i in 0..n { if m.contains(i * 7) && !m.contains(i * 7 + 1) { s += m[i * 7]; } }
        return s + m.len() as u64;
    }
    pub view fn map_entries() -> list<u64> {
        let m: map<Dir, Acc> = {};
        m[Dir::East].total += 5;
        m[Dir::East].seen.push(9);
        let g: map<u8, map<u8, u64>> = {};
        g[1][2] = 5;
        g[1][3] += 2;
        let peek = g[2][2];
        let mut key_sum: u64 = 0;
        for k in g[1].keys() { key_sum += k as u64; }
        for v in g[1].values() { key_sum += v * 100; }
        return [m[Dir::East].total, m[Dir::East].seen[0], m.len() as u64, g[1][2] + g[1][3],
                peek, g.len() as u64, key_sum];
    }
    pub view fn text(a: i64, b: u64, c: i8, raw: bytes) -> list<string> {
        let part = raw.slice(1, 3);
        return [a.to_string() + "," + b.to_string() + "," + c.to_string(),
                part.len().to_string()];
    }
    pub view fn bad_slice(raw: bytes) -> bytes { return raw.slice(2, 1); }
    pub view fn nested(n: u32) -> list<list<u32>> {
        let mut out: list<list<u32>> = [];
        for i in 0..n {
            let mut row: list<u32> = [];
            for j in 0..i { row.push(j); }
            out.push(row);
        }
        return out;
    }
}
"""

CASES = [
    ("loops", [7], sum(j * 100 + i for i in range(1, 8, 2) for j in range(min(i, 3)) if j != 1)),
    ("short_circuit", [[]], True),
    ("short_circuit", [[7, 1]], True),
    ("short_circuit", [[1, 2, 3, 4, 5, 6]], False),
    ("small_ints", [-7, 2], [-5, -9, -14, -3, -1]),
    ("small_ints", [100, -1], [99, 101, -100, -100, 0]),
    ("shifts", [-64, 0xFFFF], [-8, -1024, 0xF000, 0]),
    ("u128s", [2**127 - 1, 10], [2**127 + 9, 2**128 - 2, (2**127 - 1) // 10, (2**127 - 1) % 10]),
    ("wide_compare", [-(2**200), 5], [True, True, False, False, False, True]),
    ("wide_compare", [7, 7], [False, True, False, True, True, False]),
    ("dirs", ["South"], 2),
    ("dirs", ["West"], 99),
    ("pops", [], [5, 2, 30]),
    ("strings", ["hi", b"hi"], [True, True, True, True]),
    ("nested", [4], [[], [0], [0, 1], [0, 1, 2]]),
    ("text", [-(2**63), 2**64 - 1, -128, b"hello"],
     [f"{-(2**63)},{2**64 - 1},-128", "2"]),
    ("text", [0, 10, 7, b"abc"], ["0,10,7", "2"]),
    ("word_counts", [["a", "b", "a", "c", "a"]], [3, 1, 0, 3]),
    ("big_map", [3000], sum(range(3000)) + 3000),
    ("map_entries", [], [5, 9, 1, 7, 0, 1, 2 + 3 + 700]),
    ("equality", [{"total": 1, "seen": [1, 2]}, {"total": 1, "seen": [1, 2]},
                  ["East", None], ["East", None]], [True, False, True, True]),
    ("equality", [{"total": 1, "seen": [1, 2]}, {"total": 1, "seen": [1]},
                  ["East", None], ["East", "West"]], [False, True, False, True]),
]


@pytest.fixture(scope="module", params=[0, 1, 2])
def deployed(request: pytest.FixtureRequest) -> tuple[LocalChain, bytes]:
    ch = LocalChain()
    return ch, ch.deploy(compile_source(SRC, "sem.qi", opt_level=request.param))


@pytest.mark.parametrize(("method", "args", "want"), CASES)
def test_value(deployed, method, args, want) -> None:
    ch, addr = deployed
    r = ch.call(addr, method, *args)
    assert r.error is None, r.error
    assert r.value == want


def test_overflowing_small_ints(deployed) -> None:
    ch, addr = deployed
    assert "out of bounds" in ch.call(addr, "bad_slice", b"abcd").error.message
    assert "overflow" in ch.call(addr, "small_ints", -128, -1).error.message
    assert "overflow" in ch.call(addr, "small_ints", 100, 100).error.message


def test_state_sequences(deployed) -> None:
    ch, addr = deployed
    assert ch.call(addr, "compound_keys_once").value == [5, 2, 20]
    v = 11
    c = (v * 6 - 4) // 2 % 7
    assert ch.call(addr, "compound", v).value == c + 3 * c
    assert ch.call(addr, "state_struct", 1, 5).value == {"total": 5, "seen": [5]}
    assert ch.call(addr, "state_struct", 1, 7).value == {"total": 12, "seen": [5, 7]}
    assert ch.call(addr, "state_struct", 2, 1).value == {"total": 1, "seen": [1]}
    assert ch.call(addr, "log_sum").value == 13
