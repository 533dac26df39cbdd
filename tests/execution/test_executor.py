"""Execution rules: transfers, fees, nonces, failures, and the membership system contract."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.execution import payloads as p
from xinlian.execution.errors import BadPayload, InsufficientBalance, InvalidOperation, Unauthorised
from xinlian.execution.system import is_permitted
from xinlian.ledger import errors as e
from xinlian.ledger.transaction import TxKind

from .conftest import Chain, make_chain


def test_transfer_moves_funds_charges_fee_and_spends_nonce(chain: Chain) -> None:
    result = chain.execute([chain.transfer(0, 0, chain.addr(1), 100)])
    assert [r.status for r in result.receipts] == [0]
    assert result.receipts[0].fee_paid == chain.genesis.params.transfer_cost == 1
    assert chain.account(chain.addr(0)).balance == 1000 - 100 - 1
    assert chain.account(chain.addr(0)).nonce == 1
    assert chain.account(chain.addr(1)).balance == 1100


def test_overdraft_fails_but_pays_fee_and_spends_nonce(chain: Chain) -> None:
    result = chain.execute([chain.transfer(0, 0, chain.addr(1), 5000)])
    receipt = result.receipts[0]
    assert (receipt.status, receipt.error) == (InsufficientBalance.code, "insufficient_balance")
    assert chain.account(chain.addr(0)).balance == 999
    assert chain.account(chain.addr(0)).nonce == 1
    assert chain.account(chain.addr(1)).balance == 1000


def test_non_executable_transactions_are_left_out(chain: Chain) -> None:
    raws = [chain.transfer(0, 1, chain.addr(1), 1),           # nonce gap
            chain.transfer(0, 0, chain.addr(1), 1, expiry=0),  # expired
            chain.transfer(5, 0, chain.addr(1), 1)]            # not permitted
    result = chain.execute(raws)
    assert result.included == []
    assert [type(error) for _, error in result.excluded] == [
        e.NonceTooHigh, e.Expired, e.NotPermitted]
    assert chain.account(chain.addr(0)).nonce == 0


def test_bad_payload_fails_in_receipt(chain: Chain) -> None:
    result = chain.execute([chain.tx(0, 0, payload=b"\xc1")])
    assert result.receipts[0].status == BadPayload.code
    result = chain.execute([chain.transfer(0, 1, chain.addr(1), -5)])
    assert result.receipts[0].status == BadPayload.code


@settings(max_examples=30)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 400)),
                max_size=25))
def test_supply_is_conserved_minus_fees(transfers: list[tuple[int, int, int]]) -> None:
    c = make_chain()
    nonces = [0] * 5
    raws = []
    for src, dst, amount in transfers:
        raws.append(c.transfer(src, nonces[src], c.addr(dst), amount))
        nonces[src] += 1
    result = c.execute(raws)
    total = sum(c.account(c.addr(i)).balance for i in range(5))
    assert total == 5000 - sum(r.fee_paid for r in result.receipts)
    assert all(c.account(c.addr(i)).nonce == nonces[i] for i in range(5))


def test_admin_grants_and_revokes_submission(chain: Chain) -> None:
    stranger = chain.addr(5)
    assert not is_permitted(chain.state.get, stranger)
    result = chain.execute([chain.system(0, 0, p.GrantSubmit(stranger))])
    assert result.receipts[0].status == 0 and is_permitted(chain.state.get, stranger)
    chain.execute([chain.system(1, 0, p.RevokeSubmit(stranger))])
    assert not is_permitted(chain.state.get, stranger)


def test_non_admin_cannot_change_membership(chain: Chain) -> None:
    result = chain.execute([chain.system(3, 0, p.GrantSubmit(chain.addr(5)))])
    assert result.receipts[0].status == Unauthorised.code
    assert not is_permitted(chain.state.get, chain.addr(5))


def test_admins_manage_only_their_organisation(chain: Chain) -> None:
    new_admin = chain.keys[4].public_key
    bad = chain.execute([chain.system(0, 0, p.AddAdmin("org1", new_admin))])
    assert bad.receipts[0].status == Unauthorised.code
    ok = chain.execute([chain.system(0, 1, p.AddAdmin("org0", new_admin))])
    assert ok.receipts[0].status == 0
    # The new admin can act; the last admin cannot be removed.
    assert chain.execute([chain.system(4, 0, p.GrantSubmit(chain.addr(5)))]).receipts[0].status == 0
    chain.execute([chain.system(0, 2, p.RemoveAdmin("org0", new_admin))])
    last = chain.execute([chain.system(0, 3, p.RemoveAdmin("org0", chain.keys[0].public_key))])
    assert last.receipts[0].status == InvalidOperation.code


def test_adding_an_organisation_needs_more_than_two_thirds(chain: Chain) -> None:
    change = p.AddOrganisation("org3", [chain.keys[5].public_key])
    proposed = chain.execute([chain.system(0, 0, p.Propose(change))])
    assert proposed.receipts[0].events[0].name == "ProposalOpen"
    pid = proposed.included[0].hash
    # Two of three organisations is not more than two thirds.
    second = chain.execute([chain.system(1, 0, p.Approve(pid))])
    assert second.receipts[0].events[0].name == "ProposalOpen"
    assert chain.execute([chain.system(1, 1, p.Approve(pid))]).receipts[0].status == \
        InvalidOperation.code  # the same organisation cannot approve twice
    third = chain.execute([chain.system(2, 0, p.Approve(pid))])
    assert third.receipts[0].events[0].name == "OrganisationAdded"
    assert is_permitted(chain.state.get, chain.addr(5))  # the new admin may submit


def test_system_payload_of_unknown_operation_fails_typed(chain: Chain) -> None:
    raw = chain.tx(0, 0, kind=TxKind.SYSTEM, payload=codec.encode(["mint", 10**6]))
    assert chain.execute([raw]).receipts[0].status == BadPayload.code
