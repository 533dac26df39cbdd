"""The contract part of `xinlian demo`, through the SDK's typed contract wrappers: the
example Qi token (examples/qi/token.qi) deployed on the running chain, transfers whose
receipts and decoded events are shown, a refused overdraw, a read-only query and a balance
proven against a header on another node; then an async call answered by a callback in a
later block (examples/qi/oracle.qi) and a scheduled function the chain runs by itself from
the contract's prepaid balance (examples/qi/payout.qi)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from xinlian.cli.cluster import NodeProcess, wait_for_commits
from xinlian.execution.contracts.engine_runs import Limits, run_id
from xinlian.ledger.block import Receipt
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import fuel_fee
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.contract_abi import ContractEvent
from xinlian.sdk.contracts import ContractReceipt
from xinlian.sdk.wallet import Wallet
from xinlian.testing.contracts import compile_example

FUEL = 20_000_000  # a token transfer burns about 2.4 million
SUPPLY = 1_000_000
TRANSFERS = 5  # token transfers from the owner, one to each of the next wallets
PRICE = 42  # the oracle's answer
SHARE = 7  # the payout's share per round
FUNDED_RUNS = 5  # scheduled runs prepaid
Say = Callable[[str], None]


def _short(value: object) -> str:
    return "0x" + value.hex()[:10] + "..." if isinstance(value, bytes) else repr(value)


def _events(out: ContractReceipt) -> str:
    """The receipt's events, decoded by the ABI: `Name(param=value, ...)`."""
    return "; ".join(
        f"{e.event_name}(" + ", ".join(f"{k}={_short(v)}" for k, v in e.as_dict().items()) + ")"
        for e in out.events if isinstance(e, ContractEvent))


async def show_token(nodes: Sequence[NodeProcess], wallets: Sequence[Wallet],
                     say: Say) -> dict[str, object]:
    """Deploy the token through the first node, call and query it, prove a balance on the
    last; returns the figures for the summary (each one read from the chain)."""
    art = compile_example("token.qi")
    owner = wallets[0]
    async with AsyncClient(nodes[0].base_url) as client:
        deployed = await client.deploy(owner, art, "Qi", SUPPLY, fuel_limit=FUEL)
        say(f"deployed the Qi token (examples/qi/token.qi, {len(art.wasm)} bytes of Wasm) at "
            f"{deployed.contract.hex()}: fuel {deployed.fuel_used:,}, {_events(deployed)}")
        token = await client.contract(deployed.contract, art, wallet=owner, fuel_limit=FUEL)
        receivers = [w.address for w in wallets[1:1 + TRANSFERS]]
        sent = await asyncio.gather(*(token.transfer(to, 100 * (i + 1))
                                      for i, to in enumerate(receivers)))
        for out in sent:
            say(f"  transfer {out.tx_hash.hex()[:16]}... -> {out.value}, fuel "
                f"{out.fuel_used:,} fee {out.fee_paid}: {_events(out)}")
        # more than the receiver was given: the token refuses it, the receipt says why
        overdraw = await client.contract(deployed.contract, art, wallet=wallets[1],
                                         fuel_limit=FUEL)
        try:
            await overdraw.transfer(owner.address, 101)
            raise RuntimeError("the token let an account spend more than it holds")
        except token.errors.InsufficientBalance as refused:
            failed = refused
        say(f"  transfer of 101 by {wallets[1].address.hex()[:10]}... refused: "
            f"error {failed.remote_code} {failed.remote_name}, {failed.message}; its state "
            f"changes reverted, fee {failed.receipt.fee_paid if failed.receipt else 0} paid")
        await wait_for_commits(nodes[-1], nodes[0].rpc("xl_status")["committed_txs"])
    bob = receivers[-1]
    async with AsyncClient(nodes[-1].base_url) as client:
        token = await client.contract(deployed.contract, art)
        queried = await token.balance_of(bob)
        say(f"query balance_of({bob.hex()[:10]}...) on node {len(nodes) - 1}: {queried} "
            f"(read-only, no transaction)")
        proven = await token.proof("balances", bob)
    say(f"token balance of {bob.hex()[:10]}... = {proven.value}: state proof verified "
        f"against block {proven.height} of node {len(nodes) - 1} (matches the query: "
        f"{proven.value == queried})")
    return {"token_calls_ok": sum(out.receipt.status == 0 for out in sent),
            "token_call_failed": failed.remote_name, "token_balance_proven": proven.value,
            "token_query": queried, "token_proof_matches_query": proven.value == queried}


async def _engine_receipt(client: AsyncClient, wallet: Wallet, kind: bytes, height: int,
                          index: int) -> Receipt:
    """The receipt of the `index`-th run the chain started itself in block `height`."""
    receipt = await client.receipt(run_id(wallet.suite.hash_bytes, kind, height, index))
    if receipt is None:
        raise RuntimeError(f"no {kind.decode()} run {index} in block {height}")
    return receipt


async def show_async(node: NodeProcess, wallet: Wallet, params: ChainParams,
                     say: Say) -> dict[str, object]:
    """An oracle and its consumer: the consumer's `request` makes an async call whose answer
    reaches its callback `on_price` in the next block."""
    limits = Limits()
    reserve = fuel_fee(params, limits.async_fuel + limits.callback_fuel)
    async with AsyncClient(node.base_url) as client:
        oracle = await _deploy(client, wallet, compile_example("oracle.qi", "Oracle"))
        consumer = await _deploy(client, wallet, compile_example("oracle.qi", "Consumer"),
                                 oracle.address)
        await oracle.set("QI", PRICE)
        say(f"deployed an oracle at {oracle.address.hex()} (QI = {PRICE}) and its consumer "
            f"at {consumer.address.hex()} (examples/qi/oracle.qi)")
        before = await consumer.latest()
        # the request reserves the fee of the async call's and the callback's fuel limits
        request = await consumer.request.transact("QI", fee_limit=reserve + 1_000)
        view = await client.transaction(request.tx_hash, verify=False)
        assert view is not None
        say(f"  consumer.request(\"QI\") committed in block {view.height}, fee "
            f"{request.fee_paid} ({reserve} reserved for the async call and its callback); "
            f"consumer.latest() = {before}")
        while (await client.status()).height <= view.height:
            await asyncio.sleep(0.05)  # the demo watching another process, not a test
        call = await _engine_receipt(client, wallet, b"async", view.height + 1, 0)
        callback = await _engine_receipt(client, wallet, b"callback", view.height + 1, 1)
        after = await consumer.latest()
    say(f"  block {view.height + 1}: the chain ran oracle.price(\"QI\") (status {call.status}, "
        f"fuel {call.fuel_used:,}) and the callback on_price (status {callback.status}, fuel "
        f"{callback.fuel_used:,}); consumer.latest() = {after}")
    return {"async_callback_status": callback.status, "async_latest": after,
            "async_price": PRICE}


async def show_schedule(node: NodeProcess, wallet: Wallet, beneficiary: bytes,
                        params: ChainParams, say: Say) -> dict[str, object]:
    """A payout whose `pay() every 10 blocks` the chain runs by itself, paid from the
    contract's prepaid balance (a FUND)."""
    funded = FUNDED_RUNS * fuel_fee(params, Limits().scheduled_fuel)
    async with AsyncClient(node.base_url) as client:
        payout = await _deploy(client, wallet, compile_example("payout.qi"), SHARE)
        await asyncio.gather(payout.add(beneficiary), payout.fund(funded))
        say(f"deployed a payout at {payout.address.hex()} (examples/qi/payout.qi: pay() every "
            f"10 blocks), added a beneficiary, funded {funded} for its runs")
        while True:  # read at a certified block (an account's verified read waits for one)
            height = (await client.account(wallet.address, verify=True)).state.header.height
            rounds = await payout.paid_rounds.query(height=height)
            if rounds >= 1:
                break
            await asyncio.sleep(0.1)  # the demo watching another process, not a test
        info = await payout.info(height=height)
        accrued = await payout.balance.query(beneficiary, height=height)
    say(f"  the chain ran pay() by itself: at block {height}, paid_rounds() = {rounds}, the "
        f"beneficiary accrued {accrued}, prepaid balance left {info.balance} (proven)")
    return {"scheduled_rounds": rounds, "scheduled_accrued": accrued, "scheduled_share": SHARE}


async def _deploy(client: AsyncClient, wallet: Wallet, art: Any, *args: object) -> Any:
    """Deployed and wrapped, the wallet signing its calls."""
    deployed = await client.deploy(wallet, art, *args, fuel_limit=FUEL)
    return await client.contract(deployed.contract, art, wallet=wallet, fuel_limit=FUEL)

