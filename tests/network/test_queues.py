"""The per-peer send queue: bounds, batching, requeue and wake."""

from __future__ import annotations

import asyncio

from xinlian.network.queues import SendQueue


def test_bounds_by_count_and_bytes() -> None:
    async def main() -> None:
        q = SendQueue(max_messages=3, max_bytes=100)
        assert q.put_nowait(b"a" * 10) and q.put_nowait(b"b" * 10)
        assert not q.put_nowait(b"c" * 90)  # 110 bytes would exceed the byte bound
        assert q.put_nowait(b"c" * 80)
        assert not q.put_nowait(b"d")  # three messages already
        assert (len(q), q.queued_bytes) == (3, 100)
        big = SendQueue(max_messages=3, max_bytes=100)
        assert big.put_nowait(b"x" * 500)  # an empty queue takes even an oversize message
        assert not big.put_nowait(b"y")

    asyncio.run(main())


def test_batches_fit_the_record_and_keep_order() -> None:
    async def main() -> None:
        q = SendQueue(max_messages=100, max_bytes=10_000)
        for i in range(10):
            q.put_nowait(bytes([i]) * 20)
        first, bulk = await q.get_batch(60)  # 24 bytes per message in a record
        assert first == [bytes([0]) * 20, bytes([1]) * 20] and not bulk
        q.requeue(first)
        assert len(q) == 10 and q.queued_bytes == 200
        whole, _ = await q.get_batch(10_000)
        assert whole == [bytes([i]) * 20 for i in range(10)]
        assert q.queued_bytes == 0
        q.put_nowait(b"z" * 500)
        assert await q.get_batch(60) == ([b"z" * 500], False)  # at least one, whatever its size

    asyncio.run(main())


def test_put_waits_for_room_and_wake_interrupts_get() -> None:
    async def main() -> None:
        q = SendQueue(max_messages=1, max_bytes=100)
        q.put_nowait(b"first")
        waiting = asyncio.ensure_future(q.put(b"second"))
        await asyncio.sleep(0)
        assert not waiting.done()
        assert await q.get_batch(100) == ([b"first"], False)
        await waiting
        assert await q.get_batch(100) == ([b"second"], False)
        getter = asyncio.ensure_future(q.get_batch(100))
        await asyncio.sleep(0)
        assert not getter.done()
        q.wake()
        assert await getter == ([], False)

    asyncio.run(main())


def test_protocol_messages_overtake_bulk_data() -> None:
    async def main() -> None:
        q = SendQueue(max_messages=100, max_bytes=10_000)
        for i in range(3):
            assert q.put_nowait(bytes([i]) * 1000, bulk=True)
        assert q.put_nowait(b"vote")
        assert (len(q), q.queued_bytes) == (4, 3004)
        assert await q.get_batch(10_000) == ([b"vote"], False)  # the vote first, alone
        assert not q.put_nowait(b"x" * 7001, bulk=True)  # both lanes share one byte bound
        assert await q.get_batch(1100) == ([bytes([0]) * 1000], True)
        q.requeue([bytes([0]) * 1000], bulk=True)  # back at the front of its own lane
        assert q.put_nowait(b"ack")
        assert await q.get_batch(10_000) == ([b"ack"], False)
        assert await q.get_batch(10_000) == ([bytes([i]) * 1000 for i in range(3)], True)
        assert (len(q), q.queued_bytes) == (0, 0)

    asyncio.run(main())
