"""The relay core: one node's side of block and transaction dissemination (sans-I/O).

Theory of operation. Each node keeps authenticated connections (given to it as `Connect`
inputs) and, among them, a *mesh* of between `d_lo` and `d_hi` peers (target `d`),
maintained at every heartbeat with Graft/Prune as in gossipsub v1.1 (a pruned link waits
`backoff_ms` before it is grafted again). Everything travels over the mesh, lazily:

- a new transaction is *announced*: its id joins a per-peer list that is flushed as one
  IHave per mesh peer per heartbeat (never to a peer that announced it to us or sent it);
  a node that lacks an announced id asks the announcer at once with IWant and, if the
  transaction has not come within `want_timeout_ms`, asks the next announcer;
- a new block is announced at once with BlockHave; a node that lacks it asks one announcer
  for the compact form (header, digest of the transaction ids, 6-byte short ids), rebuilds
  the block from its pool and asks only for the transactions it lacks (GetBlockTxs). Short
  ids are SipHash-2-4 under a key drawn from the link's key (two Hello nonces) and the
  block id, so collisions cannot be planted in advance; the rebuilt list is checked
  against the digest, and on a mismatch the whole list is fetched (as in BIP 152).

A node outside the mesh (`mesh_member=False`, a light node) grafts nobody, prunes those
who graft it, and publishes through `d` random *fanout* peers, kept while it publishes
and forgotten `fanout_ttl_ms` after its last publication (gossipsub's fanout).

Payload is therefore sent once per node in the normal case; what is repeated is ids.
Every store is capped (pool, seen ids with expiry, blocks, requests) and every message
size is bounded by the schema. Malformed or unsolicited input is dropped and counted.

Defences. Every peer has a score (`score.py`, gossipsub v1.1's): what it delivers first
and announces in time raises it; invalid or unsolicited bodies, broken promises and going
over its budgets lower it, each offence logged with its evidence and handed out as
`Deliver(Misbehaviour)`. A negative score is pruned from the mesh, a graylisted one is
not read at all. Each peer has a message budget and a serve budget (bytes of bodies
answered per second), and a body it asks for a third time is not served, so a small
request cannot buy a large answer over and over.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xinlian.network.errors import MalformedRelayMessage, UnsupportedRelayVersion
from xinlian.network.limits import TokenBucket
from xinlian.network.relay.cache import BoundedStore, SeenCache
from xinlian.network.relay.messages import (
    MAX_IDS,
    SHORT_ID_SIZE,
    BlockHave,
    BlockTxs,
    Compact,
    GetBlockTxs,
    GetCompact,
    Graft,
    Hello,
    IHave,
    IWant,
    Message,
    Prune,
    Txs,
    decode_message,
    encode_message,
)
from xinlian.network.relay.score import Scoreboard, ScoreParams
from xinlian.network.relay.siphash import siphash24_many
from xinlian.protocol import (
    Action,
    Deliver,
    Event,
    Input,
    NodeId,
    Receive,
    Send,
    SetTimer,
    Start,
    Timeout,
)

HEARTBEAT = "relay-heartbeat"
SHORT_ID_MASK = (1 << (8 * SHORT_ID_SIZE)) - 1
MAX_TRIES = 4  # requests for one object before it is forgotten


@dataclass(frozen=True, slots=True)
class RelayConfig:
    d: int = 8
    d_lo: int = 6
    d_hi: int = 12
    heartbeat_ms: int = 200
    backoff_ms: int = 10_000
    want_timeout_ms: int = 1_000
    max_announcers: int = 4       # peers remembered per wanted id (retry candidates)
    seen_ttl_ms: int = 120_000
    seen_cap: int = 1_000_000
    pool_cap: int = 200_000       # transactions held to answer IWant / rebuild blocks
    included_cap: int = 20_000    # transactions of recent blocks, kept for the same reasons
    block_cap: int = 64           # full blocks held to answer GetCompact / GetBlockTxs
    max_wanted: int = 100_000     # outstanding transaction requests
    mesh_member: bool = True      # False: a light node, publishing through fanout peers
    fanout_ttl_ms: int = 60_000   # a fanout is forgotten this long after the last publish
    scoring: ScoreParams | None = field(default_factory=ScoreParams)  # None: scoring off
    evidence_cap: int = 4_096     # misbehaviour records kept for tracing
    retain_cap: int = 4_096       # negative scores of disconnected peers kept
    asked_cap: int = 20_000       # ids asked of one peer, remembered to tell late from unasked
    # Per-peer budgets (None: unlimited). Messages received, and body bytes served in
    # answer to its requests (a small request can ask for a lot); burst: two seconds' worth.
    peer_msgs_per_s: float | None = 500.0
    compress_bodies: bool = True  # deflate Txs/BlockTxs of 1 KiB or more (messages.py)
    serve_bytes_per_s: float | None = 1_000_000.0

    def __post_init__(self) -> None:
        if not 0 < self.d_lo <= self.d <= self.d_hi:
            raise ValueError("mesh degrees must satisfy 0 < d_lo <= d <= d_hi")
        if self.heartbeat_ms <= 0:
            raise ValueError("the heartbeat must be positive")


# -- inputs and outputs ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Connect:
    peer: NodeId


@dataclass(frozen=True, slots=True)
class Disconnect:
    peer: NodeId


@dataclass(frozen=True, slots=True)
class PublishTx:
    tx: bytes


@dataclass(frozen=True, slots=True)
class PublishBlock:
    header: bytes
    txs: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class TxDelivered:
    tx_id: bytes
    tx: bytes


@dataclass(frozen=True, slots=True)
class BlockDelivered:
    block_id: bytes
    header: bytes
    txs: tuple[bytes, ...]


def tx_id(tx: bytes) -> bytes:
    return hashlib.sha256(tx).digest()


def block_id(header: bytes, txs_digest: bytes) -> bytes:
    return hashlib.sha256(b"xinlian-relay-block" + header + txs_digest).digest()


def txs_digest(ids: Sequence[bytes]) -> bytes:
    return hashlib.sha256(b"".join(ids)).digest()


def short_id_key(link_key: bytes, block: bytes) -> bytes:
    """The SipHash key for one block on one link."""
    return hashlib.sha256(b"xinlian-relay-short-id" + link_key + block).digest()[:16]


def short_ids(key: bytes, ids: Sequence[bytes]) -> list[int]:
    return [h & SHORT_ID_MASK for h in siphash24_many(key, list(ids))]


def unpack_short_ids(packed: bytes) -> list[int]:
    n = SHORT_ID_SIZE
    return [int.from_bytes(packed[k:k + n], "little") for k in range(0, len(packed), n)]


def match_short_ids(block: Sequence[int], pool: Sequence[bytes],
                    short_id_of: Callable[[Sequence[bytes]], list[int]]) -> list[bytes | None]:
    """For each short id of a block, the pool transaction id it names, or None when no
    pool transaction or more than one has it (then the transaction is fetched)."""
    by_short: dict[int, bytes | None] = {}
    for ident, sid in zip(pool, short_id_of(pool), strict=True):
        by_short[sid] = None if sid in by_short else ident
    return [by_short.get(sid) for sid in block]


# -- per-peer and per-request state ----------------------------------------------------

@dataclass(slots=True)
class _Peer:
    nonce: bytes
    asked: SeenCache  # transaction and block ids we asked of it: a late answer is no offence
    served: SeenCache  # transaction ids we sent it (once: `served`; twice: `served_again`)
    served_again: SeenCache
    msgs: TokenBucket | None  # messages it may still send us
    serve: TokenBucket | None  # body bytes we may still serve it
    link_key: bytes | None = None
    over_budget_at: int = -1  # the last heartbeat at which it was blamed for going over
    announce: dict[bytes, None] = field(default_factory=dict)  # ids to put in the next IHave
    backoff_until: int = 0


@dataclass(slots=True)
class _Want:
    asked: NodeId
    deadline: int
    others: list[NodeId]
    tries: int = 1


@dataclass(slots=True)
class _Partial:
    header: bytes
    digest: bytes
    ids: list[bytes | None]
    txs: list[bytes | None]
    source: NodeId
    awaiting: dict[bytes, int] = field(default_factory=dict)  # in flight by IWant: id -> index
    full: bool = False  # every transaction was asked of the source (after a digest mismatch)
    fetching: set[int] = field(default_factory=set)  # asked of the source by GetBlockTxs
    filled: int = -1  # transactions held at the last deadline (no progress: a stalled source)


@dataclass(frozen=True, slots=True)
class _Block:
    header: bytes
    digest: bytes
    ids: tuple[bytes, ...]
    txs: tuple[bytes, ...]


class RelayCore:
    """See the module docstring. `rng` is the only randomness (peer choice, nonces)."""

    def __init__(self, node: NodeId, config: RelayConfig, rng: random.Random) -> None:
        self.node = node
        self.config = config
        self._rng = rng
        self.peers: dict[NodeId, _Peer] = {}
        self.mesh: set[NodeId] = set()
        self.fanout: set[NodeId] = set()
        self._last_publish = 0
        self.pool: BoundedStore[bytes] = BoundedStore(config.pool_cap)
        self.included: BoundedStore[bytes] = BoundedStore(config.included_cap)
        self.seen = SeenCache(config.seen_ttl_ms, config.seen_cap)
        self.blocks: BoundedStore[_Block] = BoundedStore(config.block_cap)
        self.blocks_seen = SeenCache(config.seen_ttl_ms, config.seen_cap)
        self._wanted: dict[bytes, _Want] = {}
        self._block_wanted: dict[bytes, _Want] = {}
        self._partial: dict[bytes, _Partial] = {}
        self._awaiting: dict[bytes, bytes] = {}  # tx id -> the block being rebuilt that needs it
        self.dropped: Counter[str] = Counter()
        self.collisions = 0  # compact blocks whose short ids rebuilt the wrong list
        self.retries = 0     # requests repeated to another announcer after a timeout
        self.scores = Scoreboard(config.scoring, config.heartbeat_ms, config.evidence_cap,
                                 config.retain_cap)

    # -- the Core contract -------------------------------------------------------------

    def handle(self, event: Event) -> Sequence[Action]:
        out: list[Action] = []
        if isinstance(event, Receive):
            self._receive(event.now_ms, event.sender, event.message, out)
        elif isinstance(event, Timeout):
            if event.timer == HEARTBEAT:
                self._heartbeat(event.now_ms, out)
        elif isinstance(event, Input):
            self._input(event.now_ms, event.value, out)
        elif isinstance(event, Start):
            out.append(SetTimer(HEARTBEAT, event.now_ms + self.config.heartbeat_ms))
        return out

    # -- local inputs ------------------------------------------------------------------

    def _input(self, now: int, value: object, out: list[Action]) -> None:
        if isinstance(value, Connect):
            if value.peer not in self.peers and value.peer != self.node:
                nonce = self._rng.randbytes(16)
                cfg = self.config
                t = now / 1000
                ttl = 10 * cfg.want_timeout_ms
                self.peers[value.peer] = _Peer(
                    nonce, SeenCache(ttl, cfg.asked_cap), SeenCache(ttl, cfg.asked_cap),
                    SeenCache(ttl, cfg.asked_cap),
                    None if cfg.peer_msgs_per_s is None
                    else TokenBucket(cfg.peer_msgs_per_s, cfg.peer_msgs_per_s, t),
                    None if cfg.serve_bytes_per_s is None
                    else TokenBucket(cfg.serve_bytes_per_s, cfg.serve_bytes_per_s / 2, t))
                self.scores.connect(value.peer)
                self._send(value.peer, Hello(nonce), out)
        elif isinstance(value, Disconnect):
            self._mesh_remove(value.peer, now)
            self.peers.pop(value.peer, None)
            self.scores.disconnect(value.peer, now)
            self.fanout.discard(value.peer)
        elif isinstance(value, PublishTx):
            self._published(now)
            self._accept_tx(now, tx_id(value.tx), value.tx, None, out)
        elif isinstance(value, PublishBlock):
            self._published(now)
            ids = tuple(tx_id(tx) for tx in value.txs)
            digest = txs_digest(ids)
            self._accept_block(now, block_id(value.header, digest),
                               _Block(value.header, digest, ids, value.txs), None, out)

    # -- messages ----------------------------------------------------------------------

    def _send(self, peer: NodeId, message: Message, out: list[Action]) -> None:
        out.append(Send(peer, encode_message(message, self.config.compress_bodies)))

    def _blame(self, now: int, peer: NodeId, kind: str, message_id: bytes,
               out: list[Action]) -> None:
        """Record misbehaviour (score and evidence log) and hand the evidence out."""
        out.append(Deliver(self.scores.blame(now, peer, kind, message_id)))

    def _to_serve(self, now: int, sender: NodeId, peer: _Peer,
                  wanted: list[tuple[bytes, bytes]], out: list[Action]) -> list[int]:
        """Which of the requested (id, body) pairs to answer (their positions): none asked
        for a third time (an honest peer asks for a body once, twice after a short-id
        collision), and no more than the peer's serve budget."""
        if peer.serve is None:
            return list(range(len(wanted)))
        t = now / 1000
        served: list[int] = []
        for k, (ident, body) in enumerate(wanted):
            if ident in peer.served_again:
                self._over_budget(now, sender, peer, "repeat_request", out)
                continue
            if not peer.serve.take(len(body), t):
                self._over_budget(now, sender, peer, "serve_limited", out)
                break
            (peer.served_again if ident in peer.served else peer.served).add(ident, now)
            served.append(k)
        return served

    def _over_budget(self, now: int, sender: NodeId, peer: _Peer, counter: str,
                     out: list[Action]) -> None:
        """Count it; blame it at most once a heartbeat (a flood is one offence per beat)."""
        self.dropped[counter] += 1
        beat = now // self.config.heartbeat_ms
        if peer.over_budget_at != beat:
            peer.over_budget_at = beat
            self._blame(now, sender, "over_budget", b"", out)

    def _mesh_add(self, peer: NodeId, now: int) -> None:
        self.mesh.add(peer)
        self.scores.joined_mesh(peer, now)

    def _mesh_remove(self, peer: NodeId, now: int) -> float:
        """Take `peer` out of the mesh; its delivery deficit at that moment (P3b)."""
        if peer not in self.mesh:
            return 0.0
        self.mesh.discard(peer)
        return self.scores.left_mesh(peer, now)

    def _receive(self, now: int, sender: NodeId, data: bytes, out: list[Action]) -> None:
        peer = self.peers.get(sender)
        if peer is None:
            self.dropped["unknown_peer"] += 1
            return
        if self.scores.is_graylisted(sender):
            self.dropped["graylisted"] += 1
            return
        if peer.msgs is not None and not peer.msgs.take(1, now / 1000):
            self._over_budget(now, sender, peer, "rate_limited", out)
            return
        try:
            message = decode_message(data)
        except UnsupportedRelayVersion as exc:
            self.dropped[exc.name] += 1  # another release, not an offence
            return
        except MalformedRelayMessage as exc:
            self.dropped[exc.name] += 1
            self._blame(now, sender, "malformed", b"", out)
            return
        if isinstance(message, IHave):
            self._on_ihave(now, sender, message.ids, out)
        elif isinstance(message, IWant):
            found = [(i, self.pool.get(i) or self.included.get(i)) for i in message.ids]
            held = [(i, tx) for i, tx in found if tx is not None]
            txs = [held[k][1] for k in self._to_serve(now, sender, peer, held, out)]
            if txs:
                self._send(sender, Txs(txs), out)
        elif isinstance(message, Txs):
            for tx in message.txs:
                ident = tx_id(tx)
                if self._wanted.pop(ident, None) is None:
                    if ident in peer.asked:
                        self.dropped["late_tx"] += 1  # asked of it, then brought by another
                        continue
                    self.dropped["unsolicited_tx"] += 1
                    self._blame(now, sender, "unsolicited_tx", ident, out)
                    break
                self.scores.credit_first(sender)
                self._accept_tx(now, ident, tx, sender, out)
                self._fill_awaiting(now, ident, tx, out)
        elif isinstance(message, BlockHave):
            self._on_block_have(now, sender, message.block_id, out)
        elif isinstance(message, GetCompact):
            self._on_get_compact(sender, peer, message.block_id, out)
        elif isinstance(message, Compact):
            self._on_compact(now, sender, peer, message, out)
        elif isinstance(message, GetBlockTxs):
            block = self.blocks.get(message.block_id)
            if block is None or any(i >= len(block.txs) for i in message.indexes):
                self.dropped["bad_block_request"] += 1
                return
            wanted = [(block.ids[i], block.txs[i]) for i in message.indexes]
            served = self._to_serve(now, sender, peer, wanted, out)
            if served:
                self._send(sender, BlockTxs(message.block_id,
                                            [message.indexes[k] for k in served],
                                            [wanted[k][1] for k in served]), out)
        elif isinstance(message, BlockTxs):
            self._on_block_txs(now, sender, message, out)
        elif isinstance(message, Hello):
            if peer.link_key is None:
                a, b = sorted((peer.nonce, message.nonce))
                peer.link_key = hashlib.sha256(b"xinlian-relay-link" + a + b).digest()[:16]
        elif isinstance(message, Graft):
            if sender in self.mesh:
                pass  # both grafted each other at once (refusing would leave a one-sided link)
            elif (self.config.mesh_member and len(self.mesh) < self.config.d_hi
                    and now >= peer.backoff_until and self.scores.is_welcome(sender)):
                self._mesh_add(sender, now)
            else:
                self._send(sender, Prune(), out)
        else:  # Prune
            self._mesh_remove(sender, now)
            peer.announce.clear()
            peer.backoff_until = now + self.config.backoff_ms

    # -- transactions ------------------------------------------------------------------

    def _on_ihave(self, now: int, sender: NodeId, ids: list[bytes], out: list[Action]) -> None:
        if not self.scores.is_heard(sender):
            self.dropped["ignored_ihave"] += 1
            return
        ask: list[bytes] = []
        peer = self.peers[sender]
        in_mesh = sender in self.mesh
        params = self.config.scoring
        window = 0 if params is None else params.mesh_delivery_window_ms
        for ident in ids:
            peer.announce.pop(ident, None)  # it has it: never announce it back
            if in_mesh and self.seen.is_fresh(ident, now, window):
                self.scores.credit_mesh(sender)
            if ident in self.seen:
                continue
            want = self._wanted.get(ident)
            if want is not None:
                if sender != want.asked and len(want.others) < self.config.max_announcers:
                    want.others.append(sender)
            elif len(self._wanted) < self.config.max_wanted:
                self._wanted[ident] = _Want(sender, now + self.config.want_timeout_ms, [])
                ask.append(ident)
            else:
                self.dropped["wanted_full"] += 1
        if ask:
            for ident in ask:
                peer.asked.add(ident, now)
            self._send(sender, IWant(ask), out)

    def _accept_tx(self, now: int, ident: bytes, tx: bytes, source: NodeId | None,
                   out: list[Action], announce: bool = True) -> None:
        if ident in self.seen:
            return
        self.seen.add(ident, now)
        self.scores.saw_first()
        self.pool.put(ident, tx)
        out.append(Deliver(TxDelivered(ident, tx)))
        if announce:
            for peer_id in self._targets():
                if peer_id != source:
                    self.peers[peer_id].announce[ident] = None

    # -- blocks ------------------------------------------------------------------------

    def _accept_block(self, now: int, ident: bytes, block: _Block, source: NodeId | None,
                      out: list[Action]) -> None:
        if ident in self.blocks_seen:
            return
        self.blocks_seen.add(ident, now)
        self.scores.saw_first()
        if source is not None:
            self.scores.credit_first(source)
        self._block_wanted.pop(ident, None)
        self.blocks.put(ident, block)
        for i, tx in zip(block.ids, block.txs, strict=True):
            self._wanted.pop(i, None)
            self._accept_tx(now, i, tx, source, out, announce=False)
            self.pool.pop(i)  # included: no longer a candidate for the next block
            self.included.put(i, tx)
            for peer in self.peers.values():
                peer.announce.pop(i, None)
        out.append(Deliver(BlockDelivered(ident, block.header, block.txs)))
        have = encode_message(BlockHave(ident))
        out.extend(Send(p, have) for p in self._targets() if p != source)

    def _on_block_have(self, now: int, sender: NodeId, ident: bytes,
                       out: list[Action]) -> None:
        if not self.scores.is_heard(sender):
            self.dropped["ignored_ihave"] += 1
            return
        params = self.config.scoring
        if (params is not None and sender in self.mesh
                and self.blocks_seen.is_fresh(ident, now, params.mesh_delivery_window_ms)):
            self.scores.credit_mesh(sender)
        if ident in self.blocks_seen or ident in self._partial:
            return
        want = self._block_wanted.get(ident)
        if want is not None:
            if sender != want.asked and len(want.others) < self.config.max_announcers:
                want.others.append(sender)
            return
        self._block_wanted[ident] = _Want(sender, now + self.config.want_timeout_ms, [])
        self.peers[sender].asked.add(ident, now)
        self._send(sender, GetCompact(ident), out)

    def _on_get_compact(self, sender: NodeId, peer: _Peer, ident: bytes,
                        out: list[Action]) -> None:
        block = self.blocks.get(ident)
        if block is None or peer.link_key is None:
            self.dropped["bad_block_request"] += 1
            return
        key = short_id_key(peer.link_key, ident)
        packed = b"".join(s.to_bytes(SHORT_ID_SIZE, "little") for s in short_ids(key, block.ids))
        self._send(sender, Compact(ident, block.header, block.digest, packed), out)

    def _on_compact(self, now: int, sender: NodeId, peer: _Peer, msg: Compact,
                    out: list[Action]) -> None:
        ident = msg.block_id
        want = self._block_wanted.get(ident)
        if want is None or want.asked != sender or peer.link_key is None:
            self._unsolicited_block(now, sender, peer, ident, out)
            return
        if block_id(msg.header, msg.txs_digest) != ident:
            self.dropped["invalid_block"] += 1
            self._blame(now, sender, "invalid_block", ident, out)
            want.deadline = now  # ask the next announcer at the next heartbeat
            return
        # A lagging proposer may repeat transactions of a block we already hold.
        pool_ids = [i for i, _ in self.pool.items()] + [i for i, _ in self.included.items()]
        key = short_id_key(peer.link_key, ident)
        ids = match_short_ids(unpack_short_ids(msg.short_ids), pool_ids,
                              lambda batch: short_ids(key, batch))
        txs = [None if found is None else self.pool.get(found) or self.included.get(found)
               for found in ids]
        partial = _Partial(msg.header, msg.txs_digest, ids, txs, sender)
        # Transactions already requested by IWant are awaited, not fetched a second time.
        in_flight = match_short_ids(unpack_short_ids(msg.short_ids), list(self._wanted),
                                    lambda batch: short_ids(key, batch))
        for index, (found, awaited) in enumerate(zip(ids, in_flight, strict=True)):
            if found is None and awaited is not None and awaited not in self._awaiting:
                partial.awaiting[awaited] = index
                self._awaiting[awaited] = ident
        self._partial[ident] = partial
        want.deadline = now + self.config.want_timeout_ms
        self._complete_or_fetch(now, ident, partial, out)

    def _on_block_txs(self, now: int, sender: NodeId, msg: BlockTxs, out: list[Action]) -> None:
        partial = self._partial.get(msg.block_id)
        if partial is None or partial.source != sender:
            self._unsolicited_block(now, sender, self.peers[sender], msg.block_id, out)
            return
        for i, tx in zip(msg.indexes, msg.txs, strict=True):
            if i >= len(partial.txs):
                self.dropped["bad_block_txs"] += 1
                self._blame(now, sender, "invalid_block", msg.block_id, out)
                return
            partial.txs[i] = tx
            partial.ids[i] = tx_id(tx)
            partial.fetching.discard(i)
        self._complete_or_fetch(now, msg.block_id, partial, out)

    def _unsolicited_block(self, now: int, sender: NodeId, peer: _Peer, ident: bytes,
                           out: list[Action]) -> None:
        if ident in peer.asked:
            self.dropped["late_block"] += 1  # asked of it once: a slow answer, no offence
            return
        self.dropped["unsolicited_block"] += 1
        self._blame(now, sender, "unsolicited_block", ident, out)

    def _fill_awaiting(self, now: int, ident: bytes, tx: bytes, out: list[Action]) -> None:
        block = self._awaiting.pop(ident, None)
        partial = None if block is None else self._partial.get(block)
        if block is None or partial is None:
            return
        index = partial.awaiting.pop(ident, None)
        if index is not None and partial.txs[index] is None:
            partial.txs[index] = tx
            partial.ids[index] = ident
            self._complete_or_fetch(now, block, partial, out)

    def _drop_partial(self, ident: bytes) -> None:
        partial = self._partial.pop(ident, None)
        if partial is not None:
            for tx in partial.awaiting:
                self._awaiting.pop(tx, None)

    def _complete_or_fetch(self, now: int, ident: bytes, partial: _Partial,
                           out: list[Action]) -> None:
        awaited = set(partial.awaiting.values())
        missing = [i for i, tx in enumerate(partial.txs)
                   if tx is None and i not in awaited and i not in partial.fetching]
        if missing:
            partial.fetching.update(missing[:MAX_IDS])
            self._send(partial.source, GetBlockTxs(ident, missing[:MAX_IDS]), out)
        if any(tx is None for tx in partial.txs):
            return
        ids = [i for i in partial.ids if i is not None]
        if txs_digest(ids) != partial.digest:
            if partial.full:
                # Every body came from the source and they are not the block: its fault.
                self.dropped["invalid_block"] += 1
                self._blame(now, partial.source, "invalid_block", ident, out)
                self._drop_partial(ident)
                want = self._block_wanted.get(ident)
                if want is not None:
                    want.deadline = now  # ask the next announcer at the next heartbeat
                return
            # A short id matched the wrong transaction: fetch the whole list (BIP 152).
            self.collisions += 1
            partial.full = True
            partial.txs = [None] * len(partial.txs)
            partial.fetching = set(range(len(partial.txs)))
            self._send(partial.source, GetBlockTxs(ident, list(range(len(partial.txs)))), out)
            return
        self._drop_partial(ident)
        txs = tuple(tx for tx in partial.txs if tx is not None)
        self._accept_block(now, ident, _Block(partial.header, partial.digest, tuple(ids), txs),
                           partial.source, out)

    # -- heartbeat ---------------------------------------------------------------------

    def _heartbeat(self, now: int, out: list[Action]) -> None:
        cfg = self.config
        self.scores.heartbeat(now)
        if cfg.mesh_member:
            self._maintain_mesh(now, out)
        else:
            self._maintain_fanout(now)
        for peer_id in self._targets():
            announce = self.peers[peer_id].announce
            if announce:
                ids = list(announce)[:MAX_IDS]
                for i in ids:
                    del announce[i]
                self._send(peer_id, IHave(ids), out)
        self._retry(now, self._wanted, False, out)
        self._retry(now, self._block_wanted, True, out)
        self.seen.expire(now)
        self.blocks_seen.expire(now)
        for peer in self.peers.values():
            peer.asked.expire(now)
        out.append(SetTimer(HEARTBEAT, now + cfg.heartbeat_ms))

    def _targets(self) -> list[NodeId]:
        """Where news goes: the mesh, or for a node outside it, its fanout peers (sorted:
        a set's order depends on the process's hash seed, and a run must replay exactly)."""
        return sorted(self.mesh if self.config.mesh_member else self.fanout)

    def _published(self, now: int) -> None:
        self._last_publish = now
        if not self.config.mesh_member and not self.fanout:
            self._maintain_fanout(now)

    def _maintain_fanout(self, now: int) -> None:
        """A light node keeps `d` random peers to publish through while it publishes."""
        if now - self._last_publish > self.config.fanout_ttl_ms:
            self.fanout.clear()
            return
        if len(self.fanout) < self.config.d:
            candidates = sorted(p for p, st in self.peers.items()
                                if p not in self.fanout and st.link_key is not None
                                and self.scores.is_welcome(p))
            k = min(len(candidates), self.config.d - len(self.fanout))
            self.fanout.update(self._rng.sample(candidates, k))

    def _maintain_mesh(self, now: int, out: list[Action]) -> None:
        cfg = self.config
        for p in sorted(p for p in self.mesh if not self.scores.is_welcome(p)):
            if self._prune(p, now, out):  # a negative score leaves the mesh (gossipsub v1.1)
                self._blame(now, p, "mesh_deficit", b"", out)
        if len(self.mesh) < cfg.d_lo:
            candidates = sorted(p for p, st in self.peers.items()
                                if p not in self.mesh and st.link_key is not None
                                and now >= st.backoff_until and self.scores.is_welcome(p))
            for p in self._rng.sample(candidates, min(len(candidates), cfg.d - len(self.mesh))):
                self._mesh_add(p, now)
                self._send(p, Graft(), out)
        elif len(self.mesh) > cfg.d_hi:
            for p in self._rng.sample(sorted(self.mesh), len(self.mesh) - cfg.d):
                self._prune(p, now, out)

    def _prune(self, p: NodeId, now: int, out: list[Action]) -> float:
        """Prune `p` (with backoff); its delivery deficit (P3b)."""
        deficit = self._mesh_remove(p, now)
        self.peers[p].announce.clear()
        self.peers[p].backoff_until = now + self.config.backoff_ms
        self._send(p, Prune(), out)
        return deficit

    def _retry(self, now: int, wanted: dict[bytes, _Want], blocks: bool,
               out: list[Action]) -> None:
        """Ask the next announcer for what the last one did not send in time."""
        again: dict[NodeId, list[bytes]] = {}
        broken: dict[NodeId, list[bytes]] = {}
        for ident, want in list(wanted.items()):
            if want.deadline > now:
                continue
            want.deadline = now + self.config.want_timeout_ms
            partial = self._partial.get(ident) if blocks else None
            filled = 0 if partial is None else sum(tx is not None for tx in partial.txs)
            if partial is not None and partial.source in self.peers and (
                    filled > partial.filled or partial.awaiting
                    or (partial.fetching and want.tries < MAX_TRIES)):
                if filled == partial.filled:
                    want.tries += 1  # a large BlockTxs may still be on its way: wait a bit
                partial.filled = filled
                # Rebuilding: what IWant has not brought yet is now asked of the source;
                # what the source was asked for is still on its way (bodies are large).
                if partial.awaiting:
                    late = sorted(partial.awaiting.values())
                    for tx in partial.awaiting:
                        self._awaiting.pop(tx, None)
                    partial.awaiting.clear()
                    partial.fetching.update(late)
                    self._send(partial.source, GetBlockTxs(ident, late), out)
                continue
            self._drop_partial(ident)
            if want.asked in self.peers:
                broken.setdefault(want.asked, []).append(ident)
            while want.others and (want.others[0] not in self.peers
                                   or not self.scores.is_heard(want.others[0])):
                want.others.pop(0)
            if want.others:
                want.asked = want.others.pop(0)
            elif (want.asked not in self.peers or not self.scores.is_heard(want.asked)
                  or (want.tries >= MAX_TRIES and not blocks)):
                del wanted[ident]  # nobody left to ask: a later announcement asks again
                continue
            want.tries += 1
            self.retries += 1
            again.setdefault(want.asked, []).append(ident)
        cap = 1 if self.config.scoring is None else self.config.scoring.max_broken_per_round
        for peer_id, idents in broken.items():
            for ident in idents[:cap]:
                self._blame(now, peer_id, "broken_promise", ident, out)
        for peer_id, ids in again.items():
            asked = self.peers[peer_id].asked
            for ident in ids:
                asked.add(ident, now)
            if blocks:
                for ident in ids:
                    self._send(peer_id, GetCompact(ident), out)
            else:
                self._send(peer_id, IWant(ids), out)
