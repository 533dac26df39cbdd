"""Adaptive indexes on BFT validators (the whole-validator simulation): every validator
reviews an adaptive collection at the same height from committed counts only, so all of
them drop the index no reported query used and build back the one reported queries call
for at the same height, and end with the same plan, collection, index roots and state
root; the rebuilt index answers with proofs that verify against each validator's root."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xinlian import codec
from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.execution.data import values
from xinlian.execution.data.apply import read_collection
from xinlian.execution.data.model import (
    AttributeDecl,
    DataWrite,
    DeclareCollection,
    Field,
    Put,
    Queries,
    collection_id,
)
from xinlian.execution.data.plan import Plan, plan_key
from xinlian.execution.data.query import range_query
from xinlian.ledger.transaction import TxKind
from xinlian.node.data import KEYWORD_ROOT_KEY, RANGE_ROOT_KEY
from xinlian.storage.mbtree_proof import verify_range
from xinlian.testing.validators import ClientTxs, ValidatorNet


def _put(n: int, i: int) -> Put:
    return Put(f"m{n}-{i}".encode(), [Field("kwh", values.encode("number", n * 10 + i)),
                                      Field("note", f"meter {n} reading {i}".encode())])


def _waves(signed: Callable[..., bytes]) -> list[list[bytes]]:
    """The declaration, two writes, then two reports of range queries over kwh."""
    ops: list[list[Put | Queries]] = [[_put(1, i) for i in range(6)],
                                      [_put(2, i) for i in range(6)],
                                      [Queries("kwh", "range", 30)],
                                      [Queries("kwh", "range", 1)]]
    declare = DeclareCollection(
        "meters", [AttributeDecl("kwh", "number"), AttributeDecl("note", "text")],
        adapt_every=2)
    return [[signed(0, TxKind.DATA_COLLECTION, declare)]] + [
        [signed(n, TxKind.DATA_WRITE, DataWrite("meters", list(wave)))]
        for n, wave in enumerate(ops, 1)]


def test_validators_take_the_same_index_decisions_at_the_same_height() -> None:
    net = ValidatorNet(4, 29, config=Config(pacemaker=Pacemaker(base_ms=300)))
    hasher = net.genesis.crypto_suite().hash_bytes
    waves = _waves(net.clients[0].signed)
    try:
        def send(raws: list[bytes]) -> Callable[[Any], None]:
            return lambda sim: sim.input(net.nodes[0], ClientTxs(tuple(raws)), sim.now_ms)

        for i, raws in enumerate(waves):  # a wave every 1.5 s: each in blocks of its own
            net.sim.at(i * 1500, send(raws))
        net.sim.run_until(len(waves) * 1500 + 1500)
        assert net.log.violations == []
        chains = [v.ledger.chain for n in net.nodes if (v := net.validator(n)) is not None]
        assert len(chains) == 4
        cid = collection_id(hasher, "meters")
        plans = {c.read(plan_key(cid)) for c in chains}
        assert len(plans) == 1
        raw = plans.pop()
        assert raw is not None
        plan = codec.decode(raw, Plan)
        kwh, note = plan.attributes
        # kwh: dropped with no query reported, then built back for the reported ones
        assert kwh.reason.startswith("switched to range") and kwh.changed > note.changed > 0
        assert note.reason.startswith("dropped")
        assert plan.records == 12
        assert len({c.read(RANGE_ROOT_KEY) for c in chains}) == 1
        assert len({c.read(KEYWORD_ROOT_KEY) for c in chains}) == 1
        assert len(set(net.state_roots().values())) == 1
        for chain in chains:
            collection = read_collection(chain.read, cid)
            assert collection is not None
            assert [a.index for a in collection.attributes] == ["range", "none"]
            query = range_query(collection, cid, "kwh", 12, 23, limit=100)
            assert query is not None
            root = chain.read(RANGE_ROOT_KEY)
            assert root is not None
            _, proof = chain.data.range.range(query, chain.height)
            proven = verify_range(root, query, proof, hasher)
            assert proven.measures == [12, 13, 14, 15, 20, 21, 22, 23]  # both waves, rebuilt
    finally:
        net.close()
