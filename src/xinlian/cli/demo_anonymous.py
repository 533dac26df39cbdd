"""The anonymous part of `xinlian demo`, after its confidential part (which enacts the
regulator key): two accounts register anonymous addresses and shield notes, the first
pays the second from its note hidden in a ring, the transfer submitted by another
account (the relayer, refunded its fee from the notes), each side finds its notes by
scanning, and two of the regulator's three members open it on chain, blinded for the
first member, who reads sender, receivers and amounts (docs/privacy.md, "Anonymous
transfers on chain")."""

from __future__ import annotations

from collections.abc import Sequence

from xinlian.cli.demo_confidential import Regulator, Say
from xinlian.sdk.anonymous import new_keys
from xinlian.sdk.client import Client
from xinlian.sdk.wallet import Wallet

SHIELD = 10_000
AMOUNT = 2_500


def show_anonymous(url: str, wallets: Sequence[Wallet], regulator: Regulator,
                   say: Say) -> dict[str, object]:
    """Run it against the node at `url` with the demo's funded `wallets`: the first two
    are the banks', the three after them the regulator's members, whose shares are
    `regulator`'s (the first member's account submits the transfer)."""
    group, shares = regulator
    with Client(url) as client:
        a_wallet, b_wallet, relay_wallet = (client.wallet(w.key) for w in wallets[:3])
        a = client.anonymous(a_wallet, new_keys(group))
        b = client.anonymous(b_wallet, new_keys(group))
        relay = client.anonymous(relay_wallet)
        for bank in (a, b):
            bank.register()
        a.shield(SHIELD, among=[b_wallet.address])
        b.shield(SHIELD, among=[a_wallet.address])
        op = a.prepare_transfer(b_wallet.address, AMOUNT, ring=2,
                                submitter=relay_wallet.address)
        tx_hash = relay.relay(op).tx_hash
        balances = (a.balance(), b.balance())
        say(f"anonymous transfer 0x{tx_hash.hex()[:16]}...: sent by another account, the "
            f"sender hidden in a ring of 2 notes; scanning finds {balances[0]} and "
            f"{balances[1]}")
        members = {k: client.anonymous(client.wallet(wallets[2 + k].key)) for k in (0, 2)}
        _, rhos = members[0].request_open(tx_hash, shares[0].identifier)
        for k, member in members.items():
            member.share(tx_hash, shares[k].secret, shares[k].identifier)
        opened = members[0].opened(tx_hash, rhos)
        assert opened is not None
        paid = dict(zip(opened.receivers, opened.amounts, strict=True))
        say(f"regulator member 1 opened it with 2 of 3 members' shares: sender "
            f"0x{opened.senders[0].hex()[:10]}..., receiver 0x{b_wallet.address.hex()[:10]}"
            f"... got {paid[b_wallet.address]}")
    return {"anonymous_balances": list(balances), "anonymous_fee": op.transfer.fee,
            "anonymous_opened_sender_is_a": opened.senders == [a_wallet.address],
            "anonymous_opened_amount": paid[b_wallet.address]}
