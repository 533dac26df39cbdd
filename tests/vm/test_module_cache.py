"""The node's caches of compiled modules and decoded code are bounded (least recently used
out first), and a call after its module was evicted recompiles it and behaves the same."""

from __future__ import annotations

import pytest

from xinlian.execution.contracts.world import ArtifactCache
from xinlian.execution.vm.engine import Engine
from xinlian.execution.vm.local import LocalChain
from xinlian.execution.vm.lru import Lru
from xinlian.lang.compiler import Artifact, compile_source


def test_lru_evicts_the_least_recently_used_by_count_and_by_size() -> None:
    lru: Lru[str, bytes] = Lru(2, max_size=10, size=len)
    lru.put("a", b"1234")
    lru.put("b", b"1234")
    assert lru.get("a") == b"1234"  # now b is the least recently used
    lru.put("c", b"1")
    assert "b" not in lru and "a" in lru and "c" in lru and lru.evictions == 1
    lru.put("d", b"123456789")  # 4 + 1 + 9 > 10: a goes
    assert [k for k in "abcd" if k in lru] == ["c", "d"] and lru.size == 10
    lru.put("e", b"x" * 20)  # larger than the bound: kept alone
    assert len(lru) == 1 and lru.get("e") == b"x" * 20
    with pytest.raises(ValueError):
        Lru(0)


def counter(name: str, step: int) -> Artifact:
    return compile_source(f"contract {name} {{ state n: u64; event Bumped(n: u64); "
                          f"pub fn bump() -> u64 {{ n += {step}; emit Bumped(n); return n; }} }}",
                          f"{name}.qi")


def test_a_call_after_eviction_recompiles_and_behaves_the_same() -> None:
    a, b = counter("A", 2), counter("B", 3)
    results, states = [], []
    for engine in (Engine(max_modules=1), Engine()):
        chain = LocalChain(engine=engine)
        ca, cb = chain.deploy(a), chain.deploy(b)
        key = a.code_hash + a.abi_hash
        runs = [chain.call(ca, "bump")]
        loaded = engine.modules.get(key)
        runs.append(chain.call(cb, "bump"))
        if engine.modules.max_items == 1:
            assert key not in engine.modules  # evicted by B's module
        runs.append(chain.call(ca, "bump"))
        assert (engine.modules.get(key) is loaded) == (engine.modules.max_items > 1)
        results.append([(r.value, r.error, r.fuel_used, r.memory_used,
                         [(e.name, e.args) for e in r.events]) for r in runs])
        states.append(dict(chain.state))
    assert results[0] == results[1]
    assert [r[0] for r in results[0]] == [2, 3, 4]
    assert states[0] == states[1]


def test_the_artifact_cache_is_bounded() -> None:
    cache = ArtifactCache(limit=2)
    arts = [counter(f"C{i}", i + 1) for i in range(3)]
    for i, art in enumerate(arts):
        cache.put(bytes([i]) * 32, art)
    assert cache.peek(bytes(32)) is None
    assert cache.peek(bytes([2]) * 32) is arts[2]
