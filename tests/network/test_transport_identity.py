"""Transport with membership certificates over loopback: members with valid certificates
connect; an expired, revoked or classical peer is refused and counted; new revocation lists
close the revoked peer's connections while the others keep talking."""

from __future__ import annotations

import asyncio

import pytest

from xinlian import codec
from xinlian.crypto.suites import get_suite
from xinlian.network import handshake as hs
from xinlian.network import identity as idn
from xinlian.network.framing import encode_frame

from .harness import Cluster

pytestmark = pytest.mark.timeout(60)

NOW = 1_800_000_000_000
DAY_MS = 86_400_000
SUITE = get_suite("pq")


def _identities(chain_id: str, windows: list[tuple[int, int]]
                ) -> tuple[list[hs.Identity | None], idn.IdentityPolicy, Cluster]:
    admin = SUITE.generate_signing_key(b"\x0a" * 32)
    policy = idn.IdentityPolicy(SUITE, chain_id, {"org0": (admin.public_key,)})
    cluster = Cluster(SUITE, len(windows), clock_ms=NOW)
    identities: list[hs.Identity | None] = [
        hs.Identity(idn.issue_certificate(admin, chain_id=chain_id, organisation="org0",
                                          role="validator", subject=key.public_key,
                                          serial=i + 1, not_before_ms=begin,
                                          not_after_ms=end), policy)
        for i, (key, (begin, end)) in enumerate(zip(cluster.keys, windows, strict=True))]
    cluster.identities = identities
    cluster.nodes = [cluster.make(i) for i in range(len(windows))]
    return identities, policy, cluster


def test_certified_members_connect_and_a_revoked_one_is_cut_off() -> None:
    async def main() -> None:
        window = (NOW - DAY_MS, NOW + DAY_MS)
        identities, policy, cluster = _identities("t1", [window] * 3)
        await cluster.start()
        try:
            zero = cluster.node(0)
            assert zero.send(cluster.ids[1], b"hello 1") and zero.send(cluster.ids[2], b"hi 2")
            await cluster.inboxes[1].wait_for(1)
            await cluster.inboxes[2].wait_for(1)
            # org0 revokes node 2's certificate (serial 3); nodes 0 and 1 load the list
            admin_crl = idn.revoke(SUITE.generate_signing_key(b"\x0a" * 32), chain_id="t1",
                                   organisation="org0", serials=[3], issued_ms=NOW)
            revoking = policy.with_revocations([admin_crl])
            for i in (0, 1):
                own = identities[i]
                assert own is not None
                cluster.node(i).set_identity(hs.Identity(own.certificate, revoking))
            # node 2 keeps redialling and is refused each time by both
            await zero.stats.reach("certificates_refused", 2)
            await cluster.node(1).stats.reach("certificates_refused", 2)
            assert not zero.connected(cluster.ids[2])
            assert not cluster.node(1).connected(cluster.ids[2])
            assert zero.send(cluster.ids[1], b"still here")
            await cluster.inboxes[1].wait_for(2)
            assert cluster.inboxes[1].messages[cluster.ids[0]] == [b"hello 1", b"still here"]
        finally:
            await cluster.close()

    asyncio.run(main())


def test_an_expired_member_is_refused() -> None:
    async def main() -> None:
        valid, expired = (NOW - DAY_MS, NOW + DAY_MS), (NOW - 3 * DAY_MS, NOW - 2 * DAY_MS)
        _, _, cluster = _identities("t2", [valid, valid, expired])
        for i in range(3):
            await cluster.node(i).start()
        try:
            await cluster.node(0).wait_connected([cluster.ids[1]])
            await cluster.node(0).stats.reach("certificates_refused", 1)
            # node 2 sees only connections closed on it in the middle of its handshakes
            await cluster.node(2).stats.reach("handshakes_failed", 2)
            assert not cluster.node(0).connected(cluster.ids[2])
            assert not cluster.node(2).connected(cluster.ids[0])
        finally:
            await cluster.close()

    asyncio.run(main())


def test_a_classical_key_is_refused_and_counted_on_a_pq_network() -> None:
    async def main() -> None:
        window = (NOW - DAY_MS, NOW + DAY_MS)
        _, _, cluster = _identities("t3", [window] * 2)
        await cluster.start()
        try:
            old = get_suite("intl").generate_signing_key(b"\x31" * 32)
            exchange = SUITE.new_key_exchange(lambda n: b"\x07" * n)
            hello = hs.Hello(hs.VERSION, "pq", old.public_key, exchange.offer(),
                             b"\x01" * hs.NONCE_SIZE)
            reader, writer = await asyncio.open_connection("127.0.0.1", cluster.ports[0])
            writer.write(encode_frame(codec.encode(hello), hs.MAX_HANDSHAKE_FRAME))
            await writer.drain()
            assert await reader.read() == b""  # closed without a Reply
            writer.close()
            await cluster.node(0).stats.reach("classical_identity", 1)
        finally:
            await cluster.close()

    asyncio.run(main())
