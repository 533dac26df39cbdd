"""The confidential-account protocol as a state machine, explored by hypothesis: deposits,
transfers and withdrawals between three accounts, interleaved with the attacks a
double spender has — replaying an included transaction, sending a proof made against a
balance that has changed since, sending one transaction twice in a block — checking after
every step that value is conserved (public + confidential supply + burned fees = genesis
supply, and the supply is what the balances decrypt to) and that every balance is exactly
what the accepted operations make it."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from xinlian.execution.confidential_payloads import Deposit

from .test_confidential import BANK_A, BANK_B, OTHER, Chain, make_chain

ACCOUNTS = (BANK_A, BANK_B, OTHER)
accounts = st.sampled_from(ACCOUNTS)
amounts = st.integers(1, 400)


class ConfidentialLedger(RuleBasedStateMachine):
    chain: Chain
    model: dict[int, int]
    included: list[bytes]  # raw transactions already in blocks (for replays)
    stale: list[tuple[int, int, bytes]]  # (sender, nonce, raw): proven against an old balance

    @initialize(seed=st.integers(0, 2**16))
    def start(self, seed: int) -> None:
        self.chain = make_chain(seed=seed)
        for i in ACCOUNTS:
            assert self.chain.register(i).status == 0
        self.model = dict.fromkeys(ACCOUNTS, 0)
        self.included = []
        self.stale = []

    def _apply(self, raw: bytes, ok: bool) -> None:
        receipt = self.chain.one(raw)
        assert (receipt.status == 0) == ok, receipt.error
        self.included.append(raw)

    @rule(i=accounts, amount=amounts)
    def deposit(self, i: int, amount: int) -> None:
        self._apply(self.chain.op(i, Deposit(amount)), True)
        self.model[i] += amount

    @precondition(lambda self: any(v > 0 for v in self.model.values()))
    @rule(i=accounts, j=accounts, data=st.data())
    def transfer(self, i: int, j: int, data: st.DataObject) -> None:
        if i == j or self.model[i] == 0:
            return
        amount = data.draw(st.integers(0, self.model[i]))
        now = self.chain.transfer_raw(i, j, amount)
        # a second proof against the same balance with the next nonce, kept to be sent
        # once the first is in
        nonce = self.chain.nonce(i)
        later = self.chain.transfer_raw(i, j, amount)
        self.chain.nonces[i] = nonce
        self._apply(now, True)
        self.stale.append((i, nonce, later))
        self.model[i] -= amount
        self.model[j] += amount

    @precondition(lambda self: any(v > 0 for v in self.model.values()))
    @rule(i=accounts, data=st.data())
    def withdraw(self, i: int, data: st.DataObject) -> None:
        if self.model[i] == 0:
            return
        amount = data.draw(st.integers(1, self.model[i]))
        self._apply(self.chain.withdraw_raw(i, amount), True)
        self.model[i] -= amount

    @precondition(lambda self: bool(self.included))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """An included transaction sent again is left out of the block: its nonce is spent."""
        raw = data.draw(st.sampled_from(self.included))
        result = self.chain.execute([raw])
        assert result.receipts == [] and result.excluded[0][1].name == "nonce_too_low"

    @precondition(lambda self: bool(self.stale))
    @rule(data=st.data())
    def spend_a_stale_proof(self, data: st.DataObject) -> None:
        """A proof made against the balance before an included transfer (a double spend of
        that balance, with a fresh nonce) fails; only its fee is charged."""
        i, nonce, raw = self.stale.pop(data.draw(st.integers(0, len(self.stale) - 1)))
        result = self.chain.execute([raw])
        if result.excluded:  # its nonce was taken by a later transaction of the sender
            assert result.excluded[0][1].name == "nonce_too_low"
            return
        assert result.receipts[0].error == "confidential_stale_balance"
        self.chain.nonces[i] = nonce + 1

    @precondition(lambda self: any(v > 0 for v in self.model.values()))
    @rule(i=accounts)
    def the_same_transaction_twice_in_a_block(self, i: int) -> None:
        if self.model[i] == 0:
            return
        raw = self.chain.withdraw_raw(i, self.model[i])
        result = self.chain.execute([raw, raw])
        assert [r.status for r in result.receipts] == [0]
        assert result.excluded[0][1].name == "nonce_too_low"
        self.included.append(raw)
        self.model[i] = 0

    @invariant()
    def value_is_conserved_and_balances_are_the_models(self) -> None:
        self.chain.check_conservation()
        assert {i: self.chain.balance(i) for i in ACCOUNTS} == self.model


ConfidentialLedger.TestCase.settings = settings(max_examples=15, stateful_step_count=12,
                                                deadline=None)
TestConfidentialLedger = ConfidentialLedger.TestCase
