"""Anonymous transfers on a real solo node process, through the SDK: the regulator key
from a DKG enacted by governance, two banks' addresses registered and notes shielded, a
transfer from bank A to bank B prepared by A and submitted by a relayer (A's account
signs nothing and the relayer is refunded its fee from the notes), balances found by
scanning verified state, the same notes spent again refused, an unshield, and the
regulator's blinded opening (member 1's request, two of three members' on-chain shares):
sender, receivers and amounts for member 1 only."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.privacy.confidential.errors import UndecryptableError
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.execution.confidential_payloads import RegulatorMember, SetRegulator
from xinlian.execution.payloads import Propose
from xinlian.sdk import Client
from xinlian.sdk.anonymous import new_keys
from xinlian.sdk.errors import AnonymousFailed

from .cluster import Chain, init_data_dir

BANK_A, BANK_B, RELAYER, MEMBERS = 0, 1, 5, (2, 3, 4)


def test_shield_relayed_transfer_balances_and_regulator_opening(tmp_path: Path) -> None:
    chain = Chain.make("intl", 6)
    group = GROUPS["ristretto255"]
    shares = local_keygen(group, 3, 2, b"e2e-anonymous-regulator")
    members = [RegulatorMember(s.identifier, chain.address(m),
                               group.base_mul(s.secret).encode())
               for s, m in zip(shares, MEMBERS, strict=True)]
    change = SetRegulator("ristretto255", 2, shares[0].public.group_public_key.encode(),
                          members)
    node = NodeProcess(init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20))
    try:
        with Client(node.base_url) as client:
            enacted = client.send(client.wallet(chain.keys[0]).system(Propose(change)))
            assert [e.name for e in enacted.events] == ["RegulatorSet"]
            a = client.anonymous(client.wallet(chain.keys[BANK_A]), new_keys("ristretto255"))
            b = client.anonymous(client.wallet(chain.keys[BANK_B]), new_keys("ristretto255"))
            relayer = client.anonymous(client.wallet(chain.keys[RELAYER]))
            a.register()
            b.register()
            a.shield(9_000, among=[chain.address(BANK_B)])
            b.shield(1_000, among=[chain.address(BANK_A)])
            assert (a.balance(), b.balance()) == (9_000, 1_000)

            relayer_before = client.account(chain.address(RELAYER)).account.balance
            nonce_a = client.account(chain.address(BANK_A)).account.nonce
            op = a.prepare_transfer(chain.address(BANK_B), 2_500, ring=2,
                                    submitter=chain.address(RELAYER))
            tx_hash = relayer.relay(op).tx_hash
            assert b.balance() == 3_500
            assert a.balance() == 9_000 - 2_500 - op.transfer.fee
            assert client.account(chain.address(RELAYER)).account.balance == relayer_before
            assert client.account(chain.address(BANK_A)).account.nonce == nonce_a

            with pytest.raises(AnonymousFailed) as again:
                relayer.relay(op)
            assert again.value.remote_name == "anonymous_double_spend"

            public_b = client.account(chain.address(BANK_B)).account.balance
            out = b.unshield(500, ring=2)
            assert client.account(chain.address(BANK_B)).account.balance == (
                public_b + 500 - out.fee_paid + (3_500 - 500 - b.balance()))
            assert a.supply() == a.balance() + b.balance()

            assert a.opened(tx_hash) is None
            openers = {k: client.anonymous(client.wallet(chain.keys[MEMBERS[k]]))
                       for k in (0, 2)}
            _, rhos = openers[0].request_open(tx_hash, shares[0].identifier)
            for k, member in openers.items():
                member.share(tx_hash, shares[k].secret, shares[k].identifier)
                if k == 0:
                    assert a.shares(tx_hash) == [1] and a.opened(tx_hash) is None
            with pytest.raises(UndecryptableError):
                a.opened(tx_hash)  # the bank sees the record, not what it opens
            opened = a.opened(tx_hash, rhos)
            assert opened is not None and opened.members == [1, 3] and opened.requester == 1
            assert opened.senders == [chain.address(BANK_A)]
            assert sorted(zip(opened.receivers, opened.amounts, strict=True)) == sorted([
                (chain.address(BANK_B), 2_500),
                (chain.address(BANK_A), 9_000 - 2_500 - op.transfer.fee)])
    finally:
        node.stop()
