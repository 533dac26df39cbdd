"""Verifiable sharing rounds: joint random sharings and GRR multiplication with proofs.

A `Phase` is one party's view of one round in which every member deals Feldman-committed
Shamir sharings of several independent secrets ("lanes") at once, checks what it received,
complains, and settles complaints from the dealers' public answers. Faults visible in a
broadcast (missing or malformed dealing, failed product proof, wrong answer to a complaint)
disqualify the dealer at every honest party alike, so all honest parties agree on the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from xinlian.crypto.primitives.dleq import DleqProof
from xinlian.crypto.primitives.groups import (
    Element,
    GroupError,
    Rng,
    Scalar,
    evaluate,
    lagrange_coefficient,
    random_polynomial,
    transcript,
)
from xinlian.crypto.threshold.dkg import evaluate_commitment
from xinlian.crypto.threshold.tsm2.messages import (
    AbortError,
    Complaint,
    Dealing,
    G,
    OpenShare,
    PrivateShares,
    Reveal,
    Round,
)

MULTIPLY_DST = b"xinlian/tsm2/multiply/v1"


@dataclass
class Phase:
    """One party's view of one round of dealings, complaints and reveals."""

    session: bytes
    threshold: int
    me: int
    members: list[int]
    lanes: int
    own: dict[int, list[Scalar]] = field(default_factory=dict)
    received: dict[int, list[Scalar]] = field(default_factory=dict)
    commitments: dict[int, list[list[Element]]] = field(default_factory=dict)
    disqualified: set[int] = field(default_factory=set)
    accused: set[int] = field(default_factory=set)
    zero: bool = False  # sharings of zero (refresh): C_0 is the identity and is not sent

    def deal(
        self, constants: Sequence[Scalar | None], rng: Rng, proofs: Sequence[DleqProof] = ()
    ) -> Round:
        if self.zero:
            constants = [G.scalar(0)] * len(constants)
        polys = [random_polynomial(G, self.threshold - 1, c, rng) for c in constants]
        first = 1 if self.zero else 0
        commitments = [[G.base_mul(a) for a in poly[first:]] for poly in polys]
        self.own = {j: [evaluate(poly, j) for poly in polys] for j in self.members}
        dealing = Dealing(
            self.session,
            self.me,
            [[c.encode() for c in lane] for lane in commitments],
            list(proofs),
        )
        private = [
            PrivateShares(self.session, self.me, j, [s.encode() for s in self.own[j]])
            for j in self.members
        ]
        return dealing, private

    def _decode_dealing(self, d: Dealing) -> list[list[Element]] | None:
        sent = self.threshold - 1 if self.zero else self.threshold
        if len(d.commitments) != self.lanes or any(len(lane) != sent for lane in d.commitments):
            return None
        prefix = [G.identity()] if self.zero else []
        try:
            return [prefix + [G.decode_element(c) for c in lane] for lane in d.commitments]
        except GroupError:
            return None

    def _check_shares(
        self, dealer: int, index: int, shares: Sequence[bytes]
    ) -> list[Scalar] | None:
        """The decoded shares if they match the dealer's commitments at `index`."""
        if len(shares) != self.lanes:
            return None
        try:
            values = [G.decode_scalar(s) for s in shares]
        except GroupError:
            return None
        for value, lane in zip(values, self.commitments[dealer], strict=True):
            if G.base_mul(value) != evaluate_commitment(lane, index):
                return None
        return values

    def accept(
        self,
        dealings: Mapping[int, Dealing],
        privates: Mapping[int, PrivateShares],
        check: Callable[[int, Dealing, list[list[Element]]], bool] | None = None,
    ) -> list[Complaint]:
        """Check every dealer's broadcast and my private shares; complain where they fail.

        A missing or malformed broadcast, or a failed product proof, is public: every honest
        party disqualifies that dealer alike. Bad private shares lead to a complaint.
        """
        for dealer in self.members:
            d = dealings.get(dealer)
            if d is None or d.session != self.session or d.dealer != dealer:
                self.disqualified.add(dealer)
                continue
            decoded = self._decode_dealing(d)
            if decoded is None or (check is not None and not check(dealer, d, decoded)):
                self.disqualified.add(dealer)
                continue
            self.commitments[dealer] = decoded
            p = privates.get(dealer)
            values = None
            if p is not None and (p.session, p.dealer, p.recipient) == (
                self.session,
                dealer,
                self.me,
            ):
                values = self._check_shares(dealer, self.me, p.shares)
            if values is None:
                self.accused.add(dealer)
            else:
                self.received[dealer] = values
        return [Complaint(self.session, self.me, j) for j in sorted(self.accused)]

    def answer(self, complaints: Iterable[Complaint]) -> list[Reveal]:
        """As a dealer: publish the shares each complainer says it did not get."""
        return [
            Reveal(self.session, self.me, c.accuser, [s.encode() for s in self.own[c.accuser]])
            for c in complaints
            if c.dealer == self.me and c.session == self.session and c.accuser in self.own
        ]

    def resolve(self, complaints: Iterable[Complaint], reveals: Iterable[Reveal]) -> list[int]:
        """Disqualify dealers that leave a complaint unanswered or answer it wrongly."""
        answered = {(r.dealer, r.recipient): r for r in reveals if r.session == self.session}
        for c in complaints:
            if c.session != self.session or c.dealer in self.disqualified:
                continue
            if c.dealer not in self.commitments:
                continue
            r = answered.get((c.dealer, c.accuser))
            values = None if r is None else self._check_shares(c.dealer, c.accuser, r.shares)
            if values is None:
                self.disqualified.add(c.dealer)
            elif c.accuser == self.me:
                self.received[c.dealer] = values
        return [j for j in self.members if j not in self.disqualified]


@dataclass
class Sharing:
    """A degree t-1 sharing: my share per lane and everyone's public share keys per lane."""

    shares: list[Scalar]
    constants: list[Element]
    share_keys: list[dict[int, Element]]


def sum_sharing(phase: Phase, dealers: Sequence[int], weights: Sequence[Scalar]) -> Sharing:
    """sum_j weight_j * (sharing dealt by j), share and commitments alike."""
    lanes = range(phase.lanes)
    shares = [
        G.scalar(
            sum(
                w.value * phase.received[j][lane].value
                for j, w in zip(dealers, weights, strict=True)
            )
        )
        for lane in lanes
    ]
    combined = [
        [
            G.msm(list(weights), [phase.commitments[j][lane][k] for j in dealers])
            for k in range(phase.threshold)
        ]
        for lane in lanes
    ]
    keys = [{m: evaluate_commitment(combined[lane], m) for m in phase.members} for lane in lanes]
    return Sharing(shares, [c[0] for c in combined], keys)


def multiply_context(session: bytes, dealer: int, lane: int) -> bytes:
    return transcript(session, dealer.to_bytes(4, "big"), lane.to_bytes(4, "big"))


def open_sharing(
    sharing: Sharing, opened: Mapping[int, OpenShare], session: bytes, t: int
) -> tuple[Scalar, list[int]]:
    """The opened value from t valid openings, and who sent invalid ones."""
    keys = sharing.share_keys[0]
    good: dict[int, Scalar] = {}
    bad = []
    for index, share in opened.items():
        try:
            value = G.decode_scalar(share.value)
            ok = share.session == session and share.index == index and index in keys
            ok = ok and G.base_mul(value) == keys[index]
        except GroupError:
            ok = False
        if ok:
            good[index] = value
        else:
            bad.append(index)
    if len(good) < t:
        raise AbortError(f"{len(good)} valid openings, need {t}", bad)
    ids = sorted(good)[:t]
    total = sum(lagrange_coefficient(G, ids, i).value * good[i].value for i in ids)
    return G.scalar(total), bad
