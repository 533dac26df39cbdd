"""Websocket subscriptions: which session wants which events, and the notifications.

Theory of operation. The hub is the node's one block listener. On each commit it builds
each notification's result once, then hands every interested session its encoded message
through `Session.push` (a bounded, non-blocking queue the server drains into the socket),
so a slow client can never stall block production: when its queue is full the session is
marked overflowed and the server closes it. No sockets here; the server owns I/O.

Kinds: "newBlocks" (every committed block, as a BlockView without raw transactions) and
"txStatus" for given hashes (one notification per hash when it commits; a hash that is
already committed at subscription time is notified right after the reply, paced by the
server so that up to the watch limit of them never overflows the queue).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import count

import msgspec

from xinlian.api.errors import InvalidParams, TooManyWatches, UnknownSubscription
from xinlian.api.format import to_json
from xinlian.api.views import BlockView, TxStatus
from xinlian.ledger.block import Block, Receipt, header_hash

NEW_BLOCKS = "newBlocks"
TX_STATUS = "txStatus"
NOTIFICATION_METHOD = "xl_subscription"
MAX_SUBSCRIPTIONS = 64

_encode = msgspec.json.encode


def notification(subscription: str, result: msgspec.Raw) -> bytes:
    return _encode({"jsonrpc": "2.0", "method": NOTIFICATION_METHOD,
                    "params": {"subscription": subscription, "result": result}})


class Session:
    """One websocket connection's subscriptions and its outbound queue."""

    def __init__(self, push: Callable[[bytes], bool]) -> None:
        self._push = push
        self.blocks: set[str] = set()
        self.watches: dict[str, set[bytes]] = {}  # subscription id -> hashes still awaited
        self.overflowed = False
        self._after_reply: list[bytes] = []

    def push(self, message: bytes) -> None:
        if not self.overflowed and not self._push(message):
            self.overflowed = True

    def defer(self, message: bytes) -> None:
        """Queue `message` to go out right after the reply being prepared."""
        self._after_reply.append(message)

    def take_deferred(self) -> list[bytes]:
        """The messages deferred since the last call (the server paces them out)."""
        messages, self._after_reply = self._after_reply, []
        return messages

    def count(self) -> int:
        return len(self.blocks) + len(self.watches)


class Hub:
    def __init__(self, hash_bytes: Callable[[bytes], bytes],
                 committed: Callable[[bytes], TxStatus | None], *, per_session: int,
                 total: int) -> None:
        self._hash = hash_bytes
        self._committed = committed
        self._per_session = per_session
        self._total = total
        self.watched = 0  # hashes awaited over all sessions
        self._ids = count(1)
        self._block_sessions: dict[str, Session] = {}
        self._watchers: dict[bytes, dict[str, Session]] = {}  # tx hash -> subscriptions

    def _new_id(self, session: Session) -> str:
        if session.count() >= MAX_SUBSCRIPTIONS:
            raise InvalidParams(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        return hex(next(self._ids))

    def subscribe_blocks(self, session: Session) -> str:
        sid = self._new_id(session)
        session.blocks.add(sid)
        self._block_sessions[sid] = session
        return sid

    def subscribe_txs(self, session: Session, hashes: Sequence[bytes]) -> str:
        watched = sum(map(len, session.watches.values()))
        if watched + len(hashes) > self._per_session:
            raise TooManyWatches(
                f"at most {self._per_session} watched transactions per connection")
        if self.watched + len(hashes) > self._total:
            raise TooManyWatches(f"the node watches {self.watched} transactions for its "
                                 f"clients; the limit is {self._total}")
        sid = self._new_id(session)
        pending = set(hashes)
        session.watches[sid] = pending
        for tx_hash in list(pending):
            status = self._committed(tx_hash)
            if status is None:
                self._watchers.setdefault(tx_hash, {})[sid] = session
            else:
                pending.discard(tx_hash)
                session.defer(notification(sid, msgspec.Raw(_encode(to_json(status)))))
        self.watched += len(pending)
        return sid

    def unsubscribe(self, session: Session, sid: str) -> None:
        if sid in session.blocks:
            session.blocks.discard(sid)
            del self._block_sessions[sid]
        elif sid in session.watches:
            pending = session.watches.pop(sid)
            self.watched -= len(pending)
            for tx_hash in pending:
                self._unwatch(tx_hash, sid)
        else:
            raise UnknownSubscription(f"no subscription {sid!r} on this connection")

    def drop(self, session: Session) -> None:
        """Forget a closed session's subscriptions."""
        for sid in list(session.blocks) + list(session.watches):
            self.unsubscribe(session, sid)

    def _unwatch(self, tx_hash: bytes, sid: str) -> None:
        subs = self._watchers.get(tx_hash)
        if subs is not None:
            subs.pop(sid, None)
            if not subs:
                del self._watchers[tx_hash]

    def on_block(self, block: Block, receipts: Sequence[Receipt]) -> None:
        """The node's block listener: notify block and transaction subscribers."""
        if self._block_sessions:
            # the transactions' receipts come first; the engine runs' follow them
            view = BlockView(header_hash(block.header, self._hash), block.header,
                             block.signature,
                             [r.tx_hash for r in receipts[:block.header.tx_count]])
            result = msgspec.Raw(_encode(to_json(view)))
            for sid, session in list(self._block_sessions.items()):
                session.push(notification(sid, result))
        if self._watchers:
            for receipt in receipts:
                subs = self._watchers.pop(receipt.tx_hash, None)
                if subs is None:
                    continue
                status = TxStatus(receipt.tx_hash, "committed", receipt)
                result = msgspec.Raw(_encode(to_json(status)))
                for sid, session in subs.items():
                    session.watches[sid].discard(receipt.tx_hash)
                    self.watched -= 1
                    session.push(notification(sid, result))
