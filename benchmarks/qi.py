"""Qi toolchain benchmarks: integer loop (Qi/Wasm vs CPython vs EVM on py-evm), call
overhead, peak memory versus state + input, compile time per 1,000 lines, -O2 vs -O0.

Run: `python -m benchmarks.qi` (or `make bench-qi`).
"""

from __future__ import annotations

import time

from benchmarks import fuel, qi_memory
from benchmarks.qi_memory import smallest_memory
from benchmarks.report import best_of, emit
from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source

OPS_PER_ITER = 5  # compare, xor, and, add, add (the loop counter add is not counted)
MIX_OPS_PER_ITER = 7  # compare, mul, mod, xor, shl, shr, add (not the loop counter add)

LOOP_SRC = """
fn sq(x: u64) -> u64 { return x * x; }
fn mix(a: u64, b: u64) -> u64 { return (a ^ b) & 65535; }

contract Bench {
    state k: u64;
    pub view fn mixed(n: u64) -> u64 {
        let mut acc: u64 = 0;
        for i in 0..n {
            acc = mix(acc + sq(i & 255), k + k);
        }
        return acc;
    }
    state items: list<u64>;
    pub fn fill(data: list<u64>) { items = data; }
    pub view fn digest_state(salt: u64) -> u64 {
        let data = items;
        let mut total: u64 = salt;
        for x in data {
            let tmp: list<u64> = [x, x + 1, x + 2, x + 3];
            total = (total + encode(tmp).len() as u64 + tmp[3]) & 1048575;
        }
        return total;
    }
    pub view fn spin(n: u64) -> u64 {
        let mut acc: u64 = 0;
        let mut i: u64 = 0;
        while i < n {
            acc = (acc ^ i) + (i & 255);
            i += 1;
        }
        return acc;
    }
    pub view fn nothing() -> u64 { return 1; }
    pub view fn churn(data: list<u64>) -> u64 {
        let mut total: u64 = 0;
        for round in 0..8 {
            let mut tmp: list<u64> = [];
            for x in data { tmp.push(x ^ round); }
            for x in tmp { total = (total + x) & 1048575; }
        }
        return total;
    }
    pub view fn digest(data: list<u64>) -> u64 {
        let mut total: u64 = 0;
        for x in data {
            let tmp: list<u64> = [x, x + 1, x + 2, x + 3];
            let b = encode(tmp);
            total = (total + b.len() as u64 + tmp[3]) & 1048575;
        }
        return total;
    }
}
"""


def py_loop(n: int) -> int:
    acc = 0
    i = 0
    while i < n:
        acc = ((acc ^ i) + (i & 255)) & 0xFFFFFFFFFFFFFFFF
        i += 1
    return acc


def evm_loop_code(n: int) -> bytes:
    """The same loop as EVM bytecode (stack: n, i, acc)."""
    head = bytes([0x63]) + n.to_bytes(4, "big") + bytes([0x60, 0, 0x60, 0])
    loop = len(head)
    test = bytes([0x5B, 0x82, 0x82, 0x10, 0x15])  # JUMPDEST DUP3 DUP3 LT ISZERO
    body = bytes([0x81, 0x60, 0xFF, 0x16, 0x90, 0x82, 0x18, 0x01,  # acc = (acc ^ i) + (i & 255)
                  0x90, 0x60, 0x01, 0x01, 0x90,  # i += 1
                  0x61]) + loop.to_bytes(2, "big") + bytes([0x56])
    end = len(head) + len(test) + 4 + len(body)
    tail = bytes([0x5B, 0x60, 0, 0x52, 0x60, 32, 0x60, 0, 0xF3])  # return acc
    return head + test + bytes([0x61]) + end.to_bytes(2, "big") + bytes([0x57]) + body + tail


def evm_run(n: int) -> tuple[int, float]:
    from eth import constants
    from eth.chains.base import MiningChain
    from eth.db.atomic import AtomicDB
    from eth.vm.forks.shanghai import ShanghaiVM
    from eth.vm.message import Message

    klass = MiningChain.configure(__name__="Bench", vm_configuration=((0, ShanghaiVM),),
                                  chain_id=1)
    genesis = {"difficulty": 0, "gas_limit": 10**15, "timestamp": 0,
               "coinbase": constants.ZERO_ADDRESS, "extra_data": b"", "nonce": b"\0" * 8,
               "mix_hash": constants.ZERO_HASH32}
    state = klass.from_genesis(AtomicDB(), genesis, {}).get_vm().state
    sender = b"\x01" * 20
    msg = Message(gas=10**12, to=b"\x02" * 20, sender=sender, value=0, data=b"",
                  code=evm_loop_code(n))
    ctx = state.get_transaction_context_class()(gas_price=1, origin=sender)
    t = time.perf_counter()
    comp = state.computation_class.apply_computation(state, msg, ctx)
    dt = time.perf_counter() - t
    assert comp.is_success
    return int.from_bytes(comp.output, "big"), dt


def py_int_mix(n: int) -> int:
    acc = 7
    for i in range(n):
        acc = (((acc * 2654435761) % 1000000007) ^ (i << 3)) + (i >> 2)
    return acc


def mix(ch: LocalChain, addr: bytes, n: int) -> None:
    ch.advance_block()
    assert ch.call(addr, "int_mix", n).ok


def spin(ch: LocalChain, addr: bytes, n: int) -> None:
    """One spin call in a block of its own (the block's fuel cap would refuse the 14th)."""
    ch.advance_block()
    assert ch.call(addr, "spin", n).ok


def main() -> None:
    chains = {}
    for level in (0, 2):
        ch = LocalChain()
        chains[level] = (ch, ch.deploy(compile_source(LOOP_SRC, "bench.qi", opt_level=level)))
    ch, addr = chains[2]

    # 4e7 iterations take 1.5e9 fuel, within the per-transaction cap (MAX_TX_FUEL)
    n_qi = 40_000_000
    check = chains[2][0].call(chains[2][1], "spin", 100_000).value
    assert check == py_loop(100_000), "Qi and Python disagree"
    rates = {}
    for level in (2, 0):
        c, a = chains[level]
        res = c.call(a, "spin", n_qi)
        assert res.ok, res.error
        dt = best_of(7, lambda c=c, a=a: spin(c, a, n_qi))
        rates[level] = n_qi * OPS_PER_ITER / dt
        emit("qi", f"int_loop_ops_per_s_O{level}", rates[level], "ops/s", iterations=n_qi,
             fuel=res.fuel_used)
    emit("qi", "O2_vs_O0_speedup_int_loop", rates[2] / rates[0], "x")
    # the mixed loop of `benchmarks/fuel.py` (its plain code): checked mul, mod, xor,
    # two shifts, checked add and the compare per iteration
    n_mix = 10_000_000
    mix_ch = LocalChain()
    mix_addr = mix_ch.deploy(compile_source(fuel.SRC, "fuel.qi", opt_level=2))
    assert mix_ch.call(mix_addr, "int_mix", 1000).value == py_int_mix(1000), \
        "Qi and Python disagree"
    res = mix_ch.call(mix_addr, "int_mix", n_mix)
    assert res.ok, res.error
    dt = best_of(5, lambda: mix(mix_ch, mix_addr, n_mix))
    emit("qi", "int_mix_ops_per_s_O2", n_mix * MIX_OPS_PER_ITER / dt, "ops/s",
         iterations=n_mix, fuel=res.fuel_used, ops="mul mod xor shl shr add compare")
    # small helper calls and a state variable read twice per iteration
    n_mixed = 1_000  # two state reads per iteration at -O0: 2e3 reads, 1e9 fuel
    mixed = {}
    for level in (2, 0):
        c, a = chains[level]
        mixed[level] = best_of(5, lambda c=c, a=a: c.call(a, "mixed", n_mixed))
    assert chains[0][0].call(chains[0][1], "mixed", 999).value == \
        chains[2][0].call(chains[2][1], "mixed", 999).value
    emit("qi", "O2_vs_O0_speedup_calls_and_state", mixed[0] / mixed[2], "x",
         iterations=n_mixed, note="inlining + state-read caching")

    n_py = 2_000_000
    dt_py = best_of(3, lambda: py_loop(n_py))
    py_rate = n_py * OPS_PER_ITER / dt_py
    emit("qi", "int_loop_ops_per_s_cpython", py_rate, "ops/s", iterations=n_py)

    n_evm = 20_000
    evm_val, dt_evm = evm_run(n_evm)
    assert evm_val == py_loop(n_evm)
    evm_rate = n_evm * OPS_PER_ITER / dt_evm
    emit("qi", "int_loop_ops_per_s_pyevm", evm_rate, "ops/s", iterations=n_evm)
    emit("qi", "qi_vs_cpython", rates[2] / py_rate, "x")
    emit("qi", "qi_vs_pyevm", rates[2] / evm_rate, "x")

    calls = 2000
    ch.advance_block()
    dt_call = best_of(3, lambda: [ch.call(addr, "nothing") for _ in range(calls)])
    emit("qi", "call_overhead", dt_call / calls * 1e6, "us/call",
         note="encode args, new store + instance, run, decode result")

    # peak memory: the smallest memory limit under which the call still succeeds
    data = list(range(20_000))
    input_bytes = 4 + 8 * len(data)
    for method, what in (("digest", "builds and drops 4 small values per element"),
                         ("churn", "keeps a full-size temporary list alive per round")):
        limit = smallest_memory(ch, addr, method, data)
        emit("qi", f"peak_memory_vs_input_{method}", limit / input_bytes, "x",
             limit_bytes=limit, input_bytes=input_bytes, workload=what)
    ch.advance_block()
    assert ch.call(addr, "fill", data).ok
    limit = smallest_memory(ch, addr, "digest_state", 1)
    emit("qi", "peak_memory_vs_state_read_digest_state", limit / input_bytes, "x",
         limit_bytes=limit, state_bytes=input_bytes,
         workload="reads a state list, builds and drops 4 small values per element")
    qi_memory.main()

    body = "\n".join(f"""fn f{i}(a: u64, b: u64) -> u64 {{
    let mut s: u64 = a;
    for j in 0..b {{
        if j % 3 == 0 {{ s += j; }} else {{ s = s ^ j; }}
    }}
    return s;
}}""" for i in range(143))  # 7 lines each: 1,001 lines
    src = "contract C {\n" + body.replace("fn f", "pub fn f") + "\n}\n"
    lines = src.count("\n")
    for level in (0, 2):
        dt = best_of(3, lambda level=level: compile_source(src, "gen.qi", opt_level=level))
        emit("qi", f"compile_ms_per_1000_lines_O{level}", dt * 1000 * 1000 / lines, "ms",
             lines=lines)


if __name__ == "__main__":
    main()
