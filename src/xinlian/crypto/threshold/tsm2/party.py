"""A threshold-SM2 party (sans-I/O: round methods take messages and return messages)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from tongsuopy.crypto import serialization as _ser
from tongsuopy.crypto.asymciphers import ec as _ec

from xinlian.crypto.hashes import sm3
from xinlian.crypto.primitives import dleq, sm2
from xinlian.crypto.primitives.groups import (
    Element,
    GroupError,
    Rng,
    Scalar,
    lagrange_coefficient,
    transcript,
)
from xinlian.crypto.threshold.tsm2.messages import (
    MAX_BATCH,
    MAX_PARTIES,
    AbortError,
    Complaint,
    Dealing,
    G,
    InvalidMessageError,
    InvalidParametersError,
    KeySet,
    OpenShare,
    PartialSignature,
    PresignatureError,
    PresignaturePublic,
    PrivateShares,
    Reveal,
    Round,
    Signed,
    UnusableNonceError,
)
from xinlian.crypto.threshold.tsm2.sharing import (
    MULTIPLY_DST,
    Phase,
    Sharing,
    multiply_context,
    open_sharing,
    sum_sharing,
)


def _uncompressed(point: Element) -> bytes:
    key = _ec.EllipticCurvePublicKey.from_encoded_point(_ec.SM2(), point.encode())
    return cast(bytes, key.public_bytes(_ser.Encoding.X962, _ser.PublicFormat.UncompressedPoint))


def message_scalar(public_key: bytes, message: bytes, signer_id: bytes = sm2.DEFAULT_ID) -> int:
    """e = SM3(Z_A || M) as an integer (GB/T 32918.2 steps A1-A2)."""
    return int.from_bytes(sm3(sm2.z_a(public_key, signer_id) + message), "big")


@dataclass
class _Presig:
    public: PresignaturePublic
    share: Scalar


class Party:
    """One signer's state. Secrets never leave it except as protocol messages."""

    def __init__(self, index: int, members: Sequence[int], threshold: int, rng: Rng):
        members = sorted(members)
        if not (
            1 <= index <= MAX_PARTIES and index in members and len(set(members)) == len(members)
        ):
            raise InvalidParametersError(f"party {index} is not one of distinct members {members}")
        if threshold < 2 or 2 * threshold - 1 > len(members):
            raise InvalidParametersError("threshold SM2 needs 2 <= t and 2t - 1 <= n")
        self.index = index
        self.members = members
        self.threshold = threshold
        self._rng = rng
        self._phase: Phase | None = None
        self._stage = "idle"
        self._inputs: list[Sharing] = []
        self._w: Sharing | None = None
        self.keyset: KeySet | None = None
        self._presigs: dict[bytes, _Presig] = {}
        self._used_sessions: set[bytes] = set()
        self.culprits: set[int] = set()  # parties this party has seen misbehave, ever
        self._session = b""

    # -- shared round mechanics -------------------------------------------------------------

    def _expect(self, stage: str) -> Phase:
        if self._stage != stage or self._phase is None:
            raise InvalidMessageError(f"party {self.index} is at {self._stage!r}, not {stage!r}")
        return self._phase

    def _open_session(self, session: bytes) -> None:
        if session in self._used_sessions:
            raise InvalidMessageError("session id already used (replay)")
        self._used_sessions.add(session)
        self._session = session

    def _start(
        self, session: bytes, lanes: int, members: Sequence[int], zero: bool = False
    ) -> Phase:
        self._phase = Phase(session, self.threshold, self.index, sorted(members), lanes, zero=zero)
        return self._phase

    def answer(self, complaints: Iterable[Complaint]) -> list[Reveal]:
        """Answer complaints against my dealing in the current phase."""
        if self._phase is None:
            raise InvalidMessageError("no phase in progress")
        return self._phase.answer(complaints)

    def _multiply(self, session: bytes, a: Sharing, b: Sharing) -> Round:
        """Deal a_i*b_i for every lane with proofs that the constant is a_i*B_i."""
        members = [m for m in self.members if m in b.share_keys[0]]
        phase = self._start(session, len(b.shares), members)
        a_share, a_key = a.shares[0], a.share_keys[0][self.index]
        proofs, constants = [], []
        for lane, (b_share, b_keys) in enumerate(zip(b.shares, b.share_keys, strict=True)):
            product = a_share * b_share
            constants.append(product)
            proofs.append(
                dleq.prove(
                    MULTIPLY_DST,
                    a_share,
                    [G.generator(), b_keys[self.index]],
                    [a_key, G.base_mul(product)],
                    context=multiply_context(session, self.index, lane),
                    rng=self._rng,
                )
            )
        self._inputs = [a, b]
        return phase.deal(constants, self._rng, proofs)

    def _check_product(self, dealer: int, d: Dealing, decoded: list[list[Element]]) -> bool:
        a, b = self._inputs
        if len(d.proofs) != len(decoded):
            return False
        for lane, proof in enumerate(d.proofs):
            try:
                ok = dleq.verify(
                    G,
                    MULTIPLY_DST,
                    [G.generator(), b.share_keys[lane][dealer]],
                    [a.share_keys[0][dealer], decoded[lane][0]],
                    proof,
                    context=multiply_context(d.session, dealer, lane),
                )
            except (GroupError, KeyError):
                ok = False
            if not ok:
                return False
        return True

    def _reduce(self, phase: Phase, qualified: list[int]) -> Sharing:
        """Interpolate 2t-1 valid product resharings into a degree t-1 sharing of a*b."""
        need = 2 * self.threshold - 1
        if len(qualified) < need:
            raise AbortError(
                f"{len(qualified)} valid product resharings, need {need}", phase.disqualified
            )
        self.culprits |= phase.disqualified
        chosen = qualified[:need]
        weights = [lagrange_coefficient(G, chosen, j) for j in chosen]
        return sum_sharing(phase, chosen, weights)

    def _joint(self, phase: Phase, qualified: list[int]) -> Sharing:
        if len(qualified) < self.threshold:
            raise AbortError(f"{len(qualified)} qualified dealers", phase.disqualified)
        self.culprits |= phase.disqualified
        return sum_sharing(phase, qualified, [G.scalar(1)] * len(qualified))

    # -- key generation ---------------------------------------------------------------------

    def keygen_deal(self, session: bytes) -> Round:
        """Round 1: deal random w_j and rho_j."""
        if self._stage != "idle":
            raise InvalidMessageError(f"party {self.index} already ran key generation")
        self._open_session(session)
        phase = self._start(session + b"/deal", 2, self.members)
        self._stage = "keygen_deal"
        return phase.deal([None, None], self._rng)

    def keygen_check(
        self, dealings: Mapping[int, Dealing], privates: Mapping[int, PrivateShares]
    ) -> list[Complaint]:
        phase = self._expect("keygen_deal")
        self._stage = "keygen_checked"
        return phase.accept(dealings, privates)

    def keygen_multiply(self, complaints: Sequence[Complaint], reveals: Sequence[Reveal]) -> Round:
        """Round 3: settle complaints, fix w and rho, deal the product w_i*rho_i."""
        phase = self._expect("keygen_checked")
        joint = self._joint(phase, phase.resolve(complaints, reveals))
        w = Sharing([joint.shares[0]], [joint.constants[0]], [joint.share_keys[0]])
        rho = Sharing([joint.shares[1]], [joint.constants[1]], [joint.share_keys[1]])
        self._w, self._rho = w, rho
        self._stage = "keygen_multiply"
        return self._multiply(self._session + b"/mul", w, rho)

    def keygen_check_products(
        self, dealings: Mapping[int, Dealing], privates: Mapping[int, PrivateShares]
    ) -> list[Complaint]:
        phase = self._expect("keygen_multiply")
        self._stage = "keygen_products_checked"
        return phase.accept(dealings, privates, self._check_product)

    def keygen_open(self, complaints: Sequence[Complaint], reveals: Sequence[Reveal]) -> OpenShare:
        """Round 5: reduce to a sharing of mu = w*rho and publish my share of it."""
        phase = self._expect("keygen_products_checked")
        self._mu = self._reduce(phase, phase.resolve(complaints, reveals))
        self._stage = "keygen_open"
        return OpenShare(self._session + b"/open", self.index, self._mu.shares[0].encode())

    def keygen_finish(self, opened: Mapping[int, OpenShare]) -> KeySet:
        """Interpolate mu from valid openings; P = mu^-1 * R - G."""
        self._expect("keygen_open")
        mu, bad = open_sharing(self._mu, opened, self._session + b"/open", self.threshold)
        self.culprits |= set(bad)
        assert self._w is not None
        point = mu.invert() * self._rho.constants[0] - G.generator()
        if point.is_identity():
            raise AbortError("degenerate key (d = 0); run key generation again")
        w_keys = self._w.share_keys[0]
        self.keyset = KeySet(
            threshold=self.threshold,
            members=self.members,
            public_key=_uncompressed(point),
            inverse_key=self._w.constants[0].encode(),
            share_keys=[w_keys[m].encode() for m in self.members],
        )
        del self._rho, self._mu
        self._stage = "ready"
        self._phase = None
        return self.keyset

    # -- proactive refresh -------------------------------------------------------------------

    def refresh_deal(self, session: bytes) -> Round:
        """Deal a random sharing of zero: added to w it changes every share, not the key.

        Shares from before a refresh are useless together with shares from after it, so an
        attacker must corrupt t members within one refresh period. Presignatures made
        before a refresh stay usable (their nonce sharing does not involve w's shares).
        """
        self._ready()
        self._open_session(session)
        self._stage = "refresh_deal"
        return self._start(session + b"/zero", 1, self.members, zero=True).deal([None], self._rng)

    def refresh_check(
        self, dealings: Mapping[int, Dealing], privates: Mapping[int, PrivateShares]
    ) -> list[Complaint]:
        phase = self._expect("refresh_deal")
        self._stage = "refresh_checked"
        return phase.accept(dealings, privates)

    def refresh_finish(self, complaints: Sequence[Complaint], reveals: Sequence[Reveal]) -> KeySet:
        """w_i += sum of the qualified zero-shares; W is unchanged, every W_i changes."""
        phase = self._expect("refresh_checked")
        zero = self._joint(phase, phase.resolve(complaints, reveals))
        assert self._w is not None and self.keyset is not None
        keys = self._w.share_keys[0]
        self._w = Sharing(
            [self._w.shares[0] + zero.shares[0]],
            self._w.constants,
            [{m: keys[m] + zero.share_keys[0][m] for m in keys}],
        )
        self.keyset = KeySet(
            threshold=self.keyset.threshold,
            members=self.keyset.members,
            public_key=self.keyset.public_key,
            inverse_key=self.keyset.inverse_key,
            share_keys=[self._w.share_keys[0][m].encode() for m in self.members],
        )
        self._stage = "ready"
        self._phase = None
        return self.keyset

    # -- presigning -------------------------------------------------------------------------

    def _ready(self) -> Sharing:
        if self._w is None or self.keyset is None or self._stage != "ready":
            raise InvalidMessageError(f"party {self.index} has no key or is busy ({self._stage})")
        return self._w

    def presign_deal(self, session: bytes, count: int, members: Sequence[int]) -> Round:
        """Round 1 of presigning: deal `count` random nonces among `members` (>= 2t-1)."""
        self._ready()
        if not 1 <= count <= MAX_BATCH:
            raise InvalidParametersError(f"presign 1..{MAX_BATCH} nonces at a time")
        if len(set(members)) < 2 * self.threshold - 1 or not set(members) <= set(self.members):
            raise InvalidParametersError("presigning needs 2t-1 distinct members")
        self._open_session(session)
        self._stage = "presign_deal"
        return self._start(session + b"/deal", count, members).deal([None] * count, self._rng)

    def presign_check(
        self, dealings: Mapping[int, Dealing], privates: Mapping[int, PrivateShares]
    ) -> list[Complaint]:
        phase = self._expect("presign_deal")
        self._stage = "presign_checked"
        return phase.accept(dealings, privates)

    def presign_multiply(self, complaints: Sequence[Complaint], reveals: Sequence[Reveal]) -> Round:
        phase = self._expect("presign_checked")
        self._k = self._joint(phase, phase.resolve(complaints, reveals))
        self._stage = "presign_multiply"
        assert self._w is not None
        return self._multiply(self._session + b"/mul", self._w, self._k)

    def presign_check_products(
        self, dealings: Mapping[int, Dealing], privates: Mapping[int, PrivateShares]
    ) -> list[Complaint]:
        phase = self._expect("presign_multiply")
        self._stage = "presign_products_checked"
        return phase.accept(dealings, privates, self._check_product)

    def presign_finish(
        self, complaints: Sequence[Complaint], reveals: Sequence[Reveal]
    ) -> list[PresignaturePublic]:
        """Store one presignature per lane; return their public parts (same at every party)."""
        phase = self._expect("presign_products_checked")
        u = self._reduce(phase, phase.resolve(complaints, reveals))
        out = []
        for lane, nonce in enumerate(self._k.constants):
            pid = sm3(transcript(self._session, lane.to_bytes(4, "big")))
            public = PresignaturePublic(
                id=pid,
                nonce=nonce.encode(),
                members=phase.members,
                share_keys=[u.share_keys[lane][m].encode() for m in phase.members],
            )
            self._presigs[pid] = _Presig(public, u.shares[lane])
            out.append(public)
        del self._k
        self._stage = "ready"
        self._phase = None
        return out

    # -- signing ----------------------------------------------------------------------------

    def sign(self, presignature: bytes, message: bytes) -> PartialSignature:
        """sigma_i = u_i + r*w_i. The presignature is consumed whatever happens."""
        w = self._ready()
        presig = self._presigs.pop(presignature, None)
        if presig is None:
            raise PresignatureError("unknown or already used presignature")
        assert self.keyset is not None
        r = _r_value(self.keyset, presig.public, message)
        value = presig.share + G.scalar(r) * w.shares[0]
        return PartialSignature(presignature, self.index, value.encode())


def _r_value(keyset: KeySet, presig: PresignaturePublic, message: bytes) -> int:
    nonce = G.decode_element(presig.nonce)
    e = message_scalar(keyset.public_key, message)
    r = (e + int.from_bytes(nonce.encode()[1:], "big")) % G.order
    if r == 0 or (nonce + G.base_mul(G.scalar(r))).is_identity():
        raise UnusableNonceError("r = 0 or r + k = 0; sign again with another presignature")
    return r


def _interpolate_signature(r: int, values: Mapping[int, Scalar], ids: Sequence[int]) -> bytes:
    sigma = sum(lagrange_coefficient(G, ids, i).value * values[i].value for i in ids) % G.order
    s = (sigma - r) % G.order
    if s == 0:
        raise UnusableNonceError("s = 0; sign again with another presignature")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _partial_ok(
    presig: PresignaturePublic,
    w_keys: Mapping[int, bytes],
    u_keys: Mapping[int, bytes],
    r: int,
    p: PartialSignature,
) -> bool:
    """sigma_i * G = U_i + r * W_i: the partial is i's share of w*(k + r)."""
    try:
        value = G.decode_scalar(p.value)
        expected = G.decode_element(u_keys[p.index]) + G.scalar(r) * G.decode_element(
            w_keys[p.index]
        )
    except (GroupError, KeyError):
        return False
    return p.presignature == presig.id and G.base_mul(value) == expected


def combine(
    keyset: KeySet,
    presig: PresignaturePublic,
    message: bytes,
    partials: Sequence[PartialSignature],
) -> Signed:
    """The r || s signature from any t valid partials, naming signers whose partials fail.

    Optimistic: interpolate the first t partials and verify the SM2 signature once; only if
    that fails is every partial checked against its share keys, and the valid ones used.
    """
    r = _r_value(keyset, presig, message)
    t = keyset.threshold
    if len({p.index for p in partials}) != len(partials):
        raise InvalidMessageError("two partial signatures from one signer")
    values: dict[int, Scalar] = {}
    for p in partials:
        try:
            values[p.index] = G.decode_scalar(p.value)
        except GroupError:
            continue
    first = [p.index for p in partials if p.index in values and p.presignature == presig.id]
    first = first[:t]
    if len(first) == t and all(1 <= i <= MAX_PARTIES for i in first):
        signature = _interpolate_signature(r, values, sorted(first))
        if sm2.verify(keyset.public_key, message, signature):
            return Signed(signature, [])
    w_keys = dict(zip(keyset.members, keyset.share_keys, strict=True))
    u_keys = dict(zip(presig.members, presig.share_keys, strict=True))
    good = [p.index for p in partials if _partial_ok(presig, w_keys, u_keys, r, p)]
    bad = sorted({p.index for p in partials} - set(good))
    if len(good) < t:
        raise AbortError(f"{len(good)} valid partial signatures, need {t}", bad)
    signature = _interpolate_signature(r, values, sorted(good[:t]))
    if not sm2.verify(keyset.public_key, message, signature):
        raise AbortError("valid partials do not give a valid signature", bad)  # a bug if reached
    return Signed(signature, bad)
