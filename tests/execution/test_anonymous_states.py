"""Anonymous notes as a state machine, explored by hypothesis: shields, transfers (some
relayed), unshields between three registered accounts, interleaved with a double
spender's attempts (a transfer submitted again after it is in, two transfers of one
note in one block), checking after every step against a model of who holds how much:
each wallet's scanned balance is the model's, the notes' supply is their sum, no note
is spent twice, and public balances + supply + burned fees stay the genesis supply.
Proofs are made with the chain's seeded random source, so every run replays."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from xinlian.execution import anonymous as chain_anon
from xinlian.execution.anonymous_payloads import AnonTransfer
from xinlian.execution.errors import AnonymousOverflow

from .test_anonymous import RELAYER, Anon
from .test_confidential import BANK_A, BANK_B, OTHER

ACCOUNTS = (BANK_A, BANK_B, OTHER)
accounts = st.sampled_from(ACCOUNTS)


class AnonymousLedger(RuleBasedStateMachine):
    anon: Anon
    model: dict[int, int]  # what each account's notes hold
    spent: list[AnonTransfer]  # included transfers, to submit again

    @initialize(seed=st.integers(0, 2**16))
    def start(self, seed: int) -> None:
        self.anon = Anon(seed)
        for i in ACCOUNTS:
            self.anon.bank(i)
        self.anon.bank(RELAYER, register=False)
        self.model = dict.fromkeys(ACCOUNTS, 0)
        self.spent = []
        for i in ACCOUNTS:
            self.shield(i, 3000)

    def _notes(self) -> int:
        return chain_anon.get_count(self.anon.chain.read)

    @rule(i=accounts, amount=st.integers(1, 5000))
    def shield(self, i: int, amount: int) -> None:
        self.anon.wallets[i].notes.shield(amount)
        self.model[i] += amount

    def _prepare(self, i: int, j: int, amount: int, relayed: bool) -> AnonTransfer | None:
        bank = self.anon.wallets[i]
        submitter = self.anon.wallets[RELAYER].address if relayed else None
        try:
            return bank.notes.prepare_transfer(self.anon.wallets[j].address, amount, ring=2,
                                               submitter=submitter)
        except AnonymousOverflow:  # the notes do not cover amount and fee: nothing sent
            return None

    @precondition(lambda self: self._notes() >= 2)
    @rule(i=accounts, j=accounts, amount=st.integers(0, 3000), relayed=st.booleans())
    def transfer(self, i: int, j: int, amount: int, relayed: bool) -> None:
        op = self._prepare(i, j, amount, relayed)
        if op is None:
            return
        raw = self.anon.sign(RELAYER if relayed else i, op)
        assert self.anon.chain.one(raw).status == 0
        self.model[i] -= amount + op.transfer.fee
        self.model[j] += amount
        self.spent.append(op)

    @precondition(lambda self: self._notes() >= 2)
    @rule(i=accounts, amount=st.integers(1, 3000))
    def unshield(self, i: int, amount: int) -> None:
        bank = self.anon.wallets[i]
        try:
            op = bank.notes.prepare_transfer(None, 0, public_out=amount,
                                             public_to=bank.address, ring=2)
        except AnonymousOverflow:
            return
        assert self.anon.chain.one(self.anon.sign(i, op)).status == 0
        self.model[i] -= amount + op.transfer.fee
        self.spent.append(op)

    @precondition(lambda self: bool(self.spent))
    @rule(data=st.data(), i=st.sampled_from((*ACCOUNTS, RELAYER)))
    def spend_again(self, data: st.DataObject, i: int) -> None:
        """Whoever submits it (the key images are checked before the binding)."""
        op = data.draw(st.sampled_from(self.spent))
        assert self.anon.chain.one(self.anon.sign(i, op)).error == "anonymous_double_spend"

    @precondition(lambda self: self._notes() >= 2)
    @rule(i=accounts, j=accounts)
    def two_spends_in_one_block(self, i: int, j: int) -> None:
        first = self._prepare(i, j, 1, False)
        second = self._prepare(i, j, 1, False)
        if first is None or second is None:
            return
        spends = {s.key_image for s in first.transfer.spends}
        overlap = bool(spends & {s.key_image for s in second.transfer.spends})
        result = self.anon.chain.execute([self.anon.sign(i, first), self.anon.sign(i, second)])
        assert result.receipts[0].status == 0
        self.model[i] -= 1 + first.transfer.fee
        self.model[j] += 1
        self.spent.append(first)
        if overlap:
            assert result.receipts[1].error == "anonymous_double_spend"
        else:
            assert result.receipts[1].status == 0
            self.model[i] -= 1 + second.transfer.fee
            self.model[j] += 1
            self.spent.append(second)

    @invariant()
    def balances_match_the_model(self) -> None:
        for i in ACCOUNTS:
            assert self.anon.wallets[i].notes.balance() == self.model[i]
        assert self.anon.supply() == sum(self.model.values())
        self.anon.check_conservation()

    @invariant()
    def no_note_is_spent_twice(self) -> None:
        images = [s.key_image for op in self.spent for s in op.transfer.spends]
        assert len(images) == len(set(images))
        for image in images:
            assert chain_anon.is_spent(self.anon.chain.read, image)


AnonymousLedger.TestCase.settings = settings(
    max_examples=10, stateful_step_count=8, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
test_anonymous_ledger = AnonymousLedger.TestCase
