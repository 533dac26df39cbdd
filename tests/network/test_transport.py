"""Transport over loopback: delivery, refusals, attacks on the wire, reconnect, backpressure."""

from __future__ import annotations

import asyncio

import pytest

from xinlian import codec
from xinlian.crypto.suites import Suite, get_suite
from xinlian.network import handshake as hs
from xinlian.network.channel import Channel, pack
from xinlian.network.framing import encode_frame
from xinlian.network.shaper import LinkShape, uniform
from xinlian.network.transport import Transport, TransportConfig

from .conftest import membership
from .harness import Cluster, dial_as, listening_socket, read_frame

pytestmark = pytest.mark.timeout(60)


def test_all_pairs_exchange_messages(suite: Suite) -> None:
    async def main() -> None:
        cluster = Cluster(suite, 3)
        await cluster.start()
        try:
            for i in range(3):
                for j in range(3):
                    if i != j:
                        for k in range(5):
                            assert cluster.node(i).send(cluster.ids[j], b"%d->%d #%d" % (i, j, k))
            for inbox in cluster.inboxes:
                await inbox.wait_for(10)
            for j, inbox in enumerate(cluster.inboxes):
                for i in range(3):
                    if i != j:
                        assert inbox.messages[cluster.ids[i]] == [
                            b"%d->%d #%d" % (i, j, k) for k in range(5)]
        finally:
            await cluster.close()

    asyncio.run(main())


def _seal(channel: Channel, *messages: bytes) -> bytes:
    return encode_frame(channel.seal(pack(messages)), 1 << 24)


def test_wire_attacks_are_dropped_counted_and_survived(suite: Suite) -> None:
    """Tampered, replayed, reordered, truncated, malformed, duplicate and oversize input."""

    async def main() -> None:
        cluster = Cluster(suite, 3)
        cluster.nodes[2] = None  # node 2's key is driven by hand below
        await cluster.start()
        target = cluster.node(0)
        stats = target.stats
        inbox = cluster.inboxes[0]
        me = cluster.ids[2]
        try:
            _, writer, ch = await dial_as(cluster, 2, 0)
            first = _seal(ch, b"one")
            writer.write(first)
            await inbox.wait_for(1)

            tampered = bytearray(_seal(ch, b"two"))
            tampered[-3] ^= 0x40
            writer.write(bytes(tampered))
            await stats.reach("decrypt_failed", 1)

            writer.write(first)  # replay of an accepted record
            await stats.reach("replayed", 1)

            r3, r4 = _seal(ch, b"three"), _seal(ch, b"four")
            writer.write(r4 + r3)  # reordered: four is accepted, then three is too old
            await stats.reach("replayed", 2)

            short = _seal(ch, b"five, truncated")
            body = short[4:-5]
            writer.write(len(body).to_bytes(4, "big") + body)  # a consistent but cut record
            await stats.reach("decrypt_failed", 2)
            writer.write(encode_frame(b"\x00" * 10, 100))  # shorter than counter + tag
            await stats.reach("malformed", 1)
            writer.write(encode_frame(ch.seal(b"\x00\x00\x00\x09ab"), 100))  # bad packing
            await stats.reach("malformed", 2)

            writer.write(_seal(ch, b"six") + _seal(ch, b"six"))  # duplicate message
            await stats.reach("duplicates", 1)
            writer.write(_seal(ch, b"seven"))
            await inbox.wait_for(4)
            assert inbox.messages[me] == [b"one", b"four", b"six", b"seven"]

            # An oversize frame header closes this connection; the node keeps working.
            writer.write((target.config.max_frame + 1).to_bytes(4, "big"))
            await stats.reach("oversize", 1)
            assert cluster.node(1).send(cluster.ids[0], b"still alive")
            await inbox.wait_for(5)
            assert inbox.messages[cluster.ids[1]] == [b"still alive"]
            writer.close()
            # Everything was counted against node 2, nothing against node 1.
            assert target.peer_stats(me)["decrypt_failed"] == 2
            assert target.peer_stats(cluster.ids[1])["decrypt_failed"] == 0
        finally:
            await cluster.close()

    asyncio.run(main())


def test_too_many_bad_records_close_the_connection() -> None:
    async def main() -> None:
        cluster = Cluster(get_suite("intl"), 2, config=TransportConfig(max_bad_records=3))
        cluster.nodes[1] = None
        await cluster.start()
        try:
            reader, writer, ch = await dial_as(cluster, 1, 0)
            good = _seal(ch, b"x")
            writer.write(good + good + good + good)
            assert await reader.read(1) == b""  # closed by the node after the third replay
            assert cluster.node(0).stats["replayed"] == 3
        finally:
            await cluster.close()

    asyncio.run(main())


def test_unknown_key_is_refused_and_never_delivers() -> None:
    async def main() -> None:
        suite = get_suite("intl")
        cluster = Cluster(suite, 2)
        outsider = Cluster(suite, 1, tag=9)  # a key outside the membership
        await cluster.start()
        intruder = Transport(suite, outsider.keys[0],
                             membership(suite, [*cluster.keys, outsider.keys[0]],
                                        [*cluster.ports, outsider.ports[0]]),
                             outsider.inboxes[0], sock=outsider.socks[0])
        try:
            await intruder.start()
            intruder.send(cluster.ids[0], b"let me in")
            await cluster.node(0).stats.reach("unauthenticated", 2)  # and it keeps retrying
            assert cluster.inboxes[0].total == 0
            assert not intruder.connected(cluster.ids[0])
        finally:
            await intruder.close()
            await cluster.close()

    asyncio.run(main())


def test_wrong_node_at_the_address_is_refused() -> None:
    """Node 0 dials node 1's address, but node 2 (a valid member) answers there."""

    async def main() -> None:
        suite = get_suite("sm")
        cluster = Cluster(suite, 3)
        swapped = membership(suite, cluster.keys,
                             [cluster.ports[0], cluster.ports[2], cluster.ports[1]])
        cluster.nodes[0] = Transport(suite, cluster.keys[0], swapped, cluster.inboxes[0],
                                     sock=cluster.socks[0])
        for i in (0, 1, 2):
            await cluster.node(i).start()
        try:
            stats = cluster.node(0).peer_stats(cluster.ids[1])
            await stats.reach("unauthenticated", 1)
            assert not cluster.node(0).connected(cluster.ids[1])
        finally:
            await cluster.close()

    asyncio.run(main())


def test_reconnect_after_peer_restart(suite: Suite) -> None:
    async def main() -> None:
        cluster = Cluster(suite, 2)
        await cluster.start()
        a, b = cluster.ids
        try:
            assert cluster.node(0).send(b, b"before")
            await cluster.inboxes[1].wait_for(1)
            await cluster.node(1).close()
            cluster.nodes[1] = cluster.make(1, listening_socket(cluster.ports[1]))
            await cluster.node(1).start()
            await cluster.node(0).peer_stats(b).reach("reconnects", 1)
            await cluster.node(0).wait_connected([b])
            await cluster.node(1).wait_connected([a])
            assert cluster.node(0).send(b, b"after")
            assert cluster.node(1).send(a, b"back")
            await cluster.inboxes[1].wait_for(2)
            await cluster.inboxes[0].wait_for(1)
            assert cluster.inboxes[1].messages[a] == [b"before", b"after"]
            assert cluster.inboxes[0].messages[b] == [b"back"]
        finally:
            await cluster.close()

    asyncio.run(main())


def test_send_queue_bound_and_backpressure() -> None:
    async def main() -> None:
        cfg = TransportConfig(queue_messages=10, backoff_initial_s=0.01, backoff_max_s=0.05)
        cluster = Cluster(get_suite("intl"), 2, config=cfg)
        sleeper = cluster.nodes[1]
        cluster.nodes[1] = None  # not listening yet: node 0 queues
        await cluster.start()
        node, b = cluster.node(0), cluster.ids[1]
        try:
            accepted = [node.send(b, b"m%d" % i) for i in range(25)]
            assert accepted == [True] * 10 + [False] * 15
            assert node.queue_length(b) == 10
            assert node.stats["dropped_queue_full"] == 15
            waiting = asyncio.ensure_future(node.send_wait(b, b"patient"))
            await asyncio.sleep(0)
            assert not waiting.done()  # blocked on the full queue
            cluster.nodes[1] = sleeper
            await cluster.node(1).start()
            await waiting
            await cluster.inboxes[1].wait_for(11)
            assert cluster.inboxes[1].messages[cluster.ids[0]] == [
                *(b"m%d" % i for i in range(10)), b"patient"]
        finally:
            await cluster.close()

    asyncio.run(main())


def test_a_peer_that_is_down_queues_only_the_offline_bound() -> None:
    """Messages for a member that is not connected stop at `offline_queue_bytes`; once it
    is up, it gets what was queued and the full bound applies again."""
    async def main() -> None:
        cfg = TransportConfig(offline_queue_bytes=1000, backoff_initial_s=0.01,
                              backoff_max_s=0.05)
        cluster = Cluster(get_suite("intl"), 2, config=cfg)
        sleeper = cluster.nodes[1]
        cluster.nodes[1] = None  # down: node 0 queues
        await cluster.start()
        node, b = cluster.node(0), cluster.ids[1]
        try:
            accepted = [node.send(b, bytes([i]) * 300) for i in range(5)]
            assert accepted == [True] * 3 + [False] * 2
            assert node.stats["dropped_peer_offline"] == 2
            cluster.nodes[1] = sleeper
            await cluster.node(1).start()
            await cluster.inboxes[1].wait_for(3)
            await node.wait_connected([b])
            assert all(node.send(b, bytes([10 + i]) * 300) for i in range(5))  # up: no bound
            await cluster.inboxes[1].wait_for(8)
            assert node.stats["dropped_peer_offline"] == 2
        finally:
            await cluster.close()

    asyncio.run(main())


def test_rate_limit_and_message_size_limit() -> None:
    async def main() -> None:
        cfg = TransportConfig(rate_messages=5, rate_burst_s=1.0, max_message=1000)
        cluster = Cluster(get_suite("intl"), 2, config=cfg)
        cluster.nodes[1] = None
        await cluster.start()
        stats = cluster.node(0).stats
        try:
            _, writer, ch = await dial_as(cluster, 1, 0)
            writer.write(_seal(ch, *(b"burst %d" % i for i in range(20))))
            await stats.reach("rate_limited", 15)
            assert cluster.inboxes[0].total == 5
            writer.write(_seal(ch, b"x" * 1001))
            await stats.reach("oversize", 1)
            assert cluster.node(0).peer_stats(cluster.ids[1])["rate_limited"] == 15
            # the sender side refuses oversize messages before queueing them
            assert not cluster.node(0).send(cluster.ids[1], b"y" * 1001)
            assert stats["dropped_oversize"] == 1
        finally:
            await cluster.close()

    asyncio.run(main())


def test_flush_then_close_loses_nothing() -> None:
    async def main() -> None:
        cluster = Cluster(get_suite("pq"), 2, shape_for=uniform(LinkShape(latency_s=0.02)))
        await cluster.start()
        try:
            for i in range(50):
                assert cluster.node(0).send(cluster.ids[1], b"m%d" % i)
            await cluster.node(0).flush()
            await cluster.node(0).close()
            await cluster.inboxes[1].wait_for(50)
            assert cluster.inboxes[1].messages[cluster.ids[0]] == [b"m%d" % i for i in range(50)]
        finally:
            await cluster.close()

    asyncio.run(main())


def test_membership_change_adds_and_removes_peers() -> None:
    async def main() -> None:
        suite = get_suite("intl")
        cluster = Cluster(suite, 3)
        pair = membership(suite, cluster.keys[:2], cluster.ports[:2])
        for i in (0, 1):
            cluster.nodes[i] = Transport(suite, cluster.keys[i], pair, cluster.inboxes[i],
                                         sock=cluster.socks[i])
        for i in range(3):
            await cluster.node(i).start()
        a, b, c = cluster.ids
        try:
            await cluster.node(0).stats.reach("unauthenticated", 1)  # c is not a member yet
            assert not cluster.node(0).send(c, b"not yet")
            for i in (0, 1):
                cluster.node(i).set_membership(cluster.membership)  # c joins
            for i in range(3):
                await cluster.node(i).wait_connected()
            assert cluster.node(0).send(c, b"welcome")
            assert cluster.node(2).send(a, b"thanks")
            await cluster.inboxes[2].wait_for(1)
            await cluster.inboxes[0].wait_for(1)
            refused = cluster.node(0).stats["unauthenticated"]
            cluster.node(0).set_membership(pair)  # c leaves again, as far as node 0 knows
            assert not cluster.node(0).send(c, b"gone")
            await cluster.node(0).stats.reach("unauthenticated", refused + 1)  # c redials
            assert cluster.inboxes[0].messages[c] == [b"thanks"]
            assert cluster.node(0).connected(b)
        finally:
            await cluster.close()

    asyncio.run(main())


def test_paused_receiving_holds_messages_back() -> None:
    async def main() -> None:
        cluster = Cluster(get_suite("intl"), 2)
        await cluster.start()
        a, b = cluster.ids
        try:
            cluster.node(1).receiving.clear()
            for i in range(5):
                cluster.node(0).send(b, b"held %d" % i)
            await cluster.node(0).flush()  # on the wire, but node 1 is not reading
            for _ in range(20):  # loop iterations enough to read it, were reading allowed
                await asyncio.sleep(0)
            assert cluster.inboxes[1].total == 0
            assert cluster.node(1).stats["frames_in"] == 0
            cluster.node(1).receiving.set()
            await cluster.inboxes[1].wait_for(5)
            assert cluster.inboxes[1].messages[a] == [b"held %d" % i for i in range(5)]
        finally:
            await cluster.close()

    asyncio.run(main())


@pytest.mark.parametrize("cap", [{"max_handshakes": 2},
                                 {"max_handshakes_per_host": 2}])
def test_handshake_flood_is_capped(cap: dict[str, int]) -> None:
    async def main() -> None:
        cluster = Cluster(get_suite("intl"), 1, config=TransportConfig(**cap))
        await cluster.start()
        stats = cluster.node(0).stats
        try:
            silent = [await asyncio.open_connection("127.0.0.1", cluster.ports[0])
                      for _ in range(4)]  # connect, never say hello
            await stats.reach("handshakes_refused", 2)
            for _, writer in silent:
                writer.close()
            await stats.reach("handshakes_failed", 2)  # the two admitted ones end too
        finally:
            await cluster.close()

    asyncio.run(main())


def test_bad_transcript_signature_on_the_wire_is_refused(suite: Suite) -> None:
    async def main() -> None:
        cluster = Cluster(suite, 3)
        cluster.nodes[2] = None
        await cluster.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", cluster.ports[0])
            side = hs.Initiator(suite, cluster.keys[2], cluster.ids[0],
                                cluster.keys[0].public_key)
            writer.write(encode_frame(side.hello(), hs.MAX_HANDSHAKE_FRAME))
            finish, _ = side.finish(await read_frame(reader))
            honest = codec.decode(finish, hs.Finish)
            forged = hs.Finish(honest.confirm, cluster.keys[1].sign(b"not the transcript"))
            writer.write(encode_frame(codec.encode(forged), hs.MAX_HANDSHAKE_FRAME))
            assert await reader.read(1) == b""  # refused and closed
            assert cluster.node(0).stats["unauthenticated"] == 1
            assert cluster.node(0).stats["connections_in"] == 1  # only node 1's
            writer.close()
        finally:
            await cluster.close()

    asyncio.run(main())


def test_garbage_before_the_handshake_is_counted_and_closed() -> None:
    async def main() -> None:
        cluster = Cluster(get_suite("intl"), 2)
        await cluster.start()
        stats = cluster.node(0).stats
        try:
            for junk, counter in ((b"\x00\x00\x00\x05hello", "malformed"),
                                  (b"\xff\xff\xff\xff", "oversize"),
                                  (b"\x00\x00\x00\x00", "malformed")):
                before = stats[counter]
                reader, writer = await asyncio.open_connection("127.0.0.1", cluster.ports[0])
                writer.write(junk)
                assert await reader.read(1) == b""
                assert stats[counter] == before + 1
                writer.close()
            assert cluster.node(1).send(cluster.ids[0], b"unaffected")
            await cluster.inboxes[0].wait_for(1)
        finally:
            await cluster.close()

    asyncio.run(main())


def test_byte_rate_limit_lets_what_fits_through() -> None:
    async def main() -> None:
        cfg = TransportConfig(rate_bytes=1000, rate_burst_s=1.0)  # 1000-byte bucket
        cluster = Cluster(get_suite("intl"), 2, config=cfg)
        cluster.nodes[1] = None
        await cluster.start()
        stats = cluster.node(0).stats
        try:
            _, writer, ch = await dial_as(cluster, 1, 0)
            # 3 x 400 bytes: the record as a whole exceeds the bucket, two messages fit
            writer.write(_seal(ch, *(bytes([i]) * 400 for i in range(3))))
            await stats.reach("rate_limited", 1)
            await cluster.inboxes[0].wait_for(2)
            assert cluster.inboxes[0].messages[cluster.ids[1]] == [bytes([0]) * 400,
                                                                    bytes([1]) * 400]
            assert stats["rate_limited"] == 1
        finally:
            await cluster.close()

    asyncio.run(main())
