"""Token buckets, the duplicate window, backoff and the shaper, with explicit time."""

from __future__ import annotations

import asyncio
import random

import pytest

from xinlian.crypto.suites import get_suite
from xinlian.network.limits import Backoff, DuplicateFilter, TokenBucket
from xinlian.network.shaper import LinkShape, node_egress, uniform

from .harness import Cluster

pytestmark = pytest.mark.timeout(60)


def test_token_bucket_take_and_refill() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(1, 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert not bucket.take(1, 0.05)
    assert bucket.take(1, 0.1)
    assert not bucket.take(10, 100.0)  # never more than the burst
    assert bucket.take(5, 100.0)
    bucket.refund(3)
    assert bucket.take(3, 100.0) and not bucket.take(1, 100.0)
    bucket.refund(100)  # refunds never overfill
    assert bucket.take(5, 100.0) and not bucket.take(1, 100.0)


def test_token_bucket_reserve_goes_into_debt() -> None:
    bucket = TokenBucket(rate=100, burst=10, now=0.0)
    assert bucket.reserve(10, 0.0) == 0.0
    assert bucket.reserve(50, 0.0) == pytest.approx(0.5)
    assert bucket.reserve(50, 0.5) == pytest.approx(0.5)  # the first debt is paid by now
    with pytest.raises(ValueError):
        TokenBucket(0, 1, 0.0)


def test_duplicate_filter_window_by_time_and_capacity() -> None:
    f = DuplicateFilter(capacity=3, ttl=10.0)
    assert not f.seen(b"a", 0.0)
    assert f.seen(b"a", 1.0)
    assert not f.seen(b"a", 10.5)  # expired, remembered again
    for key in (b"b", b"c", b"d"):
        assert not f.seen(key, 11.0)
    assert len(f) == 3
    assert not f.seen(b"a", 11.0)  # evicted as the oldest
    off = DuplicateFilter(capacity=0, ttl=10.0)
    assert not off.seen(b"x", 0.0) and not off.seen(b"x", 0.0)


def test_backoff_grows_caps_jitters_and_resets() -> None:
    b = Backoff(0.1, 1.0, 0.5, random.Random(3))
    delays = [b.next() for _ in range(8)]
    for attempt, d in enumerate(delays):
        base = min(1.0, 0.1 * 2**attempt)
        assert base * 0.5 <= d <= base
    assert max(delays) <= 1.0
    b.reset()
    assert b.next() <= 0.1
    with pytest.raises(ValueError):
        Backoff(1.0, 0.5, 0.1, random.Random())


def test_shaper_adds_latency_and_caps_bandwidth() -> None:
    """Lower bounds only: a shaped link can never be faster than its shape."""

    async def main() -> None:
        shape = LinkShape.mbit(8, latency_ms=40, burst_bytes=16 * 1024)  # 1 MB/s
        cluster = Cluster(get_suite("intl"), 2, shape_for=uniform(shape))
        await cluster.start()
        loop = asyncio.get_running_loop()
        a, b = cluster.ids
        try:
            start = loop.time()
            cluster.node(0).send(b, b"ping")
            await cluster.inboxes[1].wait_for(1)
            assert loop.time() - start >= 0.040
            blobs = [bytes([i]) * (256 * 1024) for i in range(4)]  # distinct: no duplicates
            start = loop.time()
            for blob in blobs:  # 1 MiB at 1 MB/s, minus the 16 KiB burst
                await cluster.node(0).send_wait(b, blob)
            await cluster.inboxes[1].wait_for(5)
            assert loop.time() - start >= (4 * len(blobs[0]) - 16 * 1024) / 1e6 + 0.040
            assert cluster.inboxes[1].messages[a][1:] == blobs
        finally:
            await cluster.close()

    asyncio.run(main())


def test_node_egress_shares_one_budget_across_links() -> None:
    """Sending to two peers through `node_egress` takes as long as the sum of the bytes at
    the node's rate — not the per-link time — like tbf on the node's interface."""

    async def main() -> None:
        shape = LinkShape.mbit(8, burst_bytes=16 * 1024)  # 1 MB/s for the whole node
        cluster = Cluster(get_suite("intl"), 3, shape_for=node_egress(shape))
        await cluster.start()
        loop = asyncio.get_running_loop()
        _, b, c = cluster.ids
        try:
            blobs = [bytes([i]) * (256 * 1024) for i in range(2)]
            start = loop.time()
            for blob in blobs:
                await asyncio.gather(cluster.node(0).send_wait(b, blob),
                                     cluster.node(0).send_wait(c, blob))
            await cluster.inboxes[1].wait_for(2)
            await cluster.inboxes[2].wait_for(2)
            assert loop.time() - start >= (4 * len(blobs[0]) - 16 * 1024) / 1e6
        finally:
            await cluster.close()

    asyncio.run(main())


def test_node_egress_sends_protocol_frames_before_queued_bulk_frames() -> None:
    """Megabytes of batches queued for one peer do not hold up a vote to another."""

    async def main() -> None:
        shape = LinkShape.mbit(8, burst_bytes=16 * 1024)  # 1 MB/s for the whole node
        cluster = Cluster(get_suite("intl"), 3, shape_for=node_egress(shape))
        await cluster.start()
        _, b, c = cluster.ids
        try:
            for i in range(8):  # 2 MiB of bulk data: two seconds of the node's budget
                assert cluster.node(0).send(b, bytes([i]) * (256 * 1024), bulk=True)
            await cluster.inboxes[1].wait_for(1)  # the bulk stream is flowing
            assert cluster.node(0).send(c, b"vote")
            await cluster.inboxes[2].wait_for(1)
            assert len(cluster.inboxes[1].messages[cluster.ids[0]]) < 8  # bulk still queued
            await cluster.inboxes[1].wait_for(8)
        finally:
            await cluster.close()

    asyncio.run(main())
