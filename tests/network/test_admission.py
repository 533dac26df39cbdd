"""DDoS defences (issue 16, item 3): handshake cookies, admission limits, and the relay
under a request flood from 10 % of nodes, in simulation."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.network.admission import Admission, AdmissionConfig, Verdict, source_bytes
from xinlian.network.cookie import COOKIE_SIZE, CookieJar
from xinlian.network.relay.core import Connect, PublishTx, RelayConfig, RelayCore, tx_id
from xinlian.network.relay.messages import IWant, Txs, decode_message, encode_message
from xinlian.protocol import Input, Receive, Send
from xinlian.sim.scale import node_id
from xinlian.testing.handshake_flood import FloodScenario, run_flood
from xinlian.testing.relay_scenario import Scenario, run

SECRET = bytes(range(32))
SOURCE = source_bytes("192.0.2.7", 40_000)


def test_a_cookie_is_valid_for_its_source_in_its_slot_and_the_next() -> None:
    jar = CookieJar(SECRET, slot_s=10)
    cookie = jar.issue(SOURCE, now_s=105)
    assert len(cookie) == COOKIE_SIZE
    assert jar.check(SOURCE, cookie, 105) and jar.check(SOURCE, cookie, 119.9)
    assert not jar.check(SOURCE, cookie, 120)  # two slots later
    assert not jar.check(source_bytes("192.0.2.7", 40_001), cookie, 105)
    assert not jar.check(SOURCE, cookie[:-1], 105)


def test_a_cookie_survives_one_rotation_and_not_two() -> None:
    jar = CookieJar(SECRET, slot_s=10)
    cookie = jar.issue(SOURCE, 5)
    jar.rotate(bytes(32))
    assert jar.check(SOURCE, cookie, 5)
    jar.rotate(bytes([1]) * 32)
    assert not jar.check(SOURCE, cookie, 5)
    with pytest.raises(ValueError):
        CookieJar(b"short")


@given(st.binary(max_size=40), st.binary(min_size=COOKIE_SIZE, max_size=COOKIE_SIZE))
def test_a_guessed_cookie_is_refused(source: bytes, guess: bytes) -> None:
    jar = CookieJar(SECRET)
    assert jar.check(source, guess, 0) == (guess == jar.issue(source, 0))


MEMBER = "198.51.100.1"


def _admission(config: AdmissionConfig) -> Admission:
    return Admission(config, CookieJar(SECRET), lambda h: h == MEMBER, 0.0)


def test_under_load_a_hello_without_a_cookie_is_challenged_then_accepted_with_it() -> None:
    adm = _admission(AdmissionConfig(load_handshakes=2))
    for _ in range(2):
        assert adm.on_hello("203.0.113.1", 1, None, 0) is Verdict.ACCEPT
        adm.started()
    assert adm.on_hello("203.0.113.9", 5, None, 0) is Verdict.CHALLENGE
    cookie = adm.cookie_for("203.0.113.9", 5, 0)
    assert adm.on_hello("203.0.113.9", 5, cookie, 1) is Verdict.ACCEPT
    assert adm.on_hello("203.0.113.10", 5, cookie, 1) is Verdict.CHALLENGE  # not its cookie
    assert adm.on_hello(MEMBER, 7, None, 1) is Verdict.CHALLENGE  # members prove it too


def test_per_prefix_connection_and_rate_limits() -> None:
    adm = _admission(AdmissionConfig(max_per_prefix=2, handshakes_per_s_per_prefix=1.0,
                                     burst_s=3.0))
    for port in (1, 2):
        assert adm.on_hello("203.0.113.1", port, None, 0) is Verdict.ACCEPT
        adm.started()
        adm.finished("203.0.113.1", ok=True)
    assert adm.on_hello("203.0.200.9", 3, None, 0) is Verdict.REFUSE  # same /16
    assert adm.refused == {"prefix_connections": 1}
    adm.closed("203.0.113.1")
    assert adm.on_hello("203.0.200.9", 3, None, 0) is Verdict.ACCEPT
    assert adm.on_hello("203.0.200.9", 4, None, 0) is Verdict.REFUSE  # rate: 3 in burst
    assert adm.refused["prefix_rate"] == 1
    assert adm.on_hello("203.0.200.9", 4, None, 1.5) is Verdict.ACCEPT  # refilled


def test_members_keep_their_reserved_slots_under_a_flood_of_strangers() -> None:
    adm = _admission(AdmissionConfig(max_connections=10, reserved_for_members=3,
                                     max_per_prefix=100, handshakes_per_s_per_prefix=1e6,
                                     handshakes_per_s=1e6, load_handshakes=1_000))
    for i in range(20):
        host = f"203.0.{i}.1"
        if adm.on_hello(host, 1, None, 0) is Verdict.ACCEPT:
            adm.started()
            adm.finished(host, ok=True)
    assert adm.connections == 7 and adm.refused["connections"] == 13
    for _ in range(3):
        assert adm.on_hello(MEMBER, 1, None, 0) is Verdict.ACCEPT
        adm.started()
        adm.finished(MEMBER, ok=True)
    assert adm.on_hello(MEMBER, 1, None, 0) is Verdict.REFUSE  # all slots taken


def test_a_body_asked_for_a_third_time_is_not_served_and_the_asker_is_blamed() -> None:
    core = RelayCore(node_id(0), RelayConfig(), random.Random(1))
    core.handle(Input(0, Connect(node_id(1))))
    tx = b"a transaction"
    core.handle(Input(0, PublishTx(tx)))
    ask = encode_message(IWant([tx_id(tx)]))
    answers = [core.handle(Receive(t, node_id(1), ask)) for t in (1, 2, 3)]
    sent = [[decode_message(a.message) for a in out if isinstance(a, Send)] for out in answers]
    assert sent == [[Txs([tx])], [Txs([tx])], []]
    assert core.dropped["repeat_request"] == 1
    assert [e.kind for e in core.scores.evidence] == ["over_budget"]


FLOOD = Scenario(nodes=240, tx_per_s=2_000, warmup_ms=2_000, load_ms=5_000, drain_ms=4_000,
                 seed=5, attackers=(("flood", 0.10),))


def test_the_relay_keeps_its_figure_under_a_request_flood_from_ten_percent_of_nodes() -> None:
    """10 % of nodes ask every peer, every heartbeat, again for the last 200 bodies they
    heard of and for every transaction of every block they hold. Defended: repeats are
    refused, each peer's serving is budgeted, and the flooders, blamed, are graylisted.
    Undefended: honest uplinks fill with answers and propagation fails."""
    defended = run(FLOOD)
    assert defended.tx_full_coverage == 1.0 and defended.block_full_coverage == 1.0
    assert defended.tx_p95_s < 3 and defended.block_p95_s < 3
    assert defended.graylisted_pct == {"flood": 100.0}  # and no honest peer blamed
    undefended = run(replace(FLOOD, relay=RelayConfig(
        scoring=None, peer_msgs_per_s=None, serve_bytes_per_s=None)))
    assert undefended.tx_full_coverage < 0.95 and undefended.block_full_coverage < 0.95
    assert undefended.tx_p95_s == float("inf") and undefended.block_p95_s == float("inf")


def test_cookies_keep_honest_clients_connecting_through_a_spoofed_flood() -> None:
    """2,000 forged Hellos/s against 20 honest connections/s (a queueing model over the
    real Admission and CookieJar): with cookies every honest client connects within 3 s
    and forged sources cost the responder HMACs only; without, they take the handshake
    budget and most honest clients are refused."""
    with_cookies = run_flood(FloodScenario(cookies=True))
    without = run_flood(FloodScenario(cookies=False))
    assert with_cookies.honest == without.honest > 150
    assert with_cookies.connected_fraction == 1.0
    assert with_cookies.cpu_on_spoofed_s < 0.5 and with_cookies.challenged > 10_000
    assert without.connected_fraction < 0.5
    assert without.cpu_on_spoofed_s > 2.0
