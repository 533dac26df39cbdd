"""Distributed key generation, proactive refresh and resharing, as sans-I/O state machines.

Theory of operation. One `DkgParty` per participant and session: the pure round logic.
Its core (`dkg_core.DkgCore`, an `xinlian.protocol.Core` driven by `sim/` or the network
runtime) feeds it `start()`, `receive(sender, data)` and `timeout()` and broadcasts the
messages they return; the party records its outcome in `result` (or `error` when it
aborts) and every misbehaviour it saw in `faults`. It never touches clocks or sockets.

Every run is a Pedersen-style verifiable secret sharing by each dealer, summed:

- keygen: each dealer j shares a random a_j0 (proving knowledge of it, as in FROST's
  KeyGen, against rogue keys); the group key is sum C_j0.
- refresh: each dealer shares zero (constant commitment = identity); adding the sum to the
  old shares changes every share but not the key.
- reshare: each old member j shares its own share x_j (constant commitment = its public
  verifying share Y_j, known to all) with a new threshold to the new members; new shares
  are the Lagrange combination over the qualified dealers, so the key is unchanged.

Shares travel in the broadcast deal, each encrypted to its receiver with a one-time pad
derived from ECDH between the dealer's per-session ephemeral key and the receiver's
long-term key. A receiver whose share does not match the dealer's commitments complains
by publishing the ECDH point with a DLEQ proof: anyone can then decrypt that one share and
decide who lied, the dealer (disqualified) or the accuser (a false accuser, ignored). No
dealer response round is needed, and honest dealers' other shares stay secret.

Receivers check their shares in one batch (sum of shares against the summed commitment
polynomial) and fall back to per-dealer checks only when the batch fails. Because the sum
is re-checked over the qualified set after every disqualification (another complaint
round follows each round that disqualified someone), colluding dealers cannot hide bad
shares behind offsetting ones. Assumptions and guarantees: docs/crypto/dkg.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives import dleq
from xinlian.crypto.primitives.groups import (
    DistributedCryptoError,
    Element,
    Group,
    GroupError,
    Rng,
    Scalar,
    evaluate,
    get_group,
    lagrange_coefficient,
    random_polynomial,
    transcript,
)

# -- errors (810x) --------------------------------------------------------------------------


class DkgError(DistributedCryptoError):
    """Root of the DKG errors (810x)."""

    code = 8100
    name = "dkg_error"


class InvalidKeyMaterialError(DkgError):
    """A key share or public key package that is inconsistent with itself."""

    code = 8101
    name = "invalid_key_material"


class WrongSessionError(DkgError):
    """A message from another session (a replay of an old run, or misrouted)."""

    code = 8102
    name = "wrong_session"


class ReplayedMessageError(DkgError):
    """The same message delivered twice; ignored, not held against the sender."""

    code = 8103
    name = "replayed_message"


class EquivocationError(DkgError):
    """A sender broadcast two different messages for one round; it is disqualified."""

    code = 8104
    name = "equivocation"


class InvalidDealError(DkgError):
    """A deal that everyone can see is wrong: counts, proof of knowledge, bad points."""

    code = 8105
    name = "invalid_deal"


class InvalidComplaintError(DkgError):
    """A complaint whose proof fails, or that accuses a dealer whose share was correct."""

    code = 8106
    name = "invalid_complaint"


class UnexpectedSenderError(DkgError):
    """A message from a party that has no such role in this run."""

    code = 8107
    name = "unexpected_sender"


class DkgAbortedError(DkgError):
    """Too few qualified dealers remained to finish safely."""

    code = 8108
    name = "dkg_aborted"


class DkgConfigError(DkgError):
    """Inconsistent parameters: thresholds, member sets, missing keys."""

    code = 8109
    name = "dkg_config"


# -- key material -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PublicKeyPackage:
    """What everyone knows after key generation: the members, the threshold t and the
    commitment A_0..A_{t-1} to the sharing polynomial (A_0 is the group public key).
    Member i's verifying share Y_i = sum i^m A_m is computed on demand and cached."""

    group: Group
    threshold: int
    members: tuple[int, ...]
    commitment: tuple[Element, ...]
    _cache: dict[int, Element] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if (len(self.commitment) != self.threshold or len(set(self.members)) != len(self.members)
                or not 1 <= self.threshold <= len(self.members)
                or any(not 0 < i < self.group.order for i in self.members)):
            raise InvalidKeyMaterialError("inconsistent members, threshold or commitment")

    @property
    def group_public_key(self) -> Element:
        return self.commitment[0]

    def verifying_share(self, i: int) -> Element | None:
        """Y_i = s_i * G for member i, None for non-members."""
        if i not in self.members:
            return None
        y = self._cache.get(i)
        if y is None:
            y = self._cache[i] = evaluate_commitment(self.commitment, i)
        return y

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PublicKeyPackage) and other.group is self.group
                and other.threshold == self.threshold and other.members == self.members
                and other.commitment == self.commitment)

    def __hash__(self) -> int:
        return hash((self.group.name, self.members, self.commitment))

    def encode(self) -> bytes:
        return codec.encode(_WirePublic(self.group.name, list(self.members),
                                        [c.encode() for c in self.commitment]))

    @staticmethod
    def decode(data: bytes) -> PublicKeyPackage:
        w = codec.decode(data, _WirePublic)
        group = get_group(w.group)
        return PublicKeyPackage(group, len(w.commitment), tuple(w.members),
                                tuple(group.decode_element(c) for c in w.commitment))


@dataclass(frozen=True)
class KeyShare:
    """One member's secret share s_i with the public package it belongs to."""

    identifier: int
    secret: Scalar
    public: PublicKeyPackage

    def __post_init__(self) -> None:
        expected = self.public.verifying_share(self.identifier)
        if expected is None or self.public.group.base_mul(self.secret) != expected:
            raise InvalidKeyMaterialError("secret share does not match its verifying share")

    @property
    def group(self) -> Group:
        return self.public.group

    def encode(self) -> bytes:
        return codec.encode(_WireShare(self.identifier, self.secret.encode(),
                                       self.public.encode()))

    @staticmethod
    def decode(data: bytes) -> KeyShare:
        w = codec.decode(data, _WireShare)
        public = PublicKeyPackage.decode(w.public)
        return KeyShare(w.identifier, public.group.decode_scalar(w.secret), public)

    def __repr__(self) -> str:
        return f"KeyShare({self.group.name}, id={self.identifier}, <secret hidden>)"


class _WirePublic(codec.Struct):
    group: str
    members: list[int]
    commitment: list[bytes]


class _WireShare(codec.Struct):
    identifier: int
    secret: bytes
    public: bytes


def evaluate_commitment(commitment: Sequence[Element], x: int) -> Element:
    """sum x^m * C_m: the commitment polynomial evaluated in the exponent."""
    group = commitment[0].group
    powers = [group.scalar(pow(x, m, group.order)) for m in range(len(commitment))]
    return group.sum([commitment[0], *(p * c for p, c in zip(powers[1:], commitment[1:],
                                                               strict=True))])


def share_secret(group: Group, secret: Scalar, threshold: int, members: Sequence[int],
                 rng: Rng) -> list[KeyShare]:
    """Trusted-dealer Shamir sharing (RFC 9591 Appendix C): the dealer sees the key, so use
    it only for tests or single-operator setups; `DkgParty` is the distributed path.
    `rng` draws the polynomial: the OS CSPRNG for real keys, a seeded one in simulation."""
    if not 1 <= threshold <= len(members):
        raise DkgConfigError("need 1 <= threshold <= number of members")
    return share_polynomial(group, random_polynomial(group, threshold - 1, secret, rng), members)


def share_polynomial(group: Group, polynomial: Sequence[Scalar],
                     members: Sequence[int]) -> list[KeyShare]:
    """The shares of a given polynomial (constant term = the secret; threshold = its length),
    as RFC 9591's test vectors fix it."""
    if not 1 <= len(polynomial) <= len(members):
        raise DkgConfigError("need 1 <= threshold <= number of members")
    public = PublicKeyPackage(group, len(polynomial), tuple(members),
                              tuple(group.base_mul(a) for a in polynomial))
    return [KeyShare(i, evaluate(polynomial, i), public) for i in members]


# -- messages -----------------------------------------------------------------------------


class Deal(codec.Struct, tag=1):
    """Round 1, broadcast by each dealer."""

    session: bytes
    dealer: int
    ephemeral: bytes  # A_j = a_j * G, for the share encryption
    constant: bytes  # C_j0 (keygen only; empty otherwise)
    proof: bytes  # proof of knowledge of a_j0: R || z (keygen only)
    coefficients: list[bytes]  # C_j1 .. C_j(t-1)
    shares: list[bytes]  # s_jk + pad_jk for each receiver k, in receiver order


class Complaint(codec.Struct):
    dealer: int
    shared_key: bytes  # K = e_i * A_j
    proof: dleq.DleqProof  # log_G(E_i) == log_{A_j}(K)


class Complaints(codec.Struct, tag=2):
    """Complaint round r >= 2, broadcast by every receiver (an empty list says "none")."""

    session: bytes
    sender: int
    round: int
    complaints: list[Complaint]


Message = Deal | Complaints


# -- configuration and actions ------------------------------------------------------------

Kind = Literal["keygen", "refresh", "reshare"]


@dataclass(frozen=True)
class DkgConfig:
    """The public parameters of one run, identical at every party."""

    group: Group
    session: bytes
    kind: Kind
    dealers: tuple[int, ...]
    receivers: tuple[int, ...]
    threshold: int
    encryption_keys: Mapping[int, Element]
    previous: PublicKeyPackage | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= len(self.receivers):
            raise DkgConfigError("need 1 <= threshold <= number of receivers")
        for ids in (self.dealers, self.receivers):
            if list(ids) != sorted(set(ids)) or not ids or ids[0] <= 0:
                raise DkgConfigError("dealers and receivers: sorted, distinct, positive ids")
        if any(k not in self.encryption_keys for k in self.receivers):
            raise DkgConfigError("every receiver needs an encryption key")
        if (self.kind == "keygen") != (self.previous is None):
            raise DkgConfigError("refresh and reshare need the previous key, keygen none")
        if self.previous is not None:
            if not set(self.dealers) <= set(self.previous.members):
                raise DkgConfigError("dealers must hold shares of the previous key")
            if len(self.dealers) < self.previous.threshold:
                raise DkgConfigError("fewer dealers than the previous threshold")
        if self.kind == "refresh" and self.previous is not None and (
                self.receivers != self.previous.members
                or self.threshold != self.previous.threshold):
            raise DkgConfigError("refresh keeps the members and the threshold")

    @staticmethod
    def keygen(group: Group, session: bytes, members: Sequence[int], threshold: int,
               encryption_keys: Mapping[int, Element]) -> DkgConfig:
        ids = tuple(sorted(members))
        return DkgConfig(group, session, "keygen", ids, ids, threshold, encryption_keys)

    @staticmethod
    def refresh(previous: PublicKeyPackage, session: bytes,
                encryption_keys: Mapping[int, Element]) -> DkgConfig:
        return DkgConfig(previous.group, session, "refresh", previous.members,
                         previous.members, previous.threshold, encryption_keys, previous)

    @staticmethod
    def reshare(previous: PublicKeyPackage, session: bytes, dealers: Sequence[int],
                new_members: Sequence[int], new_threshold: int,
                encryption_keys: Mapping[int, Element]) -> DkgConfig:
        return DkgConfig(previous.group, session, "reshare", tuple(sorted(dealers)),
                         tuple(sorted(new_members)), new_threshold, encryption_keys, previous)

    @property
    def min_qualified(self) -> int:
        """At least one honest dealer among t (keygen) / enough to interpolate (others)."""
        return self.threshold if self.previous is None else self.previous.threshold


@dataclass(frozen=True)
class Fault:
    """A record of misbehaviour: `party` sent something that is not accepted; `error` says
    what (typed)."""

    party: int
    error: DistributedCryptoError | CodecError


@dataclass(frozen=True)
class DkgResult:
    public: PublicKeyPackage
    key_share: KeyShare | None  # None for dealers that are not receivers
    qualified: tuple[int, ...]
    disqualified: Mapping[int, str]  # dealer -> reason
    false_accusers: tuple[int, ...]


_POK_DST = b"XINLIAN-DKG-v1-pok"
_PAD_DST = b"XINLIAN-DKG-v1-pad"
_DLEQ_DST = b"XINLIAN-DKG-v1-complaint"


def _pad(group: Group, session: bytes, dealer: int, receiver: int, k: Element) -> Scalar:
    return group.hash_to_scalar(_PAD_DST, transcript(
        session, dealer.to_bytes(8, "big"), receiver.to_bytes(8, "big"), k.encode()))


def _pok_challenge(group: Group, session: bytes, dealer: int, c0: Element,
                   r: Element) -> Scalar:
    return group.hash_to_scalar(_POK_DST, transcript(
        session, dealer.to_bytes(8, "big"), c0.encode(), r.encode()))


@dataclass
class _ValidDeal:
    """A structurally valid deal, decoded."""

    ephemeral: Element
    poly: list[Element]  # C_j0 .. C_j(t-1); for reshare C_j0 = Y_j is filled in on demand
    shares: list[Scalar]  # encrypted shares, one per receiver
    constant_known: bool = True


# -- the state machine --------------------------------------------------------------------


class DkgParty:
    """One participant of a keygen, refresh or reshare run."""

    def __init__(self, config: DkgConfig, me: int, encryption_secret: Scalar | None = None,
                 key_share: KeyShare | None = None, *, rng: Rng) -> None:
        self.config = config
        self.group = config.group
        self.me = me
        self.rng = rng
        self.is_dealer = me in config.dealers
        self.is_receiver = me in config.receivers
        if not (self.is_dealer or self.is_receiver):
            raise DkgConfigError(f"party {me} has no role in this run")
        if self.is_receiver and (encryption_secret is None or (
                self.group.base_mul(encryption_secret) != config.encryption_keys[me])):
            raise DkgConfigError("receiver needs the secret of its encryption key")
        if self.is_dealer and config.previous is not None and (
                key_share is None or key_share.public != config.previous
                or key_share.identifier != me):
            raise DkgConfigError("refresh/reshare dealers need their share of the previous key")
        self.e = encryption_secret
        self.key_share = key_share
        self.round = 1
        self.deals: dict[int, _ValidDeal] = {}
        self.raw: dict[tuple[int, int], bytes] = {}  # (sender, round) -> message bytes
        self.pending: dict[int, dict[int, Complaints]] = {}  # round -> sender -> message
        self.disqualified: dict[int, str] = {}
        self.false_accusers: set[int] = set()
        self.accused: set[int] = set()  # dealers this party has complained about
        self.my_shares: dict[int, Scalar] = {}  # dealer -> decrypted share for me
        self._aggregates: dict[tuple[int, ...], list[Element]] = {}
        self._dealer_set = set(config.dealers)
        self.done = False
        self.result: DkgResult | None = None  # set when the run completes here
        self.error: DkgError | None = None  # set when it aborts here
        self.faults: list[Fault] = []  # every misbehaviour seen, in order

    # -- events ----------------------------------------------------------------------------

    def start(self) -> list[bytes]:
        """Deal (if a dealer); a receiver-only party just waits for deals."""
        if not self.is_dealer:
            return []
        data = codec.encode(self._make_deal())
        out: list[bytes] = [data]
        out += self.receive(self.me, data)
        return out

    def receive(self, sender: int, data: bytes) -> list[bytes]:
        """Handle one authenticated broadcast from `sender`. Peer faults come back as
        `Fault` actions; they never raise."""
        if self.done:
            return []
        try:
            msg: Message = codec.decode(data, Message)
        except CodecError as exc:
            return [*self._fault(sender, exc), *self._on_faulty(sender, "malformed message")]
        if msg.session != self.config.session:
            return self._fault(sender, WrongSessionError("message for another session"))
        rnd = 1 if isinstance(msg, Deal) else msg.round
        previous = self.raw.get((sender, rnd))
        if previous is not None:
            if previous == data:
                return self._fault(sender, ReplayedMessageError(f"duplicate round-{rnd} message"))
            return self._fault(sender, EquivocationError(f"two round-{rnd} messages")) + (
                self._disqualify(sender, "equivocation") if rnd == self.round == 1 else [])
        self.raw[(sender, rnd)] = data
        if isinstance(msg, Deal):
            return self._on_deal(sender, msg)
        return self._on_complaints(sender, msg)

    def timeout(self) -> list[bytes]:
        """The current round's deadline passed: continue with the messages received."""
        if self.done:
            return []
        return self._close_round()

    # -- dealing ---------------------------------------------------------------------------

    def _make_deal(self) -> Deal:
        cfg, g = self.config, self.group
        if cfg.kind == "keygen":
            constant = None
        elif cfg.kind == "refresh":
            constant = g.scalar(0)
        else:
            assert self.key_share is not None
            constant = self.key_share.secret
        poly = random_polynomial(g, cfg.threshold - 1, constant, self.rng)
        a = g.random_scalar(self.rng)
        ephemeral = g.base_mul(a)
        shares = []
        for k in cfg.receivers:
            pad = _pad(g, cfg.session, self.me, k, a * cfg.encryption_keys[k])
            shares.append((evaluate(poly, k) + pad).encode())
        coeffs = [g.base_mul(c).encode() for c in poly[1:]]
        constant_enc = proof = b""
        if cfg.kind == "keygen":
            c0 = g.base_mul(poly[0])
            nonce = g.random_scalar(self.rng)
            r = g.base_mul(nonce)
            z = nonce + poly[0] * _pok_challenge(g, cfg.session, self.me, c0, r)
            constant_enc, proof = c0.encode(), r.encode() + z.encode()
        return Deal(cfg.session, self.me, ephemeral.encode(), constant_enc, proof, coeffs,
                    shares)

    def _on_deal(self, sender: int, msg: Deal) -> list[bytes]:
        if self.round != 1:
            return self._fault(sender, InvalidDealError("deal after the dealing round closed"))
        if sender not in self.config.dealers or msg.dealer != sender:
            return self._fault(sender, UnexpectedSenderError(f"{sender} is not a dealer"))
        try:
            self.deals[sender] = self._check_deal(sender, msg)
        except (DkgError, GroupError) as exc:
            return [*self._fault(sender, exc), *self._disqualify(sender, exc.name)]
        if self.is_receiver:
            self._decrypt(sender)
        return self._maybe_close_dealing()

    def _check_deal(self, dealer: int, msg: Deal) -> _ValidDeal:
        """Everything about a deal that every party can check identically."""
        cfg, g = self.config, self.group
        if len(msg.coefficients) != cfg.threshold - 1 or len(msg.shares) != len(cfg.receivers):
            raise InvalidDealError("wrong number of commitments or shares")
        ephemeral = g.decode_element(msg.ephemeral)
        coeffs = [g.decode_element(c) for c in msg.coefficients]
        shares = [g.decode_scalar(s) for s in msg.shares]
        if cfg.kind == "keygen":
            c0 = g.decode_element(msg.constant)
            if len(msg.proof) != g.element_size + g.scalar_size:
                raise InvalidDealError("proof of knowledge has the wrong length")
            r = g.decode_element(msg.proof[:g.element_size])
            z = g.decode_scalar(msg.proof[g.element_size:])
            if g.base_mul(z) != r + _pok_challenge(g, cfg.session, dealer, c0, r) * c0:
                raise InvalidDealError("proof of knowledge of the secret fails")
        elif msg.constant or msg.proof:
            raise InvalidDealError("refresh and reshare deals carry no constant term")
        elif cfg.kind == "refresh":
            c0 = g.identity()
        else:  # reshare: C_j0 is the dealer's verifying share, computed only when needed
            return _ValidDeal(ephemeral, [g.identity(), *coeffs], shares, constant_known=False)
        return _ValidDeal(ephemeral, [c0, *coeffs], shares)

    def _poly(self, dealer: int) -> list[Element]:
        d = self.deals[dealer]
        if not d.constant_known:
            assert self.config.previous is not None
            y = self.config.previous.verifying_share(dealer)
            assert y is not None
            d.poly[0], d.constant_known = y, True
        return d.poly

    def _decrypt(self, dealer: int) -> None:
        assert self.e is not None
        d = self.deals[dealer]
        idx = self.config.receivers.index(self.me)
        pad = _pad(self.group, self.config.session, dealer, self.me, self.e * d.ephemeral)
        self.my_shares[dealer] = d.shares[idx] - pad

    def _maybe_close_dealing(self) -> list[bytes]:
        if self._dealer_set <= self.deals.keys() | self.disqualified.keys():
            return self._close_round()
        return []

    # -- complaints ------------------------------------------------------------------------

    def _qualified(self) -> list[int]:
        return [j for j in self.config.dealers if j in self.deals and j not in self.disqualified]

    def _weights(self, qual: Sequence[int]) -> dict[int, Scalar]:
        if self.config.kind == "reshare":
            return {j: lagrange_coefficient(self.group, qual, j) for j in qual}
        one = self.group.scalar(1)
        return {j: one for j in qual}

    def _aggregate(self, qual: Sequence[int]) -> list[Element]:
        """The new sharing's commitment: weighted sum of the qualified dealers' polynomials,
        plus the old commitment for refresh. For reshare the constant term is the old group
        key: sum lambda_j Y_j interpolates the old polynomial at 0."""
        key = tuple(qual)
        if key not in self._aggregates:
            g, cfg, w = self.group, self.config, self._weights(qual)
            out = []
            for m in range(cfg.threshold):
                if cfg.kind == "reshare":
                    assert cfg.previous is not None
                    out.append(cfg.previous.group_public_key if m == 0 else g.sum(
                        [w[j] * self.deals[j].poly[m] for j in qual]))
                    continue
                terms = [self.deals[j].poly[m] for j in qual]
                if cfg.kind == "refresh":
                    assert cfg.previous is not None
                    terms.append(cfg.previous.commitment[m])
                out.append(g.sum(terms))
            self._aggregates = {key: out}
        return self._aggregates[key]

    def _my_new_share(self, qual: Sequence[int]) -> Scalar:
        w = self._weights(qual)
        total = self.group.scalar(sum(w[j].value * self.my_shares[j].value for j in qual))
        if self.config.kind == "refresh":
            assert self.key_share is not None
            total = total + self.key_share.secret
        return total

    def _share_ok(self, dealer: int) -> bool:
        return self.group.base_mul(self.my_shares[dealer]) == evaluate_commitment(
            self._poly(dealer), self.me)

    def _my_complaints(self) -> list[Complaint]:
        """Batch-check my shares over the qualified dealers; on failure find the culprits."""
        qual = self._qualified()
        if not self.is_receiver or not qual:
            return []
        expected = evaluate_commitment(self._aggregate(qual), self.me)
        if self.group.base_mul(self._my_new_share(qual)) == expected:
            return []
        out = []
        assert self.e is not None
        for j in qual:
            if j in self.accused or self._share_ok(j):
                continue
            self.accused.add(j)
            d = self.deals[j]
            k = self.e * d.ephemeral
            proof = dleq.prove(_DLEQ_DST, self.e, [self.group.generator(), d.ephemeral],
                               [self.config.encryption_keys[self.me], k],
                               context=self.config.session, rng=self.rng)
            out.append(Complaint(j, k.encode(), proof))
        return out

    def _on_complaints(self, sender: int, msg: Complaints) -> list[bytes]:
        if sender not in self.config.receivers or msg.sender != sender or msg.round < 2:
            return self._fault(sender, UnexpectedSenderError(f"{sender} may not send complaints"))
        if msg.round < self.round or msg.round > len(self.config.dealers) + 3:
            return self._fault(sender, InvalidComplaintError(f"complaints for round {msg.round}"))
        out: list[bytes] = []
        accused = [c.dealer for c in msg.complaints]
        if len(set(accused)) != len(accused):  # counts as "no complaints" so rounds still close
            self._fault(sender, InvalidComplaintError("duplicate complaints"))
            msg = Complaints(msg.session, sender, msg.round, [])
        self.pending.setdefault(msg.round, {})[sender] = msg
        return out + self._maybe_close_complaints()

    def _maybe_close_complaints(self) -> list[bytes]:
        if self.round >= 2 and set(self.config.receivers) <= set(self.pending.get(self.round,
                                                                                   {})):
            return self._close_round()
        return []

    def _judge(self, accuser: int, c: Complaint) -> DistributedCryptoError | None:
        """Decide a complaint publicly: None if the dealer is guilty, else the error."""
        g, cfg = self.group, self.config
        d = self.deals.get(c.dealer)
        if d is None or c.dealer in self.disqualified:
            return None if c.dealer in self.disqualified else InvalidComplaintError(
                "complaint about a dealer that did not deal")
        try:
            k = g.decode_element(c.shared_key)
            ok = dleq.verify(g, _DLEQ_DST, [g.generator(), d.ephemeral],
                             [cfg.encryption_keys[accuser], k], c.proof, context=cfg.session)
        except GroupError as exc:
            return exc
        if not ok:
            return InvalidComplaintError("complaint proof fails")
        share = d.shares[cfg.receivers.index(accuser)] - _pad(g, cfg.session, c.dealer,
                                                              accuser, k)
        if g.base_mul(share) == evaluate_commitment(self._poly(c.dealer), accuser):
            return InvalidComplaintError(f"dealer {c.dealer}'s share to {accuser} was correct")
        return None

    # -- rounds ----------------------------------------------------------------------------

    def _close_round(self) -> list[bytes]:
        out: list[bytes] = []
        if self.round >= 2:
            new = 0
            for sender, msg in sorted(self.pending.get(self.round, {}).items()):
                for c in msg.complaints:
                    err = self._judge(sender, c)
                    if err is None:
                        if c.dealer not in self.disqualified:
                            new += 1
                            out += self._disqualify(c.dealer, f"complaint by {sender}")
                    else:
                        self.false_accusers.add(sender)
                        self._fault(sender, err)
            if new == 0:
                return out + self._finish()
        if self.round > len(self.config.dealers) + 2:
            return out + self._abort("too many complaint rounds")
        self.round += 1
        if len(self._qualified()) < self.config.min_qualified:
            return out + self._abort(f"only {len(self._qualified())} qualified dealers")
        if self.is_receiver:
            data = codec.encode(Complaints(self.config.session, self.me, self.round,
                                           self._my_complaints()))
            out.append(data)
            out += self.receive(self.me, data)
        return out + ([] if self.done else self._maybe_close_complaints())

    def _disqualify(self, dealer: int, reason: str) -> list[bytes]:
        if dealer not in self._dealer_set:
            return []
        self.disqualified.setdefault(dealer, reason)
        return self._maybe_close_dealing() if self.round == 1 else []

    def _on_faulty(self, sender: int, reason: str) -> list[bytes]:
        if self.round == 1 and sender in self.config.dealers and (sender, 1) not in self.raw:
            return self._disqualify(sender, reason)
        return []

    def _finish(self) -> list[bytes]:
        qual = self._qualified()
        if len(qual) < self.config.min_qualified:
            return self._abort(f"only {len(qual)} qualified dealers")
        cfg = self.config
        public = PublicKeyPackage(self.group, cfg.threshold, cfg.receivers,
                                  tuple(self._aggregate(qual)))
        share = None
        if self.is_receiver:
            try:
                share = KeyShare(self.me, self._my_new_share(qual), public)
            except InvalidKeyMaterialError:
                return self._abort("own share inconsistent after the complaint rounds")
        self.done = True
        self.result = DkgResult(public, share, tuple(qual), dict(self.disqualified),
                                tuple(sorted(self.false_accusers)))
        return []

    def _abort(self, reason: str) -> list[bytes]:
        self.done = True
        self.error = DkgAbortedError(reason)
        return []

    def _fault(self, party: int, error: DistributedCryptoError | CodecError) -> list[bytes]:
        self.faults.append(Fault(party, error))
        return []
