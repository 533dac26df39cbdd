"""Peer scores for the relay (gossipsub v1.1's scoring, adapted to lazy pull).

Why: a mesh is only as good as the peers in it. A peer that drops, delays, tampers with or
replays messages is measured by what it does to us, and once its score is negative it is
pruned from the mesh and not grafted again; below `graylist_threshold` everything it
sends is ignored. The score is the sum of the gossipsub v1.1 terms that apply here:

- P1 time in mesh: `time_in_mesh_weight` per second, capped (a long-standing member);
- P2 first deliveries: bodies (transactions, blocks) this peer was the one to bring us;
- P3 mesh delivery deficit: a mesh peer that announces too few ids within
  `mesh_delivery_window_ms` of our first hearing of them (a dropper, a delayer) pays
  `weight * deficit^2`, once it has been in the mesh `activation_ms`. The threshold is the
  smaller of `mesh_delivery_threshold` and `mesh_delivery_fraction` of the ids this node
  itself saw, so a quiet network blames nobody; unlike gossipsub the deficit is a fraction
  of the threshold (0..1), so the penalty does not depend on the traffic rate. P3b keeps
  the deficit a pruned peer left;
- P4 invalid messages: bodies that do not hash to what was asked, blocks whose
  transactions do not match their digest, bodies nobody asked this peer for (`weight *
  count^2`);
- P7 behaviour penalty: broken promises (an IHave, a BlockHave or a request answered
  late or never: one per id, at most `max_broken_per_round` per peer and heartbeat),
  requests over the peer's budget (`weight * (count - threshold)^2`).

Counters decay every heartbeat (delivery counters by `decay` per second, penalties by the
slower `penalty_decay`, so a graylisted peer stays there a while) and fall to zero below
`decay_to_zero`. Misbehaviour is logged with its evidence (`Misbehaviour`: time, peer,
kind, message id) in a bounded log, whether scoring is on or off. There is no P5/P6
(application scores, IP colocation): colocation is the address manager's job here
(`network/addrman.py`).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from xinlian.protocol import NodeId


@dataclass(frozen=True, slots=True)
class ScoreParams:
    time_in_mesh_weight: float = 0.02
    time_in_mesh_cap_s: float = 300.0
    first_delivery_weight: float = 1.0
    first_delivery_cap: float = 20.0
    mesh_delivery_weight: float = -20.0
    mesh_delivery_threshold: float = 10.0
    mesh_delivery_fraction: float = 0.1
    mesh_delivery_cap: float = 100.0
    mesh_delivery_window_ms: int = 1_000
    mesh_delivery_activation_ms: int = 5_000
    mesh_failure_weight: float = -100.0
    invalid_weight: float = -100.0     # one provable offence graylists
    behaviour_weight: float = -25.0
    behaviour_threshold: float = 4.0   # a few late answers are tolerated (congestion)
    max_broken_per_round: int = 4
    decay: float = 0.9             # per second: delivery counters and P3's traffic
    penalty_decay: float = 0.99    # per second: P3b, P4, P7 (a misdeed is remembered)
    decay_to_zero: float = 0.01
    gossip_threshold: float = -10.0     # below: its announcements are ignored
    graylist_threshold: float = -80.0   # below: everything it sends is ignored

    def __post_init__(self) -> None:
        if not (0 < self.decay < 1 and 0 < self.penalty_decay < 1):
            raise ValueError("the score decay must be in (0, 1)")
        if not self.graylist_threshold < self.gossip_threshold < 0:
            raise ValueError("thresholds must satisfy graylist < gossip < 0")
        if max(self.mesh_delivery_weight, self.mesh_failure_weight, self.invalid_weight,
               self.behaviour_weight) > 0:
            raise ValueError("penalty weights must not be positive")


@dataclass(slots=True)
class PeerScore:
    """One peer's counters; `value` is the score as of the last `refresh`."""

    mesh_since: int | None = None
    first_deliveries: float = 0.0
    mesh_deliveries: float = 0.0
    mesh_failure: float = 0.0
    invalid: float = 0.0
    behaviour: float = 0.0
    value: float = 0.0
    lowest: float = 0.0  # the lowest score it ever had (for tracing: was it ever graylisted?)

    def joined_mesh(self, now: int) -> None:
        self.mesh_since = now
        self.mesh_deliveries = 0.0

    def left_mesh(self, now: int, params: ScoreParams, threshold: float) -> float:
        """P3b: the deficit a peer had when it left the mesh stays with it (decaying)."""
        deficit = self._deficit(now, params, threshold)
        self.mesh_failure += deficit * deficit
        self.mesh_since = None
        return deficit

    def _deficit(self, now: int, params: ScoreParams, threshold: float) -> float:
        """The shortfall as a fraction of the threshold (0..1)."""
        if (self.mesh_since is None or threshold <= 0
                or now - self.mesh_since < params.mesh_delivery_activation_ms):
            return 0.0
        return max(0.0, threshold - self.mesh_deliveries) / threshold

    def refresh(self, now: int, params: ScoreParams, threshold: float) -> float:
        """Recompute the score (the sum of the terms in the module docstring)."""
        score = 0.0
        if self.mesh_since is not None:
            in_mesh = min((now - self.mesh_since) / 1000, params.time_in_mesh_cap_s)
            score += params.time_in_mesh_weight * in_mesh
            deficit = self._deficit(now, params, threshold)
            score += params.mesh_delivery_weight * deficit * deficit
        score += params.first_delivery_weight * self.first_deliveries
        score += params.mesh_failure_weight * self.mesh_failure
        score += params.invalid_weight * self.invalid * self.invalid
        excess = self.behaviour - params.behaviour_threshold
        if excess > 0:
            score += params.behaviour_weight * excess * excess
        self.value = score
        self.lowest = min(self.lowest, score)
        return score

    def decay(self, factor: float, penalty_factor: float, params: ScoreParams) -> None:
        floor = params.decay_to_zero

        def down(x: float, by: float) -> float:
            x *= by
            return 0.0 if x < floor else x

        self.first_deliveries = down(self.first_deliveries, factor)
        self.mesh_deliveries = down(self.mesh_deliveries, factor)
        self.mesh_failure = down(self.mesh_failure, penalty_factor)
        self.invalid = down(self.invalid, penalty_factor)
        self.behaviour = down(self.behaviour, penalty_factor)

    def add_first_delivery(self, params: ScoreParams) -> None:
        self.first_deliveries = min(params.first_delivery_cap, self.first_deliveries + 1)

    def add_mesh_delivery(self, params: ScoreParams) -> None:
        self.mesh_deliveries = min(params.mesh_delivery_cap, self.mesh_deliveries + 1)


@dataclass(frozen=True, slots=True)
class Misbehaviour:
    """Evidence for after-the-fact tracing: who did what, to which message, when."""

    at_ms: int
    peer: NodeId
    kind: str          # one of KINDS
    message_id: bytes  # the transaction or block id concerned (empty when there is none)


# kind -> the counter it raises (P4 invalid, P7 behaviour)
KINDS = {
    "malformed": "invalid",          # a message that does not decode
    "unsolicited_tx": "invalid",     # a body nobody asked this peer for (tampered, replayed)
    "unsolicited_block": "invalid",  # a compact block or block body nobody asked it for
    "invalid_block": "invalid",      # header/digest not the block id; bodies not the digest
    "broken_promise": "behaviour",   # announced or asked, not delivered in time
    "over_budget": "behaviour",      # sent more than its per-peer budget
    "mesh_deficit": "mesh",          # pruned for announcing too little too late (P3b)
}


class Scoreboard:
    """Every connected peer's score, the evidence log, and what the scores allow.

    With `params=None` scoring is off: evidence is still logged, but every peer scores 0,
    nobody is pruned or ignored for its behaviour (the undefended relay)."""

    def __init__(self, params: ScoreParams | None, heartbeat_ms: int, evidence_cap: int,
                 retain_cap: int) -> None:
        self.params = params
        self.evidence: deque[Misbehaviour] = deque(maxlen=evidence_cap)
        self.peers: dict[NodeId, PeerScore] = {}
        # Negative scores outlive a disconnection, so reconnecting does not wash them.
        self._retained: OrderedDict[NodeId, PeerScore] = OrderedDict()
        self._retain_cap = retain_cap
        seconds = heartbeat_ms / 1000
        self._decay = 1.0 if params is None else params.decay ** seconds
        self._penalty_decay = 1.0 if params is None else params.penalty_decay ** seconds
        self.traffic = 0.0  # ids this node saw first, decayed like the delivery counters

    def connect(self, peer: NodeId) -> None:
        retained = self._retained.pop(peer, None)
        self.peers[peer] = retained if retained is not None else PeerScore()

    def disconnect(self, peer: NodeId, now: int) -> None:
        score = self.peers.pop(peer, None)
        if score is None or self.params is None:
            return
        score.left_mesh(now, self.params, self.threshold())
        if score.refresh(now, self.params, self.threshold()) < 0:
            self._retained[peer] = score
            if len(self._retained) > self._retain_cap:
                self._retained.popitem(last=False)

    def threshold(self) -> float:
        """P3's threshold: no more than a fraction of what this node itself saw."""
        p = self.params
        if p is None:
            return 0.0
        return min(p.mesh_delivery_threshold, p.mesh_delivery_fraction * self.traffic)

    def value(self, peer: NodeId) -> float:
        score = self.peers.get(peer)
        return 0.0 if score is None else score.value

    def was_graylisted(self, peer: NodeId) -> bool:
        score = self.peers.get(peer)
        return (self.params is not None and score is not None
                and score.lowest < self.params.graylist_threshold)

    def is_graylisted(self, peer: NodeId) -> bool:
        return self.params is not None and self.value(peer) < self.params.graylist_threshold

    def is_heard(self, peer: NodeId) -> bool:
        """Whether its announcements are taken up (at or above the gossip threshold)."""
        return self.params is None or self.value(peer) >= self.params.gossip_threshold

    def is_welcome(self, peer: NodeId) -> bool:
        """Whether it may be (or stay) in the mesh: a non-negative score."""
        return self.params is None or self.value(peer) >= 0

    def blame(self, now: int, peer: NodeId, kind: str, message_id: bytes) -> Misbehaviour:
        evidence = Misbehaviour(now, peer, kind, message_id)
        self.evidence.append(evidence)
        score = self.peers.get(peer)
        if score is not None and self.params is not None:
            counter = KINDS[kind]
            if counter == "invalid":
                score.invalid += 1
            elif counter == "behaviour":
                score.behaviour += 1
            score.refresh(now, self.params, self.threshold())
        return evidence

    def credit_first(self, peer: NodeId) -> None:
        score = self.peers.get(peer)
        if score is not None and self.params is not None:
            score.add_first_delivery(self.params)

    def credit_mesh(self, peer: NodeId) -> None:
        score = self.peers.get(peer)
        if score is not None and self.params is not None:
            score.add_mesh_delivery(self.params)

    def saw_first(self) -> None:
        self.traffic += 1

    def joined_mesh(self, peer: NodeId, now: int) -> None:
        score = self.peers.get(peer)
        if score is not None:
            score.joined_mesh(now)

    def left_mesh(self, peer: NodeId, now: int) -> float:
        """Record the peer's leaving the mesh; its delivery deficit then (P3b)."""
        score = self.peers.get(peer)
        if score is not None and self.params is not None and score.mesh_since is not None:
            return score.left_mesh(now, self.params, self.threshold())
        return 0.0

    def heartbeat(self, now: int) -> None:
        """Decay every counter and recompute every score."""
        p = self.params
        if p is None:
            return
        self.traffic *= self._decay
        threshold = self.threshold()
        for score in self.peers.values():
            score.decay(self._decay, self._penalty_decay, p)
            score.refresh(now, p, threshold)
