"""A run's index entries: what the token example's ABI asks for, from the events and
storage writes of real runs of the engine, and through the ledger's executor."""

from __future__ import annotations

from pathlib import Path

from xinlian.execution.indexing import IndexSpec, event_entries, state_entries
from xinlian.execution.payloads import Call, Transfer
from xinlian.execution.vm.host import Event as HostEvent
from xinlian.execution.vm.local import DEFAULT_SENDER, LocalChain
from xinlian.lang import abi, indexkeys
from xinlian.lang.compiler import compile_source
from xinlian.ledger.block import Event
from xinlian.ledger.transaction import TxKind
from xinlian.testing.contracts import FUEL, ContractChain, encode_args

TOKEN = Path(__file__).resolve().parents[2] / "examples" / "qi" / "token.qi"
ART = compile_source(TOKEN.read_text(), "token.qi")
SPEC = IndexSpec.from_abi(ART.abi)
ADDRESS = abi.type_from_json("address")
U256 = abi.type_from_json("u256")


def _ledger_events(contract: bytes, events: list[HostEvent]) -> list[Event]:
    """Engine events as receipts carry them: the ABI-encoded arguments."""
    out = []
    for e in events:
        params = next(x for x in ART.abi["events"] if x["name"] == e.name)["params"]
        data = b"".join(abi.encode(abi.type_from_json(p["type"]), e.args[p["name"]])
                        for p in params)
        out.append(Event(contract.hex(), e.name, data))
    return out


def test_token_events_are_indexed_by_from_to_and_position() -> None:
    chain = LocalChain()
    token = chain.deploy(ART, "Qi", 1000)
    bob = bytes(19) + b"\xb0"
    result = chain.call(token, "transfer", bob, 30)
    assert result.ok
    events = [Event("transfer", "fee", b""), *_ledger_events(token, result.events)]
    entries = event_entries(lambda c: SPEC if c == token else None, 12, 3, events)
    position = indexkeys.event_position(12, 3, 1)  # the fee event takes index 0
    by_to = indexkeys.event_index(token, "Transfer", "to") + bob + position
    assert set(entries) == {
        indexkeys.event_index(token, "Transfer") + position,
        indexkeys.event_index(token, "Transfer", "from") + DEFAULT_SENDER + position,
        by_to}
    assert abi.decode_many([ADDRESS, ADDRESS, U256], entries[by_to]) == [DEFAULT_SENDER, bob, 30]
    assert event_entries(lambda c: None, 12, 3, events) == {}


def test_indexed_state_writes_are_keyed_by_map_key() -> None:
    token = bytes(19) + b"\x07"
    slot = next(s for s in ART.abi["storage"] if s["name"] == "balances")["slot"]
    alice = bytes(19) + b"\xa1"
    key = abi.slot_prefix(slot) + abi.encode(ADDRESS, alice)
    total = next(s for s in ART.abi["storage"] if s["name"] == "total")["slot"]
    writes = [(token, key, abi.encode(U256, 5)), (token, abi.slot_prefix(total), b"x"),
              (token, key + b"junk", b"y"), (token, abi.slot_prefix(slot) + alice, None)]
    entries = state_entries(lambda c: SPEC, 4, 1, writes)
    base = indexkeys.state_index(token, "balances") + alice + indexkeys.state_position(4, 1)
    # the last write of a key in a run wins; `total` is not indexed; junk keys are skipped
    assert entries == {base: indexkeys.STATE_DELETED}
    assert state_entries(lambda c: SPEC, 4, 1, writes[:1]) == {
        base: indexkeys.STATE_SET + abi.encode(U256, 5)}


def test_the_executor_indexes_successful_runs_only() -> None:
    chain = ContractChain()
    token, deployed = chain.deploy(ART, "Qi", 1000)
    bob, owner = chain.addr(1), chain.addr(0)
    assert deployed.status == 0
    args = encode_args(ART, "transfer", bob, 30)
    fails = encode_args(ART, "transfer", bob, 10**9)
    result = chain.block([chain.raw(0, TxKind.CALL, Call(token, "transfer", args, FUEL)),
                          chain.raw(0, TxKind.CALL, Call(token, "transfer", fails, FUEL))])
    assert [r.status == 0 for r in result.receipts] == [True, False]
    height = chain.height
    position = indexkeys.event_position(height, 0, 0)
    balances = indexkeys.state_index(token, "balances")
    written = indexkeys.state_position(height, 0)
    assert set(result.index) == {
        indexkeys.event_index(token, "Transfer") + position,
        indexkeys.event_index(token, "Transfer", "from") + owner + position,
        indexkeys.event_index(token, "Transfer", "to") + bob + position,
        balances + owner + written, balances + bob + written}
    assert result.index[balances + bob + written] == indexkeys.STATE_SET + abi.encode(U256, 30)
    # a block of transfers only (no contract run) adds nothing
    assert chain.block([chain.raw(1, TxKind.TRANSFER, Transfer(owner, 1))]).index == {}


_ENGINE_RUNS = """
interface Svc { fn value(x: u64) -> u64; }
contract Watcher {
    indexed state seen: map<u64, u64>;
    event Seen(indexed x: u64, by: string);
    pub fn ask(svc: address, x: u64) { async Svc(svc).value(x) then on_value; }
    fn on_value(v: u64?) {
        let x = v.unwrap_or(0);
        seen[x] += 1;
        emit Seen(x, "callback");
    }
    pub fn mark(x: u64) { seen[x] += 10; emit Seen(x, "tx"); }
    fn tick() every 2 blocks { seen[7] += 100; emit Seen(7, "tick"); }
}
contract Svc {
    pub fn value(x: u64) -> u64 { return x; }
}
"""
WATCHER = compile_source(_ENGINE_RUNS, "watcher.qi", contract="Watcher")
SVC = compile_source(_ENGINE_RUNS, "watcher.qi", contract="Svc")
U64 = abi.type_from_json("u64")


def test_engine_runs_are_indexed_before_the_block_s_transactions() -> None:
    """A callback's and a scheduled run's events and indexed writes are entries like a
    transaction's, at their engine-run positions, which sort before the transactions of
    the same block (they run first)."""
    chain = ContractChain()
    watcher, deployed = chain.deploy(WATCHER)
    svc, _ = chain.deploy(SVC)
    assert deployed.status == 0 and chain.fund(watcher, 10**9).status == 0
    while chain.height % 2 == 1:  # the request's delivery and a tick share the next block
        chain.block([])
    assert chain.call(WATCHER, watcher, "ask", svc, 7).status == 0
    mark = chain.raw(0, TxKind.CALL, Call(watcher, "mark", encode_args(WATCHER, "mark", 7),
                                          FUEL))
    result = chain.block([mark])  # even: the delivery, its callback, the tick, then `mark`
    height = chain.height
    assert height % 2 == 0 and [r.status for r in result.runs] == [0, 0, 0]
    by_x = indexkeys.event_index(watcher, "Seen", "x") + indexkeys.value_key(U64, 7)
    entries = {k: v for k, v in result.index.items() if v is not None}
    seen = [(k, abi.decode_many([U64, abi.type_from_json("string")], v)[1])
            for k, v in sorted(entries.items()) if k.startswith(by_x)]
    assert [(indexkeys.read_position(k, indexkeys.EVENT_KIND), by) for k, by in seen] == [
        ((height, True, 1, 0), "callback"), ((height, True, 2, 0), "tick"),
        ((height, False, 0, 0), "tx")]
    writes = indexkeys.state_index(watcher, "seen") + indexkeys.value_key(U64, 7)
    history = [(indexkeys.read_position(k, indexkeys.STATE_KIND), abi.decode(U64, v[1:]))
               for k, v in sorted(entries.items()) if k.startswith(writes)]
    first = history[0][1]  # earlier ticks added their 100s already
    assert history == [((height, True, 1, 0), first), ((height, True, 2, 0), first + 100),
                       ((height, False, 0, 0), first + 110)]
