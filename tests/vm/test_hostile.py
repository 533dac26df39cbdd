"""Untrusted input never escapes as anything but a typed error: random argument bytes for
every method, and randomly damaged modules (which may still validate and then call host
functions with arbitrary values)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import EngineError

TOKEN = Path(__file__).resolve().parents[2] / "examples" / "qi" / "token.qi"
ART = compile_source(TOKEN.read_text(), "token.qi")
CHAIN = LocalChain()
ADDR = CHAIN.deploy(ART, "T", 1000)
METHODS = [f["name"] for f in ART.abi["functions"]]
VALID_ARGS: dict[str, list[object]] = {
    "total_supply": [], "token_name": [], "balance_of": [bytes(20)],
    "transfer": [bytes(20), 1], "approve": [bytes(20), 5], "mint": [bytes(20), 5]}


@settings(max_examples=200)
@given(st.sampled_from(METHODS), st.binary(max_size=80))
def test_random_argument_bytes(method: str, payload: bytes) -> None:
    r = CHAIN.engine.call_raw(CHAIN.world, ADDR, method, payload, bytes(20), fuel=10**7)
    assert r.error is None or isinstance(r.error, EngineError)


@settings(max_examples=60)
@given(st.integers(8, len(ART.wasm) - 1), st.binary(min_size=1, max_size=4),
       st.sampled_from(sorted(VALID_ARGS)))
def test_damaged_modules(at: int, junk: bytes, method: str) -> None:
    wasm = ART.wasm[:at] + junk + ART.wasm[at + len(junk):]
    chain = LocalChain(engine=CHAIN.engine)
    chain.world.code[ADDR] = Artifact(wasm, ART.abi, ART.source_map, "token.qi")
    try:
        chain.engine.load(chain.world.code[ADDR])
    except EngineError:
        return
    r = chain.engine.call(chain.world, ADDR, method, VALID_ARGS[method], bytes(20),
                          fuel=10**7)
    assert r.error is None or isinstance(r.error, EngineError)
