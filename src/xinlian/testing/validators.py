"""Whole validators in the deterministic simulator: consensus, ledger pipeline, execution
and storage, with clients submitting real signed transfers.

Theory of operation. `SimValidator` is one validator as a single sans-I/O core, composed of
the product's own parts: the `ConsensusCore`, the `LedgerPipeline` (admission, execution,
the state tree and chain index in a real LMDB store in the run's temporary directory) and
the `BftLedger` that turns committed consensus blocks into ledger blocks, the
`HeaderCertifier` beside consensus that gathers the committee's certificate of each ledger
header, plus the `SnapshotServer` that the network runtime routes state-sync requests to.
Where a node process verifies signatures on its process pool and commits in a worker thread
(node/offload.py), this core does both inline, inside the event that caused them, so one
simulated step stays atomic: a crash falls between events, never inside a commit. The
simulator owns the consensus store (its durable dict); the ledger's LMDB directory survives
crashes as a disk does, and a restart reopens it and applies what consensus committed
above the ledger's applied marker, exactly as a node process does on start. Told `Behind`
(its peers dropped the epoch it is in: docs/consensus.md, "Retention"), a validator stops
consensus, runs state sync from its epoch root, writes the snapshot and the consensus reset
(`rejoin`) in one event and restarts consensus from them at the next event.

`ValidatorNet` builds a chain from seeded keys (never use them for a real chain: anyone
who knows the seed knows every secret): a genesis with n validators and funded client
accounts, one `SimValidator` per member on one `Simulation`, and a `LedgerLog` that checks,
as each ledger block commits anywhere, that every validator holds the same header (hence
the same state root, transactions and receipts) at that height, and that no validator
ever commits two different blocks at one height across its restarts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from xinlian import codec
from xinlian.consensus.certificates import VoteKey
from xinlian.consensus.core import (
    Behind,
    Committed,
    Config,
    ConsensusCore,
    Reconfigure,
    rejoin,
)
from xinlian.consensus.dissemination import BatchChecked
from xinlian.crypto.batch import verify_batch
from xinlian.crypto.signing import SigningKey, replayable
from xinlian.crypto.suites import Suite, get_suite
from xinlian.execution.payloads import Transfer
from xinlian.ledger.account import address_of
from xinlian.ledger.block import header_hash
from xinlian.ledger.genesis import Genesis, genesis_from_dict
from xinlian.ledger.transaction import TxBody, TxKind, sign_body
from xinlian.node import statesync
from xinlian.node.bft import BftLedger, Decoded
from xinlian.node.certify import HeaderCertified, HeaderCertifier, WithCertifier, genesis_root
from xinlian.node.pipeline import LedgerPipeline
from xinlian.node.retention import ARCHIVE, Retention
from xinlian.node.validator import block_checker, write_snapshot
from xinlian.protocol import Action, Deliver, Event, Input, NodeId, Receive, Start
from xinlian.sim.network import LinkModel, NetworkModel
from xinlian.sim.runtime import Simulation

BALANCE = 10**12


@dataclass(frozen=True)
class ClientTxs:
    """Input: encoded transactions a client submits to this validator."""

    raws: tuple[bytes, ...]


@dataclass(frozen=True)
class LedgerCommitted:
    """Deliver: a ledger block this validator committed."""

    height: int
    header_hash: bytes
    state_root: bytes
    tx_count: int


class SimValidator:
    """One whole validator as a protocol core (see the module docstring)."""

    def __init__(self, data_dir: Path, genesis: Genesis, key: SigningKey, vote_key: VoteKey,
                 stored: Mapping[bytes, bytes], config: Config,
                 retention: Retention = ARCHIVE, rotated_node: SigningKey | None = None) -> None:
        self.now_ms = 0  # the simulated clock, as of the event being handled
        self.data_dir, self.genesis, self.key, self.vote_key = data_dir, genesis, key, vote_key
        self.stored, self.config, self.retention = stored, config, retention
        self.rotated_node = rotated_node  # signs headers once the committee has switched
        self.syncing: statesync.StateSync | None = None  # consensus stopped (Behind)
        self.resynced = 0  # state syncs this incarnation caught up by
        self._resume = False  # rejoined: restart consensus at the next event
        self.admitted = 0  # transactions this incarnation admitted from clients
        self._open()

    def _open(self) -> None:
        self.ledger = LedgerPipeline(self.data_dir, self.genesis, self.key, durable=False,
                                     clock=lambda: self.now_ms, retention=self.retention)
        node_id = address_of(self.key.public_key, self.ledger.suite.hash_bytes)
        self.consensus = ConsensusCore(node_id, self.vote_key, genesis_root(self.genesis),
                                       self.stored,
                                       dataclasses.replace(self.config, check_batches=True))
        self.bft = BftLedger(self.ledger, self.consensus, self.rotated_node)
        self.certifier = HeaderCertifier(node_id, self.genesis.chain_id, self.vote_key,
                                         self.bft, self.ledger.suite.hash_bytes)
        self.core = WithCertifier(self.consensus, self.certifier)
        self.server = statesync.SnapshotServer(self.bft)

    def close(self) -> None:
        self.ledger.close()

    def handle(self, event: Event) -> Sequence[Action]:
        now = self.now_ms = event.now_ms
        out: list[Action] = []
        if self.syncing is not None:
            return self._sync(event)
        if self._resume:  # the rejoin's Persists are in the store now: start from them
            self._resume = False
            self.ledger.close()  # its head is from before the snapshot
            self._open()
            self._consensus(Start(now), out)
        if isinstance(event, Start):  # what consensus committed before a crash, first
            for committed, payloads in self.bft.replay():
                self._apply(self.bft.decode(committed, payloads), now, out)
        if isinstance(event, Receive) and statesync.is_sync_message(event.message):
            return [*out, *self.server.handle(event)]  # routed by tag, as the runtime does
        if isinstance(event, Input) and isinstance(event.value, ClientTxs):
            admission = self.ledger.precheck(event.value.raws)
            _, admitted = self.ledger.admit(admission, verify_batch(admission.items,
                                                                    parallel=False))
            self.admitted += len(admitted)
            for submit in self.bft.forward(now) if admitted else []:
                self._consensus(Input(now, submit), out)
        else:
            self._consensus(event, out)
        while self.bft.to_check and self.syncing is None:  # verified inline, like blocks
            check = self.bft.to_check.pop(0)
            ok = all(verify_batch(self.bft.check_items(check), parallel=False))
            self._consensus(Input(now, BatchChecked(check.digest, ok)), out)
        while self.syncing is None and (ready := self.bft.next_block()) is not None:
            self._apply(self.bft.decode(*ready), now, out)
        return out

    def _consensus(self, event: Event, out: list[Action]) -> None:
        if self.syncing is not None:
            return
        for action in self.core.handle(event):
            out.append(action)
            if not isinstance(action, Deliver):
                continue
            if isinstance(action.value, Behind):
                self._behind(out)
                return
            self.bft.deliver(action.value)

    def _behind(self, out: list[Action]) -> None:
        """Its peers dropped the epoch consensus is in: stop consensus (what it handles from
        now on is dropped) and catch up by state sync from its epoch root, as a node does."""
        root = self.consensus.root
        self.syncing = statesync.StateSync(self.consensus.node, root, root.committee.nodes,
                                           self.ledger.suite.hash_bytes,
                                           block_checker(self.ledger.chain))
        out += self.syncing.handle(Start(self.now_ms))

    def _sync(self, event: Event) -> list[Action]:
        assert self.syncing is not None
        if isinstance(event, Receive) and not statesync.is_sync_message(event.message):
            return []  # consensus is stopped
        out = self.server.handle(event) + self.syncing.handle(event)
        synced = [a.value for a in out if isinstance(a, Deliver)
                  and isinstance(a.value, statesync.Synced)]
        if synced:
            out += self._rejoin(synced[0])
        return out

    def _rejoin(self, synced: statesync.Synced) -> list[Action]:
        """The snapshot into the ledger store, the consensus reset (`rejoin`) into the
        consensus store: one event, so one step a crash cannot split. Consensus restarts
        from them at the next event, once the simulator carried out the Persists."""
        write_snapshot(self.ledger.chain, synced, self.key, ())
        resets = rejoin(self.stored, synced.root, [(p.qc, p.blocks) for p in synced.proofs])
        self.syncing = None
        self.resynced += 1
        self._resume = True
        return list(resets)

    def _apply(self, decoded: Decoded, now: int, out: list[Action]) -> None:
        built = self.bft.execute(decoded, verify_batch(decoded.candidates.items,
                                                       parallel=False))
        self.ledger.commit(built)
        inputs = self.bft.applied_block(decoded, built, now)
        if built.prepared is not None:
            header = built.prepared.block.header
            out.append(Deliver(LedgerCommitted(header.height,
                                               header_hash(header, self.ledger.suite.hash_bytes),
                                               header.state_root, header.tx_count)))
        for value in inputs:
            self._consensus(Input(now, value), out)


@dataclass
class LedgerLog:
    """Every validator's ledger blocks; `violations` is non-empty iff two ledgers differ."""

    headers: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # first seen
    by_node: dict[bytes, dict[int, tuple[bytes, bytes]]] = field(default_factory=dict)
    consensus: dict[int, bytes] = field(default_factory=dict)
    txs: dict[bytes, int] = field(default_factory=dict)
    certified: dict[int, set[bytes]] = field(default_factory=dict)  # height -> nodes
    violations: list[str] = field(default_factory=list)

    def record(self, node: bytes, now_ms: int, value: object) -> None:
        if isinstance(value, HeaderCertified):
            header = value.certified.header
            seen = self.headers.get(header.height)
            if header.height > 0 and (seen is None or seen[1] != header.state_root):
                self.violations.append(f"{node.hex()[:8]} certified a header at height "
                                       f"{header.height} that no ledger committed")  # (0: genesis)
            self.certified.setdefault(header.height, set()).add(node)
            return
        if isinstance(value, Committed):
            first = self.consensus.setdefault(value.height, value.block_id)
            if first != value.block_id:
                self.violations.append(f"consensus height {value.height}: {node.hex()[:8]} "
                                       "committed another block")
        if not isinstance(value, LedgerCommitted):
            return
        entry = (value.header_hash, value.state_root)
        mine = self.by_node.setdefault(node, {})
        if mine.get(value.height, entry) != entry:
            self.violations.append(f"{node.hex()[:8]} committed two ledger blocks at height "
                                   f"{value.height}")
        seen = self.headers.setdefault(value.height, entry)
        if seen != entry:
            self.violations.append(
                f"height {value.height}: {node.hex()[:8]} has state root "
                f"{value.state_root.hex()[:16]}, another validator {seen[1].hex()[:16]}")
        if value.height not in mine:
            self.txs[node] = self.txs.get(node, 0) + value.tx_count
        mine[value.height] = entry

    def height(self, node: bytes) -> int:
        return max(self.by_node.get(node, {0: b""}))


def _secret(seed: bytes, label: str) -> bytes:
    return hashlib.sha256(b"xinlian/testing/validators/" + seed + b"/" + label.encode()).digest()


def _seeded_key(suite: Suite, seed: bytes, label: str) -> SigningKey:
    """A key from the run's seed that also signs the same bytes each run (`replayable`)."""
    return replayable(suite.generate_signing_key(_secret(seed, label)))


class Client:
    """A funded account that sends transfers with consecutive nonces (signed once each)."""

    def __init__(self, genesis: Genesis, key: SigningKey) -> None:
        self.genesis = genesis
        self.key = key
        self.address = address_of(key.public_key, genesis.crypto_suite().hash_bytes)
        self._signed: dict[int, bytes] = {}

    def transfer(self, nonce: int, to: bytes) -> bytes:
        if nonce not in self._signed:
            params = self.genesis.params
            body = TxBody(self.genesis.chain_id, self.key.public_key, nonce,
                          int(TxKind.TRANSFER), codec.encode(Transfer(to, 1, b"")),
                          params.transfer_cost, 10**9)
            self._signed[nonce] = sign_body(body, self.key)
        return self._signed[nonce]

    def signed(self, nonce: int, kind: int, payload: Any, fee_limit: int = 10**7) -> bytes:
        """A transaction of any kind with this encodable payload (contract, data...)."""
        body = TxBody(self.genesis.chain_id, self.key.public_key, nonce, kind,
                      codec.encode(payload), fee_limit, 10**9)
        return sign_body(body, self.key)


class ValidatorNet:
    """n whole validators and `clients` funded accounts on one seeded simulation."""

    def __init__(self, n: int, seed: int, *, clients: int = 4, config: Config | None = None,
                 link: LinkModel | None = None, suite: str = "intl",
                 retention: Retention = ARCHIVE, rotate_to: str | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        """`retention`: every validator's (node/retention.py; default archive); `params`:
        the genesis params (docs/node.md; default all defaults). `rotate_to`:
        each validator also holds a vote key and a node key of that suite (`rotated_keys`),
        for a suite migration (as a node loads them from its data directory: docs/pq.md)."""
        self.seed = seed
        self.config = config or Config()
        self.retention = retention
        self.dir = Path(tempfile.mkdtemp(prefix="xinlian-sim-"))
        chain_seed = seed.to_bytes(8, "big", signed=True)
        chain_suite = get_suite(suite)
        self.node_keys = [_seeded_key(chain_suite, chain_seed, f"node{i}") for i in range(n)]
        client_keys = [_seeded_key(chain_suite, chain_seed, f"client{j}")
                       for j in range(clients)]
        target = get_suite(rotate_to) if rotate_to else None
        self.rotated_keys = [] if target is None else [
            (_seeded_key(target, chain_seed, f"rotated-vote{i}"),
             _seeded_key(target, chain_seed, f"rotated-node{i}"))
            for i in range(n)]
        vote_keys: list[VoteKey] = []
        validators = []
        for i, key in enumerate(self.node_keys):
            vote = chain_suite.generate_vote_key(_secret(chain_seed, f"vote{i}"))
            public, pop = vote.public, vote.pop
            rotated = [self.rotated_keys[i][0]] if self.rotated_keys else []
            vote_keys.append(VoteKey(bls_secret=vote.secret, more=rotated)
                             if chain_suite.aggregate_votes else
                             VoteKey(suite_key=replayable(
                                 chain_suite.load_signing_key(vote.secret)), more=rotated))
            validators.append({"organisation": f"org{i}",
                               "node_key": key.public_key.data.hex(),
                               "consensus_key": public.hex(), "pop": pop.hex(),
                               "endpoint": f"sim:{i}"})
        self.genesis = genesis_from_dict({
            "chain_id": "xinlian-sim", "suite": chain_suite.name,
            "organisations": [{"name": f"org{i}", "admins": [k.public_key.data.hex()]}
                              for i, k in enumerate(self.node_keys)],
            "accounts": [{"key": k.public_key.data.hex(), "balance": BALANCE}
                         for k in client_keys],
            "validators": validators, "params": dict(params or {}),
        })
        self.clients = [Client(self.genesis, k) for k in client_keys]
        self.nodes = [address_of(k.public_key, chain_suite.hash_bytes) for k in self.node_keys]
        self._keys = dict(zip(self.nodes, zip(self.node_keys, vote_keys, strict=True),
                              strict=True))
        self._open: dict[bytes, SimValidator] = {}
        self.sim = Simulation(seed, NetworkModel(link or LinkModel(latency_ms=10, jitter_ms=5)))
        self.log = LedgerLog()
        self.sim.observe(self.log.record)
        for node in self.nodes:
            self.sim.add_node(node, self._factory)

    def _factory(self, node: NodeId, stored: Mapping[bytes, bytes]) -> SimValidator:
        """Start (or restart, after a crash) `node` from its durable state."""
        previous = self._open.pop(node, None)
        if previous is not None:
            previous.close()  # the crashed incarnation's handle on the same disk
        key, vote = self._keys[node]
        index = self.nodes.index(node)
        rotated = self.rotated_keys[index][1] if self.rotated_keys else None
        validator = SimValidator(self.dir / node.hex(), self.genesis, key, vote, stored,
                                 self.config, self.retention, rotated)
        self._open[node] = validator
        return validator

    def validator(self, node: bytes) -> SimValidator | None:
        core = self.sim.core(node)
        return core if isinstance(core, SimValidator) else None

    def load(self, start_ms: int, end_ms: int, every_ms: int = 50, ahead: int = 8) -> None:
        """Each client, every `every_ms`, asks a validator that is up (chosen by the seed)
        for its account's nonce and submits its next `ahead` transfers there (a client
        resubmits what a crashed validator lost; duplicates are refused at admission)."""
        for t in range(start_ms, end_ms, every_ms):
            self.sim.at(t, self._tick(ahead))

    def _tick(self, ahead: int) -> Any:
        def tick(sim: Simulation) -> None:
            up = [n for n in self.nodes if sim.is_up(n)]
            if not up:
                return
            for i, client in enumerate(self.clients):
                node = sim.rng.choice(up)
                validator = self.validator(node)
                assert validator is not None
                nonce = validator.ledger.chain.account(client.address).nonce
                to = self.clients[(i + 1) % len(self.clients)].address
                raws = tuple(client.transfer(nonce + k, to) for k in range(ahead))
                sim.input(node, ClientTxs(raws), sim.now_ms)
        return tick

    def new_epochs(self, times: Sequence[int]) -> None:
        """At each of `times`, every validator that is up is given the next epoch's
        committee, with the same members (an epoch change without a change of members:
        a run with many epochs and their proofs, for light-node tests and benchmarks)."""
        for t in times:
            self.sim.at(t, self._next_epoch)

    def _next_epoch(self, sim: Simulation) -> None:
        running = [v for n in self.nodes if (v := self.validator(n)) is not None]
        if not running:
            return
        current = max(running, key=lambda v: v.consensus.epoch).consensus.committee
        committee = replace(current, epoch=current.epoch + 1)
        for node in self.nodes:
            if sim.is_up(node):
                sim.input(node, Reconfigure(committee), sim.now_ms)

    def state_roots(self) -> dict[bytes, bytes]:
        """Each running validator's head state root."""
        out = {}
        for node in self.nodes:
            validator = self.validator(node)
            if validator is not None:
                head = validator.ledger.chain.head
                assert head is not None
                out[node] = head.header.state_root
        return out

    def close(self) -> None:
        for validator in self._open.values():
            validator.close()
        self._open.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
