"""Batch dissemination, separate from ordering (Narwhal-lite).

Theory of operation. The application hands a node opaque transaction bytes (`Submit`); the
node appends them to its open batch and seals it when it is full or its timer fires. A sealed
batch is broadcast to the committee; each receiver persists the exact bytes it received and
returns a signed acknowledgement of the batch digest (the hash of those bytes). When the
acknowledgements reach more than 1/3 of the voting power — so at least one honest member
stores the batch — the author combines them into an availability certificate and announces
it. Leaders order only these certificates (digest, author, count, signatures); nothing on the
ordering path looks inside a batch. After a block commits, a node that lacks one of its
batches fetches it from the certificate's signers (then from the other members), checks it
against the digest and hands it to the application.

A certificate only has to convince a node that some honest member holds the batch. A node
that holds the bytes itself needs no convincing, so it skips the signature check — the
common case, since authors send every batch to every member. An announced certificate for
a batch not yet here (the announcement travels ahead of bulk data) is kept unchecked and
checked only if this node, as leader, is about to propose it. A block therefore gets a
quorum only if each of its batches is held or certified to each honest voter: at least one
honest member holds it, which is all the fetch after the commit needs.

Checking once per network (`check_batches`). Signature checks of the transactions in a batch
are the application's costliest work; without this mode every validator repeats them for
every batch. With it, an acknowledgement also attests "I checked every transaction in this
batch": the author (whose admission checked them) and the members `checkers` picks from a
rotation keyed by the digest, up to more than 1/3 of the power, hand the batch to their
application (`CheckBatch`) and ack only if it answers yes (`BatchChecked`); the other
members only store it. A certificate therefore proves that at least one honest member
checked the batch, so a validator executes certified batches without checking them again:
a transaction is checked by about f+1 members instead of n. Holding the bytes no longer
excuses a certificate from its check, since the bytes say nothing of who checked them:
every certificate in a proposal is verified (once). An uncertified batch is re-sent to the
next member of its rotation at each `resend_ms`, so a silent or faulty checker delays a
batch and never blocks it; a batch an honest checker refused stays uncertified and is
never ordered. docs/consensus.md has the security argument.

Memory keeps the bytes of the batches stored during the last `memory` committed blocks
(`Config.memory_blocks`); older ones are read back from `stored`, the live view of what
this node persisted (they are served to peers that fetch them and replayed after a restart).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from xinlian import codec
from xinlian.consensus.aggregator import Aggregator
from xinlian.consensus.blocks import MEMORY_BLOCKS
from xinlian.consensus.certificates import Meter, VoteKey, verify_cert
from xinlian.consensus.committee import Committee, signers
from xinlian.consensus.errors import InvalidCertificate
from xinlian.consensus.messages import (
    MAX_BATCH_BYTES,
    Ack,
    Available,
    Batch,
    BatchCert,
    BatchMsg,
    BatchRequest,
    BatchResponse,
    ack_message,
)
from xinlian.consensus.retention import held, scan
from xinlian.protocol import Action, Broadcast, Deliver, Persist, Send, SetTimer

PREFIX = b"consensus/batch/"
DONE = b"consensus/ordered/"
BATCH_TIMER = "batch"
FETCH_TIMER = "fetch"
ACK_TIMER = "acks"
MAX_CHECKED = 4096
MAX_UNCHECKED = 1024  # announced certificates parked unchecked; beyond, checked on arrival


@dataclass(frozen=True)
class CheckBatch:
    """Deliver (in `check_batches` mode): check every transaction of this batch, then input
    `BatchChecked` with the verdict; this node acks the batch only on a yes."""

    digest: bytes
    payload: bytes


@dataclass(frozen=True)
class BatchChecked:
    """Input: the application's verdict on a `CheckBatch`."""

    digest: bytes
    ok: bool


@dataclass(frozen=True)
class BatchReady:
    """A committed batch whose bytes this node now holds (delivered in commit order)."""

    digest: bytes
    message: bytes  # the canonical BatchMsg bytes; `batch` decodes them

    @property
    def batch(self) -> Batch:
        return codec.decode(self.message, BatchMsg).batch


class Dissemination:
    def __init__(self, node: bytes, key: VoteKey, stored: Mapping[bytes, bytes],
                 batch_bytes: int, batch_delay_ms: int, fetch_retry_ms: int, resend_ms: int,
                 meter: Meter, metrics: Counter[str], check_batches: bool = False,
                 memory: int = MEMORY_BLOCKS) -> None:
        self.node = node
        self.check_batches = check_batches
        self.key = key
        self.batch_bytes = min(batch_bytes, MAX_BATCH_BYTES)
        self.batch_delay_ms = batch_delay_ms
        self.fetch_retry_ms = fetch_retry_ms
        self.resend_ms = resend_ms
        self.meter = meter
        self.metrics = metrics
        self.view = stored
        self.memory = memory
        # digest -> (blocks committed when it was stored, message): the recent batches
        self.recent: OrderedDict[bytes, tuple[int, bytes]] = OrderedDict()
        self._commits = 0  # blocks committed since the start
        self.committee: Committee | None = None
        self.acks = Aggregator()
        self.own: dict[bytes, bytes] = {}  # digest -> message, authored and not yet ordered
        self.uncertified: dict[bytes, int] = {}  # own digest -> when it was last sent
        self.asked: dict[bytes, int] = {}  # own digest -> checkers asked so far (a prefix)
        self.checking: dict[bytes, tuple[bytes, int]] = {}  # digest -> (author, epoch)
        self.verdicts: OrderedDict[bytes, bool] = OrderedDict()  # checked digests, newest last
        self.checked: dict[tuple[object, ...], None] = {}  # verified certificates, oldest first
        self.pending: OrderedDict[bytes, BatchCert] = OrderedDict()
        self.unchecked: set[bytes] = set()  # pending, neither checked nor held on arrival
        self.committed: set[bytes] = {k[len(DONE):] for k, _ in scan(stored, DONE)}
        self.to_deliver: list[bytes] = []  # committed digests, in order, awaiting their bytes
        self.fetching: dict[bytes, list[bytes]] = {}  # digest -> peers to ask, in turn
        self._open: list[bytes] = []
        self._open_size = 0
        self._open_count = 0
        self._seq = 0
        self.now_ms = 0
        self._fetch_armed = False

    # -- epochs ---------------------------------------------------------------------------

    def start_epoch(self, committee: Committee, now_ms: int) -> list[Action]:
        """Certificates of the old epoch lapse; re-send this node's uncommitted batches."""
        self.now_ms = now_ms
        old, self.committee = self.committee, committee
        self.acks = Aggregator()
        self.pending.clear()
        self.unchecked.clear()
        resend = [m for d, m in self.own.items() if d not in self.committed]
        self.own.clear()
        self.uncertified.clear()
        self.asked.clear()
        self.checking.clear()
        if old is None:
            return self._recover(committee, now_ms)
        self.committed.clear()  # certificates are epoch-bound: no digest repeats across epochs
        if committee.index(self.node) is None:
            return []
        actions: list[Action] = []
        for message in resend:
            batch = codec.decode(message, BatchMsg).batch
            actions += self._seal(batch.payload, batch.count)
        return actions

    def _recover(self, committee: Committee, now_ms: int) -> list[Action]:
        """After a restart: fetch again the committed batches that had not arrived before
        the crash (the application waits for them to apply the blocks they belong to)."""
        lost = sorted(d for d in self.committed if not self.holds(d))
        if not lost:
            return []
        others = [p for p in committee.nodes if p != self.node]
        for digest in lost:
            self.fetching[digest] = list(others)
            self.to_deliver.append(digest)
        self._fetch_armed = True
        return [a for d in lost for a in self._ask(d)] + [
            SetTimer(FETCH_TIMER, now_ms + self.fetch_retry_ms)]

    # -- the author's side -----------------------------------------------------------------

    def submit(self, now_ms: int, payload: bytes, count: int) -> list[Action]:
        self.now_ms = now_ms
        if self.committee is None or self.committee.index(self.node) is None:
            self.metrics["submit_not_member"] += 1
            return []
        actions: list[Action] = []
        if self._open_size + len(payload) > self.batch_bytes and self._open:
            actions += self.seal()
        self._open.append(payload)
        self._open_size += len(payload)
        self._open_count += count
        if self._open_size >= self.batch_bytes:
            actions += self.seal()
        elif len(self._open) == 1:
            actions.append(SetTimer(BATCH_TIMER, now_ms + self.batch_delay_ms))
        return actions

    def seal(self, now_ms: int | None = None) -> list[Action]:
        if now_ms is not None:
            self.now_ms = now_ms
        if not self._open:
            return []
        payload, count = b"".join(self._open), self._open_count
        self._open, self._open_size, self._open_count = [], 0, 0
        return self._seal(payload, count)

    def _seal(self, payload: bytes, count: int) -> list[Action]:
        committee = self.committee
        assert committee is not None
        me = committee.index(self.node)
        if me is None:
            return []
        self._seq += 1
        message = codec.encode(BatchMsg(Batch(committee.epoch, me, self._seq, count, payload)))
        digest = self._digest(committee, message)
        self.own[digest] = message
        self.uncertified[digest] = self.now_ms
        if self.check_batches:
            self.asked[digest] = first_checkers(committee, digest, me)
        actions: list[Action] = [*self._store(digest, message, committee.epoch),
                                 Broadcast(self._others(committee), message, bulk=True)]
        if len(self.uncertified) == 1:
            actions.append(SetTimer(ACK_TIMER, self.now_ms + self.resend_ms))
        return actions + self._ack(committee, me, digest, committee.epoch)

    def retry_acks(self, now_ms: int) -> list[Action]:
        """Re-send batches short of a certificate `resend_ms` after they were last sent to
        the members that did not ack (a younger batch's copies may still be on their way)."""
        committee = self.committee
        if committee is None or not self.uncertified:
            return []
        actions: list[Action] = []
        for digest, sent in sorted(self.uncertified.items()):
            if now_ms - sent < self.resend_ms:
                continue
            self.uncertified[digest] = now_ms
            acked = self.acks.voters(digest)
            if self.check_batches:  # one more checker of the rotation each time
                order = rotation(committee, digest, committee.index(self.node))
                self.asked[digest] = min(self.asked[digest] + 1, len(order))
                asked = order[:self.asked[digest]]
            else:
                asked = list(range(len(committee.nodes)))
            missing = tuple(committee.nodes[i] for i in asked
                            if i not in acked and committee.nodes[i] != self.node)
            if missing:
                self.metrics["batch_resent"] += 1
                actions.append(Broadcast(missing, self.own[digest], bulk=True))
        due = min(self.uncertified.values()) + self.resend_ms
        return [*actions, SetTimer(ACK_TIMER, due)]

    def on_ack(self, sender: bytes, ack: Ack) -> list[Action]:
        committee = self.committee
        assert committee is not None
        index = committee.index(sender)
        if index is None or ack.epoch != committee.epoch or bytes(ack.digest) not in self.own:
            self.metrics["ack_unexpected"] += 1
            return []
        return self._ack(committee, index, bytes(ack.digest), ack.epoch, bytes(ack.signature))

    def _ack(self, committee: Committee, index: int, digest: bytes, epoch: int,
             signature: bytes | None = None) -> list[Action]:
        message = ack_message(epoch, digest)
        if signature is None:
            signature = self.key.sign(committee, message, self.meter)
        done = self.acks.add(committee, digest, index, message, signature, committee.validity,
                             self.meter)
        if done is None:
            return []
        self.uncertified.pop(digest, None)
        self.asked.pop(digest, None)
        batch = codec.decode(self.own[digest], BatchMsg).batch
        cert = BatchCert(epoch, digest, batch.author, batch.count, done[0])
        self.pending[digest] = cert
        return [Broadcast(self._others(committee), codec.encode(Available(cert)))]

    # -- everyone's side -------------------------------------------------------------------

    def on_batch(self, sender: bytes, message: bytes, batch: Batch) -> list[Action]:
        committee = self.committee
        assert committee is not None
        me = committee.index(self.node)
        author = committee.index(sender)
        if batch.epoch != committee.epoch or author is None or author != batch.author or me is None:
            self.metrics["batch_rejected"] += 1
            return []
        digest = self._digest(committee, message)
        if not self.check_batches:
            return [*self._store(digest, message, batch.epoch),
                    self._signed_ack(committee, sender, batch.epoch, digest)]
        again = self.holds(digest)  # the author re-sent it: it asks this node to check
        actions = self._store(digest, message, batch.epoch)
        verdict = self.verdicts.get(digest)
        if verdict is not None:
            return actions + ([self._signed_ack(committee, sender, batch.epoch, digest)]
                              if verdict else [])
        if digest in self.checking:
            return actions
        if not again and me not in rotation(committee, digest, author)[
                :first_checkers(committee, digest, author)]:
            self.metrics["batch_stored_unchecked"] += 1
            return actions
        self.checking[digest] = (sender, batch.epoch)
        return [*actions, Deliver(CheckBatch(digest, batch.payload))]

    def on_checked(self, checked: BatchChecked) -> list[Action]:
        """The application's verdict on a batch this node was asked to check: ack it if
        every transaction holds (a refusal is remembered: a re-send is not checked again)."""
        committee = self.committee
        found = self.checking.pop(checked.digest, None)
        if found is None or committee is None:
            return []
        self.verdicts[checked.digest] = checked.ok
        while len(self.verdicts) > MAX_CHECKED:
            self.verdicts.popitem(last=False)
        author, epoch = found
        if not checked.ok:
            self.metrics["batch_refused"] += 1
            return []
        if epoch != committee.epoch:
            return []
        return [self._signed_ack(committee, author, epoch, checked.digest)]

    def _signed_ack(self, committee: Committee, author: bytes, epoch: int,
                    digest: bytes) -> Send:
        signature = self.key.sign(committee, ack_message(epoch, digest), self.meter)
        return Send(author, codec.encode(Ack(epoch, digest, signature)))

    def check_cert(self, cert: BatchCert) -> None:
        """Raise InvalidCertificate unless this node holds the batch or `cert` proves that it
        is available (each certificate is checked once: it may come again in proposals)."""
        committee = self.committee
        assert committee is not None
        if bytes(cert.digest) in self.own or (
                not self.check_batches and self.holds(bytes(cert.digest))):
            self.metrics["cert_held"] += 1
            return
        key = (cert.epoch, bytes(cert.digest), cert.author, cert.count, bytes(cert.cert.signers),
               tuple(bytes(x) for x in cert.cert.signatures))
        if key in self.checked:
            return
        message = ack_message(cert.epoch, bytes(cert.digest))
        verify_cert(committee, cert.cert, lambda i: message, committee.validity, self.meter)
        self.checked[key] = None
        if len(self.checked) > 4 * MAX_CHECKED:
            for stale in list(self.checked)[:MAX_CHECKED]:
                del self.checked[stale]

    def on_available(self, sender: bytes, cert: BatchCert) -> None:
        committee = self.committee
        assert committee is not None
        digest = bytes(cert.digest)
        if cert.epoch != committee.epoch or digest in self.committed or digest in self.pending:
            return
        if committee.index(sender) != cert.author:
            self.metrics["available_not_author"] += 1  # only authors announce
            return
        if self.holds(digest) or len(self.unchecked) >= MAX_UNCHECKED:
            self.check_cert(cert)
        else:
            self.unchecked.add(digest)
        self.pending[digest] = cert

    def take(self, limit: int, exclude: set[bytes]) -> list[BatchCert]:
        """Up to `limit` available batches for a proposal, oldest first; an announced
        certificate is checked here if its batch has not arrived (and dropped if invalid)."""
        out: list[BatchCert] = []
        for digest, cert in list(self.pending.items()):
            if len(out) >= limit:
                break
            if digest in exclude:
                continue
            if digest in self.unchecked:
                self.unchecked.discard(digest)
                try:
                    self.check_cert(cert)
                except InvalidCertificate:
                    self.metrics["cert_invalid"] += 1
                    del self.pending[digest]
                    continue
            out.append(cert)
        return out

    def commit(self, now_ms: int, payload: Iterable[BatchCert]) -> tuple[list[bytes], list[Action]]:
        """Mark a block's batches committed; returns the digests new to the chain and actions
        fetching any this node lacks and delivering the ones it holds, in order."""
        fresh: list[bytes] = []
        actions: list[Action] = []
        self._commits += 1
        self._forget()
        for cert in payload:
            digest = bytes(cert.digest)
            if digest in self.committed:
                continue  # ordered twice (two leaders picked it): the first one counts
            self.committed.add(digest)
            actions += [Persist(DONE + digest, b""), held(cert.epoch, DONE + digest)]
            self.pending.pop(digest, None)
            self.unchecked.discard(digest)
            self.own.pop(digest, None)
            self.uncertified.pop(digest, None)
            fresh.append(digest)
            self.to_deliver.append(digest)
            if not self.holds(digest) and digest not in self.fetching:
                nodes = self.committee.nodes  # type: ignore[union-attr]
                first = [nodes[i] for i in signers(cert.cert.signers, len(nodes))]
                peers = dict.fromkeys([*first, *nodes])  # signers first, then everyone
                self.fetching[digest] = [p for p in peers if p != self.node]
        if self.fetching and not self._fetch_armed:  # a batch is often still on its way
            self._fetch_armed = True
            actions.append(SetTimer(FETCH_TIMER, now_ms + self.fetch_retry_ms))
        return fresh, actions + self._deliver_ready()

    def on_request(self, sender: bytes, request: BatchRequest) -> list[Action]:
        message = self.message(bytes(request.digest))
        if message is None:
            return []
        return [Send(sender, codec.encode(BatchResponse(message)), bulk=True)]

    def on_response(self, response: BatchResponse) -> list[Action]:
        committee = self.committee
        assert committee is not None
        message = bytes(response.message)
        digest = self._digest(committee, message)
        if digest not in self.fetching:
            self.metrics["batch_unrequested"] += 1
            return []
        batch = codec.decode(message, BatchMsg).batch  # well-formed, or CodecError drops it
        del self.fetching[digest]
        return self._store(digest, message, batch.epoch) + self._deliver_ready()

    def retry_fetch(self, now_ms: int) -> list[Action]:
        self._fetch_armed = False
        actions: list[Action] = []
        for digest, peers in self.fetching.items():
            actions += self._ask(digest)
            peers.append(peers.pop(0))
        if self.fetching:
            self._fetch_armed = True
            actions.append(SetTimer(FETCH_TIMER, now_ms + self.fetch_retry_ms))
        return actions

    # -- helpers ---------------------------------------------------------------------------

    def _ask(self, digest: bytes) -> list[Action]:
        peers = self.fetching[digest]
        return [Send(peers[0], codec.encode(BatchRequest(digest)))] if peers else []

    def _deliver_ready(self) -> list[Action]:
        actions: list[Action] = []
        while self.to_deliver and (message := self.message(self.to_deliver[0])) is not None:
            actions.append(Deliver(BatchReady(self.to_deliver.pop(0), message)))
        return actions

    def holds(self, digest: bytes) -> bool:
        """Whether this node stored the batch `digest` (in memory or in its store)."""
        return digest in self.recent or PREFIX + digest in self.view

    def message(self, digest: bytes) -> bytes | None:
        """The batch's message bytes, if this node stored it."""
        recent = self.recent.get(digest)
        return recent[1] if recent is not None else self.view.get(PREFIX + digest)

    def _store(self, digest: bytes, message: bytes, epoch: int) -> list[Action]:
        """Batches are bulk data: stored before the ack leaves, flushed to disk lazily
        (with their entry in the manifest of their epoch: retention.py)."""
        if self.holds(digest):
            return []
        self.recent[digest] = (self._commits, message)
        return [Persist(PREFIX + digest, message, sync=False),
                held(epoch, PREFIX + digest, sync=False)]

    def _forget(self) -> None:
        """Batches stored `memory` committed blocks ago leave memory (their Persists were
        carried out long ago: the store answers for them from now on)."""
        while self.recent:
            digest, (at, _) = next(iter(self.recent.items()))
            if self._commits - at < self.memory:
                return
            del self.recent[digest]

    def _digest(self, committee: Committee, message: bytes) -> bytes:
        self.meter["hash_bytes"] += len(message)
        return committee.hash(message)

    def _others(self, committee: Committee) -> tuple[bytes, ...]:
        return tuple(n for n in committee.nodes if n != self.node)


def rotation(committee: Committee, digest: bytes, author: int | None) -> list[int]:
    """The members in the order they are asked to check the batch `digest`: its author
    first (its admission checked every transaction), then the others ordered by
    hash(digest, member), so the work of checking spreads evenly over the committee."""
    others = sorted((i for i in range(len(committee.nodes)) if i != author),
                    key=lambda i: committee.hash(digest + committee.nodes[i]))
    return others if author is None else [author, *others]


def first_checkers(committee: Committee, digest: bytes, author: int | None) -> int:
    """How many members of the rotation are asked at first: the shortest prefix with more
    than 1/3 of the power (f+1 members for equal powers)."""
    power = 0
    for count, i in enumerate(rotation(committee, digest, author), 1):
        power += committee.members[i].power
        if power >= committee.validity:
            return count
    return len(committee.nodes)
