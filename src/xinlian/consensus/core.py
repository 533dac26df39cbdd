"""The consensus core: a sans-I/O 2-chain HotStuff (Jolteon / DiemBFT-v4) state machine.

Theory of operation. Time is divided into rounds; the leader of round r (leader.py) proposes
a block that extends the highest QC it knows and carries batch certificates
(dissemination.py). Members check the proposal, and if the safety rules allow (safety.py)
persist their safety state and send a signed vote to the leader of round r+1, which
aggregates the votes into a QC (aggregator.py) and proposes on top of it: one round costs
O(n) messages of constant size. A block commits, with all its ancestors, as soon as a QC
certifies its child from the very next round (the 2-chain rule).

When a round stalls the pacemaker (pacemaker.py) fires: a member signs a timeout naming its
high QC round and sends it to the next leader, which turns a quorum of them into a TC and
proposes with it — again O(n). If that round stalls as well, the timeout is re-sent to
everyone, and anyone holding a quorum forms the TC; a member that sees more than 1/3 of
the power time out joins in. Timeouts carry the sender's high QC and the TC it entered the
round with, so a node that fell behind catches up from any message it receives, and fetches
blocks it lacks from peers (synchronizer.py). Committees with list certificates send both
compactly, by digest, and broadcast timeouts from the first attempt (compact.py).

Epochs: the application inputs the next committee (`Reconfigure`, decided by governance);
the next leader puts it in a block; once that block commits the epoch ends right there —
later blocks of the old epoch carry no payload and are dropped — and the new committee
starts at round 1 on top of it. Everything the core must not forget is persisted before it
acts on it; `ConsensusCore(..., stored=...)` rebuilds a node from those values alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.consensus import proofs as epoch_proofs
from xinlian.consensus import retention
from xinlian.consensus.aggregator import Aggregator
from xinlian.consensus.blocks import MEMORY_BLOCKS, BlockTree, block_id, stored_block
from xinlian.consensus.certificates import Cert, Meter, VoteKey, verify_cert
from xinlian.consensus.committee import Committee, EpochRoot, signers
from xinlian.consensus.compact import (
    CERT_TIMER,
    MAX_PARKED,
    Parked,
    Served,
    Sources,
    VotePool,
    cert_digest,
    certificates,
    check_names,
    fill,
    fill_certified,
    fill_timeout,
    strip,
    strip_pair,
    strip_timeout,
)
from xinlian.consensus.dissemination import (
    ACK_TIMER,
    BATCH_TIMER,
    DONE,
    FETCH_TIMER,
    BatchChecked,
    Dissemination,
)
from xinlian.consensus.errors import ConsensusError, InvalidCertificate, InvalidMessage
from xinlian.consensus.leader import Election, Reputation
from xinlian.consensus.messages import (
    MAX_WIRE,
    QC,
    TC,
    Ack,
    Available,
    BatchMsg,
    BatchRequest,
    BatchResponse,
    Block,
    Certified,
    CertRequest,
    CertResponse,
    CompactCertified,
    CompactProposal,
    CompactTimeout,
    EpochRequest,
    Proposal,
    Pruned,
    SyncRequest,
    SyncResponse,
    Timeout,
    Vote,
    decode_message,
    timeout_message,
    vote_message,
)
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.consensus.proofs import EpochProof, epoch_proof
from xinlian.consensus.proposer import build_block
from xinlian.consensus.safety import SAFETY_KEY, SafetyRules, SafetyState
from xinlian.consensus.synchronizer import SYNC_TIMER, Synchronizer
from xinlian.crypto.errors import CryptoError
from xinlian.protocol import (
    Action,
    Broadcast,
    Deliver,
    Event,
    Input,
    Persist,
    Receive,
    Send,
    SetTimer,
    Start,
)
from xinlian.protocol import Timeout as TimerFired

EPOCH_KEY = b"consensus/epoch"
COMMIT_KEY = b"consensus/commit"
PROOF_PREFIX = b"consensus/proof/"
RECONFIG_KEY = b"consensus/next-committee"
DROPPED_KEY = b"consensus/dropped"  # the epochs below this one are dropped (Retain)
DROP_KEYS = 4096  # values deleted at most per Retain input (each with its manifest entry)
ROUND_TIMER = "round"
IDLE_TIMER = "idle"
QUIET_DEPTH = 3  # blocks after the last payload that still go out at once, so it commits
RECENT_COMMITS = 1024
T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    pacemaker: Pacemaker = field(default_factory=Pacemaker)
    reputation: Reputation = field(default_factory=Reputation)
    batch_bytes: int = 512 * 1024
    batch_delay_ms: int = 20
    max_block_batches: int = 256
    sync_retry_ms: int = 400
    batch_resend_ms: int = 2000  # re-send a batch still uncertified after this long
    idle_ms: int = 250  # a leader with nothing to order waits this long before an empty block
    # acks attest that the application checked the batch (dissemination.py): validators
    # check each transaction once per network; consensus alone orders opaque bytes
    check_batches: bool = False
    # committed heights a block or a batch stays in memory for; older ones are read back
    # from the store view the core was given (blocks.py), so memory does not grow with
    # the chain
    memory_blocks: int = MEMORY_BLOCKS
    # act on `Retain`: delete the blocks and batches of the epochs the application no longer
    # needs (off: a validator that slept through what its peers dropped cannot catch up
    # yet; docs/consensus.md, "Retention")
    drop_epochs: bool = False
    # committees with list certificates (no BLS) broadcast votes and send compact
    # proposals that name certificates by digest (compact.py); off: votes go to the next
    # leader only and proposals carry every signature, as before
    compact_proposals: bool = True
    # a compact proposal still lacking certificates this long after it arrived fetches
    # them from its proposer (the votes and announcements are usually on their way)
    cert_wait_ms: int = 100
    # with compact proposals: timeouts are broadcast and name their high QC and last TC by
    # digest (`CompactTimeout`), and a proposal after a TC names the TC too
    # (`CompactTCProposal`); off: timeouts and TCs travel in full, as before
    compact_timeouts: bool = True


# -- application interface ----------------------------------------------------------------

@dataclass(frozen=True)
class Submit:
    """Opaque transaction bytes to disseminate; `count` is how many transactions they hold."""

    payload: bytes
    count: int = 1


@dataclass(frozen=True)
class Reconfigure:
    """The next epoch's committee, as decided by governance (its epoch is the current + 1)."""

    committee: Committee


@dataclass(frozen=True)
class Retain:
    """The oldest epoch whose blocks and batches the application still needs: the ledger
    executed and pruned every block of the epochs below it (node/bft.py). With
    `Config.drop_epochs` the core deletes those epochs' data, all but their proofs."""

    epoch: int


@dataclass(frozen=True)
class Committed:
    """A block ordered for good: its batch digests (new to the chain) in order."""

    epoch: int
    height: int
    round: int
    block_id: bytes
    digests: tuple[bytes, ...]
    tx_count: int
    reconfig: Committee | None
    author: int  # the proposer's index in the epoch's committee


@dataclass(frozen=True)
class Behind:
    """Members of this node's committee with more than a third of its power answered that
    they dropped the blocks and batches of `epoch`, the epoch this node is in: it cannot
    commit its way forward and must catch up by state sync from its epoch root (node and
    simulator: stop this core, sync, bootstrap a new one). Delivered once per core."""

    epoch: int


@dataclass(frozen=True)
class EpochStarted:
    root: EpochRoot


class _Record(codec.Struct):
    height: int
    block_id: bytes


def root_qc(root: EpochRoot) -> QC:
    """The implicit certificate an epoch starts from (round 0, no signatures)."""
    return QC(root.committee.epoch, 0, root.height, bytes(root.block_id), Cert(b"", []))


def bootstrap(root: EpochRoot, proofs: Sequence[tuple[QC, Sequence[Block]]]) -> list[Persist]:
    """What a member joining at `root` from a state snapshot persists before its first
    start: each ended epoch's proof (the QC and its blocks down to the one carrying the
    next committee), as a member that lived through those epochs holds them, and the root
    itself. `ConsensusCore(..., stored=...)` then starts from them."""
    actions = []
    for qc, blocks in proofs:
        actions += [Persist(PROOF_PREFIX + str(qc.epoch).encode(), codec.encode(qc)),
                    Persist(epoch_proofs.key(qc.epoch), codec.encode(EpochProof(qc, list(blocks))))]
        for block in blocks:
            actions += stored_block(block_id(root.committee, block), block)
    actions.append(Persist(EPOCH_KEY, codec.encode(root)))
    return actions


def rejoin(stored: Mapping[bytes, bytes], root: EpochRoot,
           proofs: Sequence[tuple[QC, Sequence[Block]]]) -> list[Persist]:
    """What a member that fell behind what its peers dropped (`Behind`) persists to start
    again at `root`, a later epoch's root it reached by state sync: what a joining member
    persists, the commit pointer and safety state of that epoch in place of its old ones
    (it never voted in it: it was stuck in an older epoch), and none of its ordered marks
    (all of older epochs, whose batches may be gone: a core restarted with a mark whose
    batch it lacks fetches that batch). What else it held of older epochs stays listed in
    their manifests, for `Retain` to drop."""
    old = stored.get(EPOCH_KEY)
    if old is not None and codec.decode(old, EpochRoot).committee.epoch >= root.committee.epoch:
        raise InvalidMessage("a rejoin root must be of a later epoch than the member's own")
    actions = [Persist(key, None) for key, _ in retention.scan(stored, DONE)]
    actions += bootstrap(root, proofs)
    actions += [Persist(COMMIT_KEY, codec.encode(_Record(root.height, bytes(root.block_id)))),
                Persist(SAFETY_KEY, codec.encode(SafetyState(root.committee.epoch, 0,
                                                             root_qc(root))))]
    return actions


class ConsensusCore:
    """One member's consensus state machine (see the module docstring)."""

    def __init__(self, node: bytes, key: VoteKey, genesis: EpochRoot,
                 stored: Mapping[bytes, bytes] | None = None, config: Config | None = None):
        stored = {} if stored is None else stored  # a live view: empty at first
        self.node = node
        self.key = key
        self.config = config or Config()
        self.meter = Meter()
        self.metrics: Counter[str] = Counter()
        self.now = 0
        raw = stored.get(EPOCH_KEY)
        self.root = codec.decode(raw, EpochRoot) if raw else genesis
        raw = stored.get(COMMIT_KEY)
        done = codec.decode(raw, _Record) if raw else _Record(self.root.height,
                                                              bytes(self.root.block_id))
        self.committed_height, self.committed_id = done.height, bytes(done.block_id)
        raw = stored.get(SAFETY_KEY)
        state = (codec.decode(raw, SafetyState) if raw else
                 SafetyState(self.committee.epoch, 0, root_qc(self.root)))
        self.safety = SafetyRules(state)
        self.high_qc = state.high_qc
        self.stored = stored
        self.tree = BlockTree(stored, self.config.memory_blocks)
        self.proofs = {int(k[len(PROOF_PREFIX):]): codec.decode(v, QC)
                       for k, v in retention.scan(stored, PROOF_PREFIX)}
        raw = stored.get(DROPPED_KEY)
        self.dropped = codec.decode(raw, int) if raw else 0  # epochs below: dropped
        self.sync = Synchronizer(self.config.sync_retry_ms)
        self.pool = Dissemination(node, key, stored, self.config.batch_bytes,
                                  self.config.batch_delay_ms, self.config.sync_retry_ms,
                                  self.config.batch_resend_ms,
                                  self.meter, self.metrics, self.config.check_batches,
                                  self.config.memory_blocks)
        raw = stored.get(RECONFIG_KEY)
        decided = codec.decode(raw, Committee) if raw else None  # survives restarts
        self.pending_reconfig = decided if decided and decided.epoch == self.epoch + 1 else None
        self.recent_commits: dict[int, bytes] = {}  # height -> id, to detect conflicts
        self.pruned_by: set[int] = set()  # members that answered Pruned for this epoch
        self.behind = False
        self.served = Served()  # the certificates of this leader's last compact proposals
        self._enter_epoch_state()

    # -- derived state ---------------------------------------------------------------------

    @property
    def committee(self) -> Committee:
        return self.root.committee

    @property
    def epoch(self) -> int:
        return self.root.committee.epoch

    @property
    def me(self) -> int | None:
        return self.committee.index(self.node)

    def _enter_epoch_state(self) -> None:
        self.round = 0
        self.last_tc: TC | None = None
        self.votes = Aggregator()
        self.timeouts = Aggregator()
        self.timeout_rounds: dict[int, dict[int, int]] = {}
        self.attempts = 0
        self.my_timeout: Timeout | None = None
        self.my_message = b""  # my_timeout's encoding on the wire
        self.proposed_round = 0
        self.idle_round = 0  # the round whose leader (this node) waits for payload
        self.known_qcs: set[tuple[int, bytes, int]] = set()
        self.known_tcs: set[bytes] = set()  # encodings of TCs already verified
        self.helped: set[tuple[bytes, int]] = set()
        # broadcast votes and timeouts, certificates held by digest, announced batches
        self.sources = Sources(VotePool(), announced=lambda d: self.pool.pending.get(d))
        self.parked: dict[bytes, Parked] = {}  # sender -> compact proposal lacking certs
        self.parked_timeouts: dict[bytes, Parked] = {}  # sender -> compact timeout, same
        self.parked_helps: dict[bytes, Parked] = {}  # sender -> CompactCertified, same
        self.election = Election.restore(self.committee, self.config.reputation, self.tree,
                                         self.committed_id, bytes(self.root.block_id))

    # -- event entry point -----------------------------------------------------------------

    def handle(self, event: Event) -> Sequence[Action]:
        self.now = event.now_ms
        if isinstance(event, Receive):
            return self._receive(event.sender, event.message)
        if isinstance(event, TimerFired):
            if event.timer == ROUND_TIMER:
                return self._local_timeout()
            if event.timer == IDLE_TIMER:
                return self._propose(force=True) if self.idle_round == self.round else []
            if event.timer == BATCH_TIMER:
                return self.pool.seal(self.now)
            if event.timer == ACK_TIMER:
                return self.pool.retry_acks(self.now)
            if event.timer == FETCH_TIMER:
                return self.pool.retry_fetch(self.now)
            if event.timer == SYNC_TIMER:
                return self.sync.retry(self.now, self.committee.nodes, self.node)
            if event.timer == CERT_TIMER:
                return self._ask_certs()
            return []
        if isinstance(event, Input):
            return self._input(event.value)
        if isinstance(event, Start):
            return self._start()
        return []

    def _start(self) -> list[Action]:
        actions: list[Action] = [Deliver(EpochStarted(self.root))]
        actions += self.pool.start_epoch(self.committee, self.now)
        start = max(self.high_qc.round + 1, self.safety.state.highest_voted_round, 1)
        return actions + self._advance(start, None)

    def _input(self, value: Any) -> list[Action]:
        if isinstance(value, Submit):
            return self.pool.submit(self.now, value.payload, value.count) + self._on_payload()
        if isinstance(value, BatchChecked):
            return self.pool.on_checked(value)
        if isinstance(value, Retain):
            return self._drop(value.epoch) if self.config.drop_epochs else []
        if isinstance(value, Reconfigure):
            try:
                value.committee.validate()
            except ConsensusError:
                self.metrics["reconfig_invalid"] += 1
                return []
            if value.committee.epoch != self.epoch + 1:
                self.metrics["reconfig_wrong_epoch"] += 1
                return []
            self.pending_reconfig = value.committee
            return [Persist(RECONFIG_KEY, codec.encode(value.committee))]
        return []

    def _receive(self, sender: bytes, data: bytes) -> list[Action]:
        try:
            message = decode_message(data)
        except CodecError:
            self.metrics["dropped_malformed"] += 1
            return []
        try:
            return self._dispatch(sender, message, data)
        except (ConsensusError, CodecError, CryptoError) as exc:
            self.metrics[f"dropped_{type(exc).__name__}"] += 1
            return []

    def _dispatch(self, sender: bytes, message: Any, data: bytes) -> list[Action]:
        if isinstance(message, SyncRequest):
            return self.sync.serve(sender, bytes(message.block_id), self.tree)
        if isinstance(message, BatchRequest):
            return self.pool.on_request(sender, message)
        if isinstance(message, EpochRequest):
            if message.epoch < self.dropped:  # its blocks are gone: the asker must sync
                return [Send(sender, codec.encode(Pruned(self.dropped)))]
            proof = self.proofs.get(message.epoch)
            return [Send(sender, codec.encode(Certified(proof, None)))] if proof else []
        if isinstance(message, Pruned):
            return self._on_pruned(sender, message.oldest)
        if isinstance(message, SyncResponse):
            return self._on_sync_response(sender, message)
        if isinstance(message, BatchResponse):
            return self.pool.on_response(message)
        if isinstance(message, CertRequest):
            return self._serve_certs(sender, message)
        if isinstance(message, CertResponse):
            return self._on_certs(sender, message)
        epoch = _epoch_of(message)
        if epoch != self.epoch:
            return self._other_epoch(sender, epoch)
        if isinstance(message, Certified):  # self-authenticating: accepted from anyone
            return self._on_certified(sender, message)
        if self.committee.index(sender) is None:
            raise InvalidMessage("sender is not a member of this epoch")
        if isinstance(message, CompactCertified):
            return self._on_compact_certified(sender, message)
        if isinstance(message, Proposal):
            return self._on_proposal(sender, message.block)
        if isinstance(message, CompactProposal):
            return self._on_compact(sender, message)
        if isinstance(message, Vote):
            return self._on_vote(sender, message)
        if isinstance(message, Timeout):
            return self._on_timeout(sender, message)
        if isinstance(message, CompactTimeout):
            return self._on_compact_timeout(sender, message)
        if isinstance(message, BatchMsg):
            return self.pool.on_batch(sender, data, message.batch)
        if isinstance(message, Ack):
            return self.pool.on_ack(sender, message) + self._on_payload()
        if isinstance(message, Available):
            self.pool.on_available(sender, message.cert)
            return self._on_payload() + (self._complete_parked() if self.parked else [])
        return []

    def _on_certified(self, sender: bytes, message: Certified) -> list[Action]:
        self._verify_qc(message.qc)
        if message.tc is not None and message.tc.round + 1 > self.round:
            self._verify_tc(message.tc)
        actions = self._process_qc(message.qc, sender)
        if message.tc is not None and message.tc.epoch == self.epoch:
            actions += self._process_tc(message.tc)
        return actions

    def _other_epoch(self, sender: bytes, epoch: int) -> list[Action]:
        if epoch < self.epoch:
            self.metrics["dropped_old_epoch"] += 1
            return []
        self.metrics["future_epoch"] += 1
        return self.sync.ask_epoch(self.now, sender, self.epoch)

    # -- certificates ----------------------------------------------------------------------

    def _check_qc(self, qc: QC) -> None:
        if qc.epoch != self.epoch:
            raise InvalidCertificate("QC from another epoch")
        if qc.round == 0:
            if qc != root_qc(self.root):
                raise InvalidCertificate("a round-0 QC must be the epoch root")
            return
        message = vote_message(qc.epoch, qc.round, qc.height, bytes(qc.block_id))
        verify_cert(self.committee, qc.cert, lambda i: message, self.committee.quorum,
                    self.meter)

    def _check_tc(self, tc: TC) -> None:
        if tc.epoch != self.epoch:
            raise InvalidCertificate("TC from another epoch")
        who = signers(tc.cert.signers, self.committee.n)
        if len(who) != len(tc.high_qc_rounds) or any(r >= tc.round for r in tc.high_qc_rounds):
            raise InvalidCertificate("TC high QC rounds do not match its signers")
        rounds = dict(zip(who, tc.high_qc_rounds, strict=True))
        verify_cert(self.committee, tc.cert,
                    lambda i: timeout_message(tc.epoch, tc.round, rounds[i]),
                    self.committee.quorum, self.meter)

    def _verify_tc(self, tc: TC) -> None:
        """Check a TC (once per distinct TC); raises before any state changes."""
        encoded = codec.encode(tc)
        if encoded not in self.known_tcs:
            self._check_tc(tc)
            self.known_tcs.add(encoded)

    def _verify_qc(self, qc: QC) -> None:
        known = (qc.round, bytes(qc.block_id), qc.height)
        if known not in self.known_qcs:
            self._check_qc(qc)
            self.known_qcs.add(known)

    def _process_qc(self, qc: QC, hint: bytes) -> list[Action]:
        if qc.epoch != self.epoch:
            return []
        self._verify_qc(qc)
        if qc.round > self.high_qc.round:
            self.high_qc = qc
        actions = self._try_commit(qc, hint)
        if qc.epoch != self.epoch:  # the commit ended the epoch
            return actions
        return actions + self._advance(qc.round + 1, None)

    def _process_tc(self, tc: TC) -> list[Action]:
        if tc.round + 1 <= self.round:
            return []
        self._verify_tc(tc)
        return self._advance(tc.round + 1, tc)

    # -- rounds ----------------------------------------------------------------------------

    def _advance(self, new_round: int, tc: TC | None) -> list[Action]:
        if new_round <= self.round:
            return []
        self.round = new_round
        self.last_tc = tc
        if tc is not None:
            self.metrics["rounds_by_tc"] += 1
        self.attempts = 0
        self.my_timeout = None
        keep = new_round - 2
        self.votes.forget(lambda k: k[0] >= keep)  # type: ignore[index]
        self.timeouts.forget(lambda k: k >= keep)  # type: ignore[operator]
        self.timeout_rounds = {r: v for r, v in self.timeout_rounds.items() if r >= keep}
        self.known_qcs = {k for k in self.known_qcs if k[0] >= keep}
        if len(self.known_tcs) > 64:
            self.known_tcs.clear()
        self.helped = {k for k in self.helped if k[1] >= keep}
        self.sources.votes.forget(keep)
        self.sources.timeouts.forget(keep)
        self.parked = {s: p for s, p in self.parked.items() if p.round >= keep}
        self.parked_timeouts = {s: p for s, p in self.parked_timeouts.items()
                                if p.round >= self.round}
        self.parked_helps = {s: p for s, p in self.parked_helps.items() if p.round > self.round}
        wait = self.config.pacemaker.duration(new_round, self.high_qc.round)
        actions: list[Action] = [SetTimer(ROUND_TIMER, self.now + wait)]
        if self.election.leader(new_round) == self.node:
            actions += self._propose()
        return actions

    def _local_timeout(self, amplify: bool = False) -> list[Action]:
        if self.me is None:
            return []
        self.attempts += 1
        actions: list[Action] = []
        round_ = self.round
        if self.my_timeout is None:
            if not self.safety.safe_to_timeout(self.epoch, round_):
                return [SetTimer(ROUND_TIMER, self.now + self.config.pacemaker.base_ms)]
            actions.append(self.safety.record(round_, self.high_qc))
            signature = self.key.sign(
                self.committee, timeout_message(self.epoch, round_, self.high_qc.round),
                self.meter)
            self.my_timeout = Timeout(self.epoch, round_, self.high_qc, self.last_tc, signature)
            self.my_message = self._timeout_message(self.my_timeout)
        message = self.my_message
        actions.append(SetTimer(ROUND_TIMER, self.now + self.config.pacemaker.retry_ms))
        timeout = self.my_timeout
        if self.attempts == 1 and not amplify and not self._compact_timeouts():
            actions += self._send_to(self.election.leader(round_ + 1), message,
                                     lambda: self._on_timeout(self.node, timeout))
        else:
            actions.append(Broadcast(self._others(), message))
            actions += self._on_timeout(self.node, self.my_timeout)
        return actions

    def _on_timeout(self, sender: bytes, timeout: Timeout) -> list[Action]:
        index = self.committee.index(sender)
        assert index is not None
        self._verify_qc(timeout.high_qc)
        if timeout.last_tc is not None and timeout.last_tc.round + 1 > self.round:
            self._verify_tc(timeout.last_tc)
        actions = self._process_qc(timeout.high_qc, sender)
        if timeout.last_tc is not None and timeout.last_tc.epoch == self.epoch:
            actions += self._process_tc(timeout.last_tc)
        if timeout.epoch != self.epoch:
            return actions
        if timeout.round < self.round:
            return actions + self._help(sender, timeout.round)
        if self._compact_timeouts():  # a TC a proposal names may hold it
            self.sources.timeouts.add(index, timeout, self.round)
        rounds = self.timeout_rounds.setdefault(timeout.round, {})
        rounds.setdefault(index, timeout.high_qc.round)
        message = timeout_message(timeout.epoch, timeout.round, rounds[index])
        done = self.timeouts.add(self.committee, timeout.round, index, message,
                                 bytes(timeout.signature), self.committee.quorum, self.meter)
        if done is not None:
            cert, who = done
            tc = TC(self.epoch, timeout.round, [rounds[i] for i in who], cert)
            return actions + self._advance(tc.round + 1, tc)
        if (timeout.round == self.round and self.my_timeout is None
                and self.timeouts.power(self.committee, timeout.round) >= self.committee.validity):
            actions += self._local_timeout(amplify=True)
        return actions

    def _help(self, sender: bytes, round_: int) -> list[Action]:
        """Send a node stuck in an older round the certificates that lead to ours (once)."""
        if sender == self.node or (sender, round_) in self.helped:
            return []
        self.helped.add((sender, round_))
        tc = self.last_tc if self.last_tc and self.last_tc.round + 1 == self.round else None
        if not self._compact_timeouts():
            return [Send(sender, codec.encode(Certified(self.high_qc, tc)))]
        # by digest: the laggard usually holds the QC, and the TC's timeouts were broadcast
        qc, bare_tc, certs = strip_pair(self.committee, self.high_qc, tc, self.meter)
        self.served.keep(self.round, certs)
        self.sources.known.add(certs)
        return [Send(sender, codec.encode(CompactCertified(qc, bare_tc, list(certs))))]

    # -- proposals -------------------------------------------------------------------------

    def _propose(self, force: bool = False) -> list[Action]:
        """Propose at once if there is something to order or to commit; on a quiet chain
        wait up to `idle_ms` for payload first (empty blocks would only burn CPU and disk).
        Rounds keep their timeouts, so a quiet chain still shows that it is live."""
        if self.proposed_round >= self.round or self.me is None:
            return []
        block = build_block(self.epoch, self.round, self.me, self.high_qc, self.last_tc,
                            self.tree, (self.committed_height, self.committed_id), self.pool,
                            self.pending_reconfig, self.config.max_block_batches)
        if block is None:
            return []
        if not force and not block.payload and self._quiet(bytes(block.parent)):
            if self.idle_round == self.round:
                return []
            self.idle_round = self.round
            self.metrics["idle_waits"] += 1
            wait = min(self.config.idle_ms, self.config.pacemaker.base_ms // 2)  # < timeouts
            return [SetTimer(IDLE_TIMER, self.now + wait)]
        self.idle_round = 0
        self.proposed_round = self.round
        self.metrics["proposed"] += 1
        if self._compact():
            named_tc = self._compact_timeouts()
            compact = strip(self.committee, block, self.meter, named_tc)
            digests = [bytes(d) for d in compact.certs]
            certs = dict(zip(digests, certificates(block, named_tc), strict=True))
            self.served.keep(block.round, certs)
            self.sources.known.add(certs)
            message = codec.encode(compact)
        else:
            message = codec.encode(Proposal(block))
        return [Broadcast(self._others(), message), *self._on_proposal(self.node, block)]

    def _on_payload(self) -> list[Action]:
        """A batch became orderable: a leader waiting on a quiet chain proposes now."""
        if self.idle_round == self.round and self.pool.pending:
            return self._propose()
        return []

    def _quiet(self, parent: bytes) -> bool:
        """No reconfiguration pending, and the last QUIET_DEPTH blocks carry no payload and
        are not an epoch's first (those go out at once: the new committee shows it is live)."""
        if self.pending_reconfig is not None:
            return False
        for _ in range(QUIET_DEPTH):
            block = self.tree.get(parent)
            if block is None:
                return False  # the epoch's root
            if block.payload or block.reconfig is not None:
                return False
            parent = bytes(block.parent)
        return True

    def _on_proposal(self, sender: bytes, block: Block) -> list[Action]:
        committee = self.committee
        news = block.justify.round > self.high_qc.round or (block.tc is not None
                                                             and block.tc.round >= self.round)
        if block.author != committee.index(sender) or (
                not news and sender != self.election.leader(block.round)):
            raise InvalidMessage("proposal not from the round's leader")
        if (bytes(block.parent) != bytes(block.justify.block_id)
                or block.height != block.justify.height + 1 or block.round <= block.justify.round):
            raise InvalidMessage("block does not extend its QC")
        if block.round != block.justify.round + 1:
            tc = block.tc
            if (tc is None or tc.round + 1 != block.round
                    or block.justify.round < max(tc.high_qc_rounds, default=0)):
                raise InvalidMessage("block skips rounds without a valid TC")
        bid = block_id(committee, block)
        if sender != self.node and bid not in self.tree:
            for cert in block.payload:
                if cert.epoch != self.epoch:
                    raise InvalidMessage("batch certificate from another epoch")
                self.pool.check_cert(cert)
            if block.reconfig is not None and block.reconfig != self.pending_reconfig:
                raise InvalidMessage("reconfiguration this node's governance did not decide")
        # every check that can fail comes before any state changes: the voting rule trusts
        # the TC's reported rounds, so it is checked even when this node is past its round
        self._verify_qc(block.justify)
        if block.tc is not None:
            self._verify_tc(block.tc)
        actions = self._process_qc(block.justify, sender)
        if block.epoch != self.epoch:
            return actions
        if block.tc is not None:
            actions += self._process_tc(block.tc)
        # the certificates may commit what the election of this round is drawn from (a node
        # that lags catches up from proposals alone): the leader is checked after them
        if sender != self.election.leader(block.round):
            self.metrics["dropped_InvalidMessage"] += 1
            return actions
        actions += self.tree.add(bid, block)
        return actions + self._consider(bid, sender) + self._after_new_block(sender)

    def _consider(self, bid: bytes, hint: bytes) -> list[Action]:
        """Vote for a stored block once its ancestry back to the committed block is known."""
        block = self.tree.get(bid)
        if (block is None or block.epoch != self.epoch or block.round != self.round
                or self.me is None):
            return []
        chain, missing = self.tree.chain(bytes(block.parent), self.committed_id,
                                         self.committed_height)
        if missing is not None:
            return self.sync.want(self.now, missing, hint, bid)
        if any(b.reconfig is not None for _, b in chain) and (block.payload or block.reconfig):
            self.metrics["dropped_payload_after_reconfig"] += 1
            return []
        if not self.safety.safe_to_vote(block, block.tc):
            return []
        actions: list[Action] = [self.safety.record(block.round, self.high_qc)]
        message = vote_message(self.epoch, block.round, block.height, bid)
        vote = Vote(self.epoch, block.round, block.height, bid,
                    self.key.sign(self.committee, message, self.meter))
        leader = self.election.leader(block.round + 1)
        if not self._compact():
            return actions + self._send_to(leader, codec.encode(vote),
                                           lambda: self._on_vote(self.node, vote))
        # every member rebuilds the next QC from the votes: each crosses each link once
        actions.append(Broadcast(self._others(), codec.encode(vote)))
        return actions + self._on_vote(self.node, vote)

    def _on_vote(self, sender: bytes, vote: Vote) -> list[Action]:
        index = self.committee.index(sender)
        assert index is not None
        if (self._compact() and self.sources.votes.add(index, vote, self.round)
                and self._waiting()):
            actions = self._complete_parked()
        else:
            actions = []
        if self.election.leader(vote.round + 1) != self.node or vote.round + 1 < self.round:
            self.metrics["vote_not_for_me"] += 1
            return actions
        bid = bytes(vote.block_id)
        message = vote_message(vote.epoch, vote.round, vote.height, bid)
        # the key is the whole signed statement: a vote naming another height for the same
        # block must not land in (and spoil) the tally of the honest votes
        done = self.votes.add(self.committee, (vote.round, bid, vote.height), index, message,
                              bytes(vote.signature), self.committee.quorum, self.meter)
        if done is None:
            return actions
        qc = QC(self.epoch, vote.round, vote.height, bid, done[0])
        return actions + self._process_qc(qc, sender)

    # -- compact proposals (compact.py) ----------------------------------------------------

    def _compact(self) -> bool:
        return self.config.compact_proposals and not self.committee.aggregate

    def _on_compact(self, sender: bytes, proposal: CompactProposal) -> list[Action]:
        """Rebuild the block from held votes and announcements, or park it until they
        arrive (and fetch what is still missing after `cert_wait_ms`)."""
        block = proposal.block
        check_names(proposal)
        old = self.parked.get(sender)
        if block.round + 2 < self.round or (old is not None
                                            and old.round >= block.round):
            self.metrics["compact_stale"] += 1  # its round is over: timeouts carry its QC
            return []
        if old is None and len(self.parked) >= MAX_PARKED:
            self.metrics["compact_parked_full"] += 1
            return []
        self.parked[sender] = Parked(proposal, self.now)
        actions = self._complete(sender)
        if sender in self.parked:
            self.metrics["compact_waiting"] += 1
            actions += self._arm_cert_timer()
        return actions

    def _waiting(self) -> list[tuple[bytes, Parked]]:
        """Every compact proposal, timeout and `CompactCertified` waiting for certificates."""
        return [*self.parked.items(), *self.parked_timeouts.items(), *self.parked_helps.items()]

    def _arm_cert_timer(self) -> list[Action]:
        """Ask in `cert_wait_ms`, unless an earlier arrival's ask is already due sooner."""
        if any(p.since_ms < self.now and not p.asked for _, p in self._waiting()):
            return []
        return [SetTimer(CERT_TIMER, self.now + self.config.cert_wait_ms)]

    def _complete(self, sender: bytes) -> list[Action]:
        """Handle the parked proposal of `sender` as a full one once it can be rebuilt.
        Handling one proposal can drop others (the round moves on, or the vote it casts
        completes them), so a sender whose proposal is gone meanwhile is skipped."""
        return self._rebuild(self.parked, sender, fill, self._on_proposal, "compact_rebuilt")

    def _rebuild(self, waiting: dict[bytes, Parked], sender: bytes,
                 fill_in: Callable[[Committee, Parked, Sources, Meter], tuple[T | None, Any]],
                 handle: Callable[[bytes, T], list[Action]], metric: str) -> list[Action]:
        """Handle what `sender` parked in `waiting` once its certificates are all here."""
        parked = waiting.get(sender)
        if parked is None:
            return []
        full, _ = fill_in(self.committee, parked, self.sources, self.meter)
        if full is None:
            return []
        del waiting[sender]
        self.metrics[metric] += 1
        self.sources.known.add(parked.found)
        return handle(sender, full)

    def _complete_parked(self) -> list[Action]:
        """A vote, timeout, announcement or answer arrived: rebuild what it completes (a
        proposal or timeout that fails its checks is dropped and counted, as on arrival)."""
        actions: list[Action] = []
        for waiting, complete in ((self.parked, self._complete),
                                  (self.parked_timeouts, self._complete_timeout),
                                  (self.parked_helps, self._complete_help)):
            for sender in list(waiting):
                try:
                    actions += complete(sender)
                except (ConsensusError, CodecError, CryptoError) as exc:
                    waiting.pop(sender, None)
                    self.metrics[f"dropped_{type(exc).__name__}"] += 1
        return actions

    def _ask_certs(self) -> list[Action]:
        """Ask each sender whose proposal or timeout waited `cert_wait_ms` for what is
        missing. A certificate is asked of one sender per pass (timeouts of a round often
        name the same QC); one still waiting for that answer asks its own sender a
        `cert_wait_ms` later, so a sender that does not answer delays the others once."""
        actions = self._complete_parked()
        due = self.now - self.config.cert_wait_ms
        waiting = self._waiting()
        requested: set[bytes] = set()
        for sender, parked in waiting:
            if parked.asked or parked.since_ms > due:
                continue
            if isinstance(parked.message, CompactTimeout):
                _, missing = fill_timeout(self.committee, parked, self.sources, self.meter)
            elif isinstance(parked.message, CompactCertified):
                _, missing = fill_certified(self.committee, parked, self.sources, self.meter)
            else:
                _, missing = fill(self.committee, parked, self.sources, self.meter)
            missing = [d for d in missing if d not in requested]
            if not missing:
                parked.since_ms = self.now
                continue
            requested.update(missing)
            parked.asked = True
            self.metrics["cert_requests"] += 1
            actions.append(Send(sender, codec.encode(CertRequest(missing))))
        later = [p.since_ms for _, p in waiting if not p.asked]
        if later:
            actions.append(SetTimer(CERT_TIMER, min(later) + self.config.cert_wait_ms))
        return actions

    def _serve_certs(self, sender: bytes, request: CertRequest) -> list[Action]:
        """The asked certificates this member named, in answers that each stay well under
        the wire limit (not bulk: the round waits for them, as for a proposal)."""
        answers: list[list[Cert]] = [[]]
        size = 0
        for digest in request.certs:
            cert = self.served.get(bytes(digest))
            if cert is None:
                continue
            length = len(codec.encode(cert))
            if answers[-1] and size + length > MAX_WIRE // 2:
                answers.append([])
                size = 0
            answers[-1].append(cert)
            size += length
        return [Send(sender, codec.encode(CertResponse(a))) for a in answers if a]

    def _on_certs(self, sender: bytes, response: CertResponse) -> list[Action]:
        """Certificates from a sender: kept only under the digests its waiting proposal or
        timeout named."""
        waiting = [p for s, p in self._waiting() if s == sender]
        if not waiting:
            self.metrics["certs_unrequested"] += 1
            return []
        for cert in response.certs:
            digest = cert_digest(self.committee, cert, self.meter)
            if any(digest in {bytes(d) for d in p.message.certs} for p in waiting):
                # a certificate is what hashes to its digest: whoever names it may take it
                self.sources.known.add({digest: cert})
        return self._complete_parked()

    # -- compact timeouts (compact.py) -----------------------------------------------------

    def _compact_timeouts(self) -> bool:
        return self.config.compact_timeouts and self._compact()

    def _timeout_message(self, timeout: Timeout) -> bytes:
        """The wire form of this node's timeout: compact (its certificates kept to serve
        whoever cannot rebuild them) or full."""
        if not self._compact_timeouts():
            return codec.encode(timeout)
        compact, certs = strip_timeout(self.committee, timeout, self.meter)
        self.served.keep(timeout.round, certs)
        self.sources.known.add(certs)
        return codec.encode(compact)

    def _on_compact_timeout(self, sender: bytes, timeout: CompactTimeout) -> list[Action]:
        """Rebuild a timeout's certificates and handle it as a full one, or park it until
        they arrive: until then it counts toward nothing (no TC, no joining in)."""
        if len(timeout.certs) != 1 + (timeout.last_tc is not None):
            raise InvalidMessage("a compact timeout names one digest per certificate")
        index = self.committee.index(sender)
        assert index is not None
        if timeout.round < self.round:  # a laggard: what it names is older than ours
            return self._help(sender, timeout.round)
        if index in self.timeouts.voters(timeout.round):
            self.metrics["timeout_repeated"] += 1  # a retry of one already counted
            return []
        self.sources.timeouts.add(index, timeout, self.round)
        old = self.parked_timeouts.get(sender)
        if old is not None and old.round >= timeout.round:
            return self._complete_parked()
        self.parked_timeouts[sender] = Parked(timeout, self.now)
        actions = self._complete_parked()
        if sender in self.parked_timeouts:
            self.metrics["compact_timeout_waiting"] += 1
            actions += self._arm_cert_timer()
        return actions

    def _complete_timeout(self, sender: bytes) -> list[Action]:
        return self._rebuild(self.parked_timeouts, sender, fill_timeout, self._on_timeout,
                             "compact_timeout_rebuilt")

    def _on_compact_certified(self, sender: bytes, message: CompactCertified) -> list[Action]:
        """The certificates that lead a laggard to a later round, by digest: rebuilt, or
        fetched from the sender, then handled as a `Certified`."""
        parked = Parked(message, self.now)
        if parked.round <= self.round:
            self.metrics["certified_stale"] += 1
            return []
        self.parked_helps[sender] = parked
        actions = self._complete_parked()
        if sender in self.parked_helps:
            self.metrics["compact_certified_waiting"] += 1
            actions += self._arm_cert_timer()
        return actions

    def _complete_help(self, sender: bytes) -> list[Action]:
        return self._rebuild(self.parked_helps, sender, fill_certified, self._on_certified,
                             "compact_certified_rebuilt")

    # -- commit ----------------------------------------------------------------------------

    def _try_commit(self, qc: QC, hint: bytes) -> list[Action]:
        if qc.round == 0:
            return []
        top = self.tree.get(bytes(qc.block_id))
        if top is None:
            return self.sync.want(self.now, bytes(qc.block_id), hint, None, qc)
        parent = self.tree.get(bytes(top.parent))
        if parent is None:
            if bytes(top.parent) == self.committed_id or top.height - 1 <= self.committed_height:
                return []
            return self.sync.want(self.now, bytes(top.parent), hint, None, qc)
        if parent.round + 1 != top.round:
            return []
        if parent.height <= self.committed_height:
            if self.recent_commits.get(parent.height, bytes(top.parent)) != bytes(top.parent):
                self.metrics["conflicting_commit"] += 1  # only a safety violation does this
            return []
        chain, missing = self.tree.chain(bytes(top.parent), self.committed_id,
                                         self.committed_height)
        if missing is not None:
            return self.sync.want(self.now, missing, hint, None, qc)
        if not chain:  # the commit rule fired on a branch that skips the committed block:
            self.metrics["conflicting_commit"] += 1  # only a safety violation can do that
            return []
        actions: list[Action] = []
        for bid, block in chain:
            actions += self._commit(bid, block)
            if block.reconfig is not None:
                return actions + self._end_epoch(bid, block, qc)
        return actions

    def _commit(self, bid: bytes, block: Block) -> list[Action]:
        fresh, actions = self.pool.commit(self.now, block.payload)
        count = {bytes(c.digest): c.count for c in block.payload}
        self.committed_height, self.committed_id = block.height, bid
        self.recent_commits[block.height] = bid
        self.recent_commits.pop(block.height - RECENT_COMMITS, None)
        self.tree.committed(block.height)
        self.metrics["committed"] += 1
        self.election.observe(block)
        return [Persist(COMMIT_KEY, codec.encode(_Record(block.height, bid))),
                Deliver(Committed(block.epoch, block.height, block.round, bid, tuple(fresh),
                                  sum(count[d] for d in fresh), block.reconfig, block.author)),
                *actions]

    def _end_epoch(self, bid: bytes, block: Block, proof: QC) -> list[Action]:
        assert block.reconfig is not None
        old = self.committee
        self.proofs[old.epoch] = proof
        # the blocks committed just now, all held (None: longer than a proof may be, which
        # then cannot be served, with or without a record)
        record = epoch_proof(proof, self.tree.get)
        self.root = EpochRoot(block.reconfig, block.height, bid)
        if self.pending_reconfig == block.reconfig:
            self.pending_reconfig = None
        self._enter_epoch_state()
        self.high_qc = root_qc(self.root)
        everyone = tuple(sorted((set(old.nodes) | set(self.committee.nodes)) - {self.node}))
        actions: list[Action] = [
            Persist(PROOF_PREFIX + str(old.epoch).encode(), codec.encode(proof)),
            *([] if record is None else [Persist(epoch_proofs.key(old.epoch),
                                                 codec.encode(record))]),
            Persist(EPOCH_KEY, codec.encode(self.root)),
            self.safety.new_epoch(self.epoch, self.high_qc),
            Broadcast(everyone, codec.encode(Certified(proof, None))),
            Deliver(EpochStarted(self.root)),
        ]
        self.sync.clear()
        self.pruned_by.clear()
        actions += self.pool.start_epoch(self.committee, self.now)
        return actions + self._advance(1, None)

    # -- retention -------------------------------------------------------------------------

    def epoch_proof(self, epoch: int) -> EpochProof | None:
        """How `epoch` ended (None: not ended, or not known here): its stored record, or,
        in a store written before proofs were kept as records, the blocks it names."""
        raw = self.stored.get(epoch_proofs.key(epoch))
        if raw is not None:
            return codec.decode(raw, EpochProof)
        qc = self.proofs.get(epoch)
        return None if qc is None else epoch_proof(qc, self.tree.get)

    def _drop(self, needed: int) -> list[Action]:
        """Delete the blocks, batches and ordered marks of the epochs below `needed`, all but
        their proofs, at most DROP_KEYS values per call (the next Retain goes on). The
        epoch before the current one stays: its last block is the current epoch's root."""
        upto = min(needed, self.epoch - 1)
        actions: list[Action] = []
        budget = DROP_KEYS
        while self.dropped < upto and budget > 0:
            gone, done = retention.drop(self.stored, self.dropped, budget)
            actions += gone
            budget -= len(gone) // 2
            if not done:
                break
            self.dropped += 1
            self.metrics["epochs_dropped"] += 1
            actions.append(Persist(DROPPED_KEY, codec.encode(self.dropped)))
        return actions

    def _on_pruned(self, sender: bytes, oldest: int) -> list[Action]:
        """Count members that dropped this epoch; more than a third of the power (one
        honest member at least) makes it so, and the application is told once."""
        index = self.committee.index(sender)
        if index is None or oldest <= self.epoch:
            self.metrics["pruned_ignored"] += 1
            return []
        self.pruned_by.add(index)
        power = sum(self.committee.members[i].power for i in self.pruned_by)
        if self.behind or power < self.committee.validity:
            return []
        self.behind = True
        return [Deliver(Behind(self.epoch))]

    # -- synchronisation -------------------------------------------------------------------

    def _on_sync_response(self, sender: bytes, response: SyncResponse) -> list[Action]:
        actions: list[Action] = []
        for block in response.blocks:
            bid = block_id(self.committee, block)
            if not self.sync.take(bid):
                continue
            actions += self.tree.add(bid, block)
            parent = bytes(block.parent)
            if (parent not in self.tree and parent != self.committed_id
                    and block.height - 1 > self.committed_height):
                self.sync.expect(parent)
        return actions + self._after_new_block(sender)

    def _after_new_block(self, hint: bytes) -> list[Action]:
        """Retry what waited for blocks: votes on the current round and stalled commits."""
        actions: list[Action] = []
        blocks, qcs = self.sync.resolved(self.tree)
        for bid in blocks:
            actions += self._consider(bid, hint)
        for qc in qcs:
            if qc.epoch == self.epoch:
                actions += self._try_commit(qc, hint)
        return actions

    # -- helpers ---------------------------------------------------------------------------

    def _others(self) -> tuple[bytes, ...]:
        return tuple(n for n in self.committee.nodes if n != self.node)

    def _send_to(self, to: bytes, message: bytes,
                 local: Callable[[], list[Action]]) -> list[Action]:
        """Send, or handle at once when this node is the recipient."""
        return [Send(to, message)] if to != self.node else local()


def _epoch_of(message: Any) -> int:
    if isinstance(message, Proposal | CompactProposal):
        return message.block.epoch
    if isinstance(message, Certified | CompactCertified):
        return message.qc.epoch
    if isinstance(message, BatchMsg):
        return message.batch.epoch
    if isinstance(message, Available):
        return message.cert.epoch
    return int(message.epoch)
