"""Catching up from a state snapshot: the sans-I/O protocol a joining validator runs.

Theory of operation. A node that joins (or fell far behind) does not replay the chain; it
learns where the current epoch starts, trusts the ledger block there, downloads the state
under that block's state root, and then follows consensus as a member. Three phases, each
checked so that no single peer needs to be trusted:

1. epochs. Starting from the genesis committee, ask one peer for the proof of every epoch
   change since: the QC that committed the block carrying the next committee, with the
   blocks from the certified one down to that block. Each proof is checked against the
   committee of its epoch — a certificate by more than 2/3 of its power, block ids by hash,
   the 2-chain commit rule — so the latest committee and the consensus block its epoch
   starts on are known without trusting the peer. A bad proof skips the peer (what was
   verified so far is kept); a short answer ends the walk. If this node is not in the
   latest committee yet (governance has not switched the epoch), it asks again later.
2. attest. Ask every member of that committee for the ledger block its epoch starts on
   (the ledger after executing the epoch's root block). The header is trusted once members
   holding more than 1/3 of the committee's power — so at least one honest member — sent
   the same header over their authenticated channels. A QC cannot vouch for it: consensus
   certifies batch digests, not the state root that executing them yields.
3. chunks. Fetch the state under that header's state root (storage/snapshot.py), `window`
   positions at a time, from the members that attested it. Every chunk verifies on its own;
   a bad chunk (BadChunkError) skips its sender and a timeout re-asks another member.
4. index. The verified state holds the root of the ordered index of contract data (at
   `INDEX_ROOT_KEY`, storage/mst.py) and those of the data indexes (`dx/range`, the
   Merkle B+-tree, node/data.py `SyncImport`); fetch their nodes by hash, up to `MAX_REFS` per
   request, from the same members. Nodes are content-addressed: each verifies on its own,
   and a bad one skips its sender like a bad chunk.
5. data. The block filters and every record's history (node/data_history.py
   `HistorySync`): each provider lists the histories it holds (the state keeps their peaks
   under hashed keys, which no node can list), the lists are joined and checked against
   the snapshot; then pages of each history and runs of the filters, each proven against
   the peaks the verified state holds, from any provider. A bad page skips its sender.

Then `Synced` is delivered: the epoch root to start consensus from, the verified proofs,
the ledger block, the verified state and index, for the node to write in one commit. `serve`
answers the same requests from a `SnapshotSource` (every validator runs it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.consensus.blocks import block_id
from xinlian.consensus.certificates import Meter, verify_cert
from xinlian.consensus.committee import EpochRoot
from xinlian.consensus.errors import ConsensusError
from xinlian.consensus.messages import vote_message
from xinlian.consensus.proofs import MAX_PROOF_BLOCKS
from xinlian.consensus.proofs import EpochProof as EpochProof  # the wire type, named here too
from xinlian.errors import XinlianError
from xinlian.ledger.block import Block as LedgerBlock
from xinlian.ledger.block import header_hash
from xinlian.node.data import SyncImport
from xinlian.node.data_history import MAX_WANTS, HistorySync, HistoryWant
from xinlian.node.errors import BadEpochProof, BadLedgerBlock
from xinlian.protocol import Action, Deliver, Event, Receive, Send, SetTimer, Start, Timeout
from xinlian.storage.bloom_proof import WindowPage
from xinlian.storage.errors import BadChunkError
from xinlian.storage.mst import MAX_REFS
from xinlian.storage.proof import Hasher
from xinlian.storage.provenance_proof import HistoryPage
from xinlian.storage.snapshot import Chunk, SnapshotImport

SYNC_TIMER = "statesync"
MAX_PROOFS = 8          # epoch proofs per answer
MAX_WIRE = 4 * 1024 * 1024


# -- wire messages (tags 100+, apart from consensus messages) ---------------------------------

class EpochsRequest(codec.Struct, tag=100):
    start: int  # the first epoch whose end the asker wants proven


class EpochsResponse(codec.Struct, tag=101):
    proofs: list[EpochProof]  # consecutive epochs from `start`; fewer than MAX_PROOFS: the end


class StateRequest(codec.Struct, tag=102):
    epoch: int


class StateResponse(codec.Struct, tag=103):
    epoch: int
    block: LedgerBlock  # the ledger block that epoch starts on


class ChunkRequest(codec.Struct, tag=104):
    height: int
    prefix: str


class ChunkResponse(codec.Struct, tag=105):
    height: int
    chunk: Chunk


class IndexRequest(codec.Struct, tag=106):
    height: int
    refs: list[bytes]  # hashes of index nodes, at most MAX_REFS


class IndexResponse(codec.Struct, tag=107):
    height: int
    refs: list[bytes]   # the request's, to match the answer to it
    nodes: list[bytes]  # encoded nodes, those the peer holds (maybe fewer: size-bounded)


class HistoryListRequest(codec.Struct, tag=108):
    height: int
    after: bytes  # the last history id of the previous page (b"": the first page)


class HistoryListResponse(codec.Struct, tag=109):
    height: int
    after: bytes
    key_ids: list[bytes]  # ids after `after`, in order; fewer than MAX_LIST: the end


class HistoryRequest(codec.Struct, tag=113):  # 110-112: header certificates (certify.py)
    height: int
    wants: list[HistoryWant]


class HistoryResponse(codec.Struct, tag=114):
    height: int
    wants: list[HistoryWant]           # the request's
    pages: list[HistoryPage | None]    # one a want, in order (maybe fewer); None: not held


class FiltersRequest(codec.Struct, tag=115):
    height: int
    first: int  # the first block whose filter is wanted


class FiltersResponse(codec.Struct, tag=116):
    height: int
    first: int
    page: WindowPage | None  # filters from `first` with their run proof


SyncMessage = (EpochsRequest | EpochsResponse | StateRequest | StateResponse | ChunkRequest
               | ChunkResponse | IndexRequest | IndexResponse | HistoryListRequest
               | HistoryListResponse | HistoryRequest | HistoryResponse | FiltersRequest
               | FiltersResponse)
_TAGS = frozenset((*range(100, 110), *range(113, 117)))


def is_sync_message(data: bytes) -> bool:
    """Whether `data` is one of this module's messages, from its tag, without decoding."""
    return len(data) >= 2 and 0x91 <= data[0] <= 0x9F and data[1] in _TAGS


def decode_sync(data: bytes) -> SyncMessage:
    message: SyncMessage = codec.decode(data, SyncMessage, max_size=MAX_WIRE)
    return message


# -- epoch proofs --------------------------------------------------------------------------

def next_root(root: EpochRoot, proof: EpochProof, meter: Meter) -> EpochRoot:
    """The root of the epoch after `root`'s, if `proof` shows how `root`'s epoch ended.
    Raises BadEpochProof."""
    committee, qc, blocks = root.committee, proof.qc, proof.blocks
    epoch = committee.epoch
    if qc.epoch != epoch or qc.round < 1 or not 2 <= len(blocks) <= MAX_PROOF_BLOCKS:
        raise BadEpochProof("the proof is not for this epoch, or has too few or many blocks")
    ids = [block_id(committee, b) for b in blocks]
    top, ending = blocks[0], blocks[-1]
    if ids[0] != bytes(qc.block_id) or top.round != qc.round or top.height != qc.height:
        raise BadEpochProof("the certificate does not name the first block")
    for child, parent, parent_id in zip(blocks, blocks[1:], ids[1:], strict=False):
        if (child.epoch != epoch or parent.epoch != epoch or bytes(child.parent) != parent_id
                or child.height != parent.height + 1):
            raise BadEpochProof("the blocks are not a chain of this epoch")
    if blocks[1].round + 1 != top.round:
        raise BadEpochProof("the certificate does not commit the chain (2-chain rule)")
    if ending.reconfig is None or any(b.reconfig is not None for b in blocks[1:-1]):
        raise BadEpochProof("the last block, and only it, must carry the next committee")
    if ending.height <= root.height or ending.reconfig.epoch != epoch + 1:
        raise BadEpochProof("the next committee's epoch or height is out of order")
    try:
        ending.reconfig.validate()
        verify_cert(committee, qc.cert,
                    lambda _: vote_message(epoch, qc.round, qc.height, bytes(qc.block_id)),
                    committee.quorum, meter)
    except (ConsensusError, XinlianError) as exc:
        raise BadEpochProof(f"epoch {epoch}: {exc}") from None
    return EpochRoot(ending.reconfig, ending.height, ids[-1])


# -- serving -------------------------------------------------------------------------------

class SnapshotSource(Protocol):
    """What a validator serves from: its consensus store, ledger and state tree."""

    def epoch_proofs(self, start: int, limit: int) -> list[EpochProof]: ...
    def epoch_block(self, epoch: int) -> LedgerBlock | None: ...
    def chunk(self, height: int, prefix: str) -> Chunk | None: ...
    def index_nodes(self, height: int, refs: list[bytes]) -> list[bytes] | None: ...
    def history_ids(self, height: int, after: bytes) -> list[bytes] | None: ...
    def history_pages(self, height: int, wants: list[HistoryWant]
                      ) -> list[HistoryPage | None] | None: ...
    def filter_run(self, height: int, first: int) -> WindowPage | None: ...


def serve(data: bytes, source: SnapshotSource) -> bytes | None:
    """The answer to a request (None: not a request, malformed, or nothing to say)."""
    try:
        message = decode_sync(data)
        if isinstance(message, EpochsRequest):
            return codec.encode(EpochsResponse(source.epoch_proofs(message.start, MAX_PROOFS)))
        if isinstance(message, StateRequest):
            block = source.epoch_block(message.epoch)
            return None if block is None else codec.encode(StateResponse(message.epoch, block))
        if isinstance(message, ChunkRequest):
            chunk = source.chunk(message.height, message.prefix)
            return None if chunk is None else codec.encode(ChunkResponse(message.height, chunk))
        if isinstance(message, IndexRequest) and len(message.refs) <= MAX_REFS:
            nodes = source.index_nodes(message.height, message.refs)
            return None if nodes is None else codec.encode(
                IndexResponse(message.height, message.refs, nodes))
        if isinstance(message, HistoryListRequest):
            ids = source.history_ids(message.height, message.after)
            return None if ids is None else codec.encode(
                HistoryListResponse(message.height, message.after, ids))
        if isinstance(message, HistoryRequest) and len(message.wants) <= MAX_WANTS:
            pages = source.history_pages(message.height, message.wants)
            return None if pages is None else codec.encode(
                HistoryResponse(message.height, message.wants, pages))
        if isinstance(message, FiltersRequest):
            return codec.encode(FiltersResponse(
                message.height, message.first, source.filter_run(message.height,
                                                                 message.first)))
    except (CodecError, XinlianError):
        return None
    return None


class SnapshotServer:
    """The serving side as a protocol core: each request in, its answer out to the sender.
    The runtime routes sync messages (`is_sync_message`) here, apart from consensus."""

    def __init__(self, source: SnapshotSource) -> None:
        self.source = source

    def handle(self, event: Event) -> list[Action]:
        if not isinstance(event, Receive):
            return []
        reply = serve(event.message, self.source)
        return [] if reply is None else [Send(event.sender, reply)]


# -- the joining side ----------------------------------------------------------------------

@dataclass(frozen=True)
class SyncConfig:
    retry_ms: int = 1000  # re-ask another peer when an answer takes longer
    window: int = 8       # chunk requests in flight


@dataclass(frozen=True)
class Synced:
    """The verified result: start consensus at `root`; `block`, `state`, `index` and `data`
    (the histories and block filters) are the ledger."""

    root: EpochRoot
    proofs: list[EpochProof]
    block: LedgerBlock
    state: SnapshotImport
    index: SyncImport
    data: HistorySync


class StateSync:
    """The joining node's state machine (see the module docstring).

    `peers` are the validators this node can reach; `valid_block` checks a ledger block's
    form (chain id, transactions against the header's root), which only the node knows."""

    def __init__(self, me: bytes, genesis: EpochRoot, peers: Sequence[bytes], hasher: Hasher,
                 valid_block: Callable[[LedgerBlock], bool],
                 config: SyncConfig | None = None) -> None:
        self.me = me
        self.root = genesis
        self.peers = [p for p in peers if p != me]
        self.hasher = hasher
        self.valid_block = valid_block
        self.config = config or SyncConfig()
        self.phase = "epochs"
        self.proofs: list[EpochProof] = []
        self.meter = Meter()
        self.metrics: Counter[str] = Counter()
        self.skipped: set[bytes] = set()
        self.now = 0
        self._turn = 0
        # what is asked, of whom, when: key -> (peer, at, the request)
        self._asked: dict[tuple[str, str | bytes], tuple[bytes, int, Any]] = {}
        self._attested: dict[bytes, set[bytes]] = {}  # header hash -> members
        self._blocks: dict[bytes, LedgerBlock] = {}
        self.block: LedgerBlock | None = None
        self.state: SnapshotImport | None = None
        self.index: SyncImport | None = None
        self._refs: dict[bytes, list[bytes]] = {}  # index nodes asked for, by first ref
        self._providers: list[bytes] = []
        self.data: HistorySync | None = None
        self._wants: dict[bytes, list[HistoryWant]] = {}  # histories asked for, by first id

    # -- events ------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        self.now = event.now_ms
        if self.phase == "done":
            return []
        if isinstance(event, Start):
            return [*self._ask_epochs(), SetTimer(SYNC_TIMER, self.now + self.config.retry_ms)]
        if isinstance(event, Timeout) and event.timer == SYNC_TIMER:
            return [*self._retry(), SetTimer(SYNC_TIMER, self.now + self.config.retry_ms)]
        if isinstance(event, Receive):
            try:
                message = decode_sync(event.message)
            except CodecError:
                self.metrics["dropped_malformed"] += 1
                return []
            try:
                return self._on_message(event.sender, message)
            except XinlianError as exc:  # BadChunkError, BadEpochProof, BadLedgerBlock, ...
                self.metrics[f"bad_{exc.name}"] += 1
                self.skipped.add(event.sender)
                return self._retry(event.sender)
        return []

    def _on_message(self, sender: bytes, message: Any) -> list[Action]:
        if isinstance(message, EpochsResponse) and self.phase == "epochs":
            if self._asked.get(("epochs", b""), (b"",))[0] != sender:
                return self._unexpected()
            return self._on_epochs(sender, message.proofs)
        if isinstance(message, StateResponse) and self.phase == "attest":
            if ("state", sender) not in self._asked or message.epoch != self.root.committee.epoch:
                return self._unexpected()
            return self._on_state(sender, message.block)
        if isinstance(message, ChunkResponse) and self.phase == "chunks":
            key: tuple[str, str | bytes] = ("chunk", message.chunk.prefix)
            assert self.block is not None
            if (self._asked.get(key, (b"",))[0] != sender
                    or message.height != self.block.header.height):
                return self._unexpected()
            return self._on_chunk(key, message.chunk)
        if isinstance(message, IndexResponse) and self.phase == "index":
            assert self.block is not None
            first = message.refs[0] if message.refs else b""
            if (self._asked.get(("index", first), (b"",))[0] != sender
                    or self._refs.get(first) != message.refs
                    or message.height != self.block.header.height):
                return self._unexpected()
            return self._on_index(sender, first, message.nodes)
        if self.phase == "data" and isinstance(
                message, HistoryListResponse | HistoryResponse | FiltersResponse):
            assert self.block is not None
            if message.height != self.block.header.height:
                return self._unexpected()
            return self._on_data(sender, message)
        return self._unexpected()

    def _unexpected(self) -> list[Action]:
        self.metrics["dropped_unexpected"] += 1
        return []

    # -- peers -------------------------------------------------------------------------

    def _pick(self, candidates: Sequence[bytes], avoid: bytes | None = None) -> bytes | None:
        """The next candidate in turn, passing over skipped peers (and `avoid`) if it can."""
        if not candidates:
            return None
        fresh = [p for p in candidates if p not in self.skipped and p != avoid]
        pool = fresh or [p for p in candidates if p != avoid] or list(candidates)
        self._turn += 1
        return pool[self._turn % len(pool)]

    def _send(self, key: tuple[str, str | bytes], peer: bytes, message: Any) -> Action:
        self._asked[key] = (peer, self.now, message)
        self.metrics["requests"] += 1
        return Send(peer, codec.encode(message))

    def _retry(self, failed: bytes | None = None) -> list[Action]:
        """Re-ask what `failed` owes (a bad answer), or what is overdue (a timer)."""
        late = self.now - self.config.retry_ms
        overdue = [k for k, (peer, at, _) in self._asked.items()
                   if peer == failed or (failed is None and at <= late)]
        actions: list[Action] = []
        if failed is None:
            self.metrics["timeouts"] += len(overdue)
        if self.phase == "epochs" and (overdue or not self._asked):
            return self._ask_epochs(avoid=failed)
        for key in overdue:
            peer, _, message = self._asked.pop(key)
            if key[0] == "state" or (key[0] == "list" and peer != failed):
                actions.append(self._send(key, peer, message))  # that member's own answer
            elif key[0] in ("chunk", "index"):
                to = self._pick(self._providers, avoid=peer)
                if to is not None:
                    actions.append(self._send(key, to, message))
            elif key[0] == "history" and isinstance(key[1], bytes):
                self._wants.pop(key[1], None)  # asked again from where they now stand
        if self.phase == "data":  # a skipped provider's list is no longer waited for
            actions += self._fill_data()
        return actions

    # -- phase 1: epochs ---------------------------------------------------------------

    def _ask_epochs(self, avoid: bytes | None = None) -> list[Action]:
        self._asked.pop(("epochs", b""), None)
        peer = self._pick(self.peers, avoid)
        if peer is None:
            return []
        return [self._send(("epochs", b""), peer, EpochsRequest(self.root.committee.epoch))]

    def _on_epochs(self, sender: bytes, proofs: list[EpochProof]) -> list[Action]:
        for proof in proofs:
            self.root = next_root(self.root, proof, self.meter)  # raises: the peer is skipped
            self.proofs.append(proof)
        if len(proofs) >= MAX_PROOFS:
            return [self._send(("epochs", b""), sender, EpochsRequest(self.root.committee.epoch))]
        self._asked.pop(("epochs", b""), None)
        if self.root.committee.index(self.me) is None:
            self.metrics["not_member_yet"] += 1  # asked again on the next timer
            return []
        self.phase = "attest"
        return [self._send(("state", m), m, StateRequest(self.root.committee.epoch))
                for m in self.root.committee.nodes if m != self.me and m in self.peers]

    # -- phase 2: attest ---------------------------------------------------------------

    def _on_state(self, sender: bytes, block: LedgerBlock) -> list[Action]:
        del self._asked[("state", sender)]
        if not self.valid_block(block):
            raise BadLedgerBlock("the ledger block is malformed")
        digest = header_hash(block.header, self.hasher)
        members = self._attested.setdefault(digest, set())
        members.add(sender)
        self._blocks.setdefault(digest, block)
        committee = self.root.committee
        power = committee.power(i for m in members if (i := committee.index(m)) is not None)
        if power < committee.validity:
            return []
        self.block = self._blocks[digest]
        self._providers = sorted(members)
        self._asked.clear()
        self.state = SnapshotImport(self.block.header.state_root, self.hasher)
        self.phase = "chunks"
        return self._fill()

    # -- phase 3: chunks ---------------------------------------------------------------

    def _fill(self) -> list[Action]:
        assert self.state is not None and self.block is not None
        if self.state.done:
            self.index = SyncImport(self.state.leaves, self.hasher)
            self.phase = "index"
            return self._fill_index()
        actions: list[Action] = []
        for prefix in sorted(self.state.wanted):
            if len(self._asked) >= self.config.window:
                break
            wanted: tuple[str, str | bytes] = ("chunk", prefix)
            if wanted not in self._asked:
                to = self._pick(self._providers)
                assert to is not None
                actions.append(self._send(wanted, to, ChunkRequest(self.block.header.height,
                                                                   prefix)))
        return actions

    def _on_chunk(self, key: tuple[str, str | bytes], chunk: Chunk) -> list[Action]:
        assert self.state is not None
        self.state.add(chunk)  # raises BadChunkError: the sender is skipped, the key re-asked
        del self._asked[key]
        self.metrics["chunks"] += 1
        self.metrics["leaves"] += len(chunk.leaves)
        return self._fill()

    # -- phase 4: index ----------------------------------------------------------------

    def _fill_index(self) -> list[Action]:
        assert self.index is not None and self.block is not None and self.state is not None
        if self.index.done:
            self.phase = "data"
            self.data = HistorySync(self.state.leaves, self._providers, self.hasher,
                                    self.skipped)
            return self._fill_data()
        asked = {r for refs in self._refs.values() for r in refs}
        fresh = sorted(self.index.wanted - asked)
        actions: list[Action] = []
        for i in range(0, len(fresh), MAX_REFS):
            if len(self._asked) >= self.config.window:
                break
            refs = fresh[i:i + MAX_REFS]
            self._refs[refs[0]] = refs
            to = self._pick(self._providers)
            assert to is not None
            actions.append(self._send(("index", refs[0]), to,
                                      IndexRequest(self.block.header.height, refs)))
        return actions

    def _on_index(self, sender: bytes, first: bytes, nodes: list[bytes]) -> list[Action]:
        assert self.index is not None
        for raw in nodes:  # raises BadChunkError: the sender is skipped, the rest re-asked
            self.index.add(raw)
        del self._asked[("index", first)]
        refs = self._refs.pop(first)
        if not nodes and refs:  # holds none of them: ask the others first from now on
            self.skipped.add(sender)
        self.metrics["index_nodes"] += len(nodes)
        return self._fill_index()

    # -- phase 5: data -----------------------------------------------------------------

    def _fill_data(self) -> list[Action]:
        assert self.data is not None and self.block is not None and self.state is not None
        assert self.index is not None
        data, height = self.data, self.block.header.height
        if data.done:
            self.phase = "done"
            return [Deliver(Synced(self.root, self.proofs, self.block, self.state,
                                   self.index, data))]
        actions: list[Action] = []
        for provider, cursor in data.listing:  # every provider's own list
            if ("list", provider) not in self._asked:
                actions.append(self._send(("list", provider), provider,
                                          HistoryListRequest(height, cursor)))
        if not data.filters.done and ("filters", b"") not in self._asked:
            to = self._pick(self._providers)
            assert to is not None
            actions.append(self._send(("filters", b""), to,
                                      FiltersRequest(height, data.filters.next)))
        asked = {w.key_id for wants in self._wants.values() for w in wants}
        fresh = data.wants(asked)
        for i in range(0, len(fresh), MAX_WANTS):
            if len(self._asked) >= self.config.window + len(data.providers):
                break
            wants = fresh[i:i + MAX_WANTS]
            self._wants[wants[0].key_id] = wants
            to = self._pick(data.untried(wants[0].key_id) or self._providers)
            assert to is not None
            actions.append(self._send(("history", wants[0].key_id), to,
                                      HistoryRequest(height, wants)))
        return actions

    def _on_data(self, sender: bytes, message: HistoryListResponse | HistoryResponse
                 | FiltersResponse) -> list[Action]:
        assert self.data is not None
        first = b""  # of a history answer: the first id asked
        key: tuple[str, str | bytes]
        if isinstance(message, HistoryListResponse):
            key = ("list", sender)
        elif isinstance(message, HistoryResponse):
            first = bytes(message.wants[0].key_id) if message.wants else b""
            key = ("history", first)
            if self._wants.get(first) != message.wants:
                return self._unexpected()
        else:
            key = ("filters", b"")
        if self._asked.get(key, (b"",))[0] != sender:
            return self._unexpected()
        # each raises BadChunkError: the sender is skipped, what it owes is asked again
        if isinstance(message, HistoryListResponse):
            self.data.take_list(sender, message.after, message.key_ids)
            self.metrics["history_ids"] += len(message.key_ids)
        elif isinstance(message, HistoryResponse):
            self.data.take_pages(sender, message.wants, message.pages)
            self._wants.pop(first)
            self.metrics["history_pages"] += sum(p is not None for p in message.pages)
        else:
            if message.page is None or message.first != self.data.filters.next:
                raise BadChunkError("no filters from a provider that attested them")
            self.data.filters.add(message.page)
            self.metrics["filters"] += len(message.page.filters)
        del self._asked[key]
        return self._fill_data()
