"""Confidential transfers on a real solo node process, through the SDK, on an `sm` chain with
the SM2-curve variant: the regulator key from a DKG enacted by governance, two banks'
registration (a key of the other group refused before it is sent), deposit and
confidential transfer, balances decrypted by their owners from
verified state, a non-member's share refused on chain, and the regulator's opening by two of
three members' on-chain shares, readable as (sender, receiver, amount)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.privacy.confidential.errors import (
    RangeProofStatementError,
    UndecryptableError,
)
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.execution.confidential_payloads import RegulatorMember, SetRegulator
from xinlian.execution.payloads import Propose
from xinlian.sdk import Client
from xinlian.sdk.confidential import new_secret
from xinlian.sdk.errors import ConfidentialFailed

from .cluster import Chain, init_data_dir

BANK_A, BANK_B, MEMBERS = 0, 1, (2, 3, 4)


def test_deposit_transfer_balance_and_regulator_opening(tmp_path: Path) -> None:
    chain = Chain.make("sm", 5)
    group = GROUPS["sm2"]
    shares = local_keygen(group, 3, 2, b"e2e-regulator")
    public = shares[0].public
    members = [RegulatorMember(s.identifier, chain.address(m),
                               group.base_mul(s.secret).encode())
               for s, m in zip(shares, MEMBERS, strict=True)]
    change = SetRegulator("sm2", 2, public.group_public_key.encode(), members)
    node = NodeProcess(init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20))
    try:
        with Client(node.base_url) as client:
            admin = client.wallet(chain.keys[0])
            enacted = client.send(admin.system(Propose(change)))
            assert [e.name for e in enacted.events] == ["RegulatorSet"]
            wrong = client.confidential(admin, new_secret("ristretto255"))
            with pytest.raises(RangeProofStatementError, match="this chain's confidential "
                               "accounts are sm2"):
                wrong.register()  # refused before anything is sent
            a = client.confidential(admin, new_secret("sm2"))
            b = client.confidential(client.wallet(chain.keys[BANK_B]), new_secret("sm2"))
            a.register()
            b.register()
            a.deposit(9_000)
            public_before = client.account(chain.address(BANK_B)).account.balance
            tx_hash = a.transfer(chain.address(BANK_B), 2_500).tx_hash
            assert (a.balance(), b.balance()) == (6_500, 2_500)
            assert client.account(chain.address(BANK_B)).account.balance == public_before
            assert a.opened(tx_hash) is None

            requester = client.confidential(client.wallet(chain.keys[MEMBERS[0]]))
            _, rho = requester.request_open(tx_hash, shares[0].identifier)
            with pytest.raises(ConfidentialFailed) as refused:
                b.share(tx_hash, shares[0].secret, 1)
            assert refused.value.remote_name == "not_regulator_member"
            for k in (0, 2):
                member = client.confidential(client.wallet(chain.keys[MEMBERS[k]]))
                member.share(tx_hash, shares[k].secret, shares[k].identifier)
                if k == 0:
                    assert a.shares(tx_hash) == [1] and a.opened(tx_hash, rho) is None
            with pytest.raises(UndecryptableError):
                a.opened(tx_hash)  # recorded on chain, readable only with the blinding
            opened = a.opened(tx_hash, rho)
            assert opened is not None
            assert (opened.sender, opened.receiver, opened.amount, opened.members) == (
                chain.address(BANK_A), chain.address(BANK_B), 2_500, [1, 3])
    finally:
        node.stop()
