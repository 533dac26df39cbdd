"""The contract part of `xinlian demo`: the example Qi token (examples/qi/token.qi) deployed
on the running chain, transfers made by signed calls whose receipts and decoded events are
shown, a read-only query, and a balance proven against a header on another node; then an
async call answered by a callback in a later block (examples/qi/oracle.qi) and a scheduled
function run by the chain itself from the contract's prepaid balance (examples/qi/payout.qi)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from xinlian import codec
from xinlian.cli.cluster import NodeProcess, wait_for_commits
from xinlian.crypto.suites import Suite
from xinlian.execution.contracts.engine_runs import Limits, run_id
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import Call, Deploy, Fund
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact
from xinlian.ledger.block import Receipt
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import Fees, contract_base_cost, fuel_fee, max_fee
from xinlian.ledger.transaction import TxKind
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import SignedTx, Wallet
from xinlian.testing.contracts import compile_example, encode_args

FUEL = 20_000_000  # a token transfer burns about 2.4 million
SUPPLY = 1_000_000
TRANSFERS = 5  # token transfers from the owner, one to each of the next wallets
PRICE = 42  # the oracle's answer
SHARE = 7  # the payout's share per round
FUNDED_RUNS = 5  # scheduled runs prepaid


def _sign(wallet: Wallet, params: ChainParams, kind: TxKind, payload: Any,
          code_len: int = 0, reserve: int = 0) -> SignedTx:
    """Signed with the least fee limit the node admits, plus `reserve` (the fee an async
    request reserves for its call and callback)."""
    fee = max_fee(params, Fees(contract_base_cost(params, code_len), FUEL)) + reserve
    return wallet.sign(kind, codec.encode(payload), fee_limit=fee)


def _events(art: Artifact, receipt: Receipt) -> list[str]:
    """The receipt's events of the contract, decoded by the ABI: `Name(param=value, ...)`."""
    specs = {e["name"]: e for e in art.abi["events"]}
    shown = []
    for event in receipt.events:
        params = specs[event.name]["params"]
        values = abi.decode_many([abi.type_from_json(p["type"]) for p in params], event.data)
        shown.append(event.name + "(" + ", ".join(
            f"{p['name']}={_short(v)}" for p, v in zip(params, values, strict=True)) + ")")
    return shown


def _short(value: object) -> str:
    return value.hex()[:12] + "..." if isinstance(value, bytes) else repr(value)


async def _commit(client: AsyncClient, txs: Sequence[SignedTx]) -> list[Receipt]:
    refused = [r for r in await client.submit_many(txs) if not r.accepted]
    if refused:
        raise RuntimeError(f"{len(refused)} contract transactions refused: {refused[0]}")
    receipts = await client.wait_for_commit([tx.hash for tx in txs], timeout=120)
    return [receipts[tx.hash] for tx in txs]


async def show_token(nodes: Sequence[NodeProcess], wallets: Sequence[Wallet],
                     params: ChainParams, say: Callable[[str], None]) -> dict[str, object]:
    """Deploy the token through the first node, call and query it, prove a balance on the
    last; returns the figures for the summary (each one read from the chain)."""
    art = compile_example("token.qi")
    owner = wallets[0]
    suite = owner.suite
    token = contract_address(suite.hash_bytes, owner.address, owner.nonce)
    deploy = _sign(owner, params, TxKind.DEPLOY, Deploy(
        art.wasm, art.abi_json().encode(), encode_args(art, "init", "Qi", SUPPLY), FUEL),
        len(art.wasm))
    async with AsyncClient(nodes[0].base_url) as client:
        [receipt] = await _commit(client, [deploy])
        if receipt.status != 0 or receipt.output != token:
            raise RuntimeError(f"token deployment failed: {receipt}")
        say(f"deployed the Qi token (examples/qi/token.qi, {len(art.wasm)} bytes of Wasm) at "
            f"{token.hex()}: fuel {receipt.fuel_used:,}, events {', '.join(_events(art, receipt))}")
        receivers = [w.address for w in wallets[1:1 + TRANSFERS]]
        calls = [_sign(owner, params, TxKind.CALL, Call(
            token, "transfer", encode_args(art, "transfer", to, 100 * (i + 1)), FUEL))
            for i, to in enumerate(receivers)]
        # one more than the receiver holds: the token refuses it, the receipt says why
        overdraw = _sign(wallets[1], params, TxKind.CALL, Call(
            token, "transfer", encode_args(art, "transfer", owner.address, 101), FUEL))
        receipts = await _commit(client, [*calls, overdraw])
    for tx, receipt in zip(calls, receipts, strict=False):
        say(f"  call {tx.hash.hex()[:16]}... status {receipt.status} fuel {receipt.fuel_used:,} "
            f"fee {receipt.fee_paid}: {'; '.join(_events(art, receipt))}")
    failed = receipts[-1]
    say(f"  call {overdraw.hash.hex()[:16]}... status {failed.status} ({failed.error}): "
        f"{failed.message}; its state changes reverted, fee {failed.fee_paid} paid")
    ok = sum(r.status == 0 for r in receipts[:-1])
    verifier = nodes[-1]
    await wait_for_commits(verifier, nodes[0].rpc("xl_status")["committed_txs"])
    bob = receivers[-1]
    query = verifier.rpc("xl_contractQuery", "0x" + token.hex(), "balance_of",
                         "0x" + abi.encode(abi.type_from_json("address"), bob).hex())
    say(f"query balance_of({bob.hex()[:12]}...) on node {len(nodes) - 1}: {query['value']} "
        f"(read-only, fuel {query['fuel_used']:,}, no transaction)")
    slot = next(s for s in art.abi["storage"] if s["name"] == "balances")
    key = (b"cs/" + token + bytes.fromhex(slot["key_prefix"])
           + abi.encode(abi.type_from_json("address"), bob))
    async with AsyncClient(verifier.base_url) as client:
        proof = await client.state_proof(key, verify=True)
    if proof.value is None:
        raise RuntimeError("the proven balance is absent")
    proven = abi.decode(abi.type_from_json(slot["type"]["map"][1]), proof.value)
    say(f"token balance of {bob.hex()[:12]}... = {proven}: state proof verified against "
        f"block {proof.header.height} of node {len(nodes) - 1} (matches the query: "
        f"{proven == query['value']})")
    return {"token_calls_ok": ok, "token_call_failed": failed.error,
            "token_balance_proven": proven, "token_query": query["value"],
            "token_proof_matches_query": proven == query["value"]}


async def _deploy(client: AsyncClient, wallet: Wallet, params: ChainParams, art: Artifact,
                  *args: object) -> bytes:
    address = contract_address(wallet.suite.hash_bytes, wallet.address, wallet.nonce)
    tx = _sign(wallet, params, TxKind.DEPLOY, Deploy(
        art.wasm, art.abi_json().encode(), encode_args(art, "init", *args), FUEL),
        len(art.wasm))
    [receipt] = await _commit(client, [tx])
    if receipt.status != 0:
        raise RuntimeError(f"deployment failed: {receipt}")
    return address


def _call(wallet: Wallet, params: ChainParams, art: Artifact, contract: bytes, method: str,
          *args: object, reserve: int = 0) -> SignedTx:
    return _sign(wallet, params, TxKind.CALL, Call(
        contract, method, encode_args(art, method, *args), FUEL), reserve=reserve)


def _query(node: NodeProcess, contract: bytes, art: Artifact, method: str,
           *args: object, height: int | None = None) -> Any:
    result = node.rpc("xl_contractQuery", "0x" + contract.hex(), method,
                      "0x" + encode_args(art, method, *args).hex(), height)
    if result["status"] != "ok":
        raise RuntimeError(f"query {method} failed: {result}")
    return result["value"]


async def _engine_receipt(client: AsyncClient, suite: Suite, kind: bytes, height: int,
                          index: int) -> Receipt:
    """The receipt of the `index`-th run the chain started itself in block `height`."""
    receipt = await client.receipt(run_id(suite.hash_bytes, kind, height, index))
    if receipt is None:
        raise RuntimeError(f"no {kind.decode()} run {index} in block {height}")
    return receipt


async def show_async(node: NodeProcess, wallet: Wallet, params: ChainParams,
                     say: Callable[[str], None]) -> dict[str, object]:
    """An oracle and its consumer: the consumer's `request` makes an async call whose answer
    reaches its callback `on_price` in the next block."""
    oracle_art = compile_example("oracle.qi", "Oracle")
    consumer_art = compile_example("oracle.qi", "Consumer")
    limits = Limits()
    reserve = fuel_fee(params, limits.async_fuel + limits.callback_fuel)
    async with AsyncClient(node.base_url) as client:
        oracle = await _deploy(client, wallet, params, oracle_art)
        consumer = await _deploy(client, wallet, params, consumer_art, oracle)
        await _commit(client, [_call(wallet, params, oracle_art, oracle, "set", "QI", PRICE)])
        say(f"deployed an oracle at {oracle.hex()} (QI = {PRICE}) and its consumer at "
            f"{consumer.hex()} (examples/qi/oracle.qi)")
        before = _query(node, consumer, consumer_art, "latest")
        request = _call(wallet, params, consumer_art, consumer, "request", "QI",
                        reserve=reserve)
        [receipt] = await _commit(client, [request])
        view = await client.transaction(request.hash, verify=False)
        assert view is not None
        say(f"  consumer.request(\"QI\") committed in block {view.height} (status "
            f"{receipt.status}, fee {receipt.fee_paid}; {reserve} reserved for the fuel "
            f"limits of the async call and its callback); consumer.latest() = {before}")
        while (await client.status()).height <= view.height:
            await asyncio.sleep(0.05)  # the demo watching another process, not a test
        call = await _engine_receipt(client, wallet.suite, b"async", view.height + 1, 0)
        callback = await _engine_receipt(client, wallet.suite, b"callback", view.height + 1, 1)
    after = _query(node, consumer, consumer_art, "latest")
    say(f"  block {view.height + 1}: the chain ran oracle.price(\"QI\") (status {call.status}, "
        f"fuel {call.fuel_used:,}) and the callback on_price (status {callback.status}, fuel "
        f"{callback.fuel_used:,}); consumer.latest() = {after}")
    return {"async_callback_status": callback.status, "async_latest": after,
            "async_price": PRICE}


async def show_schedule(node: NodeProcess, wallet: Wallet, beneficiary: bytes,
                        params: ChainParams, say: Callable[[str], None]) -> dict[str, object]:
    """A payout whose `pay() every 10 blocks` the chain runs by itself, paid from the
    contract's prepaid balance (a FUND)."""
    art = compile_example("payout.qi")
    run_fee = fuel_fee(params, Limits().scheduled_fuel)
    async with AsyncClient(node.base_url) as client:
        payout = await _deploy(client, wallet, params, art, SHARE)
        fund = _sign(wallet, params, TxKind.FUND, Fund(payout, FUNDED_RUNS * run_fee))
        receipts = await _commit(client, [
            _call(wallet, params, art, payout, "add", beneficiary), fund])
        if any(r.status != 0 for r in receipts):
            raise RuntimeError(f"payout set-up failed: {receipts}")
        say(f"deployed a payout at {payout.hex()} (examples/qi/payout.qi: pay() every 10 "
            f"blocks), added a beneficiary, funded {FUNDED_RUNS * run_fee} for its runs")
        while _query(node, payout, art, "paid_rounds") < 1:
            await asyncio.sleep(0.1)  # the demo watching another process, not a test
    height = node.rpc("xl_status")["height"]  # both read at one block
    rounds = _query(node, payout, art, "paid_rounds", height=height)
    accrued = _query(node, payout, art, "balance", beneficiary, height=height)
    info = node.rpc("xl_getContract", "0x" + payout.hex())
    say(f"  the chain ran pay() by itself: paid_rounds() = {rounds}, the beneficiary accrued "
        f"{accrued} (both read at block {height}), prepaid balance left {info['balance']}")
    return {"scheduled_rounds": rounds, "scheduled_accrued": accrued, "scheduled_share": SHARE}
