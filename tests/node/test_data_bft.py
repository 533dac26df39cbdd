"""Data collections on BFT validators (the whole-validator simulation): a collection
declared and written through consensus ends with the same records, the same range-index
root (`dx/range`) and the same state root on every validator, and each validator's range
index answers a query whose proof verifies against its state's root."""

from __future__ import annotations

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
    collection_id,
    record_key,
)
from xinlian.execution.data.query import range_query, read_entry
from xinlian.ledger.transaction import TxKind
from xinlian.node.data import RANGE_ROOT_KEY
from xinlian.storage.mbtree_proof import verify_aggregate, verify_range
from xinlian.testing.validators import ClientTxs, ValidatorNet


def test_validators_agree_on_data_and_its_index() -> None:
    net = ValidatorNet(4, 23, config=Config(pacemaker=Pacemaker(base_ms=300)))
    try:
        client = net.clients[0]
        hasher = net.genesis.crypto_suite().hash_bytes

        signed = client.signed

        raws = [signed(0, TxKind.DATA_COLLECTION, DeclareCollection(
            "meters", [AttributeDecl("kwh", "number"), AttributeDecl("at", "time")]))]
        raws += [signed(n, TxKind.DATA_WRITE, DataWrite("meters", [
            Put(f"m{n}-{i}".encode(), [Field("kwh", values.encode("number", n * 10 - i)),
                                       Field("at", values.encode("time", n * 1000 + i))])
            for i in range(5)])) for n in (1, 2, 3)]
        net.sim.at(0, lambda sim: sim.input(net.nodes[0], ClientTxs(tuple(raws)), sim.now_ms))
        net.sim.run_until(3000)
        assert net.log.violations == []
        chains = [v.ledger.chain for n in net.nodes if (v := net.validator(n)) is not None]
        assert len(chains) == 4
        cid = collection_id(hasher, "meters")
        assert len({c.read(record_key(cid, b"m3-4")) for c in chains}) == 1
        assert chains[0].read(record_key(cid, b"m3-4")) is not None
        assert len({c.read(RANGE_ROOT_KEY) for c in chains}) == 1
        assert len(set(net.state_roots().values())) == 1
        for chain in chains:
            collection = read_collection(chain.read, cid)
            assert collection is not None
            query = range_query(collection, cid, "kwh", 15, 26, limit=100)
            assert query is not None
            page, proof = chain.data.range.range(query, chain.height)
            root = chain.read(RANGE_ROOT_KEY)
            assert root is not None
            proven = verify_range(root, query, proof, hasher)
            assert proven.records() == page.records()
            kwh = [read_entry(collection, "kwh", k, v).values["kwh"]
                   for k, v in zip(proven.keys, proven.values, strict=True)]
            assert kwh == [16, 17, 18, 19, 20, 26]
            assert proven.measures == kwh
            total, total_proof = chain.data.range.aggregate(query.lo, query.hi, chain.height)
            assert verify_aggregate(root, query.lo, query.hi, total_proof, hasher) == total
            assert (total.count, total.total, total.min, total.max) == (6, 116, 16, 26)
    finally:
        net.close()
