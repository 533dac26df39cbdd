"""Network runtime: handshake cost, channel throughput and message rate, per suite.

Run: `python -m benchmarks.network` (add `--quick` for a short smoke run). Two transports
on loopback in one process (so both ends share the machine's 2 cores); node A sends to
node B through the full path — bounded queue, batching into records, AEAD, framing,
socket, then B's framing, AEAD, rate limits, duplicate window and delivery callback.
Each figure is measured with and without the test shaper at 100 Mbit/s; unshaped runs
are repeated and the best kept (the machine is shared: interference only adds time). The
peer in the same run is `raw_tcp`: one frame per message over plain asyncio streams, with
no crypto, no batching and no per-message checks — what a naive unbatched sender gets.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import time

from benchmarks.report import emit
from xinlian.crypto.suites import Suite, get_suite
from xinlian.network import handshake as hs
from xinlian.network.channel import Channel
from xinlian.network.framing import FrameDecoder, encode_frame
from xinlian.network.membership import Membership, PeerInfo, node_id_of
from xinlian.network.shaper import LinkShape, ShapeFor, uniform
from xinlian.network.transport import Transport, TransportConfig

QUICK = "--quick" in sys.argv
BENCH = "network"
SHAPE = LinkShape.mbit(100)
# Limits opened wide: the benchmark measures the path, not the policy.
CONFIG = TransportConfig(rate_messages=1e9, rate_bytes=1e12, queue_messages=50_000)


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


class Arrivals:
    def __init__(self, want: int) -> None:
        self.want = want
        self.got = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __call__(self, _sender: bytes, message: bytes) -> None:
        self.got += 1
        if self.got >= self.want and not self.done.done():
            self.done.set_result(None)


async def pair(suite: Suite, counter: Arrivals, shape_for: ShapeFor | None,
                ) -> tuple[Transport, Transport]:
    keys = [suite.generate_signing_key(bytes([i]) * 32) for i in range(2)]
    socks = [_listener() for _ in keys]
    members = Membership(suite, [PeerInfo(k.public_key, "127.0.0.1", s.getsockname()[1])
                                 for k, s in zip(keys, socks, strict=True)])
    a = Transport(suite, keys[0], members, None, config=CONFIG, shape_for=shape_for,
                  sock=socks[0])
    b = Transport(suite, keys[1], members, counter, config=CONFIG, sock=socks[1])
    await a.start()
    await b.start()
    await a.wait_connected()
    return a, b


async def _throughput(suite: Suite, size: int, count: int, shaped: bool,
                      repeats: int) -> None:
    runs = [await _throughput_once(suite, size, count, shaped) for _ in range(repeats)]
    elapsed, wire = min(runs)
    extra = {"suite": suite.name, "message_bytes": size, "messages": count,
             "shaper": "100mbit" if shaped else "none", "runs": repeats,
             "wire_mb_s": round(wire / elapsed / 1e6, 3)}  # frames incl. headers, tags
    emit(BENCH, "channel_throughput", count * size / elapsed / 1e6, "MB/s", **extra)
    emit(BENCH, "message_rate", count / elapsed, "msg/s", **extra)


async def _throughput_once(suite: Suite, size: int, count: int, shaped: bool,
                           ) -> tuple[float, int]:
    """(seconds from the first send to the last delivery, bytes that went on the wire)."""
    counter = Arrivals(count)
    a, b = await pair(suite, counter, uniform(SHAPE) if shaped else None)
    to = b.node_id
    filler = b"x" * (size - 8)
    try:
        start = time.perf_counter()
        for i in range(count):  # distinct messages, or the duplicate window drops them
            await a.send_wait(to, i.to_bytes(8, "big") + filler)
        await counter.done
        elapsed = time.perf_counter() - start
    finally:
        await a.close()
        await b.close()
    return elapsed, a.stats["bytes_out"]


def _handshake_cpu(suite: Suite, repeats: int) -> None:
    keys = [suite.generate_signing_key(bytes([i]) * 32) for i in range(2)]
    members = Membership(suite, [PeerInfo(k.public_key, "127.0.0.1", 0) for k in keys])
    target = keys[1].public_key
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        ini = hs.Initiator(suite, keys[0], node_id_of(suite, target), target)
        res = hs.Responder(suite, keys[1], members)
        finish, _ = ini.finish(res.reply(ini.hello()))
        res.finish(finish)
        samples.append(time.perf_counter() - start)
    emit(BENCH, "handshake_cpu_both_sides", min(samples) * 1e3, "ms", suite=suite.name,
         median_ms=round(statistics.median(samples) * 1e3, 3), repeats=repeats)


async def _handshake_loopback(suite: Suite, repeats: int) -> None:
    """Connect + three handshake messages against a live Transport, initiator's view."""
    counter = Arrivals(1)
    a, b = await pair(suite, counter, None)
    target = b.key.public_key
    port = b.port
    assert port is not None
    samples = []
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            ini = hs.Initiator(suite, a.key, b.node_id, target)
            writer.write(encode_frame(ini.hello(), hs.MAX_HANDSHAKE_FRAME))
            n = int.from_bytes(await reader.readexactly(4), "big")
            finish, session = ini.finish(await reader.readexactly(n))
            writer.write(encode_frame(finish, hs.MAX_HANDSHAKE_FRAME))
            channel = Channel(session.aead, session.send_key, session.recv_key)
            writer.write(encode_frame(channel.seal(b"\0\0\0\1!"), 64))
            await writer.drain()
            samples.append(time.perf_counter() - start)
            writer.close()
    finally:
        await a.close()
        await b.close()
    emit(BENCH, "handshake_loopback", min(samples) * 1e3, "ms", suite=suite.name,
         median_ms=round(statistics.median(samples) * 1e3, 3), repeats=repeats)


async def round_trip_samples(suite: Suite, repeats: int) -> list[float]:
    """Seconds per ping-pong of one 200-byte message (A -> B, B's handler answers at once),
    sorted."""
    keys = [suite.generate_signing_key(bytes([i]) * 32) for i in range(2)]
    socks = [_listener() for _ in keys]
    members = Membership(suite, [PeerInfo(k.public_key, "127.0.0.1", s.getsockname()[1])
                                 for k, s in zip(keys, socks, strict=True)])
    loop = asyncio.get_running_loop()
    pong: list[asyncio.Future[None]] = []
    a = Transport(suite, keys[0], members, lambda _s, _m: pong[-1].set_result(None),
                  config=CONFIG, sock=socks[0])
    b = Transport(suite, keys[1], members, config=CONFIG, sock=socks[1])

    def echo(sender: bytes, message: bytes) -> None:
        b.send(sender, message)
    b.on_message = echo
    await a.start()
    await b.start()
    await a.wait_connected()
    await b.wait_connected()
    samples = []
    try:
        for i in range(repeats):
            pong.append(loop.create_future())
            start = time.perf_counter()
            a.send(b.node_id, i.to_bytes(8, "big") + b"p" * 192)
            await pong[-1]
            samples.append(time.perf_counter() - start)
    finally:
        await a.close()
        await b.close()
    return sorted(samples)


async def _round_trip(suite: Suite, repeats: int) -> None:
    samples = await round_trip_samples(suite, repeats)
    emit(BENCH, "round_trip_p50", samples[len(samples) // 2] * 1e3, "ms", suite=suite.name,
         p99_ms=round(samples[int(len(samples) * 0.99)] * 1e3, 3), repeats=repeats)


async def _raw_tcp(size: int, count: int, repeats: int) -> None:
    """One frame per message over plain asyncio streams: no crypto, batching or checks."""
    elapsed = min([await _raw_tcp_once(size, count) for _ in range(repeats)])
    extra = {"suite": "raw_tcp", "message_bytes": size, "messages": count, "shaper": "none",
             "runs": repeats}
    emit(BENCH, "channel_throughput", count * size / elapsed / 1e6, "MB/s", **extra)
    emit(BENCH, "message_rate", count / elapsed, "msg/s", **extra)


async def _raw_tcp_once(size: int, count: int) -> float:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    got = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal got
        decoder = FrameDecoder(1 << 24)
        while got < count:
            data = await reader.read(256 * 1024)
            if not data:
                break
            got += len(decoder.feed(data))
        done.set_result(None)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    frame = encode_frame(b"x" * size, 1 << 24)
    start = time.perf_counter()
    for _ in range(count):
        writer.write(frame)
        await writer.drain()
    await done
    elapsed = time.perf_counter() - start
    writer.close()
    server.close()
    return elapsed


async def main() -> None:
    scale = 0.1 if QUICK else 1.0
    repeats = 1 if QUICK else 3
    small, large = 200, 64 * 1024
    await _raw_tcp(small, int(100_000 * scale), repeats)
    await _raw_tcp(large, int(1_500 * scale), repeats)
    for name in ("intl", "sm", "pq"):
        suite = get_suite(name)
        _handshake_cpu(suite, 5 if QUICK else 30)
        await _handshake_loopback(suite, 5 if QUICK else 30)
        await _round_trip(suite, 50 if QUICK else 500)
        await _throughput(suite, small, int(100_000 * scale), False, repeats)
        await _throughput(suite, large, int(1_500 * scale), False, repeats)
        await _throughput(suite, small, int(40_000 * scale), True, 1)
        await _throughput(suite, large, int(300 * scale), True, 1)


if __name__ == "__main__":
    asyncio.run(main())
