"""A validator process: the ledger pipeline ordered by BFT consensus over the network.

The node's composition for a chain whose genesis lists validators (service.py picks it):
the consensus core runs on the network runtime (network/runtime.py), which routes state
sync requests (statesync.py, by message tag) to a `SnapshotServer` beside it, and header
certification (certify.py) runs beside consensus as one core (`WithCertifier`); what
consensus and the certifier deliver goes to the sans-I/O `BftLedger` (bft.py); a check task
verifies the signatures of the batches consensus asks this node to vouch for, on the
process pool (consensus runs with `check_batches`: docs/consensus.md), and an apply task
turns committed blocks into ledger blocks, committing in a worker thread (offload.py).
Consensus keeps its own keyspace in the chain store's consensus sub-database; bulk batch
data goes to a second store that is not flushed at once, so the synced write before each
vote stays small (see docs/consensus.md).

Joining. A node that is not a genesis validator and has never run consensus catches up
from a state snapshot before it starts (`catch_up`, the protocol in statesync.py): the
proven epoch root it joins at, the ledger block that epoch starts on (attested by more
than 1/3 of the committee's power) and the state under it are written in one commit,
with what consensus persists to start from that root (`consensus.core.bootstrap`); then
it runs as any member, from that root.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from xinlian import codec
from xinlian.consensus.committee import EpochRoot
from xinlian.consensus.core import (
    EPOCH_KEY,
    Behind,
    Committed,
    Config,
    ConsensusCore,
    EpochStarted,
    bootstrap,
    rejoin,
)
from xinlian.consensus.dissemination import BatchChecked, CheckBatch
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite
from xinlian.errors import XinlianError
from xinlian.execution.rotation import transport_keys
from xinlian.execution.system import organisations
from xinlian.ledger import merkle
from xinlian.ledger.account import address_of
from xinlian.ledger.block import Block as LedgerBlock
from xinlian.ledger.block import header_hash, sign_header
from xinlian.ledger.genesis import Genesis, Organisation, Validator
from xinlian.ledger.transaction import Transaction
from xinlian.network.handshake import Identity
from xinlian.network.membership import Membership, PeerInfo
from xinlian.network.runtime import NetworkRuntime, StoreView
from xinlian.network.shaper import ShapeFor
from xinlian.network.transport import Transport
from xinlian.node import statesync
from xinlian.node.bft import (
    APPLIED_KEY,
    Applied,
    BftLedger,
    Decoded,
    epoch_ledger_key,
    known_validators,
    vote_key_of,
)
from xinlian.node.certify import HeaderCertifier, WithCertifier, genesis_root
from xinlian.node.chain import CONSENSUS_DB, NODE_META_DB, ChainStore
from xinlian.node.errors import NodeConfigError
from xinlian.node.identity import IdentityFiles, identity_for
from xinlian.node.interface import TransportKey
from xinlian.node.offload import LedgerThread, now_ms, verify
from xinlian.node.pipeline import LedgerPipeline
from xinlian.node.supervise import FaultHooks, Supervisor
from xinlian.protocol import Persist
from xinlian.storage.kv import Store, WriteBatch

log = logging.getLogger(__name__)


def membership_of(suite: Suite, members: list[Validator], sessions: Sequence[Suite] = (),
                  keys: Sequence[tuple[PublicKey, ...]] = ()) -> Membership:
    """The transport's membership: `members` with the node keys each may authenticate
    with (`keys`, aligned; default: its id key) under the `sessions` suites admitted."""
    peers = []
    for i, v in enumerate(members):
        host, _, port = v.endpoint.rpartition(":")
        if not host or not port.isdigit():
            raise NodeConfigError(f"validator endpoint {v.endpoint!r} is not host:port")
        peers.append(PeerInfo(v.node_key, host, int(port), v.organisation,
                              keys[i] if keys else ()))
    return Membership(suite, peers, sessions)


READY_LAG = 2  # consensus blocks the ledger may trail by and still report ready
# How long a validator's batch stays open for more transactions. Each batch costs the
# committee a fixed amount of CPU (acks signed, a certificate checked by every voter), so a
# longer wait means fewer, larger batches, at up to that much more latency. On an idle
# machine 100 ms saved no CPU against 20 ms and tripled an idle chain's commit latency
# (docs/benchmarks.md, issue 14 item 4), so the default stays short; node.toml can raise it.
BATCH_DELAY_MS = 20


@dataclass(frozen=True)
class ConsensusSettings:
    """node.toml's `[consensus]` table: a validator's timing. The defaults suit a committee
    of a few validators; a large one (tens of validators sharing a machine, or `pq` votes of
    3.3 KB each) needs longer rounds and a slower idle beat, because every round costs each
    member a vote check per member (docs/pq.md, "Fifty validators as processes")."""

    batch_delay_ms: int = BATCH_DELAY_MS  # how long a batch stays open
    round_timeout_ms: int = Pacemaker().base_ms  # a round's first timeout (the pacemaker)
    idle_ms: int = Config().idle_ms  # an idle leader's wait before an empty block

    def config(self) -> Config:
        """The consensus core's configuration on a validator node."""
        return Config(pacemaker=Pacemaker(base_ms=self.round_timeout_ms), check_batches=True,
                      batch_delay_ms=self.batch_delay_ms, idle_ms=self.idle_ms,
                      drop_epochs=True)


DEFAULT_CONSENSUS = ConsensusSettings()


class BftOrdering:
    """Ordering by BFT consensus for one validator's ledger pipeline."""

    def __init__(self, ledger: LedgerPipeline, data_dir: Path, vote_secret: bytes, *,
                 rotated_votes: Sequence[SigningKey] = (),
                 listen: tuple[str, int] | None = None,
                 shape_for: ShapeFor | None = None,
                 identity: IdentityFiles | None = None,
                 consensus: ConsensusSettings = DEFAULT_CONSENSUS,
                 rotated_node: SigningKey | None = None) -> None:
        """`rotated_votes`: vote keys registered for a suite migration, signing in the
        epochs whose committees vote with their scheme; `rotated_node`: the node key
        registered with them, authenticating this validator to its peers and signing its
        headers from the epoch whose committee has switched (`_sync_keys`). `shape_for`:
        the transport's test shaper, to cap this validator's egress when several run on
        one machine (tests, benchmarks); `identity`: node.toml's `[identity]` files,
        this validator's membership certificate and the revocation lists its peers'
        certificates must pass (node/identity.py); `consensus`: node.toml's
        `[consensus]` timing."""
        suite = ledger.suite
        self.ledger = ledger
        own = None if identity is None else self._identity_for(identity)  # before any store
        vote_key = vote_key_of(suite, vote_secret, rotated_votes)
        self.node_id = address_of(ledger.key.public_key, suite.hash_bytes)
        self.rotated_node = rotated_node
        store = ledger.chain.store
        self.batches = Store(Path(data_dir) / "batches", sub_dbs=(CONSENSUS_DB,), durable=False)
        stored = StoreView((store, self.batches), CONSENSUS_DB)  # live: old data stays on disk
        # drop_epochs: a pruned validator's consensus deletes the epochs its ledger pruned
        # (an archive one keeps all: BftLedger._retain); one that slept through what its
        # peers dropped is told `Behind` and the node rejoins later (`rejoin_later`)
        self.core = ConsensusCore(self.node_id, vote_key, genesis_root(ledger.genesis),
                                  stored=stored, config=consensus.config())
        self.bft = BftLedger(ledger, self.core, rotated_node)
        self.certifier = HeaderCertifier(self.node_id, ledger.genesis.chain_id, vote_key,
                                         self.bft, suite.hash_bytes)
        membership, keys = self._transport_view(own)
        self.transport = Transport(suite, ledger.key, membership, listen=listen,
                                   shape_for=shape_for, identity=own, keys=keys)
        self.runtime = NetworkRuntime(
            WithCertifier(self.core, self.certifier), self.transport, store,
            deliver=self._deliver, db=CONSENSUS_DB, bulk_store=self.batches,
            routes=[(statesync.is_sync_message, statesync.SnapshotServer(self.bft))])
        self._committer = LedgerThread(ledger)
        self._more = asyncio.Event()
        self._to_check = asyncio.Event()
        self._applier: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._faults = FaultHooks()
        # consensus said `Behind`: the node stops and rejoins by state sync (node_cmd.py)
        self.behind: asyncio.Future[int] | None = None  # made by `start`, on its loop
        # told of each block consensus commits, before the ledger applies it (metrics)
        self.commit_listeners: list[Callable[[Committed], None]] = []

    def _identity_for(self, files: IdentityFiles) -> Identity:
        genesis = self.ledger.genesis
        return identity_for(files, self.ledger.suite, genesis.chain_id,
                            organisations(self.ledger.chain.read), self.ledger.key.public_key)

    def reload_identity(self, files: IdentityFiles) -> None:
        """Identity files read again (SIGHUP): checked against the chain's organisations now
        (NodeConfigError, and nothing changes, if they do not hold), then in force."""
        self.transport.set_identity(self._identity_for(files))

    def _sync_identity(self) -> None:
        """Follow governance: the policy takes the organisations' admins as the state holds
        them. Revocations already loaded stand (a list whose signer has left since still
        revoked what it named); peers certified by a removed admin are cut off."""
        identity = self.transport.identity
        if identity is None:
            return
        admins = {o.name: tuple(o.admins) for o in organisations(self.ledger.chain.read)}
        if admins != identity.policy.admins:
            policy = replace(identity.policy, admins=admins)
            self.transport.set_identity(Identity(identity.certificate, policy))
            log.info("identity follows the organisations", extra={"organisations": len(admins)})

    async def start(self, supervisor: Supervisor) -> None:
        self.behind = asyncio.get_running_loop().create_future()
        for committed, payloads in self.bft.replay():
            await self._apply(self.bft.decode(committed, payloads))
        self._applier = supervisor.spawn("bft-apply", self._apply_loop())
        self._checker = supervisor.spawn("bft-check", self._check_loop())
        await self.runtime.start()
        self._runner = supervisor.spawn("network-runtime", self.runtime.run())

    def health(self) -> tuple[int | None, list[str]]:
        """Consensus's committed height; unready while the ledger lags it by more than
        `READY_LAG` blocks or while its apply task or network runtime is not running
        (before `start` has replayed what was committed, the node does not serve at all)."""
        committed = self.core.committed_height
        reasons = []
        if self._applier is None or self._applier.done():
            reasons.append("the apply task is not running")
        if self._checker is None or self._checker.done():
            reasons.append("the batch check task is not running")
        if self._runner is None or self._runner.done():
            reasons.append("the network runtime is not running")
        lag = committed - self.bft.applied.height
        if lag > READY_LAG:
            reasons.append(f"the ledger lags consensus by {lag} blocks")
        power, quorum = self.reachable_power()
        if power < quorum:
            reasons.append(f"it reaches validators of voting power {power} (itself "
                           f"included); a quorum needs {quorum}")
        return committed, reasons

    def peers(self) -> tuple[int, int]:
        """The committee's other members this node is connected to, and their number."""
        others = [n for n in self.core.committee.nodes if n != self.node_id]
        return sum(self.transport.connected(n) for n in others), len(others)

    def transport_keys(self) -> list[TransportKey]:
        """This node's key and, for each other committee member, how its channel to this
        node was authenticated (empty: not connected)."""
        out = [TransportKey(self.node_id, self.transport.keys[0].alg.name, "")]
        for node in self.core.committee.nodes:
            if node != self.node_id:
                _, inbound = self.transport.auth(node)
                out.append(TransportKey(node, "", "") if inbound is None else
                           TransportKey(node, inbound.peer_key.name, inbound.suite))
        return out

    def reachable_power(self) -> tuple[int, int]:
        """The voting power of this node and the members it is connected to, and the
        committee's quorum: below it, consensus cannot commit through this node."""
        committee = self.core.committee
        power = sum(m.power for m in committee.members
                    if bytes(m.node) == self.node_id or self.transport.connected(bytes(m.node)))
        return power, committee.quorum

    async def stop(self) -> None:
        await self.runtime.stop()
        for task in (self._applier, self._checker, self._runner):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._applier = self._checker = self._runner = None
        self._committer.close()
        self.batches.close()

    def on_admitted(self, txs: list[Transaction]) -> None:
        for submit in self.bft.forward(now_ms()):
            self.runtime.input(submit)

    def _deliver(self, value: object) -> None:
        if isinstance(value, Committed):
            for listener in self.commit_listeners:
                listener(value)
        if isinstance(value, Behind):
            log.warning("peers dropped epoch %d: rejoining by state sync", value.epoch)
            if self.behind is not None and not self.behind.done():
                self.behind.set_result(value.epoch)
            return
        self.bft.deliver(value)
        if isinstance(value, EpochStarted):
            self._sync_membership()
        if isinstance(value, CheckBatch):
            self._to_check.set()
        else:
            self._more.set()

    def _sync_membership(self) -> None:
        self._sync_identity()
        self._sync_keys()

    def _transport_view(self, identity: Identity | None) -> tuple[Membership,
                                                                  list[SigningKey]]:
        """The committee's members with the node keys each may authenticate with and the
        suites admitted (execution/rotation.py's `transport_keys`, from the state and the
        committee now), and this node's own keys in the order it uses them. With an
        `[identity]` (every validator has one, or none) the genesis keys stay: a
        certificate names one key."""
        chain, suite = self.ledger.chain, self.ledger.suite
        members = self.bft.members()
        own = self.bft.validators.get(self.node_id)
        if identity is not None or own is None:
            return membership_of(suite, members), [self.ledger.key]
        listed = members if own in members else [*members, own]
        sessions, keys = transport_keys(chain.read, suite, listed, chain.height + 1,
                                        self.core.committee.suite != suite.name)
        secrets = {codec.encode(k.public_key): k
                   for k in (self.ledger.key, self.rotated_node) if k is not None}
        mine = [secrets[e] for k in keys[listed.index(own)] if (e := codec.encode(k)) in secrets]
        return (membership_of(suite, members, sessions, keys[:len(members)]),
                mine or [self.ledger.key])

    def _sync_keys(self) -> None:
        """Follow the committee and a suite migration's switch (`_transport_view`)."""
        membership, mine = self._transport_view(self.transport.identity)
        current = self.transport.membership
        if (set(membership.ids()) != set(current.ids()) or membership.sessions !=
                current.sessions or any(membership.peer(n) != current.peer(n)
                                        for n in membership.ids())):
            self.transport.set_membership(membership)
        if tuple(mine) != self.transport.keys:
            log.info("transport keys", extra={"keys": [k.alg.name for k in mine]})
            self.transport.set_keys(mine)

    async def _apply_loop(self) -> None:
        while True:
            self._more.clear()
            while (ready := self.bft.next_block()) is not None:
                await self._apply(self.bft.decode(*ready))
            await self._more.wait()

    async def _check_loop(self) -> None:
        """Check the batches consensus asks this node to vouch for (the signatures of
        their transactions, all the waiting batches in one verification batch) and give
        consensus each verdict: its ack, or its refusal."""
        while True:
            self._to_check.clear()
            checks, self.bft.to_check = self.bft.to_check, []
            if checks:
                items = [self.bft.check_items(check) for check in checks]
                verdicts = iter(await verify([item for part in items for item in part],
                                             self.ledger.stages))
                for check, part in zip(checks, items, strict=True):
                    ok = all([next(verdicts) for _ in part])
                    self.runtime.input(BatchChecked(check.digest, ok))
                continue
            await self._to_check.wait()

    async def _apply(self, decoded: Decoded) -> None:
        await self._faults.before_apply(decoded.committed.height)
        built = self.bft.execute(decoded, await verify(decoded.candidates.items,
                                                       self.ledger.stages))
        await self._committer.commit(built)
        for value in self.bft.applied_block(decoded, built, now_ms()):
            self.runtime.input(value)
        self._sync_membership()


# -- joining from a snapshot -------------------------------------------------------------------

def needs_snapshot(chain: ChainStore, genesis: Genesis, node_id: bytes) -> bool:
    """A node that is no genesis validator and has never entered an epoch must catch up."""
    return (genesis_root(genesis).committee.index(node_id) is None
            and chain.store.get(CONSENSUS_DB, EPOCH_KEY) is None)


async def catch_up(data_dir: Path, genesis: Genesis, key: SigningKey,
                   listen: tuple[str, int] | None,
                   config: statesync.SyncConfig | None = None,
                   identity: IdentityFiles | None = None) -> statesync.Synced | None:
    """Bring a joining validator's data directory to a snapshot of the current epoch, from
    the genesis validators (reached over the authenticated transport, this node listening
    on `listen`: its endpoint in the AddValidator proposal; with `identity`, its
    certificate, checked as the genesis organisations would: its chain is at genesis).
    Returns None at once when the node does not need it (see `needs_snapshot`)."""
    suite = genesis.crypto_suite()
    node_id = address_of(key.public_key, suite.hash_bytes)
    chain = ChainStore(Path(data_dir) / "chain", genesis)
    try:
        if chain.head is None:
            chain.init_genesis(key, genesis.timestamp_ms)
        if not needs_snapshot(chain, genesis, node_id):
            return None
        if listen is None:
            raise NodeConfigError("a joining validator needs its listen address "
                                  "(`xinlian init --listen host:port`)")
        synced = await _state_sync(chain, key, genesis_root(genesis), genesis.validators,
                                   genesis.organisations, listen, identity, config)
        proofs = [(p.qc, p.blocks) for p in synced.proofs]
        write_snapshot(chain, synced, key, bootstrap(synced.root, proofs))
        return synced
    finally:
        chain.close()


async def rejoin_later(data_dir: Path, genesis: Genesis, key: SigningKey,
                       listen: tuple[str, int] | None,
                       config: statesync.SyncConfig | None = None,
                       identity: IdentityFiles | None = None) -> statesync.Synced:
    """Bring a validator that fell behind what its peers dropped (consensus told it
    `Behind`; the node has stopped) to a snapshot of a later epoch: state sync from the
    epoch root its consensus store holds, among that epoch's committee, then in one commit
    the snapshot and what consensus persists to restart there (`consensus.core.rejoin`)."""
    chain = ChainStore(Path(data_dir) / "chain", genesis)
    batches = Store(Path(data_dir) / "batches", sub_dbs=(CONSENSUS_DB,), durable=False)
    try:
        raw = chain.store.get(CONSENSUS_DB, EPOCH_KEY)
        root = genesis_root(genesis) if raw is None else codec.decode(raw, EpochRoot)
        members = [v for n, v in known_validators(chain).items() if n in root.committee.nodes]
        synced = await _state_sync(chain, key, root, members, organisations(chain.read),
                                   listen, identity, config)
        stored = StoreView((chain.store, batches), CONSENSUS_DB)
        write_snapshot(chain, synced, key,
                       rejoin(stored, synced.root, [(p.qc, p.blocks) for p in synced.proofs]))
        return synced
    finally:
        batches.close()
        chain.close()


async def _state_sync(chain: ChainStore, key: SigningKey, root: EpochRoot,
                      members: Sequence[Validator], orgs: Sequence[Organisation],
                      listen: tuple[str, int] | None, identity: IdentityFiles | None,
                      config: statesync.SyncConfig | None) -> statesync.Synced:
    """Run state sync from `root` among its committee until it delivers, over a transport
    to `members` (with `identity`, this node's certificate, checked as `orgs` would)."""
    suite = chain.suite
    transport = Transport(suite, key, membership_of(suite, list(members)), listen=listen,
                          identity=None if identity is None else
                          identity_for(identity, suite, chain.genesis.chain_id, orgs,
                                       key.public_key))
    sync = statesync.StateSync(address_of(key.public_key, chain.hash), root,
                               root.committee.nodes, chain.hash, block_checker(chain),
                               config)
    done: asyncio.Future[statesync.Synced] = asyncio.get_running_loop().create_future()

    def deliver(value: object) -> None:
        if isinstance(value, statesync.Synced) and not done.done():
            done.set_result(value)

    runtime = NetworkRuntime(sync, transport, chain.store, deliver=deliver, db=CONSENSUS_DB)
    await runtime.start()
    try:
        return await done
    finally:
        await runtime.stop()


def block_checker(chain: ChainStore) -> Callable[[LedgerBlock], bool]:
    """State sync's check of a ledger block's form: this chain's id, its transactions
    against the header's root."""
    genesis, hasher = chain.genesis, chain.hash

    def valid_block(block: LedgerBlock) -> bool:
        header = block.header
        try:
            hashes = chain.tx_hashes(block)
        except (XinlianError, codec.CodecError):
            return False
        return (header.chain_id == genesis.chain_id and header.tx_count == len(hashes)
                and merkle.root(hashes, hasher) == header.tx_root)
    return valid_block


def write_snapshot(chain: ChainStore, synced: statesync.Synced, key: SigningKey,
                   consensus: Sequence[Persist]) -> None:
    """One commit: the state, index and ledger block at the snapshot, `consensus` (what
    consensus persists to start from the snapshot's epoch root: `consensus.core.bootstrap`
    for a joining member, `rejoin` for one that fell behind; empty where consensus has a
    store of its own, the simulator's), the applied marker."""
    header = synced.block.header
    batch = WriteBatch()
    if header.height > chain.height:
        synced.state.write(chain.tree, header.height, batch)
        synced.index.write(chain.ordered, chain.data, header.height, batch)
        synced.data.write(chain.data_history, header.height, batch)
        stored = LedgerBlock(header, sign_header(header, key), list(synced.block.txs))
        chain.index.write_block(batch, height=header.height,
                                block_hash=header_hash(header, chain.hash),
                                block=codec.encode(stored), txs=[])
    # consensus owns its keys: it says what a member joining at this root persists
    for persist in consensus:
        if persist.value is None:
            batch.delete(CONSENSUS_DB, persist.key)
        else:
            batch.put(CONSENSUS_DB, persist.key, persist.value)
    batch.put(NODE_META_DB, APPLIED_KEY,
              codec.encode(Applied(synced.root.height, bytes(synced.root.block_id))))
    batch.put(NODE_META_DB, epoch_ledger_key(synced.root.committee.epoch),
              codec.encode(header.height))
    chain.store.commit(batch)
