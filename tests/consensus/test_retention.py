"""Dropping ended epochs (`Retain`, `Config.drop_epochs`): what a core deletes from its store,
what it keeps (each epoch's proof, the recent epochs), and that a drop cut short by a crash
resumes and ends in the same store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from xinlian import codec
from xinlian.consensus import core as core_module
from xinlian.consensus.blocks import PREFIX as BLOCK_PREFIX
from xinlian.consensus.committee import Committee
from xinlian.consensus.core import (
    DROPPED_KEY,
    Behind,
    Config,
    ConsensusCore,
    Reconfigure,
    Retain,
    rejoin,
)
from xinlian.consensus.dissemination import DONE
from xinlian.consensus.dissemination import PREFIX as BATCH_PREFIX
from xinlian.consensus.errors import InvalidMessage
from xinlian.consensus.messages import BatchMsg, Block, Certified, EpochRequest, Pruned
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.consensus.proofs import EpochProof
from xinlian.consensus.retention import HELD
from xinlian.protocol import Action, Deliver, Input, Persist, Receive, Send
from xinlian.sim.runtime import Simulation
from xinlian.testing.consensus.committees import local_committee
from xinlian.testing.consensus.simnet import ConsensusNet

FAST = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=100,
              drop_epochs=True)
EPOCHS = 5


@pytest.fixture(scope="module")
def ran() -> ConsensusNet:
    """Four members under load through EPOCHS epoch changes of the same committee."""
    network = ConsensusNet(4, 41, config=FAST)
    network.load(1000, 100, 0, 100_000)
    for epoch in range(1, EPOCHS + 1):
        same, _ = local_committee(4, epoch=epoch)

        def reconfigure(sim: Simulation, same: Committee = same) -> None:
            for node in network.committee.nodes:
                sim.input(node, Reconfigure(same), at_ms=sim.now_ms)
        network.sim.at(600 * epoch, reconfigure)
    network.run(600 * EPOCHS + 1500)
    assert not network.log.violations
    assert all(network.core(n).epoch == EPOCHS for n in network.committee.nodes)
    return network


def _epoch_of(key: bytes, value: bytes) -> int | None:
    if key.startswith(BLOCK_PREFIX):
        return int(codec.decode(value, Block).epoch)
    if key.startswith(BATCH_PREFIX):
        return int(codec.decode(value, BatchMsg).batch.epoch)
    return None


def _rebuild(network: ConsensusNet, node: bytes, store: Mapping[bytes, bytes],
             config: Config = FAST) -> ConsensusCore:
    return ConsensusCore(node, network.keys[node], network.genesis, store, config)


def _apply(actions: Sequence[Action], store: dict[bytes, bytes]) -> None:
    for action in actions:
        if isinstance(action, Persist):
            if action.value is None:
                store.pop(action.key, None)
            else:
                store[action.key] = action.value


def _retain(core: ConsensusCore, epoch: int, store: dict[bytes, bytes]) -> int:
    """Input Retain(epoch) until the core has nothing more to delete (a pruned validator's
    ledger inputs it after each block while there is); returns how many inputs it took."""
    inputs = 0
    while actions := core.handle(Input(0, Retain(epoch))):
        _apply(actions, store)
        inputs += 1
    return inputs


def test_retain_drops_the_old_epochs_data_and_keeps_proofs_and_recent_epochs(
        ran: ConsensusNet) -> None:
    node = ran.committee.nodes[0]
    store = dict(ran.sim.store(node))
    before = {k: e for k, v in store.items() if (e := _epoch_of(k, v)) is not None}
    assert set(before.values()) >= set(range(EPOCHS + 1))  # blocks and batches of each
    ordered = sum(k.startswith(DONE) for k in store)
    core = _rebuild(ran, node, store)
    proofs = [core.epoch_proof(e) for e in range(EPOCHS)]
    # an epoch's blocks and marks go first, its batches in the next input (with the
    # next epoch's blocks and marks): one input per epoch, and one for the last batches
    assert _retain(core, EPOCHS, store) == EPOCHS
    # the epochs below the previous one (whose last block is the current epoch's root) go
    kept = EPOCHS - 1
    after = {k: e for k, v in store.items() if (e := _epoch_of(k, v)) is not None}
    assert after == {k: e for k, e in before.items() if e >= kept}
    assert codec.decode(store[DROPPED_KEY], int) == kept and core.dropped == kept
    assert 0 < sum(k.startswith(DONE) for k in store) < ordered  # the dropped epochs' marks
    assert not any(k.startswith(HELD + e.to_bytes(8, "big")) for k in store for e in range(kept))
    # each ended epoch's proof survives its blocks, read back by a restarted core
    again = _rebuild(ran, node, store)
    assert [again.epoch_proof(e) for e in range(EPOCHS)] == proofs
    assert all(isinstance(p, EpochProof) for p in proofs)
    assert again.dropped == kept
    assert again.handle(Input(0, Retain(EPOCHS))) == []  # nothing more to drop


def test_retain_drops_only_below_the_epoch_the_application_needs(ran: ConsensusNet) -> None:
    node = ran.committee.nodes[1]
    store = dict(ran.sim.store(node))
    core = _rebuild(ran, node, store)
    _retain(core, 2, store)
    epochs = {e for k, v in store.items() if (e := _epoch_of(k, v)) is not None}
    assert epochs == set(range(2, EPOCHS + 1)) and core.dropped == 2


def test_without_drop_epochs_retain_deletes_nothing(ran: ConsensusNet) -> None:
    node = ran.committee.nodes[2]
    store = dict(ran.sim.store(node))
    core = _rebuild(ran, node, store, replace(FAST, drop_epochs=False))
    assert core.handle(Input(0, Retain(EPOCHS))) == []


def test_a_drop_cut_short_by_crashes_resumes_and_ends_in_the_same_store(
        ran: ConsensusNet, monkeypatch: pytest.MonkeyPatch) -> None:
    """At most DROP_KEYS values per input: after each input the node crashes (a new core
    from the store, as a restart does); the next Retain goes on from what is left."""
    node = ran.committee.nodes[3]
    whole = dict(ran.sim.store(node))
    _retain(_rebuild(ran, node, whole), EPOCHS, whole)
    monkeypatch.setattr(core_module, "DROP_KEYS", 7)
    store = dict(ran.sim.store(node))
    inputs = 0
    while True:
        actions = _rebuild(ran, node, store).handle(Input(0, Retain(EPOCHS)))
        if not actions:
            break
        deletes = [a for a in actions if isinstance(a, Persist) and a.value is None]
        assert len(deletes) <= 2 * 7  # each value with its manifest entry
        _apply(actions, store)
        inputs += 1
        # an ordered mark never outlives its batch (a restarted core would fetch it again)
        assert all(BATCH_PREFIX + k[len(DONE):] in store for k in store if k.startswith(DONE))
    assert inputs > EPOCHS and store == whole


def _answer(core: ConsensusCore, asker: bytes, epoch: int) -> object:
    """What `core` sends back to a member asking how `epoch` ended."""
    actions = core.handle(Receive(0, asker, codec.encode(EpochRequest(epoch))))
    assert len(actions) == 1 and isinstance(actions[0], Send) and actions[0].to == asker
    return codec.decode(actions[0].message, Certified | Pruned)


def test_a_member_behind_what_its_peers_dropped_is_told_to_catch_up_by_state_sync(
        ran: ConsensusNet) -> None:
    """A member still in epoch 0 (a store from genesis: it slept through every epoch) asks
    its peers how epoch 0 ended; peers that dropped it answer Pruned with the oldest epoch
    they hold, and once members of more than a third of the power did, the core delivers
    Behind(0), once. A peer that did not drop answers with the epoch's proof, as before."""
    nodes = ran.committee.nodes
    stale = _rebuild(ran, nodes[3], {})
    assert stale.epoch == 0
    whole = _rebuild(ran, nodes[2], dict(ran.sim.store(nodes[2])))
    assert isinstance(_answer(whole, nodes[3], 0), Certified)
    peers = []
    for node in nodes[:2]:
        store = dict(ran.sim.store(node))
        peer = _rebuild(ran, node, store)
        _retain(peer, EPOCHS, store)
        peers.append(peer)
        assert _answer(peer, nodes[3], EPOCHS - 2) == Pruned(EPOCHS - 1)
        assert isinstance(_answer(peer, nodes[3], EPOCHS - 1), Certified)  # still held
    answers = [codec.encode(_answer(p, nodes[3], 0)) for p in peers]
    # a non-member's claim and a claim about an epoch the node is past count for nothing
    assert stale.handle(Receive(0, b"\x01" * 20, answers[0])) == []
    assert stale.handle(Receive(0, nodes[1], codec.encode(Pruned(0)))) == []
    assert stale.handle(Receive(0, nodes[0], answers[0])) == []  # one member: below f+1
    assert stale.handle(Receive(0, nodes[0], answers[0])) == []  # the same member again
    assert stale.handle(Receive(0, nodes[1], answers[1])) == [Deliver(Behind(0))]
    assert stale.handle(Receive(0, nodes[1], answers[1])) == []  # told once


def test_rejoin_resets_a_stale_member_to_a_later_root_and_refuses_an_older_one(
        ran: ConsensusNet) -> None:
    """A member stopped in an older epoch, given a later root (state sync's): a core from
    its store after the rejoin's Persists starts at that root, committed there, with the
    safety state of that epoch and no ordered marks of its old epochs."""
    nodes = ran.committee.nodes
    late = _rebuild(ran, nodes[0], dict(ran.sim.store(nodes[0])))
    proofs = [late.epoch_proof(e) for e in range(EPOCHS)]
    assert all(p is not None for p in proofs)
    pairs = [(p.qc, p.blocks) for p in proofs if p is not None]
    stale = dict(ran.sim.store(nodes[0]))
    stale[core_module.EPOCH_KEY] = codec.encode(ran.genesis)  # as if stopped in epoch 0
    assert any(k.startswith(DONE) for k in stale)
    _apply(rejoin(stale, late.root, pairs), stale)
    again = _rebuild(ran, nodes[0], stale)
    assert again.root == late.root and again.epoch == EPOCHS
    assert (again.committed_height, again.committed_id) == (late.root.height,
                                                            bytes(late.root.block_id))
    assert again.safety.state.epoch == EPOCHS and again.safety.state.highest_voted_round == 0
    assert not any(k.startswith(DONE) for k in stale)
    assert [again.epoch_proof(e) for e in range(EPOCHS)] == proofs
    with pytest.raises(InvalidMessage):
        rejoin(stale, late.root, pairs)  # not a later epoch than its own
