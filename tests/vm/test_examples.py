"""Every example contract compiles at every level and behaves as its comments say."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.execution.vm.local import DEFAULT_SENDER, LocalChain
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import RevertError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qi"
ALICE = DEFAULT_SENDER
BOB = bytes(19) + b"\xb0"
CAROL = bytes(19) + b"\xc0"


def build(name: str, contract: str | None = None, opt: int = 2) -> Artifact:
    path = EXAMPLES / name
    return compile_source(path.read_text(), str(path), opt_level=opt, contract=contract)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.qi")), ids=lambda p: p.name)
@pytest.mark.parametrize("opt", [0, 1, 2])
def test_every_example_compiles_deterministically(path: Path, opt: int) -> None:
    a = compile_source(path.read_text(), str(path), opt_level=opt)
    b = compile_source(path.read_text(), str(path), opt_level=opt)
    assert a.wasm == b.wasm and a.abi == b.abi
    LocalChain().engine.load(a)  # wasmtime validates the module


@pytest.mark.parametrize("opt", [0, 2])
def test_token(opt: int) -> None:
    ch = LocalChain()
    t = ch.deploy(build("token.qi", opt=opt), "Qi", 10**30)
    assert ch.call(t, "transfer", BOB, 10**29).value is True
    assert ch.call(t, "balance_of", BOB).value == 10**29
    assert ch.call(t, "balance_of", ALICE).value == 9 * 10**29
    r = ch.call(t, "transfer", CAROL, 1, sender=BOB + b"")
    assert r.ok
    r = ch.call(t, "transfer", ALICE, 10**30, sender=CAROL)
    assert isinstance(r.error, RevertError)
    assert r.error.error_name == "InsufficientBalance" and r.error.args_ == [1, 10**30]
    assert ch.call(t, "balance_of", CAROL).value == 1  # failed call changed nothing
    ch.call(t, "approve", BOB, 500)
    assert ch.call(t, "transfer_from", ALICE, CAROL, 200, sender=BOB).ok
    assert ch.call(t, "allowance", ALICE, BOB).value == 300
    r = ch.call(t, "transfer_from", ALICE, CAROL, 301, sender=BOB)
    assert r.error.error_name == "InsufficientAllowance"  # type: ignore[union-attr]
    assert ch.call(t, "mint", BOB, 5, sender=BOB).error.error_name == "NotOwner"  # type: ignore
    transfers = [e for e in ch.log if e.name == "Transfer"]
    assert transfers[1].indexed == {"from": ALICE, "to": BOB}
    assert transfers[1].args["amount"] == 10**29


def test_token_abi_declares_access_and_layout() -> None:
    art = build("token.qi")
    fns = {f["name"]: f for f in art.abi["functions"]}
    assert fns["transfer"]["access"] == {"reads": ["balances"], "writes": ["balances"],
                                         "declared": True, "external_calls": False}
    assert fns["balance_of"]["view"] is True
    assert [s["name"] for s in art.abi["storage"]] == [
        "name", "total", "owner", "balances", "allowances"]
    assert art.abi["storage"][3]["indexed"] is True
    ev = art.abi["events"][0]
    assert ev["name"] == "Transfer" and [p["indexed"] for p in ev["params"]] == [
        True, True, False]


def test_voting() -> None:
    ch = LocalChain()
    v = ch.deploy(build("voting.qi"), ["tea", "coffee", "water"])
    assert ch.call(v, "vote", 1, sender=BOB).ok
    assert ch.call(v, "vote", 1, sender=CAROL).ok
    assert ch.call(v, "vote", 0).ok
    assert ch.call(v, "vote", 2, sender=BOB).error.error_name == "AlreadyVoted"  # type: ignore
    assert ch.call(v, "vote", 7, sender=bytes(20)).error.args_ == [7]  # type: ignore
    assert ch.call(v, "winner").value == "coffee"
    assert ch.call(v, "tally").value[1] == {"title": "coffee", "votes": 2}
    assert ch.call(v, "close", sender=BOB).error.args_ == ["only the chair can close"]  # type: ignore
    assert ch.call(v, "close").ok
    assert ch.call(v, "vote", 0, sender=bytes(20)).error.error_name == "BallotClosed"  # type: ignore


def test_escrow() -> None:
    ch = LocalChain()
    e = ch.deploy(build("escrow.qi"), BOB, CAROL, 1000)
    assert ch.call(e, "confirm_delivery").error.args_ == [  # type: ignore[union-attr]
        "AwaitingDelivery", "AwaitingDeposit"]
    assert ch.call(e, "deposit", 999).error.args_ == ["deposit must equal the price"]  # type: ignore
    assert ch.call(e, "deposit", 1000).ok
    assert ch.call(e, "refund").error.error_name == "NotAllowed"  # type: ignore[union-attr]
    assert ch.call(e, "refund", sender=CAROL).ok
    assert ch.call(e, "current_state").value == "Refunded"
    assert ch.log[-1].args == {"to": ALICE, "amount": 1000}


def test_registry() -> None:
    ch = LocalChain()
    r = ch.deploy(build("registry.qi"))
    assert ch.call(r, "register", "alice.qi", b"\x01\x02").ok
    assert ch.call(r, "register", "alice.qi", b"", sender=BOB).error.error_name == "Taken"  # type: ignore
    assert ch.call(r, "resolve", "alice.qi").value == b"\x01\x02"
    assert ch.call(r, "resolve", "nobody").value is None
    assert ch.call(r, "transfer", "alice.qi", BOB, sender=CAROL).error.error_name == "NotOwner"  # type: ignore
    assert ch.call(r, "transfer", "alice.qi", BOB).ok
    assert ch.call(r, "owned_by", BOB).value == ["alice.qi"]
    assert ch.call(r, "register", "", b"").error.error_name == "Error"  # type: ignore


def test_scheduled_payout() -> None:
    ch = LocalChain()
    p = ch.deploy(build("payout.qi"), 7)
    ch.call(p, "add", BOB)
    ch.call(p, "add", CAROL)
    assert ch.call(p, "pay").error is not None  # not callable by users
    for _ in range(25):
        ch.advance_block()
    assert ch.call(p, "paid_rounds").value == 2
    assert ch.call(p, "balance", BOB).value == 14


def test_async_request_response_and_try() -> None:
    ch = LocalChain()
    oracle = ch.deploy(build("oracle.qi", "Oracle"))
    consumer = ch.deploy(build("oracle.qi", "Consumer"), oracle)
    ch.call(oracle, "set", "XL", 42)
    assert ch.call(consumer, "request", "XL").ok
    assert ch.call(consumer, "latest").value == 0  # not answered until the next block
    ch.advance_block()
    assert ch.call(consumer, "latest").value == 42
    ch.call(consumer, "request", "NOPE")
    ch.advance_block()
    assert ch.call(consumer, "failed").value == 1
    assert ch.call(consumer, "on_price", 5).error is not None  # callbacks are not public
    ch.call(oracle, "set", "XL", 43)
    assert ch.call(consumer, "read_now", "XL").value == 43
    assert ch.call(consumer, "read_now", "NOPE").value == 43
    assert ch.call(consumer, "failed").value == 2
    assert ch.call(consumer, "error_name").value == "Unknown"


def test_upgrade_keeps_state_and_migrates() -> None:
    ch = LocalChain()
    c = ch.deploy(build("upgradeable.qi", "CounterV1"))
    ch.call(c, "increment")
    ch.call(c, "increment")
    assert ch.upgrade(c, build("upgradeable.qi", "CounterV2")).ok
    assert ch.call(c, "get").value == 2
    ch.call(c, "increment")
    assert ch.call(c, "get").value == 12
    assert ch.call(c, "get_step").value == 10
