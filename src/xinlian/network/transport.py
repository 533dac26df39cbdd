"""The peer transport: authenticated encrypted connections to every member over asyncio TCP.

Theory of operation. Each node dials every other member and sends only on the connection
it dialled; it receives only on connections it accepted. So a pair of nodes holds two
connections, one per direction, and there is never a race over which of two simultaneous
connections to keep. Per peer the transport keeps:

- a bounded send queue (messages and bytes). `send` never blocks: when the queue is full
  the new message is dropped and counted (`dropped_queue_full`) — a protocol core must
  tolerate loss anyway, and one slow peer must not stall the node. While the peer is not
  connected the queue takes only `offline_queue_bytes` (`dropped_peer_offline`).
  `send_wait` waits for room instead, for producers that prefer backpressure (bulk
  transfer, benchmarks);
- a dialler that connects, runs the handshake (xinlian.network.handshake), then drains
  the queue into records (one AEAD record per batch of waiting messages); when the
  connection drops it reconnects with exponential backoff and jitter, keeping the queue;
- on the receiving side, a message-rate and a byte-rate token bucket, a maximum message
  size and a window of recent message digests; what exceeds them is dropped and counted.

Everything a peer can do wrong is caught at the connection: framing errors (oversize or
empty frames) close the connection, since the stream can no longer be trusted; records
that fail authentication, replay an old counter or do not parse are dropped and counted,
and the connection closes only after `max_bad_records` of them. Counters are in `stats`
(all peers) and `peer_stats(node_id)`.

`set_membership` applies an epoch change while running, and `receiving` (an Event) lets
the consumer stop all reading when it falls behind, so that TCP carries the backpressure
back to the senders' bounded queues.

Given an `identity` (xinlian.network.handshake.Identity), every handshake presents this
node's membership certificate and checks the peer's against the identity's policy at the
time `clock_ms` reads (wall-clock milliseconds). `set_identity` swaps the policy while
running (new revocation lists) and closes the connections whose peer certificate no longer
holds, so that each of those peers must authenticate again.

Across a suite migration a node may hold two keys (`set_keys`: its rotated node key first
once its committee has switched, its id key too while peers still accept it): the dialler
signs with the first, and after a failed handshake with the next, so a peer that has not
learnt the other key yet is still reached; the responder answers a Hello of either
admitted suite. A membership change that only changes the keys a member may use updates
it in place (its queue stays) and closes the connections authenticated by a key, or run
under a suite, no longer admitted (docs/pq.md, "Migration without a fork").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from xinlian.crypto.keys import AlgId, PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite
from xinlian.network import handshake as hs
from xinlian.network.channel import RECORD_OVERHEAD, Channel, pack, unpack
from xinlian.network.errors import (
    CertificateRefused,
    ClassicalIdentity,
    DecryptFailed,
    HandshakeError,
    MalformedFrame,
    NetworkError,
    OversizeFrame,
    ReplayedRecord,
    Unauthenticated,
)
from xinlian.network.framing import FrameDecoder, encode_frame
from xinlian.network.identity import CertificateBody, refuse_classical
from xinlian.network.limits import Backoff, DuplicateFilter, TokenBucket
from xinlian.network.membership import Membership, PeerInfo, node_id_of
from xinlian.network.queues import SendQueue
from xinlian.network.shaper import DirectLink, ShapedLink, ShapeFor
from xinlian.network.stats import Stats
from xinlian.protocol import NodeId

log = logging.getLogger(__name__)

MessageHandler = Callable[[NodeId, bytes], None]

# Most specific first: Unauthenticated is a HandshakeError, and both identity refusals are
# Unauthenticated.
_ERROR_COUNTERS: tuple[tuple[type[NetworkError], str], ...] = (
    (OversizeFrame, "oversize"),
    (MalformedFrame, "malformed"),
    (ClassicalIdentity, "classical_identity"),
    (CertificateRefused, "certificates_refused"),
    (Unauthenticated, "unauthenticated"),
    (HandshakeError, "handshakes_failed"),
    (DecryptFailed, "decrypt_failed"),
    (ReplayedRecord, "replayed"),
)


@dataclass(frozen=True, slots=True)
class TransportConfig:
    max_message: int = 4 * 1024 * 1024      # per message, both directions
    max_record: int = 4 * 1024 * 1024 + 64  # largest record accepted (plaintext bytes)
    batch_bytes: int = 64 * 1024            # target record size when batching small messages
    queue_messages: int = 10_000            # per peer
    queue_bytes: int = 64 * 1024 * 1024     # per peer
    # per peer while it is not connected: a member that is down (or not up yet) does not
    # hold this node's memory with messages it may never read (50 `pq` validators with 16
    # killed grew ~35 MB a dead peer otherwise: docs/pq.md)
    offline_queue_bytes: int = 4 * 1024 * 1024
    rate_messages: float = 200_000.0        # accepted per second per peer
    rate_bytes: float = 1e9                 # accepted per second per peer
    rate_burst_s: float = 1.0               # bucket depth, in seconds of rate
    dedup_capacity: int = 65_536            # digests remembered per peer (0: off)
    dedup_ttl_s: float = 0.1                # shorter than any core's retry interval
    handshake_timeout_s: float = 5.0
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 5.0
    backoff_jitter: float = 0.5
    max_bad_records: int = 16               # per connection, before it is closed
    max_handshakes: int = 64                # inbound handshakes in progress at once
    max_handshakes_per_host: int = 8        # ... of them from one source address
    read_size: int = 256 * 1024

    @property
    def max_frame(self) -> int:
        return self.max_record + RECORD_OVERHEAD


class _FrameReader:
    """Frames from a stream, through one FrameDecoder for the connection's whole life."""

    def __init__(self, reader: asyncio.StreamReader, max_frame: int, read_size: int) -> None:
        self._reader = reader
        self._decoder = FrameDecoder(max_frame)
        self._pending: deque[bytes] = deque()
        self._read_size = read_size

    async def _fill(self, max_frames: int | None) -> None:
        self._pending.extend(self._decoder.feed(b"", max_frames))
        while not self._pending:
            data = await self._reader.read(self._read_size)
            if not data:
                raise ConnectionResetError("the peer closed the connection")
            self._pending.extend(self._decoder.feed(data, max_frames))

    def allow(self, max_frame: int) -> None:
        """Raise the frame limit (from the handshake's to the channel's)."""
        self._decoder.max_size = max_frame

    async def frame(self) -> bytes:
        if not self._pending:
            await self._fill(1)
        return self._pending.popleft()

    async def frames(self) -> list[bytes]:
        await self._fill(None)
        out = list(self._pending)
        self._pending.clear()
        return out


class _Peer:
    def __init__(self, node_id: NodeId, info: PeerInfo, config: TransportConfig,
                 now: float) -> None:
        self.node_id = node_id
        self.info = info
        self.queue = SendQueue(config.queue_messages, config.queue_bytes)
        self.stats = Stats()
        self.connected = asyncio.Event()
        self.message_bucket = TokenBucket(config.rate_messages,
                                          config.rate_messages * config.rate_burst_s, now)
        self.byte_bucket = TokenBucket(config.rate_bytes, config.rate_bytes * config.rate_burst_s,
                                       now)
        self.dedup = DuplicateFilter(config.dedup_capacity, config.dedup_ttl_s)
        self.inbound: asyncio.StreamWriter | None = None
        self.ever_connected = False
        self.link: DirectLink | None = None
        self.busy = False  # a batch is between the queue and the link
        self.idle = asyncio.Event()
        self.task: asyncio.Task[None] | None = None  # the dialler
        # the peer's certificate as each connection's handshake checked it
        self.out_certificate: CertificateBody | None = None
        self.in_certificate: CertificateBody | None = None
        # how each connection was authenticated: the peer's key and the session's suite
        self.out_auth: Auth | None = None
        self.in_auth: Auth | None = None
        self.own_key = 0  # which of this node's keys the dialler signs with next


@dataclass(frozen=True, slots=True)
class Auth:
    """How a connection was authenticated: the peer's key, this node's algorithm, the
    session's suite."""

    peer: PublicKey
    own_key: AlgId
    suite: str

    @property
    def peer_key(self) -> AlgId:
        return self.peer.alg


async def _write_frame(writer: asyncio.StreamWriter, payload: bytes, max_size: int) -> None:
    writer.write(encode_frame(payload, max_size))
    await writer.drain()


class Transport:
    """Connections to every member of `membership`; see the module docstring."""

    def __init__(self, suite: Suite, key: SigningKey, membership: Membership,
                 on_message: MessageHandler | None = None, *,
                 config: TransportConfig | None = None, shape_for: ShapeFor | None = None,
                 sock: socket.socket | None = None, listen: tuple[str, int] | None = None,
                 seed: int | None = None, identity: hs.Identity | None = None,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 keys: Sequence[SigningKey] = ()) -> None:
        """`key`: the node's id key (its node id is that key's address); `keys`: the keys
        it authenticates with, preferred first (default: `key`; see `set_keys`)."""
        self.suite = suite
        self.identity = identity
        self._clock_ms = clock_ms
        self.key = key
        self.keys: tuple[SigningKey, ...] = tuple(keys) or (key,)
        self.membership = membership
        self.node_id = node_id_of(suite, key.public_key)
        self.config = config or TransportConfig()
        self.stats = Stats()
        self.on_message: MessageHandler = on_message or (lambda _sender, _message: None)
        self._shape_for = shape_for
        self._sock = sock
        own = membership.peer(self.node_id)
        self._listen = listen or ((own.host, own.port) if own else None)
        self._rng = random.Random(seed)
        self._peers: dict[NodeId, _Peer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._links: set[DirectLink] = set()
        self._server: asyncio.Server | None = None
        self._closing = False
        self._handshakes: dict[str, int] = {}  # by source address
        # Cleared by the consumer (NetworkRuntime) when it is behind: reading stops, TCP
        # windows fill up, and the senders' bounded queues take the pressure.
        self.receiving = asyncio.Event()
        self.receiving.set()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, then dial every other member."""
        if self._sock is not None:
            self._server = await asyncio.start_server(self._serve, sock=self._sock)
        elif self._listen is not None:
            self._server = await asyncio.start_server(self._serve, *self._listen)
        self.set_membership(self.membership)

    def set_membership(self, membership: Membership) -> None:
        """Adopt a new membership (an epoch change): dial members that joined, drop the
        queues and connections of members that left or changed id key or address; for a
        member whose admitted keys changed, or all when the admitted suites did, close the
        connections authenticated by a key or a suite no longer admitted."""
        self.membership = membership
        for node_id, peer in list(self._peers.items()):
            info = membership.peer(node_id)
            if info is not None and replace(info, keys=()) == replace(peer.info, keys=()):
                peer.info = info
                self._close_unadmitted(peer)
            elif info != peer.info:
                del self._peers[node_id]
                if peer.task is not None:
                    peer.task.cancel()
                if peer.inbound is not None:
                    peer.inbound.close()
        now = asyncio.get_running_loop().time()
        for node_id in membership.ids():
            info = membership.peer(node_id)
            if node_id != self.node_id and node_id not in self._peers and info is not None:
                peer = self._peers[node_id] = _Peer(node_id, info, self.config, now)
                peer.task = self._spawn(self._dial_loop(peer))

    def _admits(self, auth: Auth | None, peer: _Peer) -> bool:
        """Whether a connection so authenticated would pass the handshake now."""
        if auth is None:
            return True
        membership = self.membership
        if membership.post_quantum_only:
            try:
                refuse_classical(membership.sessions[0], auth.peer, "the peer key")
            except ClassicalIdentity:
                return False
        return (auth.peer in peer.info.accepted
                and membership.session_suite(auth.suite) is not None)

    def _close_unadmitted(self, peer: _Peer) -> None:
        if not self._admits(peer.out_auth, peer) and peer.link is not None:
            self._count(peer, "keys_retired")
            peer.link.close()
        if not self._admits(peer.in_auth, peer) and peer.inbound is not None:
            self._count(peer, "keys_retired")
            peer.inbound.close()

    def set_keys(self, keys: Sequence[SigningKey]) -> None:
        """Authenticate with `keys` from now on, preferred first (a migration's switch):
        each outgoing connection that was signed by another key than the first is closed,
        so that the dialler reconnects with it."""
        keys = tuple(keys)
        if not keys:
            raise HandshakeError("a transport needs a key to authenticate with")
        if keys == self.keys:
            return
        self.keys = keys
        for peer in self._peers.values():
            peer.own_key = 0
            if (peer.out_auth is not None and peer.out_auth.own_key != keys[0].alg
                    and peer.link is not None):
                peer.link.close()

    def auth(self, node_id: NodeId) -> tuple[Auth | None, Auth | None]:
        """How the connections to and from `node_id` were authenticated (None: down)."""
        peer = self._peers.get(node_id)
        return (None, None) if peer is None else (peer.out_auth, peer.in_auth)

    def set_identity(self, identity: hs.Identity) -> None:
        """Adopt a new identity (this node's certificate and policy, say with new revocation
        lists): later handshakes use it, and each connection whose peer certificate it no
        longer accepts (revoked, expired) is closed; the dialler then reconnects and its
        peer must authenticate again."""
        self.identity = identity
        now = self._clock_ms()
        for peer in self._peers.values():
            if not (identity.policy.still_holds(peer.out_certificate, now)
                    and identity.policy.still_holds(peer.in_certificate, now)):
                self._count(peer, "certificates_refused")
                if peer.link is not None:
                    peer.link.close()
                if peer.inbound is not None:
                    peer.inbound.close()

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.close()
        for peer in self._peers.values():
            if peer.inbound is not None:
                peer.inbound.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- sending --------------------------------------------------------------------------

    def _peer_for(self, to: NodeId, size: int) -> _Peer | None:
        peer = self._peers.get(to)
        if peer is None:
            self.stats.add("dropped_unknown_peer")
            return None
        if size > self.config.max_message or size == 0:
            self._count(peer, "dropped_oversize")
            return None
        return peer

    def send(self, to: NodeId, message: bytes, bulk: bool = False) -> bool:
        """Queue `message` for `to`; False (and counted) if unknown, oversize or queue full.
        `bulk` data goes after the protocol messages waiting for the same peer."""
        peer = self._peer_for(to, len(message))
        if peer is None:
            return False
        if not peer.connected.is_set() and \
                peer.queue.queued_bytes + len(message) > self.config.offline_queue_bytes:
            self._count(peer, "dropped_peer_offline")
            return False
        if not peer.queue.put_nowait(message, bulk):
            self._count(peer, "dropped_queue_full")
            return False
        return True

    async def send_wait(self, to: NodeId, message: bytes) -> bool:
        """Queue `message`, waiting while the peer's queue is full (backpressure)."""
        peer = self._peer_for(to, len(message))
        if peer is None:
            return False
        if not peer.queue.put_nowait(message):
            await peer.queue.put(message)
        return True

    async def flush(self) -> None:
        """Until every message queued so far for a connected peer has reached its socket
        (and, when shaped, left the delay line). Call before `close` to lose nothing."""
        for peer in self._peers.values():
            while (len(peer.queue) or peer.busy) and peer.connected.is_set():
                peer.idle.clear()
                await peer.idle.wait()
            if peer.link is not None and peer.connected.is_set():
                await peer.link.flush()

    def connected(self, node_id: NodeId) -> bool:
        peer = self._peers.get(node_id)
        return peer is not None and peer.connected.is_set()

    async def wait_connected(self, node_ids: Iterable[NodeId] | None = None) -> None:
        """Until the outgoing channel to each of `node_ids` (default: all peers) is up."""
        ids = self._peers if node_ids is None else node_ids
        await asyncio.gather(*(self._peers[i].connected.wait() for i in ids))

    def peer_stats(self, node_id: NodeId) -> Stats:
        return self._peers[node_id].stats

    def queue_length(self, node_id: NodeId) -> int:
        return len(self._peers[node_id].queue)

    def _count(self, peer: _Peer | None, name: str, n: int = 1) -> None:
        self.stats.add(name, n)
        if peer is not None:
            peer.stats.add(name, n)

    def _count_error(self, peer: _Peer | None, exc: BaseException) -> None:
        for kind, name in _ERROR_COUNTERS:
            if isinstance(exc, kind):
                self._count(peer, name)
                return
        if isinstance(exc, (TimeoutError, OSError)):  # only raised here by handshakes
            self._count(peer, "handshakes_failed")

    async def _dial_loop(self, peer: _Peer) -> None:
        cfg = self.config
        backoff = Backoff(cfg.backoff_initial_s, cfg.backoff_max_s, cfg.backoff_jitter,
                          self._rng)
        while not self._closing:
            try:
                reader, writer = await asyncio.open_connection(peer.info.host, peer.info.port)
            except OSError:
                self._count(peer, "connect_failed")
                await asyncio.sleep(backoff.next())
                continue
            try:
                async with asyncio.timeout(cfg.handshake_timeout_s):
                    channel = await self._initiate(peer, reader, writer)
            except (NetworkError, TimeoutError, OSError) as exc:
                self._count_error(peer, exc)
                writer.close()
                peer.own_key += 1  # the peer may know only another of this node's keys
                await asyncio.sleep(backoff.next())
                continue
            except BaseException:  # cancelled by close(): do not leave the socket open
                writer.close()
                raise
            backoff.reset()
            self._count(peer, "connections_out")
            if peer.ever_connected:
                self._count(peer, "reconnects")
            peer.ever_connected = True
            await self._run_outbound(peer, reader, writer, channel)
            if not self._closing:
                await asyncio.sleep(backoff.next())

    async def _initiate(self, peer: _Peer, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> Channel:
        key, suite = self._own_key(peer)
        side = hs.Initiator(suite, key, peer.node_id, peer.info.accepted,
                            identity=self.identity, now_ms=self._clock_ms(),
                            peer_organisation=peer.info.organisation,
                            post_quantum_only=self.membership.post_quantum_only)
        frames = _FrameReader(reader, hs.MAX_HANDSHAKE_FRAME, 64 * 1024)
        await _write_frame(writer, side.hello(), hs.MAX_HANDSHAKE_FRAME)
        finish, session = side.finish(await frames.frame())
        await _write_frame(writer, finish, hs.MAX_HANDSHAKE_FRAME)
        peer.out_certificate = session.peer_certificate
        peer.out_auth = _auth_of(session, key)
        return Channel(session.aead, session.send_key, session.recv_key)

    def _own_key(self, peer: _Peer) -> tuple[SigningKey, Suite]:
        """The key the dialler signs with this time, and the admitted suite it is of."""
        usable = [(k, s) for k in self.keys
                  if (s := next((s for s in self.membership.sessions
                                 if s.signature == k.alg), None)) is not None]
        if not usable:
            raise HandshakeError("none of this node's keys is of an admitted suite")
        return usable[peer.own_key % len(usable)]

    async def _run_outbound(self, peer: _Peer, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter, channel: Channel) -> None:
        shape = self._shape_for(peer.node_id) if self._shape_for else None
        link = ShapedLink(writer, shape) if shape else DirectLink(writer)
        self._links.add(link)
        peer.link = link
        alive = True

        def lost(_: object) -> None:
            nonlocal alive
            alive = False
            peer.queue.wake()

        # The responder never sends after the handshake: any byte or EOF ends the connection.
        watch = asyncio.ensure_future(reader.read(1))
        watch.add_done_callback(lost)
        peer.connected.set()
        max_frame = self.config.max_frame
        # Small records keep latency low behind a slow link (64 KiB is 5 ms at 100 Mbit/s);
        # one message larger than that still travels alone in its own record.
        batch_bytes = min(self.config.batch_bytes, self.config.max_record)
        try:
            while True:
                batch, bulk = await peer.queue.get_batch(batch_bytes)
                if not alive:
                    peer.queue.requeue(batch, bulk)
                    return
                if not batch:
                    continue
                peer.busy = True
                frame = encode_frame(channel.seal(pack(batch)), max_frame)
                await link.send(frame, bulk)
                peer.busy = False
                if not len(peer.queue):
                    peer.idle.set()
                self._count(peer, "frames_out")
                self._count(peer, "messages_out", len(batch))
                self._count(peer, "bytes_out", len(frame))
        except (OSError, ConnectionError, NetworkError) as exc:
            log.debug("connection to %s lost: %r", peer.node_id.hex(), exc)
        finally:
            peer.connected.clear()
            peer.busy = False
            peer.link = None
            peer.out_certificate = None
            peer.out_auth = None
            peer.idle.set()
            watch.remove_done_callback(lost)
            watch.cancel()
            link.close()
            self._links.discard(link)

    # -- receiving ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        frames = _FrameReader(reader, hs.MAX_HANDSHAKE_FRAME, self.config.read_size)
        peer: _Peer | None = None
        address = writer.get_extra_info("peername")
        host = str(address[0]) if address else ""
        pending = self._handshakes
        if (sum(pending.values()) >= self.config.max_handshakes
                or pending.get(host, 0) >= self.config.max_handshakes_per_host):
            self._count(None, "handshakes_refused")
            writer.close()
            return
        try:
            pending[host] = pending.get(host, 0) + 1
            try:
                async with asyncio.timeout(self.config.handshake_timeout_s):
                    member, channel = await self._respond(frames, writer)
            except (NetworkError, TimeoutError, OSError) as exc:
                self._count_error(None, exc)
                return
            finally:
                pending[host] -= 1
                if not pending[host]:
                    del pending[host]
            peer = member
            if member.inbound is not None:
                member.inbound.close()  # the peer restarted or reconnected: newest wins
            member.inbound = writer
            self._count(member, "connections_in")
            frames.allow(self.config.max_frame)
            await self._receive(member, channel, frames)
        except OSError:  # reset, closed by the peer, or too many bad records
            pass
        except NetworkError as exc:  # framing error: the stream is no longer aligned
            self._count_error(peer, exc)
        except asyncio.CancelledError:
            pass  # close(): this handler is the task's top level, so end it quietly
        finally:
            if peer is not None and peer.inbound is writer:
                peer.inbound = None
                peer.in_certificate = None
                peer.in_auth = None
            writer.close()

    async def _respond(self, frames: _FrameReader, writer: asyncio.StreamWriter,
                       ) -> tuple[_Peer, Channel]:
        side = hs.Responder(self.suite, self.key, self.membership, identity=self.identity,
                            now_ms=self._clock_ms(), keys=self.keys)
        await _write_frame(writer, side.reply(await frames.frame()), hs.MAX_HANDSHAKE_FRAME)
        session = side.finish(await frames.frame())
        peer = self._peers.get(session.peer_id)
        if peer is None:  # this node's own key, or a member removed meanwhile
            raise Unauthenticated("the key is not a current peer's")
        peer.in_certificate = session.peer_certificate
        peer.in_auth = _auth_of(session, side.key)
        return peer, Channel(session.aead, session.send_key, session.recv_key)

    async def _receive(self, peer: _Peer, channel: Channel, frames: _FrameReader) -> None:
        cfg = self.config
        bad = 0
        time = asyncio.get_running_loop().time
        deliver = self.on_message
        receiving = self.receiving
        while True:
            batch = await frames.frames()
            if not receiving.is_set():  # hold this batch and read no more until resumed
                await receiving.wait()
            now = time()
            for frame in batch:
                self._count(peer, "frames_in")
                self._count(peer, "bytes_in", len(frame) + 4)
                try:
                    messages = unpack(channel.open(frame), cfg.max_message)
                except NetworkError as exc:
                    self._count_error(peer, exc)
                    bad += 1
                    if bad >= cfg.max_bad_records:
                        raise ConnectionResetError("too many bad records") from exc
                    continue
                self._accept(peer, messages, now, deliver)

    def _accept(self, peer: _Peer, messages: list[bytes], now: float,
                deliver: MessageHandler) -> None:
        """Rate limits and duplicate window for one record's messages, then delivery."""
        # The common case is one check for the whole record; if either bucket is short,
        # fall back to message by message so that what fits still gets through.
        whole = peer.message_bucket.take(len(messages), now)
        if whole and not peer.byte_bucket.take(sum(map(len, messages)), now):
            peer.message_bucket.refund(len(messages))
            whole = False
        seen = peer.dedup.seen
        delivered = duplicates = limited = 0
        for message in messages:
            if not whole and not (peer.message_bucket.take(1, now)
                                  and peer.byte_bucket.take(len(message), now)):
                limited += 1
                continue
            if seen(hashlib.sha256(message).digest()[:16], now):
                duplicates += 1
                continue
            delivered += 1
            try:
                deliver(peer.node_id, message)
            except Exception:  # the handler's bug must not kill the connection
                log.exception("message handler failed")
        for name, n in (("messages_in", delivered), ("duplicates", duplicates),
                        ("rate_limited", limited)):
            if n:
                self._count(peer, name, n)


def _auth_of(session: hs.Session, own: SigningKey) -> Auth:
    return Auth(session.peer_key, own.alg, session.suite)
