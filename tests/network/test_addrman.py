"""The address manager (issue 16, item 3: eclipse) and the eclipse simulation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.network.addrman import (
    AddrMan,
    AddrManConfig,
    PeerAddress,
    decode_anchors,
    encode_anchors,
    network_group,
    parse_address,
)
from xinlian.network.errors import AnchorsCorrupt, BadPeerAddress
from xinlian.testing.eclipse import EclipseScenario, success_probability

SMALL = AddrManConfig(new_buckets=64, tried_buckets=16, bucket_size=16,
                      new_buckets_per_source=4, tried_buckets_per_group=2)


def _table(seed: int = 1, config: AddrManConfig = SMALL) -> AddrMan:
    rng = random.Random(seed)
    return AddrMan(rng.randbytes(32), config, rng)


def _addr(i: int, org: str = "") -> PeerAddress:
    return PeerAddress(f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", 7400, org)


def test_network_groups_are_ipv4_16_and_ipv6_32() -> None:
    assert network_group("10.1.2.3") == network_group("10.1.200.7") != network_group("10.2.0.1")
    assert network_group("::ffff:10.1.2.3") == network_group("10.1.9.9")
    assert network_group("2001:db8:1::1") == network_group("2001:db8:ffff::2")
    assert network_group("2001:db8::1") != network_group("2001:db9::1")


def test_invalid_addresses_get_a_typed_error() -> None:
    for host, port in (("node.example", 7400), ("10.0.0.1", 0), ("10.0.0.1", 70000)):
        with pytest.raises(BadPeerAddress):
            parse_address(host, port)
    with pytest.raises(ValueError):
        AddrMan(b"short", SMALL, random.Random(1))


def test_one_source_group_reaches_only_its_share_of_new_buckets() -> None:
    table = _table()
    for i in range(5_000):  # a flood from hosts of one /16
        table.add(PeerAddress(f"172.{16 + i % 200}.{i // 200}.1", 7400),
                  source=f"203.0.{i % 256}.9")
    assert len(table._new.nonempty) <= SMALL.new_buckets_per_source
    assert len(table) <= SMALL.new_buckets_per_source * SMALL.bucket_size


def test_a_flood_does_not_push_out_addresses_already_known() -> None:
    table = _table()
    known = [_addr(i) for i in range(300)]
    placed = [a for a in known if table.add(a, source=a.host)]
    for i in range(20_000):
        table.add(PeerAddress(f"198.{i % 256}.{i // 256 % 256}.1", 7400),
                  source=f"198.{i % 256}.0.1")
    assert all(a in table._entries for a in placed)


def test_terrible_addresses_make_room() -> None:
    table = _table()
    first = _addr(1)
    table.add(first, "192.0.2.1")
    bucket, slot = table._new_place(first, "192.0.2.1")
    rival = next(a for a in (_addr(i) for i in range(2, 100_000))
                 if table._new_place(a, "192.0.2.1") == (bucket, slot))
    assert not table.add(rival, "192.0.2.1")
    for _ in range(SMALL.max_failures):
        table.attempt_failed(first)
    assert table.add(rival, "192.0.2.1") and first not in table._entries


def test_good_moves_to_tried_and_a_displaced_tried_entry_returns_to_new() -> None:
    table = _table()
    addrs = [_addr(i) for i in range(2_000)]
    for a in addrs:
        table.add(a, a.host)
    placed = [a for a in addrs if a in table._entries]
    for a in placed:
        table.good(a, now=5)
    new, tried = table.counts()
    assert tried <= SMALL.tried_buckets * SMALL.bucket_size
    assert new + tried == len(table) and new > 0  # displaced from tried, not forgotten


def test_placement_depends_on_the_secret_key() -> None:
    a = _addr(7)
    assert _table(1)._new_place(a, "192.0.2.1") != _table(2)._new_place(a, "192.0.2.1")


def test_outbound_choice_keeps_one_peer_per_group_and_two_per_organisation() -> None:
    table = _table(config=AddrManConfig())
    for i in range(3_000):
        table.add(PeerAddress(f"{20 + i % 100}.{i % 7}.{i // 7 % 256}.1", 7400,
                              f"org{i % 3}"), source=f"{20 + i % 100}.0.0.1")
    chosen = table.select_outbound(8, [])
    groups = [network_group(a.host) for a in chosen]
    assert len(set(groups)) == len(groups)
    assert len(chosen) == 6  # three organisations, two each
    assert all(sum(a.org == o for a in chosen) <= 2 for o in ("org0", "org1", "org2"))


addresses = st.builds(PeerAddress,
                      host=st.ip_addresses().map(str),
                      port=st.integers(1, 65535),
                      org=st.text(max_size=20))


@given(st.lists(addresses, max_size=16))
def test_anchors_round_trip(anchors: list[PeerAddress]) -> None:
    assert decode_anchors(encode_anchors(anchors)) == anchors


@pytest.mark.parametrize("data", [b"", b"\x91\x91\x93\xa3bad\x00\xa0", b"\xff" * 10,
                                  encode_anchors([PeerAddress("10.0.0.1", 1)])[:-1]])
def test_invalid_anchor_files_get_a_typed_error(data: bytes) -> None:
    with pytest.raises(AnchorsCorrupt):
        decode_anchors(data)


def test_eclipse_succeeds_against_a_naive_table_and_not_against_the_address_manager() -> None:
    """The attacker holds 90 % of the addresses the victim heard of."""
    s = EclipseScenario(trials=30)
    naive = success_probability(s, "naive", 0.9)
    buckets = success_probability(s, "buckets", 0.9)
    anchors = success_probability(s, "anchors", 0.9)
    assert naive >= 0.25          # the undefended table is eclipsed in a quarter or more
    assert buckets <= 0.1 and buckets < naive / 4
    assert anchors == 0.0         # an anchor kept from before the attack is honest
