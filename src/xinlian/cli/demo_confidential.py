"""The confidential part of `xinlian demo`: a regulator key from a DKG among three members
enacted by governance, two accounts' confidential transfer (amount encrypted on chain,
each side decrypting its own balance), and the regulator's opening of it by two members'
decryption shares, each an on-chain transaction (docs/privacy.md, "Confidential
transfers"). On an `sm` chain it runs on the SM2 curve, otherwise on ristretto255."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.crypto.threshold.dkg import KeyShare
from xinlian.execution.confidential_payloads import RegulatorMember, SetRegulator
from xinlian.execution.payloads import Approve, Propose
from xinlian.sdk.client import Client
from xinlian.sdk.confidential import new_secret
from xinlian.sdk.wallet import Wallet

DEPOSIT = 10_000
AMOUNT = 2_500
Say = Callable[[str], None]
Regulator = tuple[str, list[KeyShare]]  # the confidential group, the members' key shares


def enact_regulator(url: str, wallets: Sequence[Wallet], admins: Sequence[Wallet],
                    say: Say) -> Regulator:
    """A 2-of-3 regulator key by DKG among the members (`wallets[2:5]`), enacted by
    `admins`, one per organisation (the first proposes, and more than 2/3 of them
    approve): the group and the members' key shares."""
    group = "sm2" if wallets[0].suite.name == "sm" else "ristretto255"
    shares = local_keygen(GROUPS[group], 3, 2, b"xinlian-demo-regulator")
    public = shares[0].public
    with Client(url) as client:
        change = SetRegulator(group, 2, public.group_public_key.encode(), [
            RegulatorMember(s.identifier, m.address, GROUPS[group].base_mul(s.secret).encode())
            for s, m in zip(shares, wallets[2:5], strict=True)])
        proposal = client.wallet(admins[0].key).system(Propose(change))
        client.send(proposal)
        for admin in admins[1:2 * len(admins) // 3 + 1]:
            client.send(client.wallet(admin.key).system(Approve(proposal.hash)))
    say(f"regulator key ({group}, 2 of 3) made by DKG and set by governance")
    return group, shares


def show_confidential(url: str, wallets: Sequence[Wallet], regulator: Regulator,
                      say: Say) -> dict[str, object]:
    """Run it against the node at `url` with the demo's funded `wallets` (the first two are
    the banks', the three after them the members', whose shares are `regulator`'s)."""
    group, shares = regulator
    members = list(wallets[2:5])
    with Client(url) as client:
        a = client.confidential(client.wallet(wallets[0].key), new_secret(group))
        b = client.confidential(client.wallet(wallets[1].key), new_secret(group))
        a.register()
        b.register()
        a.deposit(DEPOSIT)
        tx_hash = a.transfer(wallets[1].address, AMOUNT).tx_hash
        balances = (a.balance(), b.balance())
        say(f"confidential transfer 0x{tx_hash.hex()[:16]}...: the chain holds ciphertexts "
            f"and proofs only; the sender decrypts {balances[0]}, the receiver {balances[1]}")
        requester = client.confidential(client.wallet(members[0].key))
        _, rho = requester.request_open(tx_hash, shares[0].identifier)
        for k in (0, 2):
            member = client.confidential(client.wallet(members[k].key))
            member.share(tx_hash, shares[k].secret, shares[k].identifier)
        opened = requester.opened(tx_hash, rho)
        assert opened is not None
        say(f"regulator member {shares[0].identifier} requested the opening (blinded), "
            f"2 of 3 members answered with decryption shares, each a transaction; only "
            f"the requester reads: 0x{opened.sender.hex()[:10]}... -> "
            f"0x{opened.receiver.hex()[:10]}... amount {opened.amount} (block {opened.height})")
    return {"confidential_group": group, "confidential_balances": list(balances),
            "confidential_opened_amount": opened.amount}
