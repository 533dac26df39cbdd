"""Encrypted attributes through the SDK on a real node and server: plain integers put are
encrypted under the proven aggregate key, sums over verified queries open to the total with
t of n members' shares; a node that serves another key (which would make the SDK encrypt to
an attacker) is caught; writes the chain refuses and questions the SDK cannot ask get typed
errors; the async client does the same."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from xinlian import codec
from xinlian.crypto.primitives.groups import SM2
from xinlian.crypto.privacy.homomorphic import threshold
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.crypto.threshold.dkg import KeyShare
from xinlian.execution.data.model import AggregateKey
from xinlian.node.interface import StateProof
from xinlian.sdk import AsyncClient, Client, ProofError
from xinlian.sdk.errors import DataQueryFailed, DataWriteFailed

from .conftest import harness
from .liar import Liar

Keys: Any = harness.Keys  # type: ignore[attr-defined]
serving: Any = harness.serving  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def shares() -> list[KeyShare]:
    return local_keygen(SM2, 4, 3, b"test-sdk-encrypted", random.Random(4).randbytes)


def opened(shares: list[KeyShare], found: Any) -> int:
    made = [threshold.make_share(s, found.ciphertext) for s in shares[:3]]
    return threshold.decrypt(shares[0].public, found.ciphertext, made, found.bound)


def test_sums_of_encrypted_attributes(client: Client, keys: Any,
                                      shares: list[KeyShare]) -> None:
    data = client.data("pledges", wallet=client.wallet(keys.admin))
    assert data.declare({"donor": ("text", "range"), "amount": "encrypted",
                         "early": "encrypted"}).status == 0
    for given in (5, b"\x00"):  # no key set yet to encrypt under; not a contribution
        with pytest.raises(DataQueryFailed):
            data.put({"d0": {"donor": "d0", "amount": given}})
    with pytest.raises(DataQueryFailed):
        data.aggregate_key("amount")
    key = shares[0].public.group_public_key.encode()
    data.set_aggregate_key("amount", key, 16)
    data.set_aggregate_key("early", key, 0)
    assert data.aggregate_key("early") == AggregateKey("early", key, 0)
    amounts = {f"d{i}": 1000 * i + 7 for i in range(1, 6)}
    data.put({rid: {"donor": rid, "amount": v, "early": int(v < 3000)}
              for rid, v in amounts.items()})
    records = list(data.query_all("donor", limit=2))
    total = data.encrypted_sum("amount", records)
    assert (total.count, total.bound) == (5, 5 * 65535)
    assert opened(shares, total) == sum(amounts.values())
    assert opened(shares, data.encrypted_sum("early", records)) == 2
    part = data.encrypted_sum("amount", data.query_all("donor", "d2", "d3"))
    assert opened(shares, part) == amounts["d2"] + amounts["d3"]
    with pytest.raises(DataQueryFailed):
        data.encrypted_sum("donor", records)
    with pytest.raises(DataQueryFailed):  # a count's value is 0 or 1
        data.put({"d9": {"donor": "d9", "early": 5}})
    sixteen_bits = data.get("d1")
    assert sixteen_bits is not None
    with pytest.raises(DataWriteFailed) as refused:  # a sum's value given to a count
        data.put({"d9": {"donor": "d9", "early": sixteen_bits.values["amount"]}})
    assert refused.value.remote_name == "wrong_kind"


def test_a_node_serving_another_key_is_caught(client: Client, keys: Any,
                                             shares: list[KeyShare]) -> None:
    data = client.data("pledges2", wallet=client.wallet(keys.admin))
    data.declare({"amount": "encrypted"})
    data.set_aggregate_key("amount", shares[0].public.group_public_key.encode(), 8)
    attacker = SM2.base_mul(SM2.random_scalar()).encode()

    def swap(proof: StateProof) -> StateProof:
        return replace(proof, value=codec.encode(AggregateKey("amount", attacker, 8)))

    with Liar(client, swap, "xl_getStateProof"), pytest.raises(ProofError):
        data.put({"x": {"amount": 5}})
    with Liar(client, swap, "xl_getStateProof"), pytest.raises(ProofError):
        data.aggregate_key("amount")


def test_the_async_client_sums_too(tmp_path: Path, shares: list[KeyShare]) -> None:
    keys = Keys("sm")

    async def scenario() -> None:
        async with serving(tmp_path, keys) as (_, server), AsyncClient(server.url) as client:
            data = client.data("votes", wallet=await client.wallet(keys.admin))
            await data.declare({"voter": ("text", "range"), "yes": "encrypted"})
            await data.set_aggregate_key("yes", shares[0].public.group_public_key.encode(), 0)
            await data.put({f"v{i}": {"voter": f"v{i}", "yes": i % 2} for i in range(5)})
            assert (await data.aggregate_key("yes")).bits == 0
            records = [r async for r in data.query_all("voter")]
            assert opened(shares, await data.encrypted_sum("yes", records)) == 2

    asyncio.run(scenario())
