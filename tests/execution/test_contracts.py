"""Contracts on the ledger: deploy, call, upgrade, fund and freeze through the `Executor`,
fees, the block's fuel cap, and every kind of bad input ending in a typed receipt error
with nothing half-applied."""

from __future__ import annotations

import pytest

from xinlian import codec
from xinlian.errors import XinlianError
from xinlian.execution.contracts.records import (
    MAX_ABI_BYTES,
    VersionRecord,
    code_key,
    code_record,
    parse_abi,
    version_key,
)
from xinlian.execution.errors import BadAbi, BadPayload
from xinlian.execution.payloads import (
    Approve,
    Call,
    Deploy,
    FreezeContract,
    Propose,
    UnfreezeContract,
)
from xinlian.execution.vm.engine import MAX_BLOCK_FUEL, MAX_TX_FUEL
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import (
    ArgumentError,
    EntryPointError,
    FrozenError,
    ModuleError,
    OutOfFuelError,
    OutOfMemoryError,
    ReentrancyError,
    RevertError,
    TrapError,
    UpgradeError,
)
from xinlian.lang.types import ADDRESS, BOOL, STRING, IntTy
from xinlian.ledger.errors import BlockFuelFull, FeeTooLow
from xinlian.ledger.transaction import Transaction, TxKind
from xinlian.testing.contracts import (
    SUITE,
    ContractChain,
    abi_bytes,
    compile_example,
    encode_args,
)

TOKEN = compile_example("token.qi")


def code_hash(art: Artifact) -> bytes:
    """Content address of the code: the suite's hash of wasm + canonical ABI."""
    return code_record(SUITE.hash_bytes, art.wasm, art.abi)[0]


@pytest.fixture
def chain() -> ContractChain:
    return ContractChain()


def test_deploy_call_and_query_the_token(chain: ContractChain) -> None:
    before = chain.account(0).balance
    token, receipt = chain.deploy(TOKEN, "T", 1000)
    assert receipt.status == 0 and receipt.output == token
    info = chain.info(token)
    assert info is not None and info.admin == chain.addr(0) and info.version == 1
    assert info.code_hash == code_hash(TOKEN)
    assert chain.state[code_key(info.code_hash)]  # the code record, content-addressed
    assert [e.name for e in receipt.events] == ["Transfer"]
    assert receipt.events[0].source == token.hex()
    # fee: base (system cost + code bytes) + the fuel burned, rounded up
    p = chain.genesis.params
    base = p.system_cost + p.code_byte_cost * len(TOKEN.wasm)
    fuel_fee = -(-receipt.fuel_used * p.fuel_price // 1_000_000)
    assert receipt.fee_paid == base + fuel_fee
    assert chain.account(0).balance == before - receipt.fee_paid
    assert receipt.fuel_used > 0 and receipt.memory_used > 0

    r = chain.call(TOKEN, token, "transfer", chain.addr(1), 30)
    assert r.status == 0 and abi.decode(BOOL, r.output) is True
    assert chain.query(TOKEN, token, "balance_of", chain.addr(1)).value == 30
    assert chain.query(TOKEN, token, "balance_of", chain.addr(0)).value == 970
    assert chain.query(TOKEN, token, "token_name").value == "T"


ECHO = compile_source("""
contract Echo {
    event Noted(indexed who: address, label: string, n: u256);
    pub fn echo(label: string, n: u256) -> string {
        emit Noted(caller(), label, n);
        return label;
    }
    pub fn nothing() {}
}""", "echo.qi")


def test_receipts_carry_the_abi_encoding_of_results_and_event_arguments(
        chain: ContractChain) -> None:
    """The output and the event data are the values' ABI encodings (taken as the code
    encoded them, which decode strictly), and a unit method has no output."""
    echo, _ = chain.deploy(ECHO)
    label, n = "h\u00e9llo \u94fe", 2**200 + 7
    r = chain.call(ECHO, echo, "echo", label, n, sender=1)
    assert r.status == 0 and r.output == abi.encode(STRING, label)
    [event] = r.events
    assert (event.source, event.name) == (echo.hex(), "Noted")
    assert event.data == (abi.encode(ADDRESS, chain.addr(1)) + abi.encode(STRING, label)
                          + abi.encode(IntTy(256, False), n))
    assert chain.query(ECHO, echo, "echo", label, n).value == label
    unit = chain.call(ECHO, echo, "nothing")
    assert unit.status == 0 and unit.output == b"" and unit.events == []


def test_a_failed_call_reverts_its_writes_and_pays_for_its_fuel(chain: ContractChain) -> None:
    token, _ = chain.deploy(TOKEN, "T", 100)
    storage = chain.storage(token)
    before = chain.account(1).balance
    r = chain.call(TOKEN, token, "transfer", chain.addr(2), 5, sender=1)
    assert r.status == RevertError.code and r.error == "revert"
    assert "InsufficientBalance" in r.message and r.trace
    assert r.fuel_used > 0 and r.events == []
    assert chain.storage(token) == storage
    account = chain.account(1)
    assert account.balance == before - r.fee_paid and account.nonce == 1


def test_bad_input_gives_typed_receipt_errors(chain: ContractChain) -> None:
    token, _ = chain.deploy(TOKEN, "T", 100)
    storage = chain.storage(token)
    cases = [
        (Call(token, "transfer", b"\x01\x02", 10**8), ArgumentError),  # bad encoding
        (Call(token, "no_such", b"", 10**8), ArgumentError),
        (Call(token, "init", b"", 10**8), EntryPointError),  # the constructor
        (Call(bytes(20), "transfer", b"", 10**8), ArgumentError),  # not a contract
        (Call(token, "transfer", encode_args(TOKEN, "transfer", chain.addr(1), 1), 10),
         OutOfFuelError),
    ]
    for op, error in cases:
        r = chain.one(0, TxKind.CALL, op)
        assert (r.status, r.error) == (error.code, error.name), (op.method, r)
    assert chain.storage(token) == storage
    r = chain.one(0, TxKind.CALL, b"\x00not a payload")
    assert (r.status, r.fee_paid) == (BadPayload.code, chain.genesis.params.system_cost)


SMALL = compile_source("contract C { }", "c.qi")


GROW = compile_source("contract M { state n: u64; pub fn grow(k: u64) -> u64 { n = k; "
                      "let mut keep: list<bytes> = []; let mut b: bytes = hex\"00\"; "
                      "for i in 0..k { b = b + b; keep.push(b); } return n; } }", "m.qi")


def test_exceeding_the_memory_limit_is_a_typed_error(chain: ContractChain) -> None:
    addr, _ = chain.deploy(GROW)
    storage = chain.storage(addr)
    r = chain.call(GROW, addr, "grow", 40)
    assert (r.status, r.error) == (OutOfMemoryError.code, OutOfMemoryError.name)
    assert r.trace and r.trace[0].startswith("grow") and r.fuel_used > 0
    assert chain.storage(addr) == storage
    assert chain.call(GROW, addr, "grow", 3).status == 0  # the node goes on


def test_invalid_code_or_abi_deploys_nothing(chain: ContractChain) -> None:
    abi_json = TOKEN.abi_json().encode()
    bad: list[tuple[Deploy, type[XinlianError]]] = [
        (Deploy(b"\x00asm junk", abi_json, b"", 10**8), ModuleError),
        (Deploy(TOKEN.wasm, b"{not json", b"", 10**8), BadAbi),
        (Deploy(TOKEN.wasm, abi_bytes({"functions": [{"name": "f", "kind": "fn",
                                                      "params": [{"type": "u7"}]}]}),
                b"", 10**8), BadAbi),
        (Deploy(TOKEN.wasm, abi_json, b"\x05", 10**8), ArgumentError),  # bad init args
    ]
    for op, error in bad:
        keys = set(chain.state)
        r = chain.one(0, TxKind.DEPLOY, op)
        assert (r.status, r.error) == (error.code, error.name)
        assert {k for k in chain.state if k not in keys} == set()  # nothing new in state


def test_an_oversized_abi_is_refused() -> None:
    # a transaction's payload is capped below this; the cap holds for any other path too
    with pytest.raises(BadAbi, match="bytes"):
        parse_abi(b" " * (MAX_ABI_BYTES + 1))


def test_a_panicking_constructor_leaves_no_code_and_no_contract(chain: ContractChain) -> None:
    art = compile_source('contract C { state x: u64; init(v: u64) { x = v; '
                         'require(v > 0, "v"); } }', "c.qi")
    keys = set(chain.state)
    addr, r = chain.deploy(art, 0)
    assert r.status == RevertError.code and r.fuel_used > 0
    assert chain.info(addr) is None
    assert chain.state.get(code_key(code_hash(art))) is None
    assert {k for k in chain.state if k not in keys} == set()
    addr, r = chain.deploy(art, 1)
    assert r.status == 0 and chain.info(addr) is not None


CALLS = """
interface Peer { fn bump(fail: bool) -> u64; fn back(a: address) -> u64; fn again(d: u64) -> u64; }

contract Inner {
    state n: u64;
    error Refused(at: u64);
    pub fn bump(fail: bool) -> u64 { n += 1; if fail { revert Refused(n); } return n; }
    pub fn back(a: address) -> u64 { return Peer(a).bump(false); }
    pub fn again(d: u64) -> u64 { return Peer(self_address()).again(d + 1); }
    pub view fn get() -> u64 { return n; }
}

contract Outer {
    state calls: u64;
    state caught: string;
    pub fn plain(inner: address, fail: bool) -> u64 { calls += 1; return Peer(inner).bump(fail); }
    pub fn guarded(inner: address, fail: bool) -> u64 {
        calls += 1;
        try let v = Peer(inner).bump(fail) { return v; } catch e { caught = e; }
        return 0;
    }
    pub fn bump(fail: bool) -> u64 { calls += 100; return calls; }
    pub fn loop_back(inner: address) -> u64 { calls += 1; return Peer(inner).back(self_address()); }
    pub fn deep(inner: address) -> u64 { return Peer(inner).again(0); }
    pub view fn get_calls() -> u64 { return calls; }
    pub view fn get_caught() -> string { return caught; }
}
"""
INNER = compile_source(CALLS, "calls.qi", contract="Inner")
OUTER = compile_source(CALLS, "calls.qi", contract="Outer")


def test_cross_contract_calls_over_chain_state(chain: ContractChain) -> None:
    inner, _ = chain.deploy(INNER)
    outer, _ = chain.deploy(OUTER)
    assert chain.call(OUTER, outer, "plain", inner, False).status == 0
    r = chain.call(OUTER, outer, "plain", inner, True)
    assert r.error == "revert" and "Refused" in r.message
    assert chain.query(OUTER, outer, "get_calls").value == 1  # both sides rolled back
    assert chain.query(INNER, inner, "get").value == 1
    # try/catch: only the callee is rolled back
    assert chain.call(OUTER, outer, "guarded", inner, True).status == 0
    assert chain.query(OUTER, outer, "get_caught").value == "Refused"
    assert chain.query(OUTER, outer, "get_calls").value == 2
    assert chain.query(INNER, inner, "get").value == 1
    # the depth limit
    r = chain.call(OUTER, outer, "deep", inner, fuel=MAX_TX_FUEL)
    assert r.error == TrapError.name and "depth" in r.message


def test_a_callee_may_not_call_back_into_its_caller(chain: ContractChain) -> None:
    inner, _ = chain.deploy(INNER)
    outer, _ = chain.deploy(OUTER)
    r = chain.call(OUTER, outer, "loop_back", inner)
    assert (r.status, r.error) == (ReentrancyError.code, ReentrancyError.name)
    assert chain.query(OUTER, outer, "get_calls").value == 0
    # a contract calling itself is not re-entry (Inner.again recurses to the depth limit)
    assert chain.call(INNER, inner, "again", 0, fuel=MAX_TX_FUEL).error == TrapError.name


V1 = compile_example("upgradeable.qi", "CounterV1")
V2 = compile_example("upgradeable.qi", "CounterV2")


def test_upgrade_by_the_admin_migrates_and_keeps_every_version(chain: ContractChain) -> None:
    counter, _ = chain.deploy(V1)
    chain.call(V1, counter, "increment")
    r = chain.upgrade(V2, counter, sender=1)  # not the admin
    assert (r.status, r.error) == (UpgradeError.code, UpgradeError.name)
    bad = compile_source("contract B { state owner: address; state count: u64; "
                         "pub fn f() {} }", "b.qi")
    r = chain.upgrade(bad, counter)  # reordered layout
    assert r.error == UpgradeError.name and "layout" in r.message
    info = chain.info(counter)
    assert info is not None and info.version == 1
    r = chain.upgrade(V2, counter)
    assert r.status == 0
    info = chain.info(counter)
    assert info is not None and info.version == 2
    assert info.code_hash == code_hash(V2)
    assert chain.query(V2, counter, "get_step").value == 10  # migrate ran
    assert chain.query(V2, counter, "get").value == 1  # storage kept
    versions = [codec.decode(chain.state[version_key(counter, v)], VersionRecord)
                for v in (1, 2)]
    assert [v.code_hash for v in versions] == [code_hash(V1), code_hash(V2)]
    assert chain.state.get(code_key(versions[0].code_hash))  # the old code stays readable


def test_a_failed_migrate_leaves_the_old_code(chain: ContractChain) -> None:
    v1 = compile_source("contract A { state n: u64; pub view fn get() -> u64 { return n; } }",
                        "a.qi")
    v2 = compile_source("contract B { state n: u64; fn migrate() { n = 5; "
                        'require(false, "no"); } pub view fn get() -> u64 { return n; } }',
                        "b.qi")
    addr, _ = chain.deploy(v1)
    before = chain.info(addr)
    r = chain.upgrade(v2, addr)
    assert r.error == RevertError.name
    assert chain.info(addr) == before
    assert chain.state.get(version_key(addr, 2)) is None
    assert chain.query(v1, addr, "get").value == 0


def test_fund_moves_balance_into_the_contract(chain: ContractChain) -> None:
    token, _ = chain.deploy(TOKEN, "T", 1)
    before = chain.account(0).balance
    r = chain.fund(token, 500)
    assert r.status == 0
    info = chain.info(token)
    assert info is not None and info.balance == 500
    assert chain.account(0).balance == before - 500 - r.fee_paid
    assert chain.fund(bytes(20), 5).error == "invalid_operation"
    assert chain.fund(token, -1).error == "bad_payload"


FORWARD = compile_source("interface T { fn transfer(to: address, amount: u256) -> bool; "
                         "fn approve(spender: address, amount: u256); }\n"
                         "contract F { fn done(ok: bool) { } "
                         "pub fn forward(t: address, to: address) -> bool { "
                         "return T(t).transfer(to, 1); } "
                         "pub fn later(t: address, to: address) { "
                         "async T(t).approve(to, 1) then done; } }", "f.qi")


def test_governance_freezes_and_unfreezes_a_contract(chain: ContractChain) -> None:
    token, _ = chain.deploy(TOKEN, "T", 100)
    r = chain.system(0, Propose(FreezeContract(token)))
    assert r.status == 0
    for org in (1, 2):
        assert chain.system(org, Approve(r.tx_hash)).status == 0
    info = chain.info(token)
    assert info is not None and info.frozen
    r = chain.call(TOKEN, token, "transfer", chain.addr(1), 1)
    assert (r.status, r.error) == (FrozenError.code, FrozenError.name)
    caller, _ = chain.deploy(FORWARD)
    r = chain.call(FORWARD, caller, "forward", token, chain.addr(1))  # a nested call too
    assert (r.status, r.error) == (FrozenError.code, FrozenError.name)
    assert chain.query(TOKEN, token, "balance_of", chain.addr(0)).error is not None
    assert chain.upgrade(TOKEN, token).error == FrozenError.name
    r = chain.system(0, Propose(UnfreezeContract(token)))
    for org in (1, 2):
        chain.system(org, Approve(r.tx_hash))
    assert chain.call(TOKEN, token, "transfer", chain.addr(1), 1).status == 0


SPIN = compile_source("contract S { pub fn spin() { while true {} } }", "s.qi")


def test_block_fuel_cap_leaves_what_does_not_fit_for_the_next_block(
        chain: ContractChain) -> None:
    spin, _ = chain.deploy(SPIN)
    fill = MAX_BLOCK_FUEL // MAX_TX_FUEL
    raws = [chain.raw(0, TxKind.CALL, Call(spin, "spin", b"", MAX_TX_FUEL))
            for _ in range(fill)]
    late = chain.raw(1, TxKind.CALL, Call(spin, "spin", b"", 1))
    pool = chain.mempool()
    checked = pool.precheck([*raws, late])
    txs = [t for t in checked if isinstance(t, Transaction)]
    assert len(txs) == fill + 1 and pool.admit(txs, [True] * len(txs)) == [None] * len(txs)
    result = chain.block([*raws, late], pool=pool)
    assert [r.error for r in result.receipts] == [OutOfFuelError.name] * fill
    assert result.fuel_used == MAX_BLOCK_FUEL
    [(tx, error)] = result.excluded
    assert isinstance(error, BlockFuelFull) and tx.raw == late
    assert pool.get(tx.hash) is not None  # it waits for the next block
    result = chain.block([late], pool=pool)
    assert result.receipts[0].error == OutOfFuelError.name


def test_the_fee_limit_must_cover_the_fuel_limit(chain: ContractChain) -> None:
    token, _ = chain.deploy(TOKEN, "T", 100)
    params = chain.genesis.params
    fuel = 10**8
    need = params.system_cost + -(-fuel * params.fuel_price // 1_000_000)
    raw = chain.raw(0, TxKind.CALL, Call(token, "total_supply", b"", fuel), fee=need - 1)
    [(_, error)] = chain.block([raw]).excluded
    assert isinstance(error, FeeTooLow)
    chain.nonces[0] -= 1
    raw = chain.raw(0, TxKind.CALL, Call(token, "total_supply", b"", fuel), fee=need)
    result = chain.block([raw])
    assert result.receipts[0].status == 0
    assert abi.decode(IntTy(256, False), result.receipts[0].output) == 100
