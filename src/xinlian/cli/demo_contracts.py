"""The contract part of `xinlian demo`: the example Qi token (examples/qi/token.qi) deployed
on the running chain, transfers made by signed calls whose receipts and decoded events are
shown, a read-only query, and a balance proven against a header on another node."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xinlian import codec
from xinlian.cli.cluster import NodeProcess, wait_for_commits
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import Call, Deploy
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact
from xinlian.ledger.block import Receipt
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import Fees, contract_base_cost, max_fee
from xinlian.ledger.transaction import TxKind
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import SignedTx, Wallet
from xinlian.testing.contracts import compile_example, encode_args

FUEL = 20_000_000  # a token transfer burns about 2.4 million
SUPPLY = 1_000_000
TRANSFERS = 5  # token transfers from the owner, one to each of the next wallets


def _sign(wallet: Wallet, params: ChainParams, kind: TxKind, payload: Any,
          code_len: int = 0) -> SignedTx:
    fee = max_fee(params, Fees(contract_base_cost(params, code_len), FUEL))
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
