"""Each transaction's signature is checked once per network (consensus's `check_batches`):
by its batch's author and the members of a validity quorum, never again at execution; a
batch holding a forged signature is never certified by honest members, and faulty members
who certify it among themselves are refused, so the forgery never executes.

Whole validators in the deterministic simulator; seeded randomness only."""

from __future__ import annotations

import pytest

from xinlian import codec
from xinlian.consensus.core import Config
from xinlian.consensus.dissemination import first_checkers, rotation
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.crypto.keys import Signature
from xinlian.execution.payloads import Transfer
from xinlian.ledger.transaction import SignedTransaction, TxKind, decode_transaction
from xinlian.node.bft import BatchPayload, frame_payload
from xinlian.node.certify import genesis_root
from xinlian.testing.consensus.byzantine import forged_batch, propose_also
from xinlian.testing.validators import ClientTxs, SimValidator, ValidatorNet

CONFIG = Config(pacemaker=Pacemaker(base_ms=300))
TXS = 30  # per client


def _validators(net: ValidatorNet) -> list[SimValidator]:
    found = [net.validator(n) for n in net.nodes]
    assert all(v is not None for v in found)
    return [v for v in found if v is not None]


def _submit_once(net: ValidatorNet, clients: int = 4) -> int:
    """Client j < `clients` sends TXS fresh transfers to validator j mod n, once: no
    transaction is admitted twice, so each is in exactly one batch. Returns how many were
    sent."""
    for j, client in enumerate(net.clients[:clients]):
        to = net.clients[(j + 1) % len(net.clients)].address
        raws = tuple(client.transfer(nonce, to) for nonce in range(TXS))
        net.sim.input(net.nodes[j % len(net.nodes)], ClientTxs(raws), 10)
    return TXS * clients


@pytest.mark.parametrize(("n", "f"), [(4, 1), (7, 2)])
def test_each_signature_is_checked_by_f_plus_one_members(n: int, f: int) -> None:
    net = ValidatorNet(n, 5, clients=4, config=CONFIG)
    try:
        sent = _submit_once(net)
        net.sim.run_until(4000)
        assert net.log.violations == []
        validators = _validators(net)
        for client in net.clients:  # everything sent was executed everywhere
            assert all(v.ledger.chain.account(client.address).nonce == TXS for v in validators)
        admitted = sum(v.admitted for v in validators)
        checked = sum(v.bft.signatures_checked for v in validators)
        assert admitted == sent  # the author's check, at admission
        assert checked == f * sent  # f more members each, and none at execution
        refused = sum(v.consensus.metrics["batch_refused"] for v in validators)
        assert refused == 0
    finally:
        net.close()


def test_the_rotation_spreads_checks_and_holds_a_validity_quorum() -> None:
    net = ValidatorNet(7, 1, clients=1)
    try:
        committee = genesis_root(net.genesis).committee
        firsts = set()
        for k in range(40):
            digest = committee.hash(k.to_bytes(4, "big"))
            order = rotation(committee, digest, 3)
            assert order[0] == 3 and sorted(order) == list(range(7))
            count = first_checkers(committee, digest, 3)
            assert committee.power(order[:count]) >= committee.validity
            assert committee.power(order[:count - 1]) < committee.validity
            firsts.add(order[1])
        assert len(firsts) > 3  # not always the same helper
    finally:
        net.close()


def _forged_transfer(net: ValidatorNet, to: bytes) -> bytes:
    """The last client's first transfer, of most of its balance to `to`, with a signature
    of zeros (that client sends nothing itself, so the nonce is free)."""
    real = net.clients[-1].signed(0, TxKind.TRANSFER, Transfer(to, 10**11, b""))
    signed = codec.decode(real, SignedTransaction)
    zeros = Signature(signed.signature.alg, bytes(len(signed.signature.data)))
    return codec.encode(SignedTransaction(signed.body, zeros))


def test_faulty_members_cannot_get_a_forged_signature_executed() -> None:
    """n = 7, f = 2: the two faulty members make a batch holding a transfer with a forged
    signature, certify it with their own two acks (a validity quorum needs three), send
    both to every honest member and add the certificate to each block they propose. The
    honest members asked to check the batch refuse it, every honest member holds its bytes
    yet refuses the certificate, and the forged transfer never executes; the chain goes
    on with the honest clients' transfers."""
    net = ValidatorNet(7, 9, clients=5, config=CONFIG)
    try:
        committee = genesis_root(net.genesis).committee
        thief = net.nodes[0]
        forged = _forged_transfer(net, thief)
        payload = frame_payload(BatchPayload(100, [forged]))
        keys = {i: net._keys[net.nodes[i]][1] for i in (0, 1)}
        cert = forged_batch(net.sim, committee, keys, payload, 50)
        for faulty in net.nodes[:2]:
            net.sim.intercept(faulty, propose_also(cert))
        sent = _submit_once(net)
        net.sim.run_until(8000)
        assert net.log.violations == []
        honest = _validators(net)[2:]
        tx_hash = decode_transaction(forged, net.genesis.chain_id,
                                     net.genesis.crypto_suite().hash_bytes,
                                     net.genesis.params.max_tx_size).hash
        for v in honest:
            assert v.consensus.pool.holds(bytes(cert.digest))  # it holds the bytes
            assert v.ledger.chain.transaction(tx_hash) is None
            assert v.ledger.chain.account(thief).balance == 0
            assert v.ledger.chain.account(net.clients[0].address).nonce == TXS
            assert v.ledger.chain.account(net.clients[-1].address).nonce == 0
        assert sum(v.consensus.metrics["batch_refused"] for v in honest) >= 1
        assert sum(v.consensus.metrics["dropped_InvalidCertificate"] for v in honest) >= 1
        assert sum(v.admitted for v in _validators(net)) == sent
    finally:
        net.close()


def test_each_validator_decodes_each_transaction_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a validator decoded to admit, forward or check a transaction is what executes:
    over the whole run each validator decodes each transaction exactly once."""
    from xinlian.ledger import mempool
    from xinlian.node import bft

    decodes: list[bytes] = []

    def counted(raw: bytes, *args: object, **kwargs: object) -> object:
        decodes.append(raw)
        return decode_transaction(raw, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bft, "decode_transaction", counted)
    monkeypatch.setattr(mempool, "decode_transaction", counted)
    net = ValidatorNet(4, 5, clients=4, config=CONFIG)
    try:
        sent = _submit_once(net)
        net.sim.run_until(4000)
        validators = _validators(net)
        for client in net.clients:
            assert all(v.ledger.chain.account(client.address).nonce == TXS for v in validators)
        assert len(decodes) == 4 * sent
        assert len(set(decodes)) == sent
    finally:
        net.close()
