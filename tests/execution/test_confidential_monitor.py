"""The regulator's monitoring engine (execution/confidential_monitor.py): each rule at its
window's edges, on confidential and anonymous openings; the velocity rule against a
brute-force recount; bad rules files refused with their typed error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.execution.confidential_monitor import (
    AmountRule,
    BadRules,
    FanRule,
    Monitor,
    OpenedTx,
    OutOfOrder,
    VelocityRule,
    anonymous_tx,
    confidential_tx,
    parse_rules,
    run,
)

A, B, C, D, E = (bytes([i]) * 20 for i in range(1, 6))


def tx_id(n: int) -> bytes:
    return n.to_bytes(32, "big")


def conf(n: int, height: int, sender: bytes, receiver: bytes, amount: int) -> OpenedTx:
    return confidential_tx(tx_id(n), height, sender, receiver, amount)


def test_amount_rule_flags_above_not_at_the_limit() -> None:
    rule = AmountRule("large", 10_000)
    found = run([rule], [conf(1, 5, A, B, 10_000), conf(2, 6, A, B, 10_001)])
    assert [(f.rule, f.value, f.limit, [e.tx for e in f.evidence]) for f in found] == [
        ("large", 10_001, 10_000, [tx_id(2)])]
    assert found[0].evidence[0].height == 6 and found[0].account is None


def test_amount_rule_counts_an_anonymous_transfer_without_its_change() -> None:
    rule = AmountRule("large", 100)
    # A spends a note: 60 to B, 45 to C, 900 back to itself (change)
    tx = anonymous_tx(tx_id(1), 3, [A], [B, C, A], [60, 45, 900])
    assert tx.payments == ((B, 60), (C, 45)) and tx.total == 105
    assert [f.value for f in run([rule], [tx])] == [105]
    assert run([AmountRule("large", 105)], [tx]) == []


def test_velocity_window_holds_exactly_its_blocks() -> None:
    rule = VelocityRule("busy", "sent", window=10, max_count=1, max_total=None)
    # heights 1 and 10 lie in one 10-block window (1..10); 1 and 11 do not
    assert run([rule], [conf(1, 1, A, B, 5), conf(2, 11, A, B, 5)]) == []
    found = run([rule], [conf(1, 1, A, B, 5), conf(2, 10, A, B, 5)])
    assert [(f.account, f.measure, f.value, f.limit) for f in found] == [
        (A, "count_sent", 2, 1)]
    assert [(e.tx, e.height) for e in found[0].evidence] == [(tx_id(1), 1), (tx_id(2), 10)]


def test_velocity_total_received_across_both_kinds() -> None:
    rule = VelocityRule("inflow", "received", window=5, max_count=None, max_total=100)
    txs = [conf(1, 1, A, C, 50),
           anonymous_tx(tx_id(2), 3, [B], [C, B], [50, 7]),  # 7 is B's change
           conf(3, 5, D, C, 1)]
    found = run([rule], txs)
    assert [(f.account, f.measure, f.value) for f in found] == [(C, "total_received", 101)]
    assert [e.tx for e in found[0].evidence] == [tx_id(1), tx_id(2), tx_id(3)]
    # one block later the first transfer has left the window: 51, under the limit
    assert run([rule], [txs[0], txs[1], conf(3, 6, D, C, 1)]) == []


def test_velocity_keeps_accounts_apart() -> None:
    rule = VelocityRule("busy", "sent", window=100, max_count=1, max_total=None)
    assert run([rule], [conf(1, 1, A, C, 1), conf(2, 2, B, C, 1)]) == []


def test_fan_out_counts_distinct_receivers_in_the_window() -> None:
    rule = FanRule("spray", "out", window=3, max_parties=2)
    txs = [conf(1, 1, A, B, 1), conf(2, 2, A, B, 1), conf(3, 3, A, C, 1)]
    assert run([rule], txs) == []  # two distinct receivers
    found = run([rule], [*txs, conf(4, 3, A, D, 1)])
    assert [(f.account, f.measure, f.value, f.limit) for f in found] == [
        (A, "receivers", 3, 2)]
    assert [e.tx for e in found[0].evidence] == [tx_id(1), tx_id(2), tx_id(3), tx_id(4)]
    # at height 4 the window is 2..4: B (tx 2), C, D -> still three
    assert len(run([rule], [*txs, conf(4, 4, A, D, 1)])) == 1
    # at height 5 the window is 3..5: C, D
    assert run([rule], [*txs, conf(4, 5, A, D, 1)]) == []


def test_fan_out_of_one_anonymous_transfer_to_many() -> None:
    rule = FanRule("spray", "out", window=1, max_parties=2)
    tx = anonymous_tx(tx_id(9), 7, [A], [B, C, D, A], [1, 1, 1, 5])
    found = run([rule], [tx])
    assert [(f.account, f.value) for f in found] == [(A, 3)]


def test_fan_in_counts_distinct_senders() -> None:
    rule = FanRule("gather", "in", window=10, max_parties=2)
    txs = [conf(1, 1, A, E, 1), anonymous_tx(tx_id(2), 2, [B], [E], [1]),
           conf(3, 4, A, E, 1)]
    assert run([rule], txs) == []
    found = run([rule], [*txs, conf(4, 10, C, E, 1)])
    assert [(f.account, f.measure, f.value) for f in found] == [(E, "senders", 3)]


def test_feeding_out_of_block_order_is_refused() -> None:
    monitor = Monitor([AmountRule("large", 0)])
    monitor.feed(conf(1, 5, A, B, 1))
    with pytest.raises(OutOfOrder):
        monitor.feed(conf(2, 4, A, B, 1))


def brute_velocity(rule: VelocityRule, txs: list[OpenedTx]) -> list[tuple[bytes, bytes, str,
                                                                        int]]:
    """Each transaction, in order, recounted from scratch over all before it."""
    out = []
    for k, tx in enumerate(txs):
        for account in tx.senders if rule.direction == "sent" else tx.receivers:
            seen = [t for t in txs[:k + 1] if tx.height - rule.window < t.height
                    and (account in t.senders if rule.direction == "sent"
                         else account in t.receivers)]
            total = sum(t.total if rule.direction == "sent" else
                        sum(a for r, a in t.payments if r == account) for t in seen)
            for measure, got, limit in (("count", len(seen), rule.max_count),
                                        ("total", total, rule.max_total)):
                if limit is not None and got > limit:
                    out.append((tx.tx, account, measure, got))
    return out


accounts = st.sampled_from([A, B, C, D])


@st.composite
def streams(draw: st.DrawFn) -> list[OpenedTx]:
    n = draw(st.integers(0, 25))
    heights = sorted(draw(st.lists(st.integers(1, 40), min_size=n, max_size=n)))
    txs = []
    for k, h in enumerate(heights):
        if draw(st.booleans()):
            s, r = draw(accounts), draw(accounts)
            txs.append(conf(k, h, s, r, draw(st.integers(0, 50))))
        else:
            s = draw(accounts)
            outs = draw(st.lists(st.tuples(accounts, st.integers(0, 50)), min_size=1,
                                 max_size=3))
            txs.append(anonymous_tx(tx_id(k), h, [s], [o[0] for o in outs],
                                    [o[1] for o in outs]))
    return txs


@settings(max_examples=150, deadline=None)
@given(streams(), st.sampled_from(["sent", "received"]), st.integers(1, 12),
       st.none() | st.integers(0, 4), st.none() | st.integers(0, 120))
def test_velocity_equals_a_brute_force_recount(txs: list[OpenedTx], direction: str,
                                               window: int, max_count: int | None,
                                               max_total: int | None) -> None:
    rule = VelocityRule("v", direction, window, max_count, max_total)  # type: ignore[arg-type]
    monitor = Monitor([rule])
    found = [(tx.tx, f.account, f.measure.split("_")[0], f.value)
             for tx in txs for f in monitor.feed(tx)]
    assert found == brute_velocity(rule, txs)


RULES = """
[[amount]]
name = "large"
above = 10000

[[velocity]]
name = "busy-sender"
direction = "sent"
window = 100
max_count = 5
max_total = 50000

[[fan]]
name = "fan-out"
direction = "out"
window = 50
max_parties = 3
"""


def test_a_rules_file_parses_into_its_rules() -> None:
    assert parse_rules(RULES) == [
        AmountRule("large", 10_000),
        VelocityRule("busy-sender", "sent", 100, 5, 50_000),
        FanRule("fan-out", "out", 50, 3)]


@pytest.mark.parametrize("text, says", [
    ("[[amount]\nname=1", "not TOML"),
    ("", "no rule"),
    ("[[speed]]\nname = 'x'", "unknown rule kind 'speed'"),
    ("[amount]\nname = 'x'\nabove = 1", "write each rule as [[amount]]"),
    ("[[amount]]\nname = 'x'", "above is missing"),
    ("[[amount]]\nname = 'x'\nabove = '5'", "above must be an integer"),
    ("[[amount]]\nname = 'x'\nabove = true", "above must be an integer"),
    ("[[amount]]\nname = 'x'\nabove = -1", "above must be not negative"),
    ("[[amount]]\nname = 'x'\nabove = 1\nbelow = 2", "unknown field 'below'"),
    ("[[velocity]]\nname = 'v'\ndirection = 'sent'\nwindow = 0\nmax_count = 1",
     "window must be positive"),
    ("[[velocity]]\nname = 'v'\ndirection = 'up'\nwindow = 5\nmax_count = 1",
     "direction is one of sent, received"),
    ("[[velocity]]\nname = 'v'\ndirection = 'sent'\nwindow = 5", "give max_count"),
    ("[[fan]]\nname = 'f'\ndirection = 'sent'\nwindow = 5\nmax_parties = 1",
     "direction is one of out, in"),
    ("[[amount]]\nname = 'x'\nabove = 1\n[[fan]]\nname = 'x'\ndirection = 'in'\n"
     "window = 5\nmax_parties = 1", "two rules have one name"),
])
def test_invalid_rules_files_are_refused(text: str, says: str) -> None:
    with pytest.raises(BadRules) as caught:
        parse_rules(text)
    assert says in caught.value.message
    assert caught.value.code == 5311
