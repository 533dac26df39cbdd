"""Threshold-SM2 members in the seeded simulator, one operation at a time (tests, benchmarks).

`Committee` puts one `Tsm2Party` core per member into a `xinlian.sim` simulation and hands
them operations (key generation, presigning, refresh, signing) as `Input` events, running
the simulation until every member is done, so a test can look at the members' state
between operations. Misbehaving members come in two forms: `Tampered`, a member whose round
messages pass through `tamper(stage, sender, message)` before its core posts them (the same
wrong message to everyone, signed with its own key), and a `byzantine` wrapper around a
member's core (`testing/mpc/byzantine.py`, e.g. `silent_in` a stage). Every member's keys
and randomness are seeded from `seed`: simulation only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Rng
from xinlian.crypto.threshold import tsm2
from xinlian.crypto.threshold.envelope import peek
from xinlian.crypto.threshold.tsm2.core import COMBINER, Operation, Sign, Signing, Tsm2Party
from xinlian.crypto.threshold.tsm2.messages import Round
from xinlian.protocol import Action, Core, NodeId, Send
from xinlian.sim.network import LinkModel, NetworkModel
from xinlian.sim.runtime import Factory, Simulation
from xinlian.testing.mpc import byzantine
from xinlian.testing.mpc.keys import Keys, OwnKeys, new_signing_key
from xinlian.testing.mpc.setup import seeded_rng
from xinlian.testing.mpc.simrun import node_id

Tamper = Callable[[str, int, object], object]
SIGNING = "broadcast-signing"
DEADLINE_MS = 3_600_000  # simulated; an operation that needs longer is a bug


class Tampered(tsm2.Party):
    """A member whose messages pass through `tamper(stage, sender, message)`: stages are
    "keygen", "keygen-mul", "presign", "presign-mul" and "refresh", each with "/dealing",
    "/private" and "/reveal", and "keygen/open". It may replace a message, or drop (return
    None) a private share or a reveal; a dealing or an opening it must replace."""

    def __init__(self, index: int, members: Sequence[int], threshold: int, rng: Rng,
                 tamper: Tamper) -> None:
        super().__init__(index, members, threshold, rng)
        self.tamper = tamper
        self.stage = ""

    def _dealt(self, stage: str, produced: Round) -> Round:
        self.stage = stage
        dealing, privates = produced
        changed = self.tamper(stage + "/dealing", self.index, dealing)
        assert isinstance(changed, tsm2.Dealing)
        kept = [m for p in privates
                if isinstance(m := self.tamper(stage + "/private", self.index, p),
                              tsm2.PrivateShares)]
        return changed, kept

    def keygen_deal(self, session: bytes) -> Round:
        return self._dealt("keygen", super().keygen_deal(session))

    def keygen_multiply(self, complaints: Sequence[tsm2.Complaint],
                        reveals: Sequence[tsm2.Reveal]) -> Round:
        return self._dealt("keygen-mul", super().keygen_multiply(complaints, reveals))

    def presign_deal(self, session: bytes, count: int, members: Sequence[int]) -> Round:
        return self._dealt("presign", super().presign_deal(session, count, members))

    def presign_multiply(self, complaints: Sequence[tsm2.Complaint],
                         reveals: Sequence[tsm2.Reveal]) -> Round:
        return self._dealt("presign-mul", super().presign_multiply(complaints, reveals))

    def refresh_deal(self, session: bytes) -> Round:
        return self._dealt("refresh", super().refresh_deal(session))

    def answer(self, complaints: Iterable[tsm2.Complaint]) -> list[tsm2.Reveal]:
        return [r for x in super().answer(complaints)
                if isinstance(r := self.tamper(self.stage + "/reveal", self.index, x),
                              tsm2.Reveal)]

    def keygen_open(self, complaints: Sequence[tsm2.Complaint],
                    reveals: Sequence[tsm2.Reveal]) -> tsm2.OpenShare:
        changed = self.tamper("keygen/open", self.index, super().keygen_open(complaints, reveals))
        assert isinstance(changed, tsm2.OpenShare)
        return changed


class Committee:
    """`members` (indices from 1) with threshold `threshold`, each a `Tsm2Party` core;
    `wrappers` maps members to a `byzantine.Byzantine` tamper around their cores."""

    def __init__(self, members: Sequence[int], threshold: int, seed: int,
                 tamper: Tamper | None = None, tampered: Sequence[int] = (),
                 wrappers: Mapping[int, byzantine.Tamper] | None = None,
                 round_ms: int = 1000, latency_ms: float = 1.0) -> None:
        self.members = list(members)
        self.session = b"tsm2/%d" % seed
        self.roster = {i: node_id(i) for i in (COMBINER, *self.members)}
        self.sim = Simulation(seed, NetworkModel(default=LinkModel(latency_ms)))
        self.partials: list[Signing] = []
        self.faulty = {*(tampered if tamper is not None else ()), *(wrappers or {})}
        own = {i: OwnKeys() for i in self.members}
        for i in self.members:
            new_signing_key(own[i], SIGNING, seeded_rng(seed, "tsm2", "keys", i))
        public = {i: k.public for i, k in own.items()}
        self.cores: dict[int, Tsm2Party] = {}
        for i in self.members:
            keys = Keys(own[i].secret, public, seeded_rng(seed, "tsm2", "party", i))
            core = Tsm2Party(i, self.roster, self.members, threshold, self.session, [],
                             keys.rng, round_ms, keys.verifying_keys(SIGNING, self.members),
                             keys.signing_key(SIGNING))
            if tamper is not None and i in tampered:
                core.party = Tampered(i, self.members, threshold, keys.rng, tamper)
            self.cores[i] = core
            wrapper = (wrappers or {}).get(i)
            self.sim.add_node(self.roster[i], _built(
                core if wrapper is None else byzantine.Byzantine(core, wrapper)))
            self.sim.intercept(self.roster[i], self._to_combiner)
        self.sim.run_until(0)

    @property
    def parties(self) -> list[tsm2.Party]:
        """Every member's round state (for tests that look inside)."""
        return [self.cores[i].party for i in self.members]

    def run(self, op: Operation, members: Sequence[int] | None = None) -> None:
        """Give `op` to `members` (default all) and run until each of them has finished it;
        the first error of a member that is not misbehaving, if any, is raised."""
        targets = [self.cores[i] for i in (self.members if members is None else members)]
        now = self.sim.now_ms
        for core in targets:
            self.sim.input(self.roster[core.me], op, now)
        self.sim.run_until(now)  # every target has taken the operation
        self.sim.run_until(now + DEADLINE_MS, stop=lambda: all(
            c.error is not None or not (c.busy or c.queue) for c in targets))
        for core in targets:
            if core.error is not None and core.me not in self.faulty:
                raise core.error

    def keysets(self) -> dict[int, tsm2.KeySet]:
        out = {i: c.keyset for i, c in self.cores.items()}
        return {i: k for i, k in out.items() if k is not None}

    def presignatures(self, member: int) -> list[tsm2.PresignaturePublic]:
        return list(self.cores[member].presignatures)

    def sign(self, signers: Sequence[int], presig: tsm2.PresignaturePublic,
             message: bytes) -> tsm2.Signed:
        """`signers` sign `message` with `presig` (a `Sign` operation each); their partials,
        as sent to the combiner, are combined with the key set the first of them holds."""
        self.partials.clear()
        self.run(Sign(message, presig.id), signers)
        partials = [m.partial for m in self.partials]
        keyset = self.cores[signers[0]].keyset
        assert keyset is not None
        return tsm2.combine(keyset, presig, message, partials)

    def _to_combiner(self, _sim: Simulation, _node: NodeId, action: Action) -> Sequence[Action]:
        """Keep what a member sends the combiner (no combiner runs here)."""
        if isinstance(action, Send) and action.to == self.roster[COMBINER]:
            env = peek(action.message)
            try:
                if env is not None:
                    self.partials.append(codec.decode(env.payload, Signing))
            except CodecError:
                pass
        return (action,)


def _built(core: Core) -> Factory:
    return lambda _node, _store: core
