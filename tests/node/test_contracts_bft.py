"""Contracts on BFT validators (the whole-validator simulation): a token deployed and called
through consensus ends with the same contract state and state root on every validator."""

from __future__ import annotations

from typing import Any

from xinlian import codec
from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.execution.contracts.records import contract_address, contract_key, storage_key
from xinlian.execution.payloads import Call, Deploy
from xinlian.lang import abi
from xinlian.lang.types import ADDRESS, IntTy
from xinlian.ledger.transaction import TxBody, TxKind, sign_body
from xinlian.testing.contracts import compile_example, encode_args
from xinlian.testing.validators import ClientTxs, ValidatorNet

TOKEN = compile_example("token.qi")


def test_validators_agree_on_contract_state() -> None:
    net = ValidatorNet(4, 21, config=Config(pacemaker=Pacemaker(base_ms=300)))
    try:
        client, other = net.clients[0], net.clients[1]

        def signed(nonce: int, kind: int, payload: Any) -> bytes:
            body = TxBody(net.genesis.chain_id, client.key.public_key, nonce, kind,
                          codec.encode(payload), 10**7, 10**9)
            return sign_body(body, client.key)

        raws = [signed(0, TxKind.DEPLOY, Deploy(TOKEN.wasm, TOKEN.abi_json().encode(),
                                                encode_args(TOKEN, "init", "T", 1000),
                                                10**8))]
        token = contract_address(net.genesis.crypto_suite().hash_bytes, client.address, 0)
        args = encode_args(TOKEN, "transfer", other.address, 7)
        raws += [signed(n, TxKind.CALL, Call(token, "transfer", args, 10**8))
                 for n in (1, 2, 3)]
        net.sim.at(0, lambda sim: sim.input(net.nodes[0], ClientTxs(tuple(raws)), sim.now_ms))
        net.sim.run_until(3000)
        assert net.log.violations == []
        ledgers = [v.ledger for n in net.nodes if (v := net.validator(n)) is not None]
        assert len(ledgers) == 4
        key = storage_key(token, bytes.fromhex("03000000") + abi.encode(ADDRESS, other.address))
        values = {ledger.chain.read(key) for ledger in ledgers}
        assert values == {abi.encode(IntTy(256, False), 21)}
        assert len({ledger.chain.read(contract_key(token)) for ledger in ledgers}) == 1
        assert len(set(net.state_roots().values())) == 1
    finally:
        net.close()
